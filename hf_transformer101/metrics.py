"""Evaluation metrics: GLUE's official metric per task, sacreBLEU and chrF for translation, perplexity for LMs.

`evaluate.load("glue")` / `evaluate.load("sacrebleu")` download their scripts from the Hub, which fails offline.
The modules here are `evaluate.Metric` subclasses that live in the package and compute with scikit-learn, scipy
and sacrebleu directly, so `compute` / `add_batch` behave as the Hub's modules do, with the same result keys,
and never touch the network:

    metric = GlueMetric(config_name="mrpc")        # or load_glue_metric("mrpc")
    metric.add_batch(predictions=[1, 0], references=[1, 1])
    metric.compute()                               # {"accuracy": 0.5, "f1": 0.666...}

Scales follow the libraries: GLUE scores are fractions (accuracy 0.85, not 85) like HF's glue metric;
BLEU and chrF are on sacrebleu's 0-100 scale.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import datasets
import evaluate
import numpy as np
import torch
from sacrebleu.metrics import BLEU, CHRF
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from .data import GLUE_TASKS as _GLUE_TEXT_COLUMNS

if TYPE_CHECKING:
    from transformers import EvalPrediction

# The nine task names, in data.py's order (one list for the whole package).
GLUE_TASKS = tuple(_GLUE_TEXT_COLUMNS)
# The Hub's glue metric also takes MNLI's two dev sets as config names; the metric is the same (accuracy).
GLUE_CONFIG_NAMES = GLUE_TASKS + ("mnli_matched", "mnli_mismatched")


def _matthews(predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    # CoLA is unbalanced (~70% acceptable); MCC rewards a classifier only for beating the majority class.
    return {"matthews_correlation": float(matthews_corrcoef(references, predictions))}


def _accuracy(predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    return {"accuracy": float(accuracy_score(references, predictions))}


def _accuracy_and_f1(predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    # MRPC and QQP are unbalanced paraphrase tasks: F1 of the positive class (1 = paraphrase/duplicate) too.
    return {**_accuracy(predictions, references), "f1": float(f1_score(references, predictions))}


def _pearson_and_spearman(predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    # STS-B is regression on a 0-5 similarity scale: correlation, not error, is the official score.
    return {
        "pearson": float(pearsonr(predictions, references).statistic),
        "spearmanr": float(spearmanr(predictions, references).statistic),
    }


_GLUE_METRIC = {
    "cola": _matthews,
    "stsb": _pearson_and_spearman,
    "mrpc": _accuracy_and_f1,
    "qqp": _accuracy_and_f1,
    **{name: _accuracy for name in ("sst2", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli")},
}


def _check_glue_task(task: str | None) -> str:
    if task not in GLUE_CONFIG_NAMES:
        raise ValueError(f"unknown GLUE task {task!r}; expected one of: {', '.join(GLUE_CONFIG_NAMES)}")
    return task


class _OfflineMetric(evaluate.Metric):
    """An `evaluate.Metric` defined in this package, so it needs no Hub script.

    Predictions are kept in an in-memory Arrow buffer by default: nothing is written to disk apart from the
    empty `$HF_HOME/metrics/<name>/<config>` folder evaluate always creates. evaluate only allows that in a
    single process; with `num_process > 1` it falls back to its lock-coordinated cache files (pass
    `cache_dir` on a shared file system), exactly as the Hub modules do.
    """

    def __init__(self, config_name: str | None = None, **kwargs: Any):
        kwargs.setdefault("keep_in_memory", kwargs.get("num_process", 1) == 1)
        super().__init__(config_name=config_name, **kwargs)


class GlueMetric(_OfflineMetric):
    """GLUE's official metric for one task (`config_name`), with the keys of HF's `glue` metric.

    cola: matthews_correlation · stsb: pearson, spearmanr · mrpc, qqp: accuracy, f1 ·
    sst2, mnli(_matched/_mismatched), qnli, rte, wnli: accuracy.
    """

    def __init__(self, config_name: str | None = None, **kwargs: Any):
        # Checked before evaluate's __init__, which would otherwise turn a missing name into "default".
        super().__init__(config_name=_check_glue_task(config_name), **kwargs)

    def _info(self) -> evaluate.MetricInfo:
        # STS-B labels are real-valued similarity scores; every other task has class ids.
        dtype = "float32" if self.config_name == "stsb" else "int64"
        return evaluate.MetricInfo(
            description=f"GLUE's official metric for {self.config_name}, as in HF's `glue` metric.",
            citation="Wang et al. 2019, GLUE: A Multi-Task Benchmark and Analysis Platform for NLU (ICLR).",
            inputs_description=(
                f"\n    predictions: predicted labels ({dtype}); references: gold labels ({dtype}), same length.\n"
            ),
            features=datasets.Features({"predictions": datasets.Value(dtype), "references": datasets.Value(dtype)}),
            format="numpy",
        )

    def _compute(self, predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
        return _GLUE_METRIC[self.config_name](predictions, references)


def load_glue_metric(task: str, **kwargs: Any) -> GlueMetric:
    """The offline stand-in for `evaluate.load("glue", task)`; `kwargs` go to `evaluate.Metric`."""
    return GlueMetric(config_name=task, **kwargs)


def _to_numpy(array: Any) -> np.ndarray:
    # Trainer hands over numpy arrays, or torch tensors (maybe bf16, maybe on GPU) with `batch_eval_metrics`.
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        return (array.float() if array.is_floating_point() else array).numpy()
    return np.asarray(array)


def glue_compute_metrics(task: str) -> Callable[..., dict[str, float]]:
    """A `compute_metrics` callable for `transformers.Trainer` on a GLUE task.

    Classification logits (N, num_labels) become class ids by argmax; STS-B regression outputs (N, 1) are
    squeezed to scores. Returns the `GlueMetric` keys as fractions. Works with `batch_eval_metrics=True` too:
    each batch goes to `add_batch` and the last call (`compute_result=True`) computes over all of them.
    """
    metric = load_glue_metric(task)
    regression = task == "stsb"

    def compute_metrics(eval_pred: EvalPrediction, compute_result: bool = True) -> dict[str, float]:
        logits = eval_pred.predictions
        # Models returning extra outputs (hidden states, attentions) give Trainer a tuple; logits come first.
        logits = _to_numpy(logits[0] if isinstance(logits, tuple) else logits)
        if regression:
            predictions = np.squeeze(logits, axis=-1) if logits.ndim == 2 else logits
        else:
            predictions = logits.argmax(axis=-1)
        metric.add_batch(predictions=predictions, references=_to_numpy(eval_pred.label_ids))
        return metric.compute() if compute_result else {}

    return compute_metrics


def _reference_streams(
    hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]
) -> list[list[str]]:
    """Validate a corpus and lay out its references as sacrebleu wants them.

    We take the evaluate/HF layout (one reference string, or one list of references, per hypothesis);
    sacrebleu wants one stream per reference set: streams[k][i] is the k-th reference of sentence i.
    """
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise ValueError("hypotheses and references must be lists of sentences, not a single string")
    if len(hypotheses) != len(references):
        raise ValueError(
            f"got {len(hypotheses)} hypotheses but {len(references)} references: "
            "expected one reference (or one list of references) per hypothesis"
        )
    if len(hypotheses) == 0:
        raise ValueError("got 0 hypotheses: a corpus score needs at least one sentence")
    per_sentence = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
    counts = sorted({len(refs) for refs in per_sentence})
    if len(counts) != 1 or counts[0] == 0:
        raise ValueError(f"every hypothesis needs the same number (>= 1) of references; got counts {counts}")
    return [list(stream) for stream in zip(*per_sentence, strict=True)]


class _SacrebleuMetric(_OfflineMetric):
    """Shared plumbing for sacrebleu corpus metrics: detokenized text in, score and signature out.

    Extra `compute` keyword arguments go to the sacrebleu metric (e.g. `lowercase=True`, `tokenize="intl"`);
    the returned signature records them, so a reported score stays reproducible.
    """

    _sacrebleu_class: type[BLEU] | type[CHRF]

    def _info(self) -> evaluate.MetricInfo:
        sentence = datasets.Value("string", id="sequence")
        return evaluate.MetricInfo(
            description=f"sacrebleu {self._sacrebleu_class.__name__} on detokenized text, with its signature.",
            citation="Post 2018, A Call for Clarity in Reporting BLEU Scores (WMT).",
            inputs_description=(
                "\n    predictions: detokenized hypotheses (list of str); references: one detokenized reference "
                "(str) or a list of references per hypothesis, the same number for each.\n"
            ),
            # The same two input layouts the Hub's sacrebleu/chrf modules accept.
            features=[
                datasets.Features({"predictions": sentence, "references": datasets.Sequence(sentence)}),
                datasets.Features({"predictions": sentence, "references": sentence}),
            ],
        )

    def _compute(self, predictions: list[str], references: list, **options: Any) -> dict[str, Any]:
        metric = self._sacrebleu_class(**options)
        score = metric.corpus_score(list(predictions), _reference_streams(predictions, references))
        return {**self._fields(score), "signature": str(metric.get_signature())}


class SacreBleuMetric(_SacrebleuMetric):
    """Corpus BLEU by sacrebleu (default 13a tokenizer), keys of HF's `sacrebleu` metric plus `signature`."""

    _sacrebleu_class = BLEU

    @staticmethod
    def _fields(score: Any) -> dict[str, Any]:
        return {
            "score": score.score,
            "counts": score.counts,
            "totals": score.totals,
            "precisions": score.precisions,
            "bp": score.bp,
            "sys_len": score.sys_len,
            "ref_len": score.ref_len,
        }


