"""The output layer and the cross-entropy in one step, a chunk of rows at a time: the (N, V) logits never exist.

A language model's last layer turns each of N hidden states (C numbers) into V logits, and its loss reads them
once. With a large vocabulary these logits are the biggest tensor of a training step — GPT-2 at 16 x 1024 tokens:
16384 x 50257 logits, 3.3 GB in fp32, more than the 124M model and its optimizer state together — and eager
PyTorch writes and reads several tensors that size (the logits, their fp32 log-probabilities, the gradient of
each). Here, for a chunk of rows at a time, the logits are computed, the loss read off them, and their gradient
(softmax(x) - onehot(y)) written over their log-probabilities in place and multiplied straight into the
gradients of the hidden states and of the weight. The backward pass then only scales those two by the loss's
incoming gradient. This is the scheme of Liger-Kernel's fused linear cross-entropy (Hsu et al. 2024), in plain
PyTorch: the same loss and gradients as `linear` followed by `token_cross_entropy`.

The price: no logits to return (a model gives `logits=None` on this path), and the gradients are computed in
the forward pass even when no backward pass follows (so it runs only where gradients are on).

This file is copied next to the model files when a model is exported to the Hub, so it may import only the
standard library, torch and transformers.
"""

import torch

from .linear import compute_dtype, linear, vocabulary_padding, weight_gradient
from .losses import CompiledOnce, check_labels, check_one_label_per_row, row_chunks

# A chunk's logits stay under this many elements, the rows shared evenly between the chunks. Fewer, larger
# chunks run faster — each streams the weight again and adds its weight gradient to the sum — and smaller ones
# take less memory. On the CPU box, GPT's head and loss for 2048 x 50257 logits took 909 ms in one chunk, 977 in
# two, 1143 in seven, 1513 in 25 (fp32; bf16 793 / 872 / 921 / 1513), while a whole training step ran as fast
# within noise in two chunks as in one, and peaked lower (bf16: 991 against 1,267 MiB): 2^26 elements. On CUDA
# (GPT-2 at 16 x 1024 tokens: 4 chunks) a chunk costs one more fp32 pass over the weight gradient, ~0.1 ms.
_CHUNK_ELEMENTS = 2**26
_CHUNK_ELEMENTS_CUDA = 2**28


def fused_loss_applies(config, labels):
    """Whether a model with this config computes its loss here: `config.fused_linear_cross_entropy`, labels
    given, gradients on (training: without a backward pass the gradients computed here would be wasted, and
    evaluation wants logits)."""
    return labels is not None and config.fused_linear_cross_entropy and torch.is_grad_enabled()


@torch.compiler.disable  # eager inside a compiled model: a graph break, the chunk kernel compiled on its own
def linear_cross_entropy(hidden_states, weight, labels, *, bias=None, num_items_in_batch=None, ignore_index=-100):
    """token_cross_entropy(linear(hidden_states, weight, bias), labels, num_items_in_batch), without the logits.

    hidden_states (..., C), weight (V, C), bias (V,) or None, labels (...) aligned with the hidden states (already
    shifted for a causal LM), `ignore_index` skipped; the mean over the labelled tokens, or their sum /
    `num_items_in_batch`.
    """
    check_one_label_per_row(labels, hidden_states)
    hidden_rows, labels = hidden_states.reshape(-1, hidden_states.shape[-1]), labels.reshape(-1)  # (N, C), (N,)
    labels = labels.to(hidden_rows.device)
    check_labels(labels, weight.shape[0], ignore_index)
    divisor = (labels != ignore_index).sum() if num_items_in_batch is None else num_items_in_batch
    divisor = torch.as_tensor(divisor, device=hidden_rows.device, dtype=torch.float32)
    return _LinearCrossEntropy.apply(hidden_rows, weight, bias, labels, divisor, ignore_index)


