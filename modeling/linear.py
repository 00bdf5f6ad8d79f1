"""Linear layers whose fp32 CPU matrix products run on oneDNN instead of the BLAS torch picks by default.

On x86 CPUs torch computes fp32 `F.linear` with MKL's sgemm, which on AMD processors runs a code path that
leaves much of the chip unused: on the project's CPU box (2 cores of an AMD EPYC with AVX-512) MKL reaches
about 210 GFLOP/s on the training shapes of our models, and oneDNN, which torch also ships (and already uses
for bf16), 460-500 — the same fp32 arithmetic, in another summation order (largest error against float64
~1e-6 of the largest value, MKL's ~3e-7). torch exposes oneDNN's fp32 linear only as the forward op
`mkldnn::_linear_pointwise` that inductor uses for frozen inference graphs, with no autograd; `_OneDNNLinear`
adds the backward (two more products on oneDNN, which reads the transposed operands in place through their
strides).

Used where it applies, torch's own path everywhere else: fp32 products big enough to repay oneDNN's call
overhead (the thresholds below), on an x86 CPU with oneDNN built in, outside autocast (whose bf16 products
already run on oneDNN), in plain eager execution — `torch.compile` and `torch.export` (inductor picks its own
GEMMs, and cannot lower this op outside frozen graphs), TorchScript tracing and `torch.func` transforms get
`F.linear`. `HF101_ONEDNN_LINEAR=0` in the environment, or `use_onednn_linear(False)`, turns it off, as does
`torch.backends.mkldnn.enabled = False`.

In inference, bf16 products of 64 rows or more (of a bf16 model, or under CPU autocast in inference mode) take
oneDNN too. torch's bf16 `F.linear` is already oneDNN's product, but as `addmm`, which first copies the bias into
every row of the output; oneDNN adds it as the product finishes (BERT's 1024 x 384 -> 30,522 MLM head: 57 -> 47
ms; bf16 CPU inference of the bench's sizes, A/B through HF101_ONEDNN_LINEAR: BERT +8%, Seq2Seq +16-20%, GPT
within noise). With gradients, autocast's own path stays. The same switches turn it off.

`OutputLinear`, the output layer of the three models, adds one GPU measure: on CUDA its products run on a
weight padded to a multiple of 64 rows (below).

This file is copied next to the model files when a model is exported to the Hub, so it may import only the
standard library, torch and transformers.
"""

import os
import platform

import torch
from torch import nn
from torch.autograd.function import once_differentiable

_ONEDNN_AVAILABLE = (
    platform.machine().lower() in ("x86_64", "amd64")
    and torch.backends.mkldnn.is_available()
    and hasattr(torch.ops.mkldnn, "_linear_pointwise")
)
_enabled = os.environ.get("HF101_ONEDNN_LINEAR", "1") != "0"
# oneDNN's call costs ~13 us more than torch's. It pays for a product of 2M multiply-adds or more (rows x in x
# out; weights in cache, on the project's CPU box: 32 x 256 x 256 1.1x, 0.2-0.9x below 1M), or for a weight of
# 128k elements or more, which a product of few rows (decoding) streams from memory (one row: 384 x 384 1.7x,
# 384 x 1152 2.1x; 128 x 128 0.5x).
_MIN_MULTIPLY_ADDS = 2**21
_MIN_WEIGHT_ELEMENTS = 2**17
# The bf16 path below casts an fp32 weight on every call, as autocast does in inference mode; for a few rows
# (decoding) the cast would cost more than the product saves.
_MIN_BF16_ROWS = 64


def use_onednn_linear(enabled=True):
    """Turn the oneDNN fp32 CPU path on or off for every model of the process (e.g. to compare with torch's);
    returns the previous setting, to restore it."""
    global _enabled
    previous, _enabled = _enabled, bool(enabled)
    return previous


def onednn_linear_active():
    """Whether fp32 CPU linear layers run on oneDNN now: enabled (here and in torch's switch for its oneDNN
    kernels), and available on this machine and torch build."""
    return _enabled and _ONEDNN_AVAILABLE and torch.backends.mkldnn.enabled


