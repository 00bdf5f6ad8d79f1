"""modeling/linear_cross_entropy.py: the head and the loss in one step, chunk by chunk — the loss and gradients of
the head followed by `token_cross_entropy`, and GPT101's `fused_linear_cross_entropy` option around it."""
import copy

import pytest
import torch

from hf_transformer101 import GPT101Config, GPT101ForCausalLM
from hf_transformer101.modeling import linear_cross_entropy as fused
from hf_transformer101.modeling.blocks import token_cross_entropy
from hf_transformer101.modeling.linear import linear


def reference(hidden, weight, labels, num_items_in_batch=None):
    return token_cross_entropy(linear(hidden, weight), labels, num_items_in_batch)


def loss_and_gradients(function, hidden, weight, labels, precision=None, **kwargs):
    hidden, weight = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = function(hidden, weight, labels, **kwargs)
    loss.backward()
    return loss.detach(), hidden.grad, weight.grad


def inputs(rows=200, hidden_size=16, vocab_size=101, ignored=0.2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(2, rows // 2, hidden_size, generator=generator)  # (B, T, C)
    weight = torch.randn(vocab_size, hidden_size, generator=generator) * 0.3
    labels = torch.randint(0, vocab_size, (2, rows // 2), generator=generator)
    return hidden, weight, labels.masked_fill(torch.rand(labels.shape, generator=generator) < ignored, -100)


@pytest.mark.parametrize("chunk_rows", [1000, 64, 7])  # one chunk, several, several with a short last one
@pytest.mark.parametrize("padding", [False, True])  # the padded head that CUDA takes, forced here
def test_loss_and_gradients_are_those_of_the_head_then_the_loss(monkeypatch, chunk_rows, padding):
    hidden, weight, labels = inputs()
    monkeypatch.setattr(fused, "_CHUNK_ELEMENTS", chunk_rows * (128 if padding else 101))
    if padding:
        monkeypatch.setattr(fused, "_vocabulary_padding", lambda vocab_size, device: -vocab_size % 64)
    expected = loss_and_gradients(reference, hidden, weight, labels)
    for name, value, want in zip(("loss", "hidden grad", "weight grad"),
                                 loss_and_gradients(fused.linear_cross_entropy, hidden, weight, labels), expected):
        torch.testing.assert_close(value, want, rtol=1e-5, atol=1e-7, msg=name)


def test_sum_over_num_items_in_batch_and_a_scaled_loss():
    """Trainer's gradient accumulation passes the labelled tokens of all the accumulated batches; and whatever
    multiplies the loss afterwards multiplies the gradients."""
    hidden, weight, labels = inputs()
    items = 3 * int((labels != -100).sum())

    def scaled(function):
        return lambda *args: 2.5 * function(*args, num_items_in_batch=items)

    expected = loss_and_gradients(scaled(reference), hidden, weight, labels)
    for value, want in zip(loss_and_gradients(scaled(fused.linear_cross_entropy), hidden, weight, labels), expected):
        torch.testing.assert_close(value, want, rtol=1e-5, atol=1e-7)


def test_under_bf16_autocast_it_matches_the_autocast_reference():
    """The products in bf16 as autocast runs them, the log-softmax in fp32: bf16 rounding apart (the weight's
    gradient is summed over the chunks in fp32, autocast's in one bf16 product)."""
    hidden, weight, labels = inputs(rows=400, hidden_size=32, vocab_size=300)
    expected = loss_and_gradients(reference, hidden, weight, labels, precision="bf16")
    got = loss_and_gradients(fused.linear_cross_entropy, hidden, weight, labels, precision="bf16")
    torch.testing.assert_close(got[0], expected[0], rtol=1e-4, atol=1e-4)
    for value, want in zip(got[1:], expected[1:]):
        torch.testing.assert_close(value, want, rtol=0.02, atol=0.02 * want.abs().max().item())


def test_nothing_labelled_gives_a_nan_loss_and_zero_gradients_as_the_reference():
    hidden, weight, labels = inputs(ignored=1.0)
    expected = loss_and_gradients(reference, hidden, weight, labels)
    loss, *gradients = loss_and_gradients(fused.linear_cross_entropy, hidden, weight, labels)
    assert torch.isnan(loss) and torch.isnan(expected[0])
    for gradient, want in zip(gradients, expected[1:]):
        assert not want.any() and not gradient.any()


def test_the_chunk_kernel_compiled_as_on_cuda_equals_the_eager_one():
    """On CUDA each chunk's loss and gradient run compiled; the same function through inductor's CPU backend
    (~20 s) gives the eager results, padding columns and ignored rows included, for chunks of changing size."""
    compiled = torch.compile(fused._loss_and_gradient, dynamic=True)
    generator = torch.Generator().manual_seed(0)
    for rows in (50, 37):
        logits = torch.randn(rows, 128, generator=generator)  # 101 words + 27 padding columns
        labels = torch.randint(0, 101, (rows,), generator=generator).masked_fill(torch.rand(rows) < 0.3, -100)
        (loss, gradient), (want_loss, want_gradient) = (
            function(logits.clone(), labels, 101, -100) for function in (compiled, fused._loss_and_gradient))
        torch.testing.assert_close(loss, want_loss)
        torch.testing.assert_close(gradient, want_gradient)
        assert not gradient[:, 101:].any() and not gradient[labels == -100].any()
        expected = torch.nn.functional.cross_entropy(logits[:, :101], labels, reduction="sum")
        torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("bad_label", [101, -1])
def test_a_label_outside_the_vocabulary_is_refused(bad_label):
    hidden, weight, labels = inputs()
    labels[0, 0] = bad_label
    with pytest.raises(RuntimeError, match=r"labels must be ids in \[0, 101\) or -100"):
        fused.linear_cross_entropy(hidden, weight, labels)


def gpt_pair(vocab_size=300):
    torch.manual_seed(0)
    config = GPT101Config(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          max_position_embeddings=64, hidden_dropout_prob=0.0, embedding_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, bos_token_id=None, eos_token_id=None)
    plain = GPT101ForCausalLM(config).train()
    with_fused = copy.deepcopy(plain)
    with_fused.config.fused_linear_cross_entropy = True
    return plain, with_fused, torch.randint(0, vocab_size, (3, 40), generator=torch.Generator().manual_seed(1))


def step(model, ids, **kwargs):
    model.zero_grad()
    output = model(ids, labels=ids, **kwargs)
    output.loss.backward()
    return output, {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("checkpointing", [False, True])
def test_gpt101_option_trains_the_same_and_returns_no_logits(checkpointing):
    plain, with_fused, ids = gpt_pair()
    if checkpointing:
        for model in (plain, with_fused):
            model.gradient_checkpointing_enable()
    (expected, expected_grads), (output, grads) = step(plain, ids), step(with_fused, ids)
    assert output.logits is None and expected.logits is not None
    torch.testing.assert_close(output.loss, expected.loss, rtol=1e-6, atol=1e-6)
    for name, grad in grads.items():  # the tied embedding gets both the head's and the input's gradient
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-5, atol=1e-7, msg=name)


def test_gpt101_option_keeps_logits_without_gradients_or_labels():
    """Evaluation (no_grad, e.g. Trainer's) and generation still get logits: the option acts in training only."""
    plain, with_fused, ids = gpt_pair()
    with torch.no_grad():
        expected, output = plain(ids, labels=ids), with_fused(ids, labels=ids)
    torch.testing.assert_close(output.logits, expected.logits)
    torch.testing.assert_close(output.loss, expected.loss)
    assert with_fused(ids).logits.shape == (3, 40, 300)
    assert with_fused.generate(ids[:1, :5], max_new_tokens=3, do_sample=False).shape == (1, 8)


def test_gpt101_option_under_torch_compile():
    """A compiled model breaks its graph before the fused loss, which runs eagerly: the same loss and gradients
    (aot_eager: the graph machinery without inductor's slow CPU compilation)."""
    plain, with_fused, ids = gpt_pair()
    expected, expected_grads = step(plain, ids)
    compiled = torch.compile(with_fused, backend="aot_eager")
    output, grads = step(compiled, ids)
    torch.testing.assert_close(output.loss, expected.loss, rtol=1e-6, atol=1e-6)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name.removeprefix("_orig_mod.")], rtol=1e-5, atol=1e-7)


def test_the_option_is_saved_with_the_config(tmp_path):
    _, with_fused, _ = gpt_pair()
    with_fused.save_pretrained(tmp_path)
    assert GPT101ForCausalLM.from_pretrained(tmp_path).config.fused_linear_cross_entropy is True
