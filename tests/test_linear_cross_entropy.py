"""modeling/linear_cross_entropy.py: the head and the loss in one step, chunk by chunk — the loss and gradients of
the head followed by `token_cross_entropy`, and the `fused_linear_cross_entropy` option of GPT101 and Seq2Seq101
around it."""
import copy

import pytest
import torch

from hf_transformer101 import GPT101Config, GPT101ForCausalLM, Seq2Seq101Config, Seq2Seq101ForConditionalGeneration
from hf_transformer101.modeling import linear_cross_entropy as fused
from hf_transformer101.modeling.losses import token_cross_entropy
from hf_transformer101.modeling.linear import linear
from hf_transformer101.training import enable_activation_checkpointing


def reference(hidden, weight, labels, bias=None, num_items_in_batch=None):
    return token_cross_entropy(linear(hidden, weight, bias), labels, num_items_in_batch)


def loss_and_gradients(function, hidden, weight, labels, precision=None, bias=None, **kwargs):
    """The loss and the gradients of the hidden states, the weight and (if given) the bias."""
    hidden, weight = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    bias = None if bias is None else bias.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = function(hidden, weight, labels, bias=bias, **kwargs)
    loss.backward()
    return loss.detach(), hidden.grad, weight.grad, *([] if bias is None else [bias.grad])