class _LinearCrossEntropy(torch.autograd.Function):
    """The loss of (N, C) hidden states through a (V, C) weight and a (V,) bias or None, summed / divisor;
    gradients computed in the forward pass."""

    @staticmethod
    def forward(ctx, hidden_rows, weight, bias, labels, divisor, ignore_index):
        dtype = compute_dtype(hidden_rows)
        need_hidden_grad, need_weight_grad, need_bias_grad = ctx.needs_input_grad[:3]
        vocab_size = weight.shape[0]
        # Cast once, not per chunk (autocast would, per product).
        head, head_bias = weight.to(dtype), None if bias is None else bias.to(dtype)
        if padding := vocabulary_padding(vocab_size, head.device):
            # Zero rows, masked out of the softmax: their logits get no probability, their gradient is cut off.
            head = torch.nn.functional.pad(head, (0, 0, 0, padding))  # (V', C)
            head_bias = None if bias is None else torch.nn.functional.pad(head_bias, (0, padding))  # (V',)
        grad_hidden = torch.empty_like(hidden_rows) if need_hidden_grad else None  # (N, C)
        grad_weight = grad_bias = None  # (V', C) and (V',) in fp32, summed over the chunks
        total = torch.zeros((), device=hidden_rows.device, dtype=torch.float32)
        budget = _CHUNK_ELEMENTS_CUDA if hidden_rows.is_cuda else _CHUNK_ELEMENTS
        chunks = max(1, -(-hidden_rows.shape[0] * head.shape[0] // budget))  # ceil; 1 for an empty batch
        rows_per_chunk = max(1, -(-hidden_rows.shape[0] // chunks))
        loss_and_gradient = _compiled_loss_and_gradient if hidden_rows.is_cuda else _loss_and_gradient_in_cache
        for start in range(0, hidden_rows.shape[0], rows_per_chunk):
            chunk = slice(start, start + rows_per_chunk)
            rows = hidden_rows[chunk].to(dtype)  # (n, C)
            # The logits go straight in, not kept here: the CPU's function writes the gradient over them, the
            # compiled one (and its eager fallback) frees them once read.
            loss, grad_logits = loss_and_gradient(linear(rows, head, head_bias), labels[chunk], vocab_size,
                                                  ignore_index)  # (), (n, V') in the compute dtype
            total += loss
            if need_hidden_grad:
                grad_hidden[chunk] = linear(grad_logits, head.t())  # (n, V') -> (n, C)
            if need_weight_grad:
                chunk_grad = weight_gradient(grad_logits, rows)  # (n, V')ᵀ x (n, C) -> (V', C)
                grad_weight = chunk_grad.float() if grad_weight is None else grad_weight.add_(chunk_grad)
            if need_bias_grad:
                chunk_grad = grad_logits.sum(0, dtype=torch.float32)  # (V',)
                grad_bias = chunk_grad if grad_bias is None else grad_bias.add_(chunk_grad)
        grad_weight = None if grad_weight is None else grad_weight[:vocab_size].to(weight.dtype)  # (V, C)
        grad_bias = None if grad_bias is None else grad_bias[:vocab_size].to(bias.dtype)  # (V,)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias, divisor)
        return total / divisor  # NaN with nothing labelled (0 / 0), as transformers' loss

    @staticmethod
    def backward(ctx, grad_loss):
        *gradients, divisor = ctx.saved_tensors  # of the hidden states, the weight, the bias (None if not needed)
        # Nothing labelled: zero gradients, as transformers' loss gives (not 0 x 1/0 = NaN).
        scale = grad_loss.float() * torch.where(divisor > 0, 1 / divisor, 0.0)  # ()
        gradients = [None if grad is None else (grad * scale).to(grad.dtype) for grad in gradients]
        return *gradients, None, None, None


def _loss_and_gradient(logits, labels, vocab_size, ignore_index):
    """Summed cross-entropy of (n, V') logits (columns from `vocab_size` on are padding, overwritten) and its
    gradient softmax(x) - onehot(y), zero on ignored rows, in the logits' dtype.

    transformers' numbers: an fp32 log-softmax whatever the logits' dtype, and the NLL of the labels.
    """
    logits[:, vocab_size:] = float("-inf")  # padding: no probability, no gradient
    kept = labels != ignore_index  # (n,)
    safe_labels = torch.where(kept, labels, 0).unsqueeze(1)  # (n, 1)
    dtype = logits.dtype
    log_probabilities = torch.log_softmax(logits, dim=-1, dtype=torch.float32)  # (n, V')
    # Eager fallback of the compiled kernel: the caller kept no reference, so the memory is free for the next
    # chunk's product (from `_loss_and_gradient_in_cache` only a view goes, the gradient is written over it).
    del logits
    loss = -(log_probabilities.gather(1, safe_labels).squeeze(1) * kept).sum()
    gradient = log_probabilities.exp_()  # (n, V'), softmax(x), in place
    gradient.scatter_add_(1, safe_labels, -kept.unsqueeze(1).to(gradient.dtype))  # - onehot(y)
    if torch.compiler.is_compiling() or gradient.is_cuda:  # compiled: fused into the kernels above
        gradient.masked_fill_(~kept.unsqueeze(1), 0.0)
    else:  # eager: a few ignored rows, not a pass over the whole chunk
        gradient.index_fill_(0, (~kept).nonzero().squeeze(1), 0.0)
    return loss, gradient.to(dtype)


_compiled_loss_and_gradient = CompiledOnce(_loss_and_gradient)


def _loss_and_gradient_in_cache(logits, labels, vocab_size, ignore_index):
    """`_loss_and_gradient` for the CPU: a few rows at a time (`losses.row_chunks`), each gradient written over its
    logits. A chunk of this file's products is far bigger than the CPU's caches, and the loss's passes over it
    would each go to memory: GPT's CPU step with GPT-2's vocabulary went from 1,745 to 2,256 tokens/s in bf16."""
    total = torch.zeros((), dtype=torch.float32)
    for rows in row_chunks(logits):
        loss, logits[rows] = _loss_and_gradient(logits[rows], labels[rows], vocab_size, ignore_index)
        total += loss
    return total, logits
