"""Configuration of Seq2Seq101, the encoder-decoder Transformer of "Attention is all you need" (Vaswani et al. 2017)."""

# First of all: config_checks raises a clear error if transformers is too old for this code (see there).
from .config_checks import (  # isort: skip
    check_activation, check_heads, check_positive, check_probability, check_reference_variants, strict)
from transformers import PreTrainedConfig

# Marian's options that Seq2Seq101 does not have, at the one value it implements (see check_reference_variants):
# one vocabulary shared by source and target (sec. 3.4), no LayerDrop.
MARIAN_VARIANTS = {"share_encoder_decoder_embeddings": True, "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0}


def check_marian_variants(config):
    """Marian's options that Seq2Seq101 does not have must hold the one value it implements — and the target
    vocabulary must be the source's: checked on our config and, by `convert`, on a MarianConfig before it is turned
    into ours."""
    check_reference_variants(config, "Seq2Seq101", "MarianConfig",
                             MARIAN_VARIANTS | {"decoder_vocab_size": config.vocab_size})


@strict
class Seq2Seq101Config(PreTrainedConfig):
    """The paper's base model (sec. 3 and table 3) under Marian/BART's flat encoder-decoder names.

    One shared source/target vocabulary (the paper's shared BPE vocabulary, sec. 5.1): the encoder embedding,
    the decoder embedding and the output layer are one matrix (sec. 3.4). The names match `MarianConfig`, so
    `hf_transformer101.convert` maps a Marian checkpoint field by field.

    `attribute_map` gives transformers' generic names (`hidden_size`, `num_hidden_layers`,
    `num_attention_heads`) to the encoder side; `config.get_text_config(decoder=True)` maps the `decoder_*`
    fields onto them for the decoder, which is what `DynamicCache(config=...)` and `generate()` read.
    """

    model_type = "seq2seq101"
    attribute_map = {"hidden_size": "d_model", "num_hidden_layers": "encoder_layers",
                     "num_attention_heads": "encoder_attention_heads"}

    vocab_size: int = 37000  # the paper's shared EN-DE byte-pair vocabulary
    d_model: int = 512
    encoder_layers: int = 6
    decoder_layers: int = 6
    encoder_attention_heads: int = 8
    decoder_attention_heads: int = 8
    encoder_ffn_dim: int = 2048  # d_ff = 4 * d_model
    decoder_ffn_dim: int = 2048
    activation_function: str = "relu"  # the paper's FFN: max(0, x W1 + b1) W2 + b2 (eq. 2)
    dropout: float | int = 0.1  # P_drop: on each residual branch and on embeddings + positions (sec. 5.4)
    attention_dropout: float | int = 0.0  # on the attention weights (not in the paper; Marian's knob)
    activation_dropout: float | int = 0.0  # inside the FFN, after the activation (Marian's knob)
    max_position_embeddings: int = 512  # rows of the sinusoidal table: the longest source or target
    scale_embedding: bool = True  # multiply embeddings by sqrt(d_model) (sec. 3.4)
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    tie_word_embeddings: bool = True  # the output layer reuses the shared embedding (sec. 3.4)
    use_cache: bool = True
    # Training: with labels and gradients on, the output layer and the loss run together, a chunk of rows at a
    # time (linear_cross_entropy.py): no (B, T, V) logits in memory, and `logits=None` in the output.
    fused_linear_cross_entropy: bool = False
    is_encoder_decoder: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = 2
    decoder_start_token_id: int | None = None  # None -> pad_token_id, Marian's convention
    forced_eos_token_id: int | list[int] | None = None  # generation default, kept for Marian checkpoints

    def __post_init__(self, **kwargs):
        if self.decoder_start_token_id is None:
            self.decoder_start_token_id = self.pad_token_id
        super().__post_init__(**kwargs)

    def validate_seq2seq101(self):
        check_positive(self, "vocab_size", "d_model", "encoder_layers", "decoder_layers",
                       "encoder_attention_heads", "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim",
                       "max_position_embeddings")
        check_heads(self, "d_model", "encoder_attention_heads")
        check_heads(self, "d_model", "decoder_attention_heads")
        check_activation(self, "activation_function")
        check_probability(self, "dropout", "attention_dropout", "activation_dropout")
        check_marian_variants(self)
        if not self.is_encoder_decoder:
            raise ValueError("is_encoder_decoder must be True for Seq2Seq101 (generate() relies on it)")
        # Labels are shifted right into decoder inputs with pad_token_id filling the -100 holes, and generation
        # starts from decoder_start_token_id: both must exist and be real token ids.
        for name in ("pad_token_id", "decoder_start_token_id"):
            if getattr(self, name) is None:
                raise ValueError(f"{name} must be set for Seq2Seq101 (it is used to build decoder inputs)")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id", "forced_eos_token_id"):
            value = getattr(self, name)
            for token_id in value if isinstance(value, list) else [value]:
                if token_id is not None and not 0 <= token_id < self.vocab_size:
                    raise ValueError(f"{name}={value!r} must lie in [0, vocab_size={self.vocab_size})")
