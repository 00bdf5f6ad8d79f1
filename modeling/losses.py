"""The training loss of the three models: the cross-entropy of their logits against the labels.

Every model calls `token_cross_entropy`. Its numbers are transformers' (`ForCausalLMLoss`, `ForMaskedLMLoss`: an
fp32 log-softmax and the negative log-likelihood of the labels, averaged over the labelled tokens), computed the
way that is fastest where it runs:

* on the CPU: `_ChunkedCrossEntropy`, a few rows at a time, the labelled ones only;
* on a GPU, with gradients: compiled (`_compiled_cross_entropy`);
* inside a compiled model: the form written for the compiler (`_logsumexp_cross_entropy`);
* elsewhere (a GPU without gradients, other devices): torch's log-softmax and NLL (`_cross_entropy`).

This file is copied next to the model files when a model is exported to the Hub, so it may import only the
standard library, torch and transformers.
"""

import warnings

import torch
from torch import nn
from torch.autograd.function import once_differentiable


def token_cross_entropy(logits, labels, num_items_in_batch=None, ignore_index=-100):
    """Cross-entropy of (..., V) logits against the labels aligned with them (...), `ignore_index` skipped: the
    mean over the labelled tokens, or with `num_items_in_batch` (Trainer, under gradient accumulation: labelled
    tokens in the whole accumulated batch) their sum divided by it. Nothing labelled: NaN, and zero gradients.

    When training on a GPU the loss is compiled (`torch.compile`, once per process, a few seconds): eager
    PyTorch runs it as a log-softmax, a gather and their backward passes, each over all B·T·V logits, and keeps
    the fp32 log-probabilities for the backward pass; inductor fuses them into one pass forward and one backward
    and keeps nothing that size. GPT-2 124M on an H100 (docs/benchmarks.md): 3.1 instead of 8.6 ms of a training
    step, and 8.8 instead of 14.9 GB of peak memory. On the CPU, `_ChunkedCrossEntropy` does the same by hand.
    """
    compiling = torch.compiler.is_compiling()  # inside a compiled model
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)  # torch >= 2.5
    if compiling and logits.requires_grad and not exporting():
        # In one graph with the model, the loss leaves the logits *output* without a gradient of its own, and
        # AOTAutograd then hands the backward pass a zero tensor of their size (B, T, V) instead: measured on a
        # compiled GPT-2 step at 4 x 1024 tokens (CPU), 1527 MiB of peak against 1176 for transformers' GPT-2, and
        # 1153 with this break. transformers' models break here too (by accident: a log call), so `fullgraph=True`
        # takes no labels with them either.
        torch._dynamo.graph_break()
    check_one_label_per_row(labels, logits)
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device)  # (N, V), (N,)
    reduction = "mean" if num_items_in_batch is None else "sum"
    if compiling:
        loss = _logsumexp_cross_entropy(logits, labels, ignore_index, reduction)
    elif logits.device.type == "cpu":
        loss = _chunked_cross_entropy(logits, labels, ignore_index, reduction)
    elif logits.is_cuda and logits.requires_grad:  # without a gradient, one eager pass is all there is
        loss = _compiled_cross_entropy(logits, labels, ignore_index, reduction)
    else:
        loss = _cross_entropy(logits, labels, ignore_index, reduction)
    if num_items_in_batch is not None:
        loss = loss / torch.as_tensor(num_items_in_batch, device=loss.device)
    return loss


def check_one_label_per_row(labels, predictions):
    """Labels (...) for predictions (..., V) or (..., C): as many labels as rows, or a clear error (the chunked
    losses would otherwise read a part of the rows and return a wrong number)."""
    rows = predictions.shape[:-1].numel()
    if labels.numel() != rows:
        raise ValueError(f"labels of shape {tuple(labels.shape)} do not match the predictions of shape "
                         f"{tuple(predictions.shape)}: one label per position ({rows}), -100 where none")


def check_labels(labels, vocab_size, ignore_index):
    """Every label an id in [0, vocab_size) or `ignore_index`, checked on the device (no wait for the host): an
    error on the CPU, a device-side assert on a GPU."""
    torch._assert_async((((labels >= 0) & (labels < vocab_size)) | (labels == ignore_index)).all(),
                        f"labels must be ids in [0, {vocab_size}) or {ignore_index} (ignored)")


def _cross_entropy(logits, labels, ignore_index, reduction):
    """Eager: two library kernels (log-softmax, NLL), bit for bit transformers' loss in fp32."""
    # (N, V), fp32 whatever the logits; torch converts bf16 logits first, fp16 ones on CUDA inside the kernel
    log_probs = nn.functional.log_softmax(logits, dim=-1, dtype=torch.float32)
    return nn.functional.nll_loss(log_probs, labels, ignore_index=ignore_index, reduction=reduction)


# Rows per chunk: this many logits or fewer (4 MiB in fp32, within the CPU's L3 cache). Measured on the CPU box
# (forward + backward, GPT-2's vocabulary at 2048 rows, bf16 / fp32): 255 / 285 ms at 2^16, 182 / 231 at 2^18,
# 170 / 219 at 2^20; torch's two kernels 565 / 370.
_CHUNK_ELEMENTS = 2**20


