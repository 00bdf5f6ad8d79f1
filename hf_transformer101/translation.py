"""`translate`: texts in, translations out, for Seq2Seq101 or any transformers encoder-decoder model.

transformers 5.x removed the `translation` and `text2text-generation` pipelines; this is the one call that
replaces them:

    from hf_transformer101 import translate
    translate(model, tokenizer, ["Ein Mann fährt Fahrrad."])            # -> ["A man is riding a bike."]
    translate(model, tokenizer, texts, num_beams=1, do_sample=True)     # any `generate` argument passes through
"""

import torch
from tqdm.auto import tqdm


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
