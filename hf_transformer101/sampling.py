"""Sampling text from a causal LM beyond its context window, as nanoGPT's `generate` does.

transformers' `generate()` refuses to go past `max_position_embeddings` (a learned-position model has no
embedding there). For long samples the lecture's answer is to crop: feed only the last `block_size` tokens
each step — the model never sees further back anyway. That needs a full forward per token once the window
slides, so this loop is for samples, not for serving; within the context use `model.generate`.
"""

import torch


@torch.no_grad()
def sample_text(model, tokenizer, prompt, max_new_tokens=500, temperature=0.8, top_k=200, seed=None):
    """Continue `prompt` by `max_new_tokens` tokens, cropping the context to the model's window."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    generator = torch.Generator(device=model.device)
    if seed is not None:
        generator.manual_seed(seed)
    block_size = model.config.max_position_embeddings
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(model.device)  # (1, T)
    if ids.shape[1] == 0:
        ids = torch.tensor([[tokenizer.eos_token_id]], device=model.device)  # an empty prompt starts a document
    start = ids.shape[1]
    was_training = model.training
    model.eval()
    for _ in range(max_new_tokens):
        logits = model(ids[:, -block_size:], use_cache=False).logits[:, -1] / temperature  # (1, V)
        if top_k:
            kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]  # (1, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        next_id = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)  # (1, 1)
        ids = torch.cat([ids, next_id], dim=1)
    model.train(was_training)
    return prompt + tokenizer.decode(ids[0, start:], skip_special_tokens=True)
