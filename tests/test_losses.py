"""modeling/losses.py: the loss every model calls is transformers' cross-entropy, however it is computed — on
the CPU a chunk of labelled rows at a time, on a GPU compiled, inside a compiled model in a form for the
compiler."""
import pytest
import torch
from transformers.loss.loss_utils import ForMaskedLMLoss

from hf_transformer101 import GPT101Config, GPT101ForCausalLM
from hf_transformer101.modeling import losses
from hf_transformer101.modeling.losses import token_cross_entropy


@pytest.mark.parametrize("chunk_elements", [2**20, 100], ids=["one-chunk", "chunks-of-two-rows"])
@pytest.mark.parametrize("ignored", [0.3, 0.85], ids=["most-labelled", "mlm-like"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_token_cross_entropy_is_transformers_loss(precision, ignored, chunk_elements, monkeypatch):
    """On the CPU, chunk by chunk: transformers' loss and gradient to fp32 rounding (fp32), or the same bf16
    gradient up to one rounding (bf16 autocast); the sum / num_items_in_batch under gradient accumulation."""
    monkeypatch.setattr(losses, "_CHUNK_ELEMENTS", chunk_elements)
    torch.manual_seed(0)
    weight = torch.randn(50, 16, requires_grad=True)  # an output layer whose matmul autocast runs in bf16
    hidden = torch.randn(4, 16, 16)
    labels = torch.randint(0, 50, (4, 16)).masked_fill(torch.rand(4, 16) < ignored, -100)
    results = []
    for loss_fn in (lambda logits: ForMaskedLMLoss(logits, labels, vocab_size=50),
                    lambda logits: token_cross_entropy(logits, labels)):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = hidden @ weight.T  # (B, T, V)
            loss = loss_fn(logits)
        (gradient, logits_gradient) = torch.autograd.grad(loss, (weight, logits))
        results.append((loss, gradient, logits_gradient))
    (hf_loss, hf_gradient, hf_logits_gradient), (loss, gradient, logits_gradient) = results
    torch.testing.assert_close(loss, hf_loss, rtol=1e-6, atol=1e-6)
    assert logits_gradient.dtype == hf_logits_gradient.dtype
    assert torch.equal(logits_gradient[labels == -100], torch.zeros_like(logits_gradient[labels == -100]))
    tolerance = {"fp32": dict(rtol=1e-5, atol=1e-6), "bf16": dict(rtol=1e-2, atol=1e-4)}[precision]
    torch.testing.assert_close(gradient, hf_gradient, **tolerance)
    # Trainer under gradient accumulation: the sum over this batch's tokens / the tokens of all its batches.
    with torch.no_grad():
        logits = hidden @ weight.T
        summed = token_cross_entropy(logits, labels, num_items_in_batch=2 * int((labels != -100).sum()))
        torch.testing.assert_close(summed, token_cross_entropy(logits, labels) / 2)


def test_the_cpu_loss_with_nothing_labelled_bad_labels_and_float64():
    """As transformers': NaN and zero gradients with nothing labelled. A label outside the vocabulary is named
    as such, and so are labels that do not match the rows. float64 logits are computed in float64 (gradcheck)."""
    logits = torch.randn(6, 10, dtype=torch.float64, requires_grad=True)
    nothing = torch.full((6,), -100)
    loss = token_cross_entropy(logits, nothing)
    (gradient,) = torch.autograd.grad(loss, logits)
    assert loss.isnan() and ForMaskedLMLoss(logits, nothing, vocab_size=10).isnan()
    assert torch.equal(gradient, torch.zeros_like(logits))
    with pytest.raises(RuntimeError, match=r"labels must be ids in \[0, 10\) or -100"):
        token_cross_entropy(logits, torch.tensor([0, 1, 2, 3, 4, 10]))
    with pytest.raises(ValueError, match=r"one label per position \(6\)"):  # not a loss over the first five rows
        token_cross_entropy(logits, torch.tensor([0, 1, 2, 3, 4]))
    labels = torch.tensor([0, -100, 9, 3, -100, 5])
    assert torch.autograd.gradcheck(lambda x: token_cross_entropy(x, labels), (logits,))


def test_the_compiled_loss_falls_back_to_the_eager_one_when_compiling_fails(monkeypatch):
    """GPU training compiles the loss; where that cannot work (no Triton, say) training goes on, with a warning."""

    def broken(*args):
        raise RuntimeError("Cannot find a working triton installation")

    monkeypatch.setattr(losses, "_compiled_cross_entropy", losses.CompiledOnce(losses._cross_entropy))
    monkeypatch.setattr(torch, "compile", lambda function, **options: broken)
    logits, labels = torch.randn(6, 10), torch.randint(0, 10, (6,))
    with pytest.warns(UserWarning, match="compiling _cross_entropy failed.*triton.*running it eagerly"):
        loss = losses._compiled_cross_entropy(logits, labels, -100, "mean")
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, labels), rtol=0, atol=0)
    assert losses._compiled_cross_entropy.compiled is False
    losses._compiled_cross_entropy(logits, labels, -100, "mean")  # no second attempt, no second warning


