"""Marian (MarianMTModel, MarianModel — the OPUS-MT translation models) <-> Seq2Seq101.

Same architecture (post-LN, sines-first sinusoidal positions, sqrt(d_model)-scaled shared embedding, a bias on
the output layer); the differences are names and three layout details:

* Marian keeps separate q/k/v projections; our self-attention fuses them into `qkv_proj` (rows [q | k | v]) and
  our cross-attention fuses k/v into `kv_proj` (rows [k | v]), so those weights are concatenated / split.
* Marian's `final_logits_bias` buffer (1, V) is the bias (V,) of our `lm_head`.
* Marian saves its sinusoidal tables as (frozen) weights; ours are recomputed buffers, so they are dropped on
  the way in and regenerated with Marian's own code on the way out.

Only shared source/target vocabularies convert (`share_encoder_decoder_embeddings=True`), as Seq2Seq101 has one.
"""

import copy

import torch
from transformers import MarianConfig, MarianModel, MarianMTModel
from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

from ..modeling.configuration_seq2seq101 import MARIAN_VARIANTS, Seq2Seq101Config, check_marian_variants
from ..modeling.modeling_seq2seq101 import Seq2Seq101ForConditionalGeneration, Seq2Seq101Model
from .pair import ConversionPair, rename, swap

