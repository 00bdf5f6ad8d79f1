"""Greedy decoding and sampling for GPT101 over a static key/value cache: the serving path, beside `model.generate`.

`generate()` is general (processors, stopping criteria, beams, a cache that grows by concatenation) and pays for
it in Python on every token; at batch 1 a small model spends most of its time there, not in matmuls. This loop
does only what choosing one token after another needs, and its cache is preallocated: the keys and values of
position p live in slot p, so every decode step has the same shapes, which lets `torch.compile` take the step
whole:

* on GPU, `mode="reduce-overhead"` captures it as one CUDA graph — one launch per token instead of hundreds
  (GPT-2 124M, batch 1, fp32, H100: 0.85 ms/token, against 6.8 for our `generate` and 8.8 for GPT2's);
* on CPU, inductor with `freezing` (the weights become constants of the graph, pre-packed), `max_autotune`
  (inductor's own C++ GEMM kernels, tried against the library ones at compile time: for one row at a time they
  are much faster) and `cpp_wrapper` (C++ instead of Python between the kernels). The bench's 6 x 384 GPT at
  batch 1, fp32, 2 cores: 1.3-1.5 ms/token against 3.7-4.2 for GPT2's `generate` (docs/benchmarks.md), after a
  compilation of about 30 s on the first call. Frozen means a snapshot: a decoder built before the weights
  change keeps decoding with the old ones, so build a new one after training.

    decoder = StaticCacheDecoder(model, batch_size=1, compile=True)  # allocate the cache once
    ids = decoder.generate(input_ids, max_new_tokens=64)             # == model.generate(..., do_sample=False)
    torch.manual_seed(0)  # then the same draws as model.generate(..., do_sample=True, ...) after the same seed
    ids = decoder.generate(input_ids, max_new_tokens=64, do_sample=True, temperature=0.8, top_k=200)

The forward reuses the model's own Blocks (the cache plugs into their attention), so there is no second copy
of the architecture or of the weights. Shape legend: B batch, T new tokens, S cache slots, C hidden, V vocab.
"""

import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from .modeling.blocks import build_attention_mask, check_input_ids, positions_after
from .modeling.modeling_gpt101 import GPT101ForCausalLM


class StaticKeyValueCache:
    """Per layer, keys and values of shape (B, H, S, D), preallocated; `length` tokens are filled so far.

    Implements the one method the attention layers call, `update(key, value, layer_idx)`: write the new tokens'
    keys/values into their slots and hand back the whole buffer (empty slots are masked by the caller).
    """

    def __init__(self, config, batch_size, max_length, dtype, device):
        heads = config.num_attention_heads
        shape = (batch_size, heads, max_length, config.hidden_size // heads)
        self.max_length = max_length
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(config.num_hidden_layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(config.num_hidden_layers)]
        # A tensor, not an int, so the compiled step reads it on the device instead of recompiling per position.
        self.length = torch.zeros((), dtype=torch.long, device=device)
        for tensor in (*self.keys, *self.values, self.length):
            # Mutated in place by the compiled step: CUDA graphs need them at fixed addresses.
            torch._dynamo.mark_static_address(tensor)

    def positions(self, count):
        return positions_after(self.length, count, self.length.device)  # (1, T)

    def update(self, key, value, layer_idx):
        """key, value (B, H, T, D) of the new tokens -> the full (B, H, S, D) buffers, new tokens written in."""
        slots = self.positions(key.shape[2])[0]  # (T,)
        self.keys[layer_idx].index_copy_(2, slots, key)
        self.values[layer_idx].index_copy_(2, slots, value)
        return self.keys[layer_idx], self.values[layer_idx]


def compile_step(forward, device):
    """`forward` compiled for decoding on `device` (see the module docstring)."""
    if device.type == "cuda":
        return torch.compile(forward, mode="reduce-overhead", fullgraph=True)
    compiled = torch.compile(forward, fullgraph=True)
    if device.type != "cpu":
        return compiled

    # The last two keep autotuning's tables of timings off stderr; older torch (2.6) has neither, nor the tables.
    settings = dict(freezing=True, cpp_wrapper=True, max_autotune=True, autotune_num_choices_displayed=0,
                    max_autotune_report_choices_stats=False)
    settings = {name: value for name, value in settings.items() if hasattr(torch._inductor.config, name)}

    def step(input_ids):
        # Not torch.compile(options=...): dynamo reads `freezing` from the global inductor config while it traces,
        # before the per-compile options are applied (measured: no speed-up that way). Patched around every call
        # (a few microseconds), so that a recompilation gets the same settings.
        with torch._inductor.config.patch(settings):
            return compiled(input_ids)

    return step


class StaticCacheDecoder:
    """Greedy decoding or sampling of a GPT101ForCausalLM for batches of `batch_size` prompts, up to `max_length`
    tokens (prompt + new; default: the model's context). The cache is allocated once and reused by every call, so
    a compiled step stays valid from call to call (it is compiled once per decoder, on its first call).

    Same tokens as `model.generate(input_ids, max_new_tokens=N, ...)` for unpadded prompts of equal length (no
    attention_mask), greedy or sampled with the same settings and the same seed, as long as no EOS comes up:
    `generate` stops there (or, with `min_new_tokens`, forbids it), this loop does not look at EOS. Runs in the
    model's dtype: convert the model (e.g. `.to(torch.bfloat16)`) rather than using autocast. `compile=True`
    compiles the one-token step (see the module docstring: CUDA graphs on GPU; frozen weights, autotuned GEMMs and
    a C++ wrapper on CPU, which needs a C++ compiler).
    """

    def __init__(self, model, batch_size, max_length=None, *, compile=False):
        if not isinstance(model, GPT101ForCausalLM):
            raise ValueError(f"{type(self).__name__} expects a GPT101ForCausalLM, got {type(model).__name__}")
        max_length = max_length or model.config.max_position_embeddings
        if not 1 < max_length <= model.config.max_position_embeddings:
            raise ValueError(f"max_length must be in [2, max_position_embeddings="
                             f"{model.config.max_position_embeddings}]; got {max_length}")
        self.model, self.batch_size, self.max_length = model, batch_size, max_length
        parameter = next(model.parameters())
        self.cache = StaticKeyValueCache(model.config, batch_size, max_length, parameter.dtype, parameter.device)
        # The prompt runs eagerly: its length changes from call to call, the one-token step's shapes never do.
        self.step = compile_step(self.forward, parameter.device) if compile else self.forward

    def forward(self, input_ids):
        """Feed input_ids (B, T) at the cache's next positions; return the last position's logits (B, V)."""
        body, cache = self.model.model, self.cache
        length = input_ids.shape[1]
        hidden_states = body.embed_tokens(input_ids) + body.embed_positions(cache.positions(length))  # (B, T, C)
        # The query at position p sees slots 0..p: that is the causal mask, and it hides the slots not written yet
        # (or left over from the previous call).
        mask = build_attention_mask(None, length, cache.max_length, past_length=cache.length, is_causal=True,
                                    dtype=hidden_states.dtype, device=hidden_states.device)  # (1, 1, T, S)
        for layer in body.layers:
            hidden_states, _, _ = layer(hidden_states, mask, cache=cache)
        cache.length += length
        return self.model.lm_head(body.norm(hidden_states[:, -1]))  # (B, C) -> (B, V)

    @torch.no_grad()
    def generate(self, input_ids, max_new_tokens, *, do_sample=False, temperature=1.0, top_k=None, top_p=None,
                 generator=None):
        """The prompt (B, T0) followed by `max_new_tokens` new tokens: (B, T0 + max_new_tokens).

        Greedy by default. `do_sample=True` draws each token from the softmax of the logits as `generate` does:
        divided by `temperature`, then cut to the `top_k` likeliest tokens and to the smallest set of likeliest
        tokens whose probabilities sum to `top_p` (transformers' own warpers, in `generate`'s order; unlike
        `generate`, no top_k=50 unless asked). It draws from `generator`, else from torch's global generator —
        which `generate` uses, so `torch.manual_seed(s)` before either gives the same tokens.
        """
        choose = _token_chooser(do_sample, temperature, top_k, top_p, generator)  # (B, V) logits -> (B,) ids
        if self.model.training:
            raise ValueError("decoding needs the model in eval mode (model.eval()): dropout would change the tokens")
        if input_ids.ndim != 2 or input_ids.shape[0] != self.batch_size or input_ids.shape[1] == 0:
            raise ValueError(f"expected input_ids of shape ({self.batch_size}, T0) with T0 >= 1; got "
                             f"{tuple(input_ids.shape)}")
        check_input_ids(input_ids, self.model.config.vocab_size)
        if max_new_tokens < 1 or input_ids.shape[1] + max_new_tokens > self.max_length:
            raise ValueError(f"prompt ({input_ids.shape[1]}) + max_new_tokens ({max_new_tokens}) must be within "
                             f"max_length={self.max_length}, with max_new_tokens >= 1")
        self.cache.length.zero_()
        tokens = torch.empty(self.batch_size, max_new_tokens, dtype=torch.long, device=input_ids.device)
        tokens[:, 0] = choose(self.forward(input_ids))
        for index in range(1, max_new_tokens):
            # The choice outside the compiled step: a CUDA graph's outputs are overwritten by its next replay, and
            # sampling's random draws would break the graph.
            tokens[:, index] = choose(self.step(tokens[:, index - 1 : index]))
        return torch.cat([input_ids, tokens], dim=1)


GreedyDecoder = StaticCacheDecoder  # its name while it decoded greedily only, kept for code written then


def _token_chooser(do_sample, temperature, top_k, top_p, generator):
    """A function from logits (B, V) to the next tokens (B,): argmax, or a draw shaped by transformers' warpers
    (which check their own settings: ValueError for temperature <= 0, top_k < 1, top_p outside (0, 1])."""
    if not do_sample:
        if (temperature, top_k, top_p) != (1.0, None, None):
            raise ValueError("temperature, top_k and top_p shape sampling: pass do_sample=True with them")
        return lambda logits: logits.argmax(-1)
    warpers = LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k is not None:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p is not None and top_p != 1.0:
        warpers.append(TopPLogitsWarper(top_p))

    def sample(logits):
        scores = warpers(None, logits.float())  # (B, V) in fp32, as `generate` scores; these warpers ignore the ids
        return torch.multinomial(scores.softmax(-1), num_samples=1, generator=generator)[:, 0]

    return sample


def greedy_generate(model, input_ids, max_new_tokens, *, compile=False):
    """One-off `StaticCacheDecoder(...).generate(...)`; keep a decoder to reuse its cache (and compiled step)."""
    decoder = StaticCacheDecoder(model, input_ids.shape[0], input_ids.shape[1] + max_new_tokens, compile=compile)
    return decoder.generate(input_ids, max_new_tokens)
