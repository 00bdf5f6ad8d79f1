"""Configuration of GPT101, the lecture's decoder-only (GPT-2 style) language model."""

# First of all: config_checks raises a clear error if transformers is too old for this code (see there).
from .config_checks import (  # isort: skip
    check_activation, check_heads, check_positive, check_probability, check_reference_variants, strict)
from transformers import PreTrainedConfig

# GPT-2's options that GPT101 does not have, at the one value it implements (see check_reference_variants).
GPT2_VARIANTS = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
                 "reorder_and_upcast_attn": False, "add_cross_attention": False}


def check_gpt2_variants(config):
    """GPT-2's options that GPT101 does not have must hold the one value it implements: checked on our config
    and, by `convert`, on a GPT2Config before it is turned into ours."""
    check_reference_variants(config, "GPT101", "GPT2Config", GPT2_VARIANTS)


@strict
class GPT101Config(PreTrainedConfig):
    """GPT-2's architecture under transformers' standard names; the defaults are GPT-2 small (124M).

    `attribute_map` lets GPT-2 / nanoGPT names (`n_embd`, `n_layer`, `n_head`, `n_positions`, `resid_pdrop`, ...)
    read and write the same fields, so a GPT-2 config dict can be passed as is. (Without the dropout names there,
    `GPT101Config(resid_pdrop=0.0)` would store an unused attribute and train with dropout 0.1.)
    """

    model_type = "gpt101"
    attribute_map = {"n_embd": "hidden_size", "n_layer": "num_hidden_layers", "n_head": "num_attention_heads",
                     "n_positions": "max_position_embeddings", "n_inner": "intermediate_size",
                     "activation_function": "hidden_act", "resid_pdrop": "hidden_dropout_prob",
                     "embd_pdrop": "embedding_dropout_prob", "attn_pdrop": "attention_probs_dropout_prob",
                     "layer_norm_epsilon": "layer_norm_eps"}

    vocab_size: int = 50257
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int | None = None  # None -> 4 * hidden_size, the paper's and GPT-2's ratio
    max_position_embeddings: int = 1024  # the context ("block_size"): the model never sees further back
    hidden_act: str = "gelu_new"  # GPT-2's tanh approximation of GELU
    hidden_dropout_prob: float | int = 0.1  # on each residual branch (GPT-2's resid_pdrop)
    embedding_dropout_prob: float | int = 0.1  # on token + position embeddings (embd_pdrop)
    attention_probs_dropout_prob: float | int = 0.1  # on the attention weights (attn_pdrop)
    classifier_dropout: float | int | None = None  # sequence classification head; None -> hidden_dropout_prob
    layer_norm_eps: float | int = 1e-5
    initializer_range: float | int = 0.02
    bias: bool = True  # nanoGPT shows bias-free Linear/LayerNorm train as well, slightly faster
    tie_word_embeddings: bool = True  # the LM head reuses the token embedding (Press & Wolf 2017)
    use_cache: bool = True
    # Training: with labels and gradients on, the LM head and the loss run together, a chunk of rows at a time
    # (linear_cross_entropy.py): no (B, T, V) logits in memory, and `logits=None` in the output.
    fused_linear_cross_entropy: bool = False
    pad_token_id: int | None = None
    bos_token_id: int | None = 50256
    eos_token_id: int | list[int] | None = 50256

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)  # first: it sets the GPT-2 names among kwargs, `n_inner=None` included
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size

    def validate_gpt101(self):
        check_positive(self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                       "intermediate_size", "max_position_embeddings")
        check_heads(self, "hidden_size", "num_attention_heads")
        check_activation(self, "hidden_act")
        check_probability(self, "hidden_dropout_prob", "embedding_dropout_prob", "attention_probs_dropout_prob")
        check_gpt2_variants(self)
        if self.classifier_dropout is not None:
            check_probability(self, "classifier_dropout")
