"""`translate`: texts in, translations out, for Seq2Seq101 or any transformers encoder-decoder model.

transformers 5.x removed the `translation` and `text2text-generation` pipelines; this is the one call that
replaces them:

    from hf_transformer101 import translate
    translate(model, tokenizer, ["Ein Mann fährt Fahrrad."])            # -> ["A man is riding a bike."]
    translate(model, tokenizer, texts, num_beams=1, do_sample=True)     # any `generate` argument passes through
"""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .files import write_atomically


def _default_max_new_tokens(model, source_length):
    """Room for a translation a bit over twice the source (in tokens), but never past the decoder's positions."""
    budget = 2 * source_length + 10
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions:
        # The decoder also reads its start token, so max_positions - 1 new tokens fill every position.
        budget = min(budget, max_positions - 1)
    return budget


def translate(model, tokenizer, texts, *, batch_size=32, num_beams=4, max_new_tokens=None, show_progress=None,
              **generate_kwargs):
    """Translate `texts` (a list of strings, or one string) with `model.generate`; returns detokenized strings.

    - Batched: texts are sorted by length and cut into batches of `batch_size`, so each batch is padded as little
      as possible; the results come back in the input order.
    - Beam search with `num_beams=4` by default (pass `num_beams=1` for greedy decoding, or `do_sample=True` ...;
      every other keyword goes to `generate`).
    - `max_new_tokens=None` allows 2 * (longest source in the batch, in tokens) + 10 new tokens, capped by the
      model's `max_position_embeddings`; pass `max_new_tokens` or `max_length` to choose yourself.
    - `show_progress=None` shows a progress bar when there is more than one batch.
    - The model runs in eval mode without gradients (its previous mode is restored afterwards).
    - With `num_return_sequences=n > 1` each input gets a list of n translations.

    Raises ValueError for an empty list, a non-string item, a bad batch size, or a tokenizer without a pad token.
    """
    single = isinstance(texts, str)
    if single:
        texts = [texts]
    if not isinstance(texts, (list, tuple)):
        raise ValueError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    if not texts:
        raise ValueError("texts is empty: nothing to translate")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts[{index}] must be a string, got {type(text).__name__}: {text!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token: batched translation needs one (set tokenizer.pad_token)")
    if not getattr(model.config, "is_encoder_decoder", False):
        raise ValueError(f"translate needs an encoder-decoder model; {type(model).__name__} is not one")
    num_return_sequences = generate_kwargs.get("num_return_sequences", 1)

    # Encode once without padding to know the lengths, then batch neighbours of similar length.
    lengths = [len(ids) for ids in tokenizer(list(texts))["input_ids"]]
    order = sorted(range(len(texts)), key=lambda index: lengths[index], reverse=True)
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    if show_progress is None:
        show_progress = len(batches) > 1

    results = [None] * len(texts)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in tqdm(batches, desc="translating", unit="batch", disable=not show_progress):
                encoded = tokenizer([texts[index] for index in batch], return_tensors="pt", padding=True)
                inputs = {name: encoded[name].to(model.device) for name in ("input_ids", "attention_mask")}
                kwargs = dict(generate_kwargs)
                if max_new_tokens is not None:
                    kwargs["max_new_tokens"] = max_new_tokens
                elif "max_length" not in kwargs:
                    kwargs["max_new_tokens"] = _default_max_new_tokens(model, inputs["input_ids"].shape[1])
                generated = model.generate(**inputs, num_beams=num_beams, **kwargs)  # (batch * n, L)
                decoded = tokenizer.batch_decode(generated, skip_special_tokens=True)
                for position, index in enumerate(batch):
                    chunk = decoded[position * num_return_sequences:(position + 1) * num_return_sequences]
                    results[index] = chunk if num_return_sequences > 1 else chunk[0]
    finally:
        model.train(was_training)
    return results[0] if single else results


def _fit_sources(model, tokenizer, sources: Sequence[str]) -> tuple[list[str], int]:
    """Sources cut to what the encoder can read (a Multi30k model has 128 positions, a WMT sentence can be longer);
    returns (texts, number cut). The cut is made in tokens and decoded back, so the kept text is a prefix."""
    limit = getattr(model.config, "max_position_embeddings", None)
    texts = list(sources)
    if not limit:
        return texts, 0
    lengths = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]]  # no "too long" warning: we cut
    cut = [index for index, length in enumerate(lengths) if length > limit]
    for index in cut:
        ids = tokenizer(texts[index], add_special_tokens=False, verbose=False)["input_ids"]
        texts[index] = tokenizer.decode(ids[:limit - 1], skip_special_tokens=True)  # room for </s>
    return texts, len(cut)