# Inside one layer: (Marian prefix, Seq2Seq101 prefix). The fused names exist on Marian's side only between
# `_fuse` and `rename` (and between `rename` and `_split` on the way back).
LAYER_RULES = [
    ("self_attn.qkv_proj.", "self_attn.qkv_proj."),
    ("self_attn.out_proj.", "self_attn.out_proj."),
    ("self_attn_layer_norm.", "self_attn_norm."),
    ("encoder_attn.q_proj.", "cross_attn.q_proj."),
    ("encoder_attn.kv_proj.", "cross_attn.kv_proj."),
    ("encoder_attn.out_proj.", "cross_attn.out_proj."),
    ("encoder_attn_layer_norm.", "cross_attn_norm."),
    ("fc1.", "mlp.fc_in."),
    ("fc2.", "mlp.fc_out."),
    ("final_layer_norm.", "mlp_norm."),
]
BODY_RULES = [("shared.", "shared."), ("encoder.embed_tokens.", "encoder.embed_tokens."),
              ("decoder.embed_tokens.", "decoder.embed_tokens.")] + [
    (f"{stack}.layers.{{i}}.{old}", f"{stack}.layers.{{i}}.{new}")
    for stack in ("encoder", "decoder") for old, new in LAYER_RULES
]
HEAD_RULES = [("model." + old, "model." + new) for old, new in BODY_RULES] + [("lm_head.", "lm_head.")]
# (projections of Marian, fused name): the order of the list is the order of the rows in the fused matrix.
FUSIONS = [(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"), "self_attn.qkv_proj"),
           (("encoder_attn.k_proj", "encoder_attn.v_proj"), "encoder_attn.kv_proj")]
POSITION_KEYS = ("encoder.embed_positions.weight", "decoder.embed_positions.weight")
CONFIG_FIELDS = [  # (MarianConfig name, Seq2Seq101Config name)
    ("vocab_size", "vocab_size"), ("d_model", "d_model"), ("encoder_layers", "encoder_layers"),
    ("decoder_layers", "decoder_layers"), ("encoder_attention_heads", "encoder_attention_heads"),
    ("decoder_attention_heads", "decoder_attention_heads"), ("encoder_ffn_dim", "encoder_ffn_dim"),
    ("decoder_ffn_dim", "decoder_ffn_dim"), ("activation_function", "activation_function"),
    ("dropout", "dropout"), ("attention_dropout", "attention_dropout"),
    ("activation_dropout", "activation_dropout"), ("max_position_embeddings", "max_position_embeddings"),
    ("scale_embedding", "scale_embedding"), ("init_std", "initializer_range"),
    ("tie_word_embeddings", "tie_word_embeddings"), ("use_cache", "use_cache"),
    ("pad_token_id", "pad_token_id"), ("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"),
    ("decoder_start_token_id", "decoder_start_token_id"), ("forced_eos_token_id", "forced_eos_token_id"),
]
MARIAN_LAYER_NORM_EPS = 1e-5  # Marian's nn.LayerNorm default; it has no config field for it


def config_to_ours(config):
    check_marian_variants(config)
    return Seq2Seq101Config(**{ours: getattr(config, theirs) for theirs, ours in CONFIG_FIELDS})


def config_to_reference(config):
    if config.layer_norm_eps != MARIAN_LAYER_NORM_EPS:
        raise ValueError(f"Marian's LayerNorms use eps={MARIAN_LAYER_NORM_EPS}; this Seq2Seq101 config has "
                         f"layer_norm_eps={config.layer_norm_eps}")
    return MarianConfig(**MARIAN_VARIANTS, **{theirs: getattr(config, ours) for theirs, ours in CONFIG_FIELDS})


def _fuse(state):
    """Concatenate Marian's separate projections into our fused ones (rows [q | k | v] and [k | v])."""
    state = dict(state)
    for parts, fused in FUSIONS:
        for key in [key for key in state if f".{parts[0]}." in key]:
            keys = [key.replace(f".{parts[0]}.", f".{part}.") for part in parts]
            state[key.replace(f".{parts[0]}.", f".{fused}.")] = torch.cat([state.pop(k) for k in keys], dim=0)
    return state


def _split(state):
    """The inverse of `_fuse`: one fused projection -> Marian's equal-sized chunks."""
    state = dict(state)
    for parts, fused in FUSIONS:
        for key in [key for key in state if f".{fused}." in key]:
            chunks = state.pop(key).chunk(len(parts), dim=0)
            for part, chunk in zip(parts, chunks):
                state[key.replace(f".{fused}.", f".{part}.")] = chunk.clone()
    return state


def _is_head(state):
    return any(key.startswith("model.") for key in state)


def state_to_ours(state, config):
    head = _is_head(state)
    prefix = "model." if head else ""
    state = {key: tensor for key, tensor in state.items() if key.removeprefix(prefix) not in POSITION_KEYS}
    if "final_logits_bias" in state:
        state["lm_head.bias"] = state.pop("final_logits_bias").reshape(-1)  # (1, V) -> (V,)
    return rename(_fuse(state), HEAD_RULES if head else BODY_RULES)


def state_to_reference(state, config):
    head = _is_head(state)
    state = dict(state)
    bias = state.pop("lm_head.bias", None)
    state = _split(rename(state, swap(HEAD_RULES if head else BODY_RULES)))
    prefix = "model." if head else ""
    # Marian stores its sinusoidal tables; regenerate them with Marian's code so they are bit-identical to what
    # MarianMTModel itself would build.
    table = MarianSinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model).create_weight()
    for key in POSITION_KEYS:
        state[prefix + key] = table.clone()
    if bias is not None:
        state["final_logits_bias"] = bias.detach().clone().reshape(1, -1)  # (V,) -> (1, V)
    return state


class MarianConversionPair(ConversionPair):
    """Also carries the generation defaults (OPUS-MT checkpoints ship beams, max_length, bad_words_ids ...)."""

    @staticmethod
    def convert(model, target_class, convert_config, convert_state):
        target = ConversionPair.convert(model, target_class, convert_config, convert_state)
        if getattr(model, "generation_config", None) is not None and hasattr(target, "generation_config"):
            target.generation_config = copy.deepcopy(model.generation_config)
        return target


PAIRS = [
    MarianConversionPair(reference, ours, config_to_ours, config_to_reference, state_to_ours, state_to_reference)
    for reference, ours in [
        (MarianModel, Seq2Seq101Model),
        (MarianMTModel, Seq2Seq101ForConditionalGeneration),
    ]
]