@pytest.mark.parametrize("compiled", [False, True])
def test_the_loss_written_for_the_compiler_equals_the_eager_one(compiled):
    """logsumexp(x) - x[y], what compiled code runs (here by inductor's CPU backend, ~15 s), equals the eager
    log-softmax + NLL: loss and gradients, the mean and the sum, ignored labels included."""
    torch.manual_seed(0)
    function = losses._logsumexp_cross_entropy
    function = torch.compile(function, dynamic=True) if compiled else function
    logits = torch.randn(300, 1001, requires_grad=True)
    labels = torch.randint(0, 1001, (300,)).masked_fill(torch.rand(300) < 0.2, -100)
    for reduction in ("mean", "sum"):
        results = []
        for loss_fn in (function, losses._cross_entropy):
            loss = loss_fn(logits, labels, -100, reduction)
            results.append((loss, *torch.autograd.grad(loss, logits)))
        (loss, gradient), (eager_loss, eager_gradient) = results
        torch.testing.assert_close(loss, eager_loss)
        torch.testing.assert_close(gradient, eager_gradient)
    with pytest.raises(RuntimeError, match=r"labels must be ids in \[0, 1001\) or -100"):
        function(logits, torch.cat([labels[:-1], torch.tensor([1001])]), -100, "mean")


def test_a_compiled_model_keeps_no_fp32_vocabulary_sized_tensor_for_the_backward_pass():
    """Under torch.compile the loss is logsumexp(x) - x[y]: AOTAutograd's partitioner (inductor's) then keeps the
    logits and one number per row for the backward pass. Written as log-softmax + NLL, it kept the fp32
    (B·T, V) log-probabilities: 3.3 GB for GPT-2 at 16 x 1024 tokens."""
    from torch._dynamo.backends.common import aot_autograd
    from torch._functorch.aot_autograd import make_boxed_func
    from torch._functorch.partitioners import min_cut_rematerialization_partition

    kept = []

    def record_forward(graph, example_inputs):  # the forward's outputs: the model's, then what backward keeps
        (outputs,) = [node.args[0] for node in graph.graph.nodes if node.op == "output"]
        kept.extend(node.meta["val"] for node in outputs if isinstance(node.meta.get("val"), torch.Tensor))
        return make_boxed_func(graph.forward)

    backend = aot_autograd(fw_compiler=record_forward, bw_compiler=lambda graph, inputs: make_boxed_func(graph.forward),
                           partition_fn=min_cut_rematerialization_partition)
    config = GPT101Config(vocab_size=1000, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          max_position_embeddings=64, hidden_dropout_prob=0.0, embedding_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, bos_token_id=None, eos_token_id=None)
    model = torch.compile(GPT101ForCausalLM(config), backend=backend)
    ids = torch.randint(0, 1000, (2, 64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(ids, labels=ids).loss.backward()
    vocabulary_sized = [(tuple(t.shape), t.dtype) for t in kept if t.dim() and t.shape[-1] == 1000]
    assert vocabulary_sized and all(dtype == torch.bfloat16 for _, dtype in vocabulary_sized), vocabulary_sized


def test_a_compiled_model_feeds_the_loss_gradient_to_its_logits():
    """Compiled with labels, the loss is a graph of its own that takes the model's logits: their gradient is the
    loss's. In one graph with the model, the logits output would get none, and AOTAutograd would hand the model's
    backward a zero tensor of their size instead (a (B, T, V) buffer more at the peak; modeling/losses.py)."""
    config = GPT101Config(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          max_position_embeddings=64, hidden_dropout_prob=0.0, embedding_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, bos_token_id=None, eos_token_id=None)
    model = GPT101ForCausalLM(config)
    ids = torch.randint(0, 100, (2, 16))
    output = torch.compile(model, backend="aot_eager")(ids, labels=ids)
    gradients = []
    output.logits.register_hook(gradients.append)
    output.loss.backward()
    assert len(gradients) == 1 and gradients[0].abs().sum() > 0
    eager_gradient = torch.autograd.grad(model(ids, labels=ids).loss, model.lm_head.weight)[0]
    torch.testing.assert_close(model.lm_head.weight.grad, eager_gradient)