def _onednn_product(inputs, weight, bias=None):
    """inputs @ weight.T (+ bias) on oneDNN: (..., I) x (O, I) -> (..., O); any strides (a transposed `inputs` is
    copied first, a transposed `weight` read in place)."""
    return torch.ops.mkldnn._linear_pointwise(inputs, weight, bias, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, weight, bias):
        ctx.save_for_backward(inputs, weight)
        ctx.has_bias = bias is not None
        return _onednn_product(inputs, weight, bias)  # (..., I) -> (..., O)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        inputs, weight = ctx.saved_tensors
        grad_rows = grad_output.reshape(-1, weight.shape[0])  # (N, O), N = all leading dims
        grad_inputs = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_inputs = _onednn_product(grad_output, weight.t())  # (..., O) x (I, O) -> (..., I)
        if ctx.needs_input_grad[1]:
            grad_weight = _onednn_weight_gradient(grad_rows, inputs.reshape(-1, weight.shape[1]))  # (O, I)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_rows.sum(0)  # (O,)
        return grad_inputs, grad_weight, grad_bias


def _onednn_weight_gradient(grad_rows, input_rows):
    """(N, O)ᵀ x (N, I) -> (O, I) on oneDNN. oneDNN copies its first operand when it is transposed (the second it
    reads in place), and autograd copies a transposed weight gradient into the weight's layout: of the two ways to
    compute it, take the one that copies less — e.g. (N, 384) + (1536, 384) rather than (N, 1536) for the MLP's
    first layer at N = 2048. The result may be a transposed view."""
    (rows, in_features), out_features = input_rows.shape, grad_rows.shape[1]
    if rows * in_features + out_features * in_features < rows * out_features:
        return _onednn_product(input_rows.t(), grad_rows.t()).t()  # (I, N) x (O, N) -> (I, O)ᵀ
    return _onednn_product(grad_rows.t(), input_rows.t())  # (O, N) x (I, N) -> (O, I)


def _onednn_usable(inputs):
    """Whether oneDNN's product may stand in for torch's here at all: enabled and available, a CPU tensor, plain
    eager execution — not compiling, tracing (where a traced numel() is a tensor) or a torch.func transform."""
    return (
        onednn_linear_active()
        and inputs.device.type == "cpu"
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
        and not torch._C._are_functorch_transforms_active()
    )


def _onednn_applies(inputs, weight, bias=None):
    """Whether the product inputs @ weight.T (+ bias) takes the fp32 oneDNN path (see the module docstring)."""
    return (
        _onednn_usable(inputs)
        and inputs.dtype == weight.dtype == torch.float32
        and (bias is None or bias.dtype == torch.float32)
        and inputs.numel() > 0  # oneDNN refuses empty products (e.g. a sparse MLM head with nothing masked)
        and (weight.numel() >= _MIN_WEIGHT_ELEMENTS or inputs.numel() * weight.shape[0] >= _MIN_MULTIPLY_ADDS)
        and not torch.is_autocast_enabled("cpu")
    )


def _onednn_bf16_inference_applies(inputs, weight):
    """Whether the product runs as oneDNN's bf16 product with its bias fused (see the module docstring)."""
    return (
        _onednn_usable(inputs)
        and not torch.is_grad_enabled()
        and compute_dtype(inputs) == torch.bfloat16
        and inputs.dtype in (torch.float32, torch.bfloat16)  # autocast casts these (not float64)
        # A bf16 weight, or autocast in inference mode, which casts the fp32 weight on every call too. Elsewhere
        # autocast keeps one bf16 copy of the weight per autocast region (e.g. around a whole `generate`), which
        # this path, recasting it each time, would lose.
        and (weight.dtype == torch.bfloat16
             or (torch.is_autocast_enabled("cpu") and torch.is_inference_mode_enabled()))
        and inputs.shape[:-1].numel() >= _MIN_BF16_ROWS
    )


