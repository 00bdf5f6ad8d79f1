"""modeling/linear.py: fp32 CPU linear layers on oneDNN — same values and gradients as F.linear, and torch's own
path wherever this one does not apply (autocast, other dtypes, compile, tracing, torch.func, switched off); bf16
inference products on oneDNN with the bias fused."""
import pytest
import torch
import torch.nn.functional as F

from hf_transformer101 import (
    BERT101Config,
    BERT101ForMaskedLM,
    GPT101Config,
    GPT101ForCausalLM,
    Seq2Seq101Config,
    Seq2Seq101ForConditionalGeneration,
)
from hf_transformer101.modeling import linear as onednn
from hf_transformer101.training import enable_activation_checkpointing

pytestmark = pytest.mark.skipif(not onednn.onednn_linear_active(),
                                reason="oneDNN's fp32 linear needs an x86 CPU and a torch built with oneDNN")


@pytest.fixture
def torch_linear_only():
    previous = onednn.use_onednn_linear(False)
    yield
    onednn.use_onednn_linear(previous)


def values_and_gradients(function, inputs, weight, bias, grad_output, dtype):
    leaves = [t.detach().to(dtype).requires_grad_() if t is not None else None for t in (inputs, weight, bias)]
    output = function(*leaves)
    if grad_output is None:
        output.sum().backward()  # an expanded (stride 0) gradient
    else:
        output.backward(grad_output.to(dtype))
    return [output.grad_fn] + [t.double() for t in (output, *(leaf.grad for leaf in leaves if leaf is not None))]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("expanded_gradient", [False, True], ids=["dense-grad", "expanded-grad"])
@pytest.mark.parametrize("transposed_input", [False, True], ids=["contiguous", "strided"])
@pytest.mark.parametrize("features", [(32, 256), (128, 96)], ids=["widening", "narrowing"])  # both weight-grad forms
def test_values_and_gradients_match_float64(bias, expanded_gradient, transposed_input, features):
    """Output, input, weight and bias gradients within fp32 rounding of a float64 reference, like F.linear's."""
    in_features, out_features = features
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(4, 64, in_features, generator=generator)  # (B, T, I): 2-3M multiply-adds, over the bar
    if transposed_input:
        inputs = inputs.transpose(0, 1).contiguous().transpose(0, 1)  # same values, not contiguous
    weight = torch.randn(out_features, in_features, generator=generator) / 8  # (O, I)
    bias_vector = torch.randn(out_features, generator=generator) if bias else None
    grad_output = None if expanded_gradient else torch.randn(4, 64, out_features, generator=generator)
    ours = values_and_gradients(onednn.linear, inputs, weight, bias_vector, grad_output, torch.float32)
    reference = values_and_gradients(F.linear, inputs, weight, bias_vector, grad_output, torch.float64)
    assert type(ours[0]).__name__ == "_OneDNNLinearBackward"  # the oneDNN path ran
    for got, expected in zip(ours[1:], reference[1:]):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5 * expected.abs().max().item())


@pytest.mark.parametrize("features", [(32, 256), (128, 96)], ids=["widening", "narrowing"])  # both oneDNN forms
@pytest.mark.parametrize("path", ["onednn", "torch", "bf16-autocast"])
def test_weight_gradient_is_the_product_of_the_gradient_and_the_inputs(features, path, torch_linear_only):
    """`weight_gradient` (for code that computes a layer's gradient itself, e.g. the fused loss): (N, O)ᵀ (N, I),
    on oneDNN where `linear` would go there, else one torch product with a contiguous result."""
    in_features, out_features = features
    generator = torch.Generator().manual_seed(0)
    grad_rows, input_rows = torch.randn(256, out_features, generator=generator), torch.randn(256, in_features,
                                                                                             generator=generator)
    onednn.use_onednn_linear(path == "onednn")
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=path == "bf16-autocast"):
        got = onednn.weight_gradient(grad_rows, input_rows)
    expected = grad_rows.double().t() @ input_rows.double()  # (O, I)
    tolerance = 1e-2 if path == "bf16-autocast" else 1e-5
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=tolerance * expected.abs().max().item())
    assert got.is_contiguous() or path == "onednn"


