"""modeling/linear.py's OutputLinear: on CUDA, for 1024 rows or more, the output layer's products run on a weight
(and bias) padded to a multiple of 64 rows, for cuBLAS's fast kernels. Forced here on the CPU: the plain layer's
logits and gradients; with fewer rows, the plain product."""
import pytest
import torch

from hf_transformer101 import (
    BERT101Config,
    BERT101ForMaskedLM,
    GPT101Config,
    GPT101ForCausalLM,
    Seq2Seq101Config,
    Seq2Seq101ForConditionalGeneration,
)
from hf_transformer101.modeling import linear

VOCAB = 97  # not a multiple of 64: 31 rows of padding


@pytest.fixture
def padding_forced(monkeypatch):
    monkeypatch.setattr(linear, "vocabulary_padding", lambda vocab_size, device: -vocab_size % 64)


def logits_and_gradients(layer, hidden):
    hidden = hidden.detach().requires_grad_()
    layer.zero_grad()
    logits = layer(hidden)
    logits.backward(torch.randn(logits.shape, generator=torch.Generator().manual_seed(2)))
    gradients = [hidden.grad] + [p.grad.clone() for p in layer.parameters()]
    return logits, gradients


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_the_padded_product_gives_the_plain_logits_and_gradients(bias, monkeypatch):
    torch.manual_seed(0)
    layer = linear.OutputLinear(32, VOCAB, bias=bias)
    hidden = torch.randn(4, 256, 32)  # 1024 rows
    plain_logits, plain_gradients = logits_and_gradients(layer, hidden)
    monkeypatch.setattr(linear, "vocabulary_padding", lambda vocab_size, device: -vocab_size % 64)
    logits, gradients = logits_and_gradients(layer, hidden)
    assert type(logits.grad_fn).__name__ == "CloneBackward0", "the padded path did not run"
    assert logits.shape == plain_logits.shape == (4, 256, VOCAB) and logits.is_contiguous()
    # Another product shape can mean another kernel and summation order: fp32 rounding, not bit for bit.
    torch.testing.assert_close(logits, plain_logits, rtol=1e-5, atol=1e-6)
    for padded, plain in zip(gradients, plain_gradients, strict=True):
        assert padded.shape == plain.shape
        torch.testing.assert_close(padded, plain, rtol=1e-5, atol=1e-5)


def test_fewer_rows_take_the_plain_product(padding_forced):
    layer = linear.OutputLinear(32, VOCAB)
    logits = layer(torch.randn(2, 511, 32, requires_grad=True))  # 1022 rows: decoding, short batches
    assert type(logits.grad_fn).__name__ != "CloneBackward0"
    assert logits.shape == (2, 511, VOCAB)


def test_the_three_models_project_onto_the_vocabulary_with_it():
    small = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2)
    gpt = GPT101ForCausalLM(GPT101Config(**small))
    bert = BERT101ForMaskedLM(BERT101Config(**small, intermediate_size=64))
    seq2seq = Seq2Seq101ForConditionalGeneration(Seq2Seq101Config(
        vocab_size=VOCAB, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0))
    for model in (gpt, bert, seq2seq):
        head = model.get_output_embeddings()
        assert isinstance(head, linear.OutputLinear), type(model).__name__
        assert head.weight is model.get_input_embeddings().weight  # still tied