def linear(inputs, weight, bias=None):
    """F.linear, with fp32 CPU products on oneDNN where that path applies, and bf16 CPU inference products too
    (see the module docstring). The fp32 test comes first: it is the training and decoding path, and the two
    exclude each other (fp32 operands outside autocast, against a bf16 compute dtype)."""
    if _onednn_applies(inputs, weight, bias):
        # Without gradients (decoding), the bare product: the autograd.Function's call costs ~5 us, 24 times per
        # token for GPT's CPU size (1.7 -> 1.9x HF's one-token forward).
        if torch.is_grad_enabled() and (inputs.requires_grad or weight.requires_grad
                                        or (bias is not None and bias.requires_grad)):
            return _OneDNNLinear.apply(inputs, weight, bias)
        return _onednn_product(inputs, weight, bias)
    if _onednn_bf16_inference_applies(inputs, weight):
        to_bf16 = (lambda tensor: None if tensor is None else tensor.to(torch.bfloat16))  # what autocast would do
        return _onednn_product(to_bf16(inputs), to_bf16(weight), to_bf16(bias))
    return nn.functional.linear(inputs, weight, bias)


def weight_gradient(grad_rows, input_rows):
    """The weight gradient of a linear layer, (N, O)ᵀ x (N, I) -> (O, I), for code that computes it itself: on
    oneDNN where `linear` would use it (possibly as a transposed view, see `_onednn_weight_gradient`), else one
    torch product — whose (O, I) result is contiguous, so that adding it to the weight's gradient reads memory
    in order (under bf16 autocast, a transposed (V, C) gradient cost 3.5 ms more per Seq2Seq CPU step)."""
    if _onednn_applies(grad_rows.t(), input_rows.t()):
        return _onednn_weight_gradient(grad_rows, input_rows)
    return torch.mm(grad_rows.t(), input_rows)


def compute_dtype(tensor):
    """The dtype products of `tensor` run in: autocast's where it is on for its device, else its own."""
    device_type = tensor.device.type
    return torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else tensor.dtype


class Linear(nn.Linear):
    """nn.Linear (same parameters, same state dict, same `isinstance`) computed by `linear` above."""

    def forward(self, inputs):
        return linear(inputs, self.weight, self.bias)


def vocabulary_padding(vocab_size, device):
    """Zero rows to add to an output layer's weight for its products: on CUDA up to a multiple of 64, none
    elsewhere (see `OutputLinear`)."""
    return -vocab_size % 64 if device.type == "cuda" else 0


# Fewer rows than this (decoding: one position per sequence) go through the plain product: there, copying the
# padded weight costs more than the fast kernel saves.
_MIN_PADDED_ROWS = 1024


class OutputLinear(Linear):
    """The output layer onto a vocabulary (hidden states -> logits), fast on CUDA whatever the vocabulary's size.

    cuBLAS runs a bf16 or fp16 product on its tensor-core kernels only when the rows of its matrices start at
    16-byte boundaries, i.e. hold a multiple of 8 elements. Vocabularies rarely do (GPT-2's 50,257, BERT's
    30,522, Marian's 58,101), and then the layer's three products — forward, and the two of the backward pass —
    fall back to old, slow kernels: in a GPT-2 124M training step on an H100, 30.5 ms in transformers' GPT-2,
    4.7 ms here with the weight padded to 50,304 rows (nanoGPT pads the vocabulary itself). Here, on CUDA and for
    1024 rows or more, the product runs on the weight and bias padded with zero rows to a multiple of 64 and the
    logits are cut back to the vocabulary: the model, its checkpoints and its outputs keep their true size.
    """

    def forward(self, inputs):
        vocab_size = self.weight.shape[0]
        padding = vocabulary_padding(vocab_size, inputs.device)  # 0 but on CUDA
        if padding == 0 or inputs.shape[:-1].numel() < _MIN_PADDED_ROWS:
            return super().forward(inputs)
        weight = nn.functional.pad(self.weight, (0, 0, 0, padding))  # (V + pad, C), zero rows at the end
        bias = None if self.bias is None else nn.functional.pad(self.bias, (0, padding))  # (V + pad,)
        return linear(inputs, weight, bias)[..., :vocab_size].contiguous()  # (..., V)