def evaluate_translation(model, tokenizer, sources: Sequence[str], references: Sequence[str], *, batch_size: int = 32,
                         num_beams: int = 4, max_new_tokens: int | None = None, length_penalty: float = 1.0,
                         **generate_kwargs: Any) -> dict[str, Any]:
    """Translate `sources` with batched beam search and score the detokenized output against `references`.

    Corpus sacreBLEU and chrF (sacrebleu's defaults, 0-100) through `metrics.translation_scores`; the reference
    files must be raw, untokenized text (Multi30k raw, newstest). Returns {"bleu", "chrf", "bleu_signature",
    "chrf_signature", "num_sentences", "truncated_sources", "generation", "hypotheses"}; `generation` records the
    decoding settings so a score can be reproduced. Sources longer than the model's positions are cut (counted
    in "truncated_sources"). Raises ValueError naming both counts when sources and references differ in length.
    """
    from .metrics import translation_scores  # here, not at the top: keeps `import hf_transformer101` light

    if isinstance(sources, str) or isinstance(references, str):
        raise ValueError("sources and references must be lists of sentences, not a single string")
    if len(sources) != len(references):
        raise ValueError(f"got {len(sources)} sources but {len(references)} references: expected one reference "
                         "per source sentence (line i of one file translates line i of the other)")
    fitted, truncated = _fit_sources(model, tokenizer, sources)
    hypotheses = translate(model, tokenizer, fitted, batch_size=batch_size, num_beams=num_beams,
                           max_new_tokens=max_new_tokens, length_penalty=length_penalty, **generate_kwargs)
    generation = {"num_beams": num_beams, "max_new_tokens": max_new_tokens, "length_penalty": length_penalty,
                  **generate_kwargs}
    return {**translation_scores(hypotheses, list(references)), "num_sentences": len(hypotheses),
            "truncated_sources": truncated, "generation": generation, "hypotheses": hypotheses}


def save_translation_eval(result: dict[str, Any], output_dir: str | os.PathLike, *, dataset_name: str,
                          dataset_type: str, dataset_split: str, source_lang: str, target_lang: str) -> dict[str, Any]:
    """Write `evaluate_translation`'s result as `hypotheses.txt` and `bleu.json`; returns the JSON record.

    bleu.json is in the evaluation format `hub.export` reads into a model card (task_type "translation", metrics
    bleu and chrf) plus the sacreBLEU signatures and decoding settings. Each file is written under a temporary
    name and renamed, so a crash never leaves a half-written score.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "task_type": "translation", "dataset_name": dataset_name, "dataset_type": dataset_type,
        "dataset_config": f"{source_lang}-{target_lang}", "dataset_split": dataset_split,
        "metrics": {"bleu": result["bleu"], "chrf": result["chrf"]},
        **{key: result[key] for key in ("bleu_signature", "chrf_signature", "num_sentences", "truncated_sources",
                                        "generation")},
    }
    # One hypothesis per line: a newline inside a translation would shift every later line.
    lines = "".join(hypothesis.replace("\n", " ") + "\n" for hypothesis in result["hypotheses"])
    write_atomically(output_dir / "hypotheses.txt", lines)
    write_atomically(output_dir / "bleu.json", json.dumps(record, indent=2, default=str) + "\n")
    return record