class ChrFMetric(_SacrebleuMetric):
    """Corpus chrF (character 6-grams, beta=2) by sacrebleu, keys of HF's `chrf` metric plus `signature`."""

    _sacrebleu_class = CHRF

    @staticmethod
    def _fields(score: Any) -> dict[str, Any]:
        fields = ("score", "char_order", "word_order", "beta")
        return {field: getattr(score, field) for field in fields}


def translation_scores(
    hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]
) -> dict[str, float | str]:
    """Corpus BLEU and chrF (sacrebleu defaults) of detokenized hypotheses, with both signatures.

    Returns {"bleu", "chrf", "bleu_signature", "chrf_signature"}; scores on the 0-100 scale. Raises
    `ValueError` naming both counts when hypotheses and references differ in length.
    """
    streams = _reference_streams(hypotheses, references)
    bleu, chrf = BLEU(), CHRF()
    # get_signature() needs a finished corpus_score: the signature records the number of references.
    bleu_score = bleu.corpus_score(list(hypotheses), streams).score
    chrf_score = chrf.corpus_score(list(hypotheses), streams).score
    return {
        "bleu": bleu_score,
        "chrf": chrf_score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def perplexity(mean_loss: float) -> float:
    """exp of the mean per-token cross-entropy (natural log, as `labels=` losses are): the LM's perplexity.

    An untrained or diverged model can have a loss past exp's float range (~709): that is infinite
    perplexity, not an error. A NaN loss gives NaN. A negative loss cannot be a mean NLL and raises.
    """
    loss = float(mean_loss)
    if loss < 0:
        raise ValueError(f"mean_loss must be a mean negative log-likelihood (>= 0), got {loss}")
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf
