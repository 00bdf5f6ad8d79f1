"""The lecture's building blocks, shared by GPT101, BERT101 and Seq2Seq101.

"Attention is communication, the MLP is computation": every token first gathers information from other tokens
(multi-head attention: queries ask, keys answer "what I have", values carry the message), then thinks about it
on its own (a position-wise MLP). A Block wraps both in residual connections and layer norms, in either order:

* pre-LN  (GPT-2):                     x = x + attn(ln(x));   x = x + mlp(ln(x))
* post-LN (BERT, "Attention is all you need"):  x = ln(x + attn(x));   x = ln(x + mlp(x))

The same attention class serves the three kinds of the lecture: bidirectional self-attention (encoder),
causal self-attention (decoder: a token may only look back), and cross-attention (decoder queries, encoder
keys/values).

Shape legend, used in every comment below:
    B batch, T query length, S key/value length, C hidden size, H heads, D head size (C = H * D)

This file is copied next to the model files when a model is exported to the Hub, so it may import only the
standard library, torch and transformers.
"""

import dataclasses
import math

import torch
from torch import nn
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .linear import Linear, compute_dtype


def eager_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Scaled dot-product attention written out, softmax(q k^T / sqrt(D) + mask) v (Vaswani et al. 2017, eq. 1).

    Same signature and output layout as transformers' attention functions, so the model can dispatch between
    this and `ALL_ATTENTION_FUNCTIONS["sdpa"]`. It is the only path that returns the attention weights
    (`output_attentions=True`), which the attention-map pictures need.
    """
    if attention_mask is None and module.is_causal and query.shape[-2] > 1:
        # No explicit mask: the model relies on the causal flag (what SDPA's `is_causal` does).
        attention_mask = _future_mask(query, key)
    scores = _scaled_scores(query, key, scaling, attention_mask)  # (B, H, T, S)
    weights = nn.functional.softmax(scores, dim=-1)  # (B, H, T, S): how much each query listens to each key
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value)  # (B, H, T, S) @ (B, H, S, D) -> (B, H, T, D)
    return output.transpose(1, 2).contiguous(), weights  # (B, T, H, D)


def _scaled_scores(query, key, scaling, mask):
    """q k^T * scaling + mask, (B, H, T, S), as one batched product (`baddbmm`): the mask (B or 1, H or 1, T, S), or
    None, is its addend and the scaling its multiplier.

    Written as a product, a scaling pass and a masking pass over the (B, H, T, S) scores — and the same passes
    again in the backward pass — they cost more than the products themselves on the CPU: bf16 forward + backward
    per layer, GPT's causal attention at 256 tokens 11.5 against 16 ms, BERT's at 8 x 128 without a mask 0.8
    against 2.1 ms, with one 0.9 against 1.5. The mask goes in at the compute dtype's lowest number at most (an
    fp32 mask's would round to -inf in bf16, and a row with every key masked would then give NaN).
    """
    (batch, heads, query_length, head_dim), key_length = query.shape, key.shape[-2]
    dtype = compute_dtype(query)
    if mask is None:
        addend, beta = torch.zeros(1, 1, 1, dtype=dtype, device=query.device), 0  # (ignored with beta = 0)
    else:
        addend, beta = mask if mask.dtype == dtype else mask.clamp(min=torch.finfo(dtype).min).to(dtype), 1
        if addend.shape[:2] == (1, 1):
            addend = addend[0]  # (1, T, S): broadcast over the B * H products
        else:  # a mask per sequence (or head), laid out for each of the B * H products
            addend = addend.expand(batch, heads, query_length, key_length).reshape(-1, query_length, key_length)
    scores = torch.baddbmm(addend, query.reshape(-1, query_length, head_dim),
                           key.reshape(-1, key_length, head_dim).transpose(1, 2), beta=beta, alpha=scaling)
    return scores.view(batch, heads, query_length, key_length)


def _future_mask(query, key):
    """The causal mask (1, 1, T, S): 0 on and below the diagonal, the compute dtype's lowest number above it,
    aligned so that the last query sees every key (right with a cache in front of the new tokens too)."""
    query_length, key_length = query.shape[-2], key.shape[-2]
    dtype = compute_dtype(query)
    future = torch.full((query_length, key_length), torch.finfo(dtype).min, dtype=dtype, device=query.device)
    return future.triu(key_length - query_length + 1)[None, None]


def attention_function(config, query, key, causal_without_mask=False):
    """The attention kernel the config asks for: ours for "eager", transformers' registry for the rest (sdpa...),
    but ours for "sdpa" too when training on the CPU in bf16/fp16 with at most 128 keys, or 256 when the
    attention is causal with no mask to add (GPT's training).

    There, torch's CPU flash kernel is slow in its backward pass. Forward + backward on the project's CPU box (2
    threads, bf16): 1.7-5x the time of `eager_attention`'s bf16 products and softmax for 64 and 128 keys (head
    size 32 or 64, 4 to 12 heads); causal at 256 keys 1.2-1.6x (`_scaled_scores`), at 512 1.05-1.5x, at 1024 flash
    ahead; with a mask to add 0.7-1.6x at 256. Forward alone, without gradients, neither wins throughout, and
    SDPA stays. The written-out attention rounds its scores to bf16 before the softmax (as transformers' eager
    attention does under autocast; flash keeps them in fp32): the CPU GPT recipe (bf16, 64 tokens) reached the
    same validation loss, 1.5583 against 1.5598, in 3 min 26 s instead of 5 min 8 s. Its memory: the (B, H, T,
    S) bf16 weights, kept for the backward pass (19 MiB for BERT's six layers at 8 x 128 tokens, 38 MiB for
    GPT's at 8 x 256 — 4x that per doubling, why it stops at 256). Not under `torch.compile`, nor when an
    `sdpa_kernel` context restricts SDPA's kernels (the caller chose one).
    """
    implementation = getattr(config, "_attn_implementation", None)
    if implementation in (None, "eager"):
        return eager_attention
    max_keys = 256 if causal_without_mask else 128
    if implementation == "sdpa" and _cpu_bf16_training(query) and key.shape[-2] <= max_keys:
        return eager_attention
    return ALL_ATTENTION_FUNCTIONS[implementation]


def _cpu_bf16_training(query):
    return (
        not torch.compiler.is_compiling()  # first: the backend switches below cannot be traced
        and query.device.type == "cpu"
        and query.dtype in (torch.bfloat16, torch.float16)
        and query.requires_grad
        and torch.backends.cuda.flash_sdp_enabled()  # (for every device) no sdpa_kernel restriction in place
        and torch.backends.cuda.math_sdp_enabled()
    )


def cached_lengths(cache, query_length):
    """(tokens already in the cache, keys the attention will read) for a transformers `Cache`, or None.

    A cache that grows (`DynamicCache`) gives back the past and the new keys; a preallocated one (`StaticCache`,
    `generate(cache_implementation="static")`) gives back its whole buffer, whose slots beyond the tokens written
    so far hold zeros that the mask must hide.

    A static cache counts its tokens in a tensor. Compiled (as `generate` does by itself on a GPU with a static
    cache), the past length stays that 0-d tensor: reading its value would be a graph break, which torch <= 2.9
    refuses under `fullgraph=True`. Callers must then treat it as a value known only on the device.
    """
    if cache is None:
        return 0, query_length
    key_length, _ = cache.get_mask_sizes(query_length, 0)
    past_length = cache.get_seq_length()
    if not (isinstance(past_length, torch.Tensor) and torch.compiler.is_compiling()):
        past_length = int(past_length)
    return past_length, int(key_length)


def positions_after(past_length, length, device):
    """Positions past_length .. past_length + length - 1, (1, T); `past_length` an int or a 0-d tensor."""
    return (torch.arange(length, device=device) + past_length)[None]


def build_attention_mask(padding_mask, query_length, key_length, *, is_causal, dtype, past_length=None, device=None):
    """Additive mask (0 = attend, dtype min = blocked) of shape (B, 1, T, S), or None when no mask is needed.

    `padding_mask` is the tokenizer's (B, S) attention_mask over all keys (cached ones included), 1 = real token,
    or a ready (B, 1, T, S) mask (boolean, True = attend, or additive): what transformers' `generate` passes with a
    static cache. Causal: query t is token `past_length + t` (default: the keys end with the queries) and sees the
    keys up to itself — keys past the last query (a static cache's empty slots) never. None is returned whenever
    the attention kernels can do the job alone — no padding, no empty slots, and either not causal or causal with
    T == S / T == 1 — so SDPA can take its `is_causal` fast path without a materialised mask. A float mask (not
    boolean) keeps rows of left padding finite under both kernels. The mask is built on `padding_mask`'s device,
    else on `device` (the hidden states': a causal mask may be needed without a padding mask).
    """
    if padding_mask is not None and padding_mask.dim() == 4:
        return _ready_mask(padding_mask, query_length, key_length, dtype)
    past_length = key_length - query_length if past_length is None else past_length
    # A 0-d tensor in compiled code with a static cache (see cached_lengths): its value cannot be checked or
    # branched on there, and such a cache nearly always has empty slots, so the mask is built.
    past_known = not isinstance(past_length, torch.Tensor)
    if past_known and padding_mask is not None and padding_mask.shape[-1] != past_length + query_length:
        raise ValueError(f"attention_mask covers {padding_mask.shape[-1]} tokens, but there are {past_length} cached "
                         f"and {query_length} new ones")
    # Whether a row has padding is a question about the mask's values: compiled or exported code (a graph for any
    # mask, e.g. torch.export / ONNX) cannot branch on it, so there a given mask is always applied.
    has_padding = padding_mask is not None and (torch.compiler.is_compiling() or not bool(padding_mask.all()))
    no_empty_slots = past_known and key_length == past_length + query_length
    if not has_padding and no_empty_slots and (not is_causal or query_length in (1, key_length)):
        return None
    device = padding_mask.device if padding_mask is not None else device
    if is_causal:
        # Query t is token past + t and sees keys 0 .. past + t (a comparison, not tril: past may be a tensor).
        keys = torch.arange(key_length, device=device)  # (S,)
        allowed = (keys <= positions_after(past_length, query_length, device).mT)[None, None]  # (1, 1, T, S)
    else:
        allowed = torch.ones(1, 1, query_length, key_length, dtype=torch.bool, device=device)  # (1, 1, T, S)
    if has_padding:
        # (B, S): a static cache's empty slots, after the tokens the mask covers, count as padding
        padding_mask = nn.functional.pad(padding_mask, (0, key_length - padding_mask.shape[-1]))
        allowed = allowed & padding_mask[:, None, None, :].bool()  # (B, 1, T, S)
    return _additive(allowed, dtype)


def _ready_mask(mask, query_length, key_length, dtype):
    """A caller's (B, 1, T, S) mask as an additive one in `dtype`, after checking its shape."""
    if mask.shape[-2:] != (query_length, key_length):
        raise ValueError(f"a 4D attention_mask must be (batch, 1, {query_length} queries, {key_length} keys); got "
                         f"{tuple(mask.shape)}")
    return _additive(mask, dtype) if mask.dtype == torch.bool else mask.to(dtype)


def _additive(allowed, dtype):
    """A boolean mask (True = attend) as an additive one: 0 where allowed, the dtype's lowest number elsewhere."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: H independent attention "channels" of size D = C / H, run in parallel.

    Self-attention projects queries, keys and values with one fused matmul (`qkv_proj`, C -> 3C), which is
    faster than three. Cross-attention takes queries from the decoder (`q_proj`) and keys/values from the
    encoder output (`kv_proj`, C -> 2C); those are computed once per source and cached during generation.
    """

    def __init__(self, config, hidden_size, num_heads, *, is_causal, is_cross_attention=False, bias=True,
                 attention_dropout=0.0, layer_idx=None):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
        self.config = config  # read at call time: `set_attn_implementation` switches the kernel on the fly
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scaling = self.head_dim**-0.5  # 1/sqrt(D) keeps q.k at unit variance so softmax does not saturate
        # transformers' SDPA wrapper reads `module.is_causal` when no mask is given: it must always be set.
        self.is_causal = is_causal
        self.is_cross_attention = is_cross_attention
        self.attention_dropout = attention_dropout
        self.layer_idx = layer_idx
        if is_cross_attention:
            self.q_proj = Linear(hidden_size, hidden_size, bias=bias)
            self.kv_proj = Linear(hidden_size, 2 * hidden_size, bias=bias)
        else:
            self.qkv_proj = Linear(hidden_size, 3 * hidden_size, bias=bias)
        self.out_proj = Linear(hidden_size, hidden_size, bias=bias)

    def _split_heads(self, projected, parts):
        """(B, L, parts * C) -> `parts` tensors of (B, H, L, D): views, nothing is copied.

        Unbinding the `parts` axis before moving the heads forward (rather than permuting it to the front first)
        matters for the backward pass: autograd then stacks the gradients straight into the (B, L, parts, H, D)
        layout of the projection's output, instead of stacking them in the permuted layout and copying once more.
        """
        batch, length, _ = projected.shape
        projected = projected.view(batch, length, parts, self.num_heads, self.head_dim)  # (B, L, parts, H, D)
        return tuple(part.transpose(1, 2) for part in projected.unbind(2))  # parts x (B, H, L, D)

    def forward(self, hidden_states, attention_mask=None, key_value_states=None, cache=None,
                output_attentions=False):
        """hidden_states (B, T, C) -> (B, T, C) and the attention weights (B, H, T, S) or None.

        `cache`: for self-attention a transformers `Cache` (new keys/values are appended and the full history
        comes back); for cross-attention an `EncoderDecoderCache`, whose cross part is filled on the first step.
        """
        batch, length, hidden_size = hidden_states.shape
        if self.is_cross_attention:
            (query,) = self._split_heads(self.q_proj(hidden_states), 1)  # (B, H, T, D)
            if cache is not None and cache.is_updated.get(self.layer_idx):
                layer = cache.cross_attention_cache.layers[self.layer_idx]
                key, value = layer.keys, layer.values  # (B, H, S, D): the source does not change while decoding
            else:
                key, value = self._split_heads(self.kv_proj(key_value_states), 2)  # (B, H, S, D) each
                if cache is not None:
                    key, value = cache.cross_attention_cache.update(key, value, self.layer_idx)
                    cache.is_updated[self.layer_idx] = True
        else:
            query, key, value = self._split_heads(self.qkv_proj(hidden_states), 3)  # (B, H, T, D) each
            if cache is not None:
                key, value = cache.update(key, value, self.layer_idx)  # (B, H, S, D): past + new tokens

        causal_without_mask = self.is_causal and attention_mask is None and length > 1
        output, weights = attention_function(self.config, query, key, causal_without_mask)(
            self, query, key, value, attention_mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            output_attentions=output_attentions,
        )
        output = output.reshape(batch, length, hidden_size)  # (B, T, H, D) -> (B, T, C): heads side by side
        return self.out_proj(output), weights


# GPT-2's "gelu_new" is the tanh approximation of GELU written out in Python: about ten elementwise kernels
# forward and as many backward, each keeping a (B, T, 4C) tensor for the backward pass: a tenth of a one-thread
# CPU training step, and why GPT2's step peaks at up to twice our memory (docs/benchmarks.md). torch's built-in
# `gelu(approximate="tanh")` is the same function in one fused kernel (equal to ~1e-7, float rounding).
SAME_FUNCTION_FASTER = {"gelu_new": "gelu_pytorch_tanh"}


class MLP(nn.Module):
    """The position-wise feed-forward network: C -> intermediate (usually 4C) -> C, applied to each token alone."""

    def __init__(self, hidden_size, intermediate_size, activation, *, bias=True, activation_dropout=0.0):
        super().__init__()
        if activation not in ACT2FN:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACT2FN)}")
        self.fc_in = Linear(hidden_size, intermediate_size, bias=bias)
        self.act = ACT2FN[SAME_FUNCTION_FASTER.get(activation, activation)]
        self.dropout = nn.Dropout(activation_dropout)  # Marian's `activation_dropout`; 0 for GPT-2 and BERT
        self.fc_out = Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, hidden_states):
        return self.fc_out(self.dropout(self.act(self.fc_in(hidden_states))))  # (B, T, C) -> (B, T, C)


class Block(GradientCheckpointingLayer):
    """One Transformer layer: self-attention, optionally cross-attention, then the MLP — each a residual branch.

    `pre_norm=True` is GPT-2's order (normalise the branch input; the residual stream itself is never
    normalised, which keeps deep stacks trainable without warm-up tricks); `pre_norm=False` is the paper's and
    BERT's order (normalise after the residual sum). Dropout hits each branch output before it is added.
    """

    def __init__(self, config, *, hidden_size, num_heads, intermediate_size, activation, pre_norm, is_causal,
                 has_cross_attention=False, bias=True, layer_norm_eps=1e-5, dropout=0.0, attention_dropout=0.0,
                 activation_dropout=0.0, layer_idx=None):
        super().__init__()
        self.pre_norm = pre_norm
        self.self_attn = MultiHeadAttention(config, hidden_size, num_heads, is_causal=is_causal, bias=bias,
                                            attention_dropout=attention_dropout, layer_idx=layer_idx)
        self.self_attn_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps, bias=bias)
        if has_cross_attention:
            self.cross_attn = MultiHeadAttention(config, hidden_size, num_heads, is_causal=False,
                                                 is_cross_attention=True, bias=bias,
                                                 attention_dropout=attention_dropout, layer_idx=layer_idx)
            self.cross_attn_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps, bias=bias)
        else:
            self.cross_attn = None
        self.mlp = MLP(hidden_size, intermediate_size, activation, bias=bias, activation_dropout=activation_dropout)
        self.mlp_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def _residual(self, norm, branch, hidden_states):
        """x + branch(x) with the layer norm before (pre-LN) or after (post-LN) the sum."""
        if self.pre_norm:
            output, weights = branch(norm(hidden_states))
            return hidden_states + self.dropout(output), weights
        output, weights = branch(hidden_states)
        return norm(hidden_states + self.dropout(output)), weights

    def forward(self, hidden_states, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                cache=None, output_attentions=False):
        """(B, T, C) -> (B, T, C), with the self- and cross-attention weights (None unless eager + requested).

        `cache` is a `Cache` for decoder-only models and an `EncoderDecoderCache` for encoder-decoders.
        """
        self_cache = getattr(cache, "self_attention_cache", cache)
        hidden_states, self_weights = self._residual(
            self.self_attn_norm,
            lambda x: self.self_attn(x, attention_mask, cache=self_cache, output_attentions=output_attentions),
            hidden_states,
        )
        cross_weights = None
        if self.cross_attn is not None:
            hidden_states, cross_weights = self._residual(
                self.cross_attn_norm,
                lambda x: self.cross_attn(x, encoder_attention_mask, key_value_states=encoder_hidden_states,
                                          cache=cache, output_attentions=output_attentions),
                hidden_states,
            )
        hidden_states, _ = self._residual(self.mlp_norm, lambda x: (self.mlp(x), None), hidden_states)
        return hidden_states, self_weights, cross_weights


class LearnedPositionalEmbedding(nn.Embedding):
    """GPT-2 and BERT: one trained vector per position, added to the token embedding."""

    def forward(self, position_ids):
        return super().forward(position_ids)  # (B, T) -> (B, T, C)


def sinusoidal_table(num_positions, dim):
    """The fixed position code of Vaswani et al. 2017, sec. 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/C)), cos alike.

    Departs from the paper in layout only, like Marian: all sines in the first half of the vector and the cosines
    in the second half instead of interleaved, so Marian checkpoints load without a permutation.
    Computed in float64 so every copy of the table is bit-identical whatever the model dtype.
    """
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
    frequencies = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (ceil(C/2),)
    angles = positions * frequencies  # (P, ceil(C/2))
    return torch.cat([angles.sin(), angles.cos()[:, : dim // 2]], dim=-1).float()  # (P, C)


class SinusoidalPositionalEmbedding(nn.Module):
    """Looks up rows of `sinusoidal_table`; nothing is learned, so the table is a non-persistent buffer.

    Not saved with the weights: `_init_weights` must call `reset_table()` because `from_pretrained` recreates
    such buffers empty. Held in the default dtype, as the parameters are created: `from_pretrained(dtype=...)`
    sets it for the model's construction and casts no buffer afterwards (an fp32 table in a bf16 model would
    turn the embeddings back to fp32, which the bf16 layers refuse).
    """

    def __init__(self, num_positions, dim):
        super().__init__()
        self.num_positions, self.dim = num_positions, dim
        table = sinusoidal_table(num_positions, dim).to(torch.get_default_dtype())  # (P, C)
        self.register_buffer("table", table, persistent=False)

    def reset_table(self):
        return sinusoidal_table(self.num_positions, self.dim)

    def forward(self, position_ids):
        return self.table[position_ids]  # (B, T) -> (B, T, C)


def check_input_ids(input_ids, vocab_size, name="input_ids", batched=True):
    """Turn what bad ids cause deep inside the model into clear errors at the boundary: ids that are not integers
    (an embedding refuses them), no batch dimension (`batched`: (B, T) expected), an id outside [0, vocab_size)
    (an IndexError inside the embedding)."""
    if input_ids is None:
        return
    if input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold integer token ids (int64 or int32); got {input_ids.dtype}")
    if batched and input_ids.dim() != 2:
        raise ValueError(f"{name} must be (batch, length); got shape {tuple(input_ids.shape)} (one text: add the "
                         f"batch dimension, {name}[None])")
    if not input_ids.numel() or torch.compiler.is_compiling():
        return
    low, high = torch.stack(torch.aminmax(input_ids)).tolist()  # one wait for the device, not two
    if low < 0 or high >= vocab_size:
        raise ValueError(f"{name} must lie in [0, {vocab_size}); got ids from {low} to {high}")


def check_length(length, max_positions, past_length=0, name="input"):
    """Positions beyond the trained (or tabulated) ones have no embedding: say so instead of an IndexError. No
    position at all: say so instead of a failed reshape in the attention."""
    if length == 0:
        raise ValueError(f"{name} has no positions (length 0): nothing to compute")
    if isinstance(past_length, torch.Tensor):
        return  # compiled code with a static cache (see cached_lengths): no value to check
    if length + past_length > max_positions:
        cached = f" (including {past_length} cached)" if past_length else ""
        raise ValueError(f"{name} has {length + past_length} positions{cached} but the model supports at most "
                         f"max_position_embeddings={max_positions}")


def refuse_encoder_inputs(model_name, kwargs):
    """transformers' GPT-2 and BERT take `encoder_hidden_states` only when built with cross-attention
    (`add_cross_attention=True`) and raise otherwise. Ours have none (their configs refuse that option): raise
    too, rather than let the keyword arguments swallow them and compute as if no encoder had been given."""
    given = [name for name in ("encoder_hidden_states", "encoder_attention_mask") if kwargs.get(name) is not None]
    if given:
        raise ValueError(f"{model_name} has no cross-attention, so it cannot use {' or '.join(given)}; for an "
                         f"encoder-decoder model, use Seq2Seq101")


# transformers 5.24 renamed every output's `past_key_values` field to `cache`; older 5.x use the old name.
CACHE_FIELD = "cache" if "cache" in {f.name for f in dataclasses.fields(BaseModelOutputWithPast)} else "past_key_values"


def embedding_scale(hidden_size, scale_embedding):
    """sqrt(C) when the embedding is shared with the output layer (paper, sec. 3.4), else 1."""
    return math.sqrt(hidden_size) if scale_embedding else 1.0


def init_weights(module, std):
    """The initialisation GPT-2, BERT and Marian share: N(0, std) for every matrix and embedding, zero biases,
    unit LayerNorm gains, a zero padding row, and the sinusoidal table recomputed (a non-persistent buffer, which
    `from_pretrained` recreates empty). `transformers.initialization` skips tensors loaded from a checkpoint."""
    if isinstance(module, nn.Linear):
        init.normal_(module.weight, mean=0.0, std=std)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        init.normal_(module.weight, mean=0.0, std=std)
        # A slice loses the "already loaded" flag that init.* checks, so check it here.
        if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
            init.zeros_(module.weight[module.padding_idx])
    elif isinstance(module, nn.LayerNorm):
        init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, SinusoidalPositionalEmbedding):
        init.copy_(module.table, module.reset_table())