def _chunked_cross_entropy(logits, labels, ignore_index, reduction):
    """The CPU's loss: `_cross_entropy`'s numbers (to fp32 rounding), a chunk of rows at a time."""
    check_labels(labels, logits.shape[-1], ignore_index)  # (a gather would say "index out of bounds")
    kept = labels != ignore_index  # (N,)
    labelled = int(kept.sum())
    if 2 * labelled <= labels.numel():
        # Most rows without a label (BERT's MLM: 85%): the loss reads, and its backward pass keeps, a copy of the
        # labelled ones only; autograd puts their gradient back in place (zero elsewhere).
        rows = kept.nonzero().squeeze(1)  # (n,)
        logits, labels = logits.index_select(0, rows), labels.index_select(0, rows)  # (n, V), (n,)
    total = _ChunkedCrossEntropy.apply(logits, labels, ignore_index)
    return total / labelled if reduction == "mean" else total  # NaN with nothing labelled, as transformers'


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of (N, V) logits against (N,) labels, `ignore_index` skipped, a chunk of rows at a
    time.

    torch's log-softmax keeps its fp32 (N, V) output for the backward pass, whose NLL and log-softmax steps then
    write two more (N, V) fp32 tensors and a cast to the logits' dtype: passes over memory the size of the
    logits, or more, each. Here the log-softmax runs a chunk of rows at a time, in cache, and keeps nothing; the
    backward pass recomputes each chunk's softmax from the logits (which the model returns anyway) and writes
    the gradient softmax(x) - onehot(y) once, in the logits' dtype. Measured on the CPU box, forward + backward:
    GPT-2's vocabulary at 2048 rows 170 instead of 565 ms in bf16, 219 instead of 370 in fp32, and 2-3 fp32
    tensors of the logits' size less at the peak of a training step.
    """

    @staticmethod
    def forward(ctx, logits, labels, ignore_index):
        compute_dtype = torch.promote_types(logits.dtype, torch.float32)
        kept = labels != ignore_index  # (N,)
        targets = torch.where(kept, labels, 0).unsqueeze(1)  # (N, 1), ignored rows pointed at id 0
        total = torch.zeros((), dtype=compute_dtype)
        for chunk in row_chunks(logits):
            log_probs = torch.log_softmax(logits[chunk], dim=-1, dtype=compute_dtype)  # (k, V)
            total -= log_probs.gather(1, targets[chunk]).squeeze(1).masked_fill(~kept[chunk], 0.0).sum()
        ctx.save_for_backward(logits, targets, kept)
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_total):
        logits, targets, kept = ctx.saved_tensors
        compute_dtype = torch.promote_types(logits.dtype, torch.float32)
        row_scale = kept.to(compute_dtype) * grad_total  # (N,): 0 on ignored rows
        grad_logits = torch.empty_like(logits)  # (N, V)
        for chunk in row_chunks(logits):
            gradient = torch.softmax(logits[chunk], dim=-1, dtype=compute_dtype)  # (k, V)
            gradient.scatter_add_(1, targets[chunk], gradient.new_full(targets[chunk].shape, -1.0))  # - onehot
            grad_logits[chunk] = gradient.mul_(row_scale[chunk, None])  # cast to the logits' dtype on the way
        return grad_logits, None, None


def row_chunks(logits):
    """Slices of the (N, V) logits' rows, of at most _CHUNK_ELEMENTS logits each: a size the CPU computes in
    cache."""
    rows, vocab_size = logits.shape
    step = max(1, _CHUNK_ELEMENTS // max(vocab_size, 1))
    return (slice(start, start + step) for start in range(0, rows, step))


def _logsumexp_cross_entropy(logits, labels, ignore_index, reduction):
    """The same loss written for the compiler: -log softmax(x)[y] = logsumexp(x) - x[y].

    What a backward pass needs is then the logits and one logsumexp per row (its gradient is softmax(x) - onehot
    = exp(x - logsumexp) - onehot, recomputed on the fly), where the log-softmax form leads AOTAutograd's
    partitioner to keep the fp32 (N, V) log-probabilities (tests/test_losses.py): 3.1 GiB for GPT-2 at 16 x 1024
    tokens, written and read back every step.
    """
    vocab_size = logits.shape[-1]
    kept = labels != ignore_index  # (N,)
    # A gather would fail on a label outside the vocabulary; the masked sum below would count it as 0.
    check_labels(labels, vocab_size, ignore_index)
    logits = logits.float()  # (N, V)
    logsumexp = torch.logsumexp(logits, dim=-1)  # (N,)
    # x[y] as a masked sum rather than a gather: its backward is then elementwise (no scatter), and fuses
    # with the softmax term into one kernel.
    is_target = torch.arange(vocab_size, device=logits.device) == labels.unsqueeze(-1)  # (N, V)
    target = torch.where(is_target, logits, 0.0).sum(dim=-1)  # (N,)
    total = (logsumexp - target).masked_fill(~kept, 0.0).sum()
    return total if reduction == "sum" else total / kept.sum()


class CompiledOnce:
    """`function` compiled on first use (`torch.compile(dynamic=True)`: the number of rows changes between batches
    — padding, BERT's sparse head — and one compilation serves them all). If that first compilation fails (no
    Triton, an unsupported GPU...), `function` runs eagerly from then on, said once."""

    def __init__(self, function):
        self.function = function
        self.compiled = None  # None: not tried yet; False: compiling failed

    def __call__(self, *args):
        if self.compiled is False:
            return self.function(*args)
        first = self.compiled is None
        if first:
            self.compiled = torch.compile(self.function, dynamic=True)
        try:
            with warnings.catch_warnings():
                # Inductor's note that it split a softmax's reduction (seen on an H100): about its kernel, not users.
                warnings.filterwarnings("ignore", message="Online softmax is disabled", category=UserWarning)
                return self.compiled(*args)
        except Exception as error:
            if not first:
                raise
            warnings.warn(f"compiling {self.function.__name__} failed ({type(error).__name__}: {error}); "
                          "running it eagerly")
            self.compiled = False
            return self.function(*args)


# The form measured on GPUs (docs/benchmarks.md); compiled alone, the partitioner keeps no (N, V) tensor of it.
_compiled_cross_entropy = CompiledOnce(_cross_entropy)
