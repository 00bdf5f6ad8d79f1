"""GPT-2 (GPT2Model, GPT2LMHeadModel, GPT2ForSequenceClassification) <-> GPT101.

The architectures are the same; only names differ, plus one layout detail: GPT-2 stores its projections as
`Conv1D` with weights of shape (in, out), where `nn.Linear` keeps (out, in), so those weights are transposed.
The fused c_attn output is [q | k | v], each head-major — exactly our qkv_proj layout.
"""

from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, GPT2Model

from ..modeling.configuration_gpt101 import GPT101Config, check_gpt2_variants
from ..modeling.modeling_gpt101 import GPT101ForCausalLM, GPT101ForSequenceClassification, GPT101Model
from .pair import ConversionPair, rename, swap

# (GPT-2 prefix, GPT101 prefix) for the body; heads add "transformer." / "model." in front.
BODY_RULES = [
    ("wte.", "embed_tokens."),
    ("wpe.", "embed_positions."),
    ("h.{i}.ln_1.", "layers.{i}.self_attn_norm."),
    ("h.{i}.attn.c_attn.", "layers.{i}.self_attn.qkv_proj."),
    ("h.{i}.attn.c_proj.", "layers.{i}.self_attn.out_proj."),
    ("h.{i}.ln_2.", "layers.{i}.mlp_norm."),
    ("h.{i}.mlp.c_fc.", "layers.{i}.mlp.fc_in."),
    ("h.{i}.mlp.c_proj.", "layers.{i}.mlp.fc_out."),
    ("ln_f.", "norm."),
]
HEAD_RULES = [("transformer." + old, "model." + new) for old, new in BODY_RULES] + [
    ("lm_head.", "lm_head."),
    ("score.", "score."),
]
CONV1D_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
CONFIG_FIELDS = [  # (GPT2Config name, GPT101Config name)
    ("vocab_size", "vocab_size"), ("n_positions", "max_position_embeddings"), ("n_embd", "hidden_size"),
    ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"), ("n_inner", "intermediate_size"),
    ("activation_function", "hidden_act"), ("resid_pdrop", "hidden_dropout_prob"),
    ("embd_pdrop", "embedding_dropout_prob"), ("attn_pdrop", "attention_probs_dropout_prob"),
    ("layer_norm_epsilon", "layer_norm_eps"), ("initializer_range", "initializer_range"),
    ("tie_word_embeddings", "tie_word_embeddings"), ("bos_token_id", "bos_token_id"),
    ("eos_token_id", "eos_token_id"), ("pad_token_id", "pad_token_id"), ("id2label", "id2label"),
    ("problem_type", "problem_type"),
]


def _transpose_conv1d(state, conv1d_keys):
    return {key: tensor.t().contiguous() if key in conv1d_keys else tensor for key, tensor in state.items()}


def config_to_ours(config):
    check_gpt2_variants(config)
    return GPT101Config(**{ours: getattr(config, theirs) for theirs, ours in CONFIG_FIELDS})


def config_to_reference(config):
    if not config.bias:
        raise ValueError("GPT-2 has biases everywhere; a GPT101 with bias=False has no GPT-2 equivalent")
    return GPT2Config(**{theirs: getattr(config, ours) for theirs, ours in CONFIG_FIELDS})


def _rules_for(state):
    return HEAD_RULES if any(key.startswith(("transformer.", "model.")) for key in state) else BODY_RULES


def state_to_ours(state, config):
    state = _transpose_conv1d(state, {key for key in state if key.endswith(CONV1D_SUFFIXES)})
    return rename(state, _rules_for(state))


def state_to_reference(state, config):
    state = rename(state, swap(_rules_for(state)))
    return _transpose_conv1d(state, {key for key in state if key.endswith(CONV1D_SUFFIXES)})


PAIRS = [
    ConversionPair(reference, ours, config_to_ours, config_to_reference, state_to_ours, state_to_reference)
    for reference, ours in [
        (GPT2Model, GPT101Model),
        (GPT2LMHeadModel, GPT101ForCausalLM),
        (GPT2ForSequenceClassification, GPT101ForSequenceClassification),
    ]
]
