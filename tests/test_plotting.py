"""Every picture renders to a valid, non-empty PNG on tiny models of the three families."""
import json

import torch
from PIL import Image

from hf_transformer101 import (
    BERT101Config,
    BERT101Model,
    GPT101Config,
    GPT101ForCausalLM,
    Seq2Seq101Config,
    Seq2Seq101ForConditionalGeneration,
)
from hf_transformer101.plotting import (
    attention_weights,
    plot_attention_maps,
    plot_loss_curves,
    plot_positional_encoding,
)
from hf_transformer101.tokenization import (
    train_char_tokenizer,
    train_sentencepiece_tokenizer,
    train_wordpiece_tokenizer,
)

TEXT = ["the cat sat on the mat .", "a dog lay on the rug .", "ein hund lag auf dem teppich .",
        "die katze sass auf der matte ."] * 5


def assert_png(path, min_size=100):
    with Image.open(path) as image:
        image.verify()
        assert image.format == "PNG"
    with Image.open(path) as image:
        assert min(image.size) >= min_size


def test_loss_curves(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(r) + "\n" for r in [
        {"step": 10, "loss": 3.0}, {"step": 20, "loss": 2.5, "eval_loss": 2.7}, {"step": 30, "loss": 2.0}]))
    assert_png(plot_loss_curves(metrics, tmp_path / "loss.png"))


def test_positional_encoding(tmp_path):
    assert_png(plot_positional_encoding(tmp_path / "pe.png", num_positions=32, dim=16))


def test_gpt_attention_maps_are_causal_and_render(tmp_path):
    tokenizer = train_char_tokenizer(TEXT)
    model = GPT101ForCausalLM(GPT101Config(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2,
                                           num_attention_heads=2, max_position_embeddings=64))
    weights, queries, keys = attention_weights(model, tokenizer, "the cat")["self-attention"]
    assert weights.shape == (2, 2, 7, 7) and queries == keys and queries[3] == "␣"
    assert torch.all(weights.triu(1) == 0)
    assert model.config._attn_implementation == "sdpa", "the previous attention kernel is restored"
    (path,) = plot_attention_maps(model, tokenizer, "the cat", tmp_path, layers=[1])
    assert_png(path)


def test_bert_attention_maps_render(tmp_path):
    tokenizer = train_wordpiece_tokenizer(TEXT, vocab_size=60)
    model = BERT101Model(BERT101Config(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                                       num_attention_heads=2, max_position_embeddings=32))
    (path,) = plot_attention_maps(model, tokenizer, "the cat sat", tmp_path)
    assert_png(path)


def test_translation_cross_attention_renders(tmp_path):
    tokenizer = train_sentencepiece_tokenizer(TEXT, vocab_size=286)
    config = Seq2Seq101Config(vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
                              encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                              decoder_ffn_dim=32, max_position_embeddings=32, pad_token_id=tokenizer.pad_token_id,
                              eos_token_id=tokenizer.eos_token_id)
    model = Seq2Seq101ForConditionalGeneration(config)
    maps = attention_weights(model, tokenizer, "the cat sat", target_text="die katze sass")
    weights, queries, keys = maps["cross-attention"]
    assert weights.shape[-2:] == (len(queries), len(keys))
    paths = plot_attention_maps(model, tokenizer, "the cat sat", tmp_path)  # target = its own translation
    assert [p.name for p in paths] == ["encoder_self-attention.png", "decoder_self-attention.png",
                                       "cross-attention.png"]
    for path in paths:
        assert_png(path)