def inputs(rows=200, hidden_size=16, vocab_size=101, ignored=0.2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(2, rows // 2, hidden_size, generator=generator)  # (B, T, C)
    weight = torch.randn(vocab_size, hidden_size, generator=generator) * 0.3
    labels = torch.randint(0, vocab_size, (2, rows // 2), generator=generator)
    return hidden, weight, labels.masked_fill(torch.rand(labels.shape, generator=generator) < ignored, -100)


@pytest.mark.parametrize("chunk_rows", [1000, 64, 7])  # one chunk, several, several with a short last one
@pytest.mark.parametrize("padding", [False, True])  # the padded head that CUDA takes, forced here
@pytest.mark.parametrize("with_bias", [False, True])  # Seq2Seq101's head has one (Marian's final_logits_bias)
def test_loss_and_gradients_are_those_of_the_head_then_the_loss(monkeypatch, chunk_rows, padding, with_bias):
    hidden, weight, labels = inputs()
    bias = torch.randn(101, generator=torch.Generator().manual_seed(2)) if with_bias else None
    monkeypatch.setattr(fused, "_CHUNK_ELEMENTS", chunk_rows * (128 if padding else 101))
    if padding:
        monkeypatch.setattr(fused, "vocabulary_padding", lambda vocab_size, device: -vocab_size % 64)
    expected = loss_and_gradients(reference, hidden, weight, labels, bias=bias)
    got = loss_and_gradients(fused.linear_cross_entropy, hidden, weight, labels, bias=bias)
    assert len(got) == len(expected) == (4 if with_bias else 3)
    for name, value, want in zip(("loss", "hidden grad", "weight grad", "bias grad"), got, expected):
        torch.testing.assert_close(value, want, rtol=1e-5, atol=1e-7, msg=name)


def test_sum_over_num_items_in_batch_and_a_scaled_loss():
    """Trainer's gradient accumulation passes the labelled tokens of all the accumulated batches; and whatever
    multiplies the loss afterwards multiplies the gradients."""
    hidden, weight, labels = inputs()
    items = 3 * int((labels != -100).sum())

    def scaled(function):
        return lambda *args, **kwargs: 2.5 * function(*args, **kwargs, num_items_in_batch=items)

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
    empty = fused.linear_cross_entropy(hidden[:, :0], weight, labels[:, :0])  # no rows at all: NaN, no error
    assert torch.isnan(empty) and torch.isnan(reference(hidden[:, :0], weight, labels[:, :0]))


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


def test_labels_that_do_not_match_the_rows_are_refused():
    hidden, weight, labels = inputs()
    with pytest.raises(ValueError, match="do not match the predictions"):
        fused.linear_cross_entropy(hidden, weight, labels[..., 1:])


def model_pair(family, vocab_size=300):
    """(our model, the same with the option on, a batch with labels), dropout off."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    if family == "gpt":
        config = GPT101Config(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              max_position_embeddings=64, hidden_dropout_prob=0.0, embedding_dropout_prob=0.0,
                              attention_probs_dropout_prob=0.0, bos_token_id=None, eos_token_id=None)
        plain = GPT101ForCausalLM(config)
        ids = torch.randint(0, vocab_size, (3, 40), generator=generator)
        batch = {"input_ids": ids, "labels": ids}
    else:
        config = Seq2Seq101Config(vocab_size=vocab_size, d_model=32, encoder_layers=2, decoder_layers=2,
                                  encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                                  decoder_ffn_dim=64, dropout=0.0, max_position_embeddings=64)
        plain = Seq2Seq101ForConditionalGeneration(config)
        with torch.no_grad():  # a non-zero bias (Marian's final_logits_bias; ours starts at zero)
            plain.lm_head.bias.normal_(generator=generator)
        labels = torch.randint(3, vocab_size, (3, 20), generator=generator)
        labels[1, 15:] = -100  # a padded target
        batch = {"input_ids": torch.randint(3, vocab_size, (3, 24), generator=generator), "labels": labels}
    with_fused = copy.deepcopy(plain.train())
    with_fused.config.fused_linear_cross_entropy = True
    return plain, with_fused, batch


def step(model, batch):
    model.zero_grad()
    output = model(**batch)
    output.loss.backward()
    return output, {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def assert_same_step(expected_step, step):
    (expected, expected_grads), (output, grads) = expected_step, step
    torch.testing.assert_close(output.loss, expected.loss, rtol=1e-6, atol=1e-6)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():  # tied embeddings get both the head's and the input's gradient
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize("family", ["gpt", "seq2seq"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_the_option_trains_the_same_and_returns_no_logits(family, checkpointing):
    plain, with_fused, batch = model_pair(family)
    if checkpointing:
        for model in (plain, with_fused):
            enable_activation_checkpointing(model)
    expected, output = step(plain, batch), step(with_fused, batch)
    assert output[0].logits is None and expected[0].logits is not None
    assert_same_step(expected, output)


@pytest.mark.parametrize("family", ["gpt", "seq2seq"])
def test_the_option_keeps_logits_without_gradients_or_labels(family):
    """Evaluation (no_grad, e.g. Trainer's) and generation still get logits: the option acts in training only."""
    plain, with_fused, batch = model_pair(family)
    with torch.no_grad():
        expected, output = plain(**batch), with_fused(**batch)
    torch.testing.assert_close(output.logits, expected.logits)
    torch.testing.assert_close(output.loss, expected.loss)
    ids = batch["input_ids"][:1, :5]
    generated = with_fused.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert torch.equal(generated, plain.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False))


def test_the_option_under_torch_compile():
    """A compiled model breaks its graph before the fused loss, which runs eagerly: the same loss and gradients
    (aot_eager: the graph machinery without inductor's slow CPU compilation)."""
    plain, with_fused, batch = model_pair("gpt")
    expected = step(plain, batch)
    output, grads = step(torch.compile(with_fused, backend="aot_eager"), batch)
    assert_same_step(expected, (output, {name.removeprefix("_orig_mod."): grad for name, grad in grads.items()}))


def test_the_option_is_saved_with_the_config(tmp_path):
    _, with_fused, _ = model_pair("gpt")
    with_fused.save_pretrained(tmp_path)
    assert GPT101ForCausalLM.from_pretrained(tmp_path).config.fused_linear_cross_entropy is True


def test_trainer_with_gradient_accumulation_trains_the_same(tmp_path):
    """`Trainer` passes `num_items_in_batch` under gradient accumulation and reads only the loss in training;
    its evaluation (no_grad) gets logits. Three optimizer steps of two micro-batches each, option on and off:
    the same weights and the same evaluation loss (SGD: Adam would blow float rounding up to a step's size)."""
    from transformers import Trainer, TrainingArguments

    plain, with_fused, batch = model_pair("gpt")
    rows = [{"input_ids": ids, "labels": ids} for ids in torch.randint(0, 300, (12, 16),
                                                                      generator=torch.Generator().manual_seed(3))]
    initial = plain.model.embed_tokens.weight.detach().clone()
    results = []
    for model in (plain, with_fused):
        args = TrainingArguments(output_dir=str(tmp_path / str(len(results))), per_device_train_batch_size=2,
                                 gradient_accumulation_steps=2, max_steps=3, learning_rate=0.5, optim="sgd",
                                 report_to=[],
                                 use_cpu=True, save_strategy="no", logging_strategy="no", seed=0)
        trainer = Trainer(model=model, args=args, train_dataset=rows, eval_dataset=rows[:4])
        trainer.train()
        results.append((trainer.evaluate()["eval_loss"], {k: v.clone() for k, v in model.state_dict().items()}))
    (expected_loss, expected_weights), (loss, weights) = results
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert not torch.allclose(weights["model.embed_tokens.weight"], initial)  # it trained
    for name, weight in weights.items():
        torch.testing.assert_close(weight, expected_weights[name], rtol=1e-4, atol=1e-6)
