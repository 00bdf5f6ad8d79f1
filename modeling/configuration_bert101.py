"""Configuration of BERT101, the lecture's encoder-only masked language model (BERT architecture)."""

# First of all: config_checks raises a clear error if transformers is too old for this code (see there).
from .config_checks import (  # isort: skip
    check_activation, check_heads, check_positive, check_probability, check_reference_variants, strict)
from transformers import PreTrainedConfig

# BERT's options that BERT101 does not have, at the one value it implements (see check_reference_variants).
# (`position_embedding_type` left BertConfig in transformers 5, but older config.json files still carry it.)
BERT_VARIANTS = {"is_decoder": False, "add_cross_attention": False, "position_embedding_type": "absolute"}


def check_bert_variants(config):
    """BERT's options that BERT101 does not have must hold the one value it implements: checked on our config
    and, by `convert`, on a BertConfig before it is turned into ours."""
    check_reference_variants(config, "BERT101", "BertConfig", BERT_VARIANTS)


@strict
class BERT101Config(PreTrainedConfig):
    """BERT's architecture under transformers' standard names (the same as `BertConfig`); defaults are BERT-base.

    Classification heads read `num_labels` / `id2label` / `label2id` and `problem_type` ("regression",
    "single_label_classification", "multi_label_classification"; None = inferred from the labels) from the
    base class, exactly as `BertForSequenceClassification` does.
    """

    model_type = "bert101"

    vocab_size: int = 30522  # BERT's uncased WordPiece vocabulary
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int | None = None  # None -> 4 * hidden_size (BERT-base: 3072)
    hidden_act: str = "gelu"  # exact (erf) GELU, as in BERT's TF code
    # `float | int` like BertConfig, so that a config.json with `0` instead of `0.0` still loads.
    hidden_dropout_prob: float | int = 0.1  # on embeddings and on every residual branch
    attention_probs_dropout_prob: float | int = 0.1  # on the attention weights
    classifier_dropout: float | int | None = None  # sequence classification head; None -> hidden_dropout_prob
    max_position_embeddings: int = 512  # longest input: positions are learned, one vector each
    type_vocab_size: int = 2  # segment ids: sentence A = 0, sentence B = 1 (pairs such as MRPC, RTE)
    layer_norm_eps: float = 1e-12  # BERT's value (GPT-2 uses 1e-5)
    initializer_range: float = 0.02
    pad_token_id: int | None = 0  # [PAD] in BERT's vocabulary; its embedding row starts at zero, gets no gradient
    tie_word_embeddings: bool = True  # the MLM decoder reuses the word embedding (Press & Wolf 2017)
    # With labels, run the MLM head on the labelled (masked) positions only and return their logits, (N, V) instead
    # of (B, T, V) — ModernBERT's option of the same name. Same loss and gradients; saves the head's work on the
    # ~85% of positions the loss ignores, which for a small BERT is most of a training step's FLOPs (30k words).
    sparse_prediction: bool = False

    def __post_init__(self, **kwargs):
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size
        super().__post_init__(**kwargs)

    def validate_bert101(self):
        check_positive(self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                       "intermediate_size", "max_position_embeddings", "type_vocab_size")
        check_heads(self, "hidden_size", "num_attention_heads")
        check_activation(self, "hidden_act")
        check_probability(self, "hidden_dropout_prob", "attention_probs_dropout_prob")
        check_bert_variants(self)
        if self.classifier_dropout is not None:
            check_probability(self, "classifier_dropout")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id must be None or lie in [0, vocab_size={self.vocab_size}), "
                             f"got {self.pad_token_id}")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}")