def test_linear_module_is_an_nn_linear_with_the_same_state_dict():
    torch.manual_seed(0)
    layer = onednn.Linear(256, 128)
    assert isinstance(layer, torch.nn.Linear)
    assert set(layer.state_dict()) == {"weight", "bias"}
    inputs = torch.randn(64, 256)
    output = layer(inputs)
    assert type(output.grad_fn).__name__ == "_OneDNNLinearBackward"
    torch.testing.assert_close(output, F.linear(inputs, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("context", ["no_grad", "inference_mode", "constant_weight"])
def test_without_gradients_the_product_runs_without_an_autograd_node(context, monkeypatch):
    """Decoding: no autograd.Function around the product (its call cost ~5% of a CPU decode step), same values."""
    calls = []
    product = onednn._onednn_product
    monkeypatch.setattr(onednn, "_onednn_product", lambda *args: calls.append(1) or product(*args))
    weight, bias, inputs = torch.randn(384, 384), torch.randn(384), torch.randn(1, 1, 384)  # a decode step's row
    weight.requires_grad_(context != "constant_weight")
    guard = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}.get(context, torch.enable_grad)
    with guard():
        output = onednn.linear(inputs, weight, bias)
    assert calls == [1] and output.grad_fn is None
    torch.testing.assert_close(output, F.linear(inputs, weight.detach(), bias), rtol=1e-5, atol=1e-5)


def test_torch_path_where_onednn_does_not_apply(torch_linear_only):
    weight, inputs = torch.randn(256, 128, requires_grad=True), torch.randn(64, 128)  # 2M multiply-adds
    assert onednn.linear(inputs, weight).grad_fn.name() == "MmBackward0"  # switched off
    onednn.use_onednn_linear(True)
    assert type(onednn.linear(inputs, weight).grad_fn).__name__ == "_OneDNNLinearBackward"  # switched on
    assert onednn.linear(inputs[:32], weight).grad_fn.name() == "MmBackward0"  # too small to repay the call
    large_weight = torch.randn(384, 384, requires_grad=True)  # one row, but a weight streamed from memory
    assert type(onednn.linear(torch.randn(1, 384), large_weight).grad_fn).__name__ == "_OneDNNLinearBackward"
    onednn.linear(torch.randn(0, 384), large_weight).sum().backward()  # no rows: torch's path, which takes them
    assert large_weight.grad.count_nonzero() == 0
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast keeps its bf16 products
        assert onednn.linear(inputs, weight).dtype == torch.bfloat16
    assert onednn.linear(inputs.double(), weight.double()).grad_fn.name() == "MmBackward0"  # not fp32
    with torch.backends.mkldnn.flags(enabled=False):  # torch's own switch for its oneDNN kernels
        assert onednn.linear(inputs, weight).grad_fn.name() == "MmBackward0"
    constant_weight = weight.detach()
    traced = torch.jit.trace(lambda x: onednn.linear(x, constant_weight), inputs)  # tracing: F.linear
    assert "mkldnn" not in str(traced.graph)
    gradient = torch.func.grad(lambda w: onednn.linear(inputs, w).sum())(weight.detach())  # torch.func transform
    torch.testing.assert_close(gradient, inputs.sum(0).expand(256, 128))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_bf16_inference_products_run_on_onednn_with_the_bias_fused(bias, monkeypatch):
    """In inference, bf16 products of 64 rows or more (autocast in inference mode, or a bf16 model): oneDNN's
    product with its bias fused, where torch's `addmm` copies the bias into every row first. Same values as
    F.linear. Not under no_grad autocast, which keeps one bf16 copy of each weight for the region."""
    calls = []
    product = onednn._onednn_product
    monkeypatch.setattr(onednn, "_onednn_product", lambda *args: calls.append(args[0].dtype) or product(*args))
    weight = torch.randn(300, 384, requires_grad=True)
    bias_ = torch.randn(300, requires_grad=True) if bias else None
    inputs = torch.randn(2, 40, 384)  # 80 rows
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        output, expected = onednn.linear(inputs, weight, bias_), F.linear(inputs, weight, bias_)
    assert calls == [torch.bfloat16] and output.dtype == torch.bfloat16
    torch.testing.assert_close(output, expected, rtol=1.6e-2, atol=1e-2)  # (bit-identical on the project's box)
    with torch.no_grad():  # a bf16 model, no autocast
        as_bf16 = [t.bfloat16() if t is not None else None for t in (inputs, weight, bias_)]
        torch.testing.assert_close(onednn.linear(*as_bf16), F.linear(*as_bf16), rtol=1.6e-2, atol=1e-2)
    assert len(calls) == 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        onednn.linear(inputs, weight, bias_)  # with gradients: autocast's own product
        with torch.no_grad():
            onednn.linear(inputs, weight, bias_)  # no_grad: autocast's, whose bf16 weight it keeps for the region
        with torch.inference_mode():
            onednn.linear(inputs[:, :8], weight, bias_)  # 16 rows: too few to repay casting the weight
    with torch.no_grad(), pytest.raises(RuntimeError):
        onednn.linear(inputs.bfloat16(), weight, bias_)  # mixed dtypes without autocast: F.linear's error
    assert len(calls) == 2


def test_bf16_inference_of_each_family_is_the_same_with_and_without_onednn(monkeypatch):
    products, onednn_product = [], onednn._onednn_product
    monkeypatch.setattr(onednn, "_onednn_product", lambda *args: products.append(1) or onednn_product(*args))
    for family in (gpt_step_inputs, bert_step_inputs, seq2seq_step_inputs):
        torch.manual_seed(0)
        model, batch = family()
        inputs = {name: value for name, value in batch.items() if name != "labels"}
        if "decoder_input_ids" not in inputs and model.config.is_encoder_decoder:
            inputs["decoder_input_ids"] = batch["labels"]
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model.eval()(**inputs).logits
            previous = onednn.use_onednn_linear(False)
            try:
                reference = model(**inputs).logits
            finally:
                onednn.use_onednn_linear(previous)
        torch.testing.assert_close(logits, reference, rtol=1.6e-2, atol=1e-2)
        assert products, "the oneDNN path never ran"
        products.clear()


def test_compiled_code_uses_torch_linear():
    weight, inputs = torch.randn(4, 8), torch.randn(5, 8)
    compiled = torch.compile(onednn.linear, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(inputs, weight), F.linear(inputs, weight), rtol=1e-6, atol=1e-6)


def gpt_step_inputs():
    config = GPT101Config(vocab_size=97, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                          max_position_embeddings=64, bos_token_id=0, eos_token_id=0, hidden_dropout_prob=0.0,
                          embedding_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ids = torch.randint(0, 97, (4, 64), generator=torch.Generator().manual_seed(1))
    return GPT101ForCausalLM(config), {"input_ids": ids, "labels": ids}


def bert_step_inputs():
    config = BERT101Config(vocab_size=97, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                           max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                           sparse_prediction=True)  # the head on the masked rows
    ids = torch.randint(1, 97, (4, 64), generator=torch.Generator().manual_seed(1))
    labels = torch.where(torch.arange(64) % 3 == 0, ids, -100).expand(4, 64)
    return BERT101ForMaskedLM(config), {"input_ids": ids, "labels": labels}


def seq2seq_step_inputs():
    config = Seq2Seq101Config(vocab_size=97, d_model=128, encoder_layers=1, decoder_layers=1,
                              encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=256,
                              decoder_ffn_dim=256, max_position_embeddings=64, pad_token_id=0, eos_token_id=1,
                              dropout=0.0)
    generator = torch.Generator().manual_seed(1)
    return Seq2Seq101ForConditionalGeneration(config), {
        "input_ids": torch.randint(2, 97, (4, 64), generator=generator),
        "labels": torch.randint(2, 97, (4, 64), generator=generator)}


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
@pytest.mark.parametrize("family", [gpt_step_inputs, bert_step_inputs, seq2seq_step_inputs],
                         ids=["gpt", "bert", "seq2seq"])
def test_training_step_is_the_same_with_and_without_onednn(family, checkpointing, monkeypatch):
    """A whole step of each family (loss and every gradient) on oneDNN equals the one on torch's fp32 linear,
    also when gradient checkpointing recomputes the forward pass in the backward one."""
    torch.manual_seed(0)
    model, batch = family()  # dropout 0: both steps compute the same function
    model.train()  # checkpointing runs in training mode only
    if checkpointing:
        enable_activation_checkpointing(model)
    products, onednn_product = [], onednn._onednn_product

    def counted_product(*args):
        products.append(args[0].shape)
        return onednn_product(*args)
    monkeypatch.setattr(onednn, "_onednn_product", counted_product)

    def step():
        model.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    loss, grads = step()
    assert products, "the oneDNN path never ran"
    previous = onednn.use_onednn_linear(False)
    try:
        reference_loss, reference_grads = step()
    finally:
        onednn.use_onednn_linear(previous)
    torch.testing.assert_close(loss, reference_loss, rtol=1e-6, atol=1e-6)
    assert grads.keys() == reference_grads.keys() and len(grads) > 10
    for name, grad in grads.items():
        torch.testing.assert_close(grad, reference_grads[name], rtol=1e-5, atol=1e-6, msg=name)
