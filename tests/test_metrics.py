"""Metrics: our offline `evaluate` modules give the numbers of direct scikit-learn / scipy / sacrebleu calls."""
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sacrebleu
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from transformers import EvalPrediction, Trainer, TrainingArguments

from hf_transformer101.metrics import (
    GLUE_CONFIG_NAMES,
    GLUE_TASKS,
    ChrFMetric,
    GlueMetric,
    SacreBleuMetric,
    glue_compute_metrics,
    load_glue_metric,
    perplexity,
    translation_scores,
)

HYPOTHESES = ["The cat sat on the mat.", "A dog barks at the mailman!", "It's raining, isn't it?", "Hello world"]
REFERENCES = ["The cat is on the mat.", "The dog barks at the postman.", "It is raining, isn't it?", "Hello, world!"]
SECOND_REFERENCES = ["A cat sat on the mat.", "A dog is barking at the mailman.", "Raining, isn't it?", "Hi world"]


def direct_glue(task: str, predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    """The official GLUE metric per task, straight from scikit-learn / scipy."""
    if task == "cola":
        return {"matthews_correlation": matthews_corrcoef(references, predictions)}
    if task == "stsb":
        return {"pearson": pearsonr(predictions, references)[0], "spearmanr": spearmanr(predictions, references)[0]}
    if task in ("mrpc", "qqp"):
        return {"accuracy": accuracy_score(references, predictions), "f1": f1_score(references, predictions)}
    return {"accuracy": accuracy_score(references, predictions)}


def random_glue_inputs(task: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if task == "stsb":
        # float32: the metric's features store STS-B scores as float32, as HF's glue metric does.
        references = rng.uniform(0, 5, n).astype(np.float32)
        return (references + rng.normal(0, 1, n)).astype(np.float32), references
    num_labels = 3 if task.startswith("mnli") else 2
    return rng.integers(0, num_labels, n), rng.integers(0, num_labels, n)


# --- GLUE ---------------------------------------------------------------------------------------------------


def test_glue_task_names():
    assert GLUE_TASKS == ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
    assert set(GLUE_CONFIG_NAMES) == set(GLUE_TASKS) | {"mnli_matched", "mnli_mismatched"}


@pytest.mark.parametrize("task", GLUE_CONFIG_NAMES)
def test_glue_equals_direct_sklearn_scipy(task):
    predictions, references = random_glue_inputs(task, 200)
    result = GlueMetric(config_name=task).compute(predictions=predictions, references=references)
    expected = direct_glue(task, predictions, references)
    assert result.keys() == expected.keys()
    for key, value in result.items():
        assert isinstance(value, float)
        assert value == pytest.approx(expected[key], rel=1e-12)


def test_glue_hand_made_numbers():
    # MRPC: tp=1, fp=1, fn=1 -> precision = recall = F1 = 1/2; 2 of 4 right.
    assert load_glue_metric("mrpc").compute(predictions=[1, 1, 0, 0], references=[1, 0, 0, 1]) == {
        "accuracy": 0.5,
        "f1": 0.5,
    }
    cola = load_glue_metric("cola")
    assert cola.compute(predictions=[1, 0, 1, 0], references=[1, 0, 1, 0]) == {"matthews_correlation": 1.0}
    assert cola.compute(predictions=[0, 1, 0, 1], references=[1, 0, 1, 0]) == {"matthews_correlation": -1.0}
    # A monotone but non-linear prediction: rank correlation exactly 1, Pearson below it.
    stsb = load_glue_metric("stsb").compute(predictions=[0.0, 1.0, 8.0, 27.0], references=[0.0, 1.0, 2.0, 3.0])
    assert stsb["spearmanr"] == pytest.approx(1.0) and 0.9 < stsb["pearson"] < 1.0
    assert load_glue_metric("rte").compute(predictions=[0, 1, 1], references=[0, 1, 0]) == {
        "accuracy": pytest.approx(2 / 3)
    }


@pytest.mark.parametrize("task", ["mrpc", "stsb", "cola"])
def test_glue_add_batch_equals_one_compute(task):
    predictions, references = random_glue_inputs(task, 100, seed=1)
    metric = GlueMetric(config_name=task)
    for start in range(0, 100, 32):  # uneven last batch on purpose
        metric.add_batch(predictions=predictions[start : start + 32], references=references[start : start + 32])
    assert metric.compute() == GlueMetric(config_name=task).compute(predictions=predictions, references=references)
    # compute() empties the metric: it can be reused for the next evaluation.
    metric.add(prediction=predictions[0], reference=references[0])
    metric.add_batch(predictions=predictions[1:], references=references[1:])
    assert metric.compute() == direct_glue(task, predictions, references)


@pytest.mark.parametrize("make", [GlueMetric, lambda task: GlueMetric(config_name=task), load_glue_metric])
def test_unknown_glue_task_lists_valid_ones(make):
    with pytest.raises(ValueError, match="unknown GLUE task 'sst5'.*cola, sst2, mrpc, stsb.*mnli_mismatched"):
        make("sst5")


def test_unknown_or_missing_task_other_entry_points():
    with pytest.raises(ValueError, match="unknown GLUE task None; expected one of: cola"):
        GlueMetric()
    with pytest.raises(ValueError, match="unknown GLUE task 'MRPC'"):
        glue_compute_metrics("MRPC")


def test_glue_length_mismatch_names_both_counts():
    with pytest.raises(ValueError, match=r"predictions \(3\) and references \(2\)"):
        load_glue_metric("sst2").compute(predictions=[0, 1, 1], references=[0, 1])


# --- Trainer compute_metrics -----------------------------------------------------------------------------------


def test_compute_metrics_argmax_on_logits():
    logits = np.array([[2.0, -1.0], [0.1, 0.3], [-3.0, 4.0], [1.0, 0.0]])
    labels = np.array([0, 1, 0, 0])
    compute_metrics = glue_compute_metrics("mrpc")
    expected = direct_glue("mrpc", logits.argmax(-1), labels)
    assert compute_metrics(EvalPrediction(predictions=logits, label_ids=labels)) == expected
    # Extra model outputs arrive as a tuple with the logits first; called again, the metric starts afresh.
    hidden = np.zeros((4, 5, 8))
    assert compute_metrics(EvalPrediction(predictions=(logits, hidden), label_ids=labels)) == expected


def test_compute_metrics_squeezes_stsb_regression():
    predictions, references = random_glue_inputs("stsb", 50)
    result = glue_compute_metrics("stsb")(EvalPrediction(predictions=predictions[:, None], label_ids=references))
    assert result == pytest.approx(direct_glue("stsb", predictions, references), rel=1e-12)


def test_compute_metrics_batch_eval_mode_with_tensors():
    """With `batch_eval_metrics`, Trainer passes per-batch torch tensors and `compute_result` on the last."""
    logits = torch.randn(40, 3, dtype=torch.bfloat16)
    labels = torch.randint(0, 3, (40,))
    compute_metrics = glue_compute_metrics("mnli")
    for start in range(0, 40, 16):
        last = start + 16 >= 40
        batch = EvalPrediction(predictions=logits[start : start + 16], label_ids=labels[start : start + 16])
        result = compute_metrics(batch, compute_result=last)
        assert result == ({} if not last else direct_glue("mnli", logits.float().argmax(-1).numpy(), labels.numpy()))


class _FixedLogits(torch.nn.Module):
    """A stand-in classifier for Trainer: the logits ride along in the batch."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Linear(1, 1)  # Trainer wants parameters to place on a device

    def forward(self, logits, labels=None):
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


@pytest.mark.parametrize("batch_eval_metrics", [False, True])
def test_compute_metrics_in_trainer_evaluate(tmp_path, batch_eval_metrics):
    generator = torch.Generator().manual_seed(0)
    dataset = [{"logits": torch.randn(2, generator=generator), "labels": i % 2} for i in range(10)]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_eval_batch_size=4,
        batch_eval_metrics=batch_eval_metrics,
        report_to=[],
        use_cpu=True,
    )
    compute_metrics = glue_compute_metrics("qqp")
    metrics = Trainer(model=_FixedLogits(), args=args, eval_dataset=dataset, compute_metrics=compute_metrics).evaluate()
    logits = torch.stack([row["logits"] for row in dataset]).numpy()
    expected = direct_glue("qqp", logits.argmax(-1), np.array([row["labels"] for row in dataset]))
    assert metrics["eval_accuracy"] == pytest.approx(expected["accuracy"])
    assert metrics["eval_f1"] == pytest.approx(expected["f1"])


# --- translation --------------------------------------------------------------------------------------------


def test_sacrebleu_and_chrf_equal_direct_sacrebleu():
    bleu = SacreBleuMetric().compute(predictions=HYPOTHESES, references=REFERENCES)
    chrf = ChrFMetric().compute(predictions=HYPOTHESES, references=REFERENCES)
    direct_bleu = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES])
    direct_chrf = sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES])
    assert bleu["score"] == direct_bleu.score and 0 < bleu["score"] < 100
    assert (bleu["counts"], bleu["totals"], bleu["bp"]) == (direct_bleu.counts, direct_bleu.totals, direct_bleu.bp)
    assert chrf["score"] == direct_chrf.score and 0 < chrf["score"] < 100
    # Signatures say how the number was made: detokenized input, 13a tokenizer, one reference.
    assert bleu["signature"] == f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    assert chrf["signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no")


def test_translation_scores_equal_direct_sacrebleu():
    scores = translation_scores(HYPOTHESES, REFERENCES)
    assert scores["bleu"] == sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score
    assert scores["chrf"] == sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score
    assert "tok:13a" in scores["bleu_signature"] and "nc:6" in scores["chrf_signature"]


def test_multiple_references_per_hypothesis():
    references = [[first, second] for first, second in zip(REFERENCES, SECOND_REFERENCES, strict=True)]
    streams = [REFERENCES, SECOND_REFERENCES]  # sacrebleu's layout: one stream per reference set
    bleu = SacreBleuMetric().compute(predictions=HYPOTHESES, references=references)
    assert bleu["score"] == sacrebleu.corpus_bleu(HYPOTHESES, streams).score
    assert bleu["signature"].startswith("nrefs:2|")
    scores = translation_scores(HYPOTHESES, references)
    assert scores["chrf"] == sacrebleu.corpus_chrf(HYPOTHESES, streams).score


def test_translation_add_batch_and_options():
    metric = SacreBleuMetric()
    metric.add_batch(predictions=HYPOTHESES[:3], references=REFERENCES[:3])
    metric.add_batch(predictions=HYPOTHESES[3:], references=REFERENCES[3:])
    assert metric.compute() == SacreBleuMetric().compute(predictions=HYPOTHESES, references=REFERENCES)
    # sacrebleu options pass through, and the signature records them.
    lowercased = SacreBleuMetric().compute(predictions=HYPOTHESES, references=REFERENCES, lowercase=True)
    assert lowercased["score"] == sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES], lowercase=True).score
    assert "case:lc" in lowercased["signature"]


def test_translation_bad_input():
    with pytest.raises(ValueError, match="got 4 hypotheses but 3 references"):
        translation_scores(HYPOTHESES, REFERENCES[:3])
    with pytest.raises(ValueError, match=r"predictions \(4\) and references \(3\)"):
        SacreBleuMetric().compute(predictions=HYPOTHESES, references=REFERENCES[:3])
    with pytest.raises(ValueError, match=r"predictions \(4\) and references \(2\)"):
        ChrFMetric().compute(predictions=HYPOTHESES, references=REFERENCES[:2])
    with pytest.raises(ValueError, match=r"same number \(>= 1\) of references; got counts \[1, 2\]"):
        translation_scores(HYPOTHESES[:2], [[REFERENCES[0]], [REFERENCES[1], SECOND_REFERENCES[1]]])
    with pytest.raises(ValueError, match="not a single string"):
        translation_scores("The cat sat.", "The cat sat.")
    with pytest.raises(ValueError, match="got 0 hypotheses"):
        translation_scores([], [])


# --- perplexity ----------------------------------------------------------------------------------------------


def test_perplexity():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(50257)) == pytest.approx(50257)  # uniform over GPT-2's vocabulary
    assert perplexity(torch.tensor(2.0)) == pytest.approx(math.exp(2.0))
    assert perplexity(1e4) == math.inf  # past exp's range: infinite, not OverflowError
    assert math.isnan(perplexity(float("nan")))
    with pytest.raises(ValueError, match=r"mean_loss must be .*\(>= 0\), got -0.5"):
        perplexity(-0.5)


# --- offline ------------------------------------------------------------------------------------------------


def test_runs_offline_without_writing_files(tmp_path):
    """In a fresh process with the network cut: compute/add_batch work, the working directory stays empty and
    evaluate's cache under $HF_HOME holds no files (only the empty folders it always creates)."""
    script = textwrap.dedent(
        """
        import json, socket

        def no_network(*args, **kwargs):
            raise OSError("network access attempted")

        socket.socket.connect = no_network
        socket.create_connection = no_network

        from hf_transformer101.metrics import GlueMetric, SacreBleuMetric, translation_scores

        glue = GlueMetric(config_name="mrpc")
        glue.add_batch(predictions=[1, 0], references=[1, 1])
        glue.add_batch(predictions=[0], references=[0])
        bleu = SacreBleuMetric().compute(predictions=["a b c d"], references=["a b c d"])
        print(json.dumps({"glue": glue.compute(), "bleu": bleu["score"], "scores": translation_scores(["x"], ["x"])}))
        """
    )
    work, hf_home = tmp_path / "work", tmp_path / "hf_home"
    work.mkdir()
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("HF_METRICS_CACHE", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["glue"] == {"accuracy": 2 / 3, "f1": 2 / 3}
    assert result["bleu"] == pytest.approx(100.0)
    assert list(work.iterdir()) == []
    assert [path for path in hf_home.rglob("*") if path.is_file()] == []
