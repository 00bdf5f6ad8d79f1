"""The lecture's building blocks, each checked against its textbook definition."""
import contextlib
import math

import pytest
import torch
from transformers import DataCollatorForLanguageModeling

from hf_transformer101 import GPT101Config, GPT101ForCausalLM
from hf_transformer101.modeling.blocks import (
    Block,
    MultiHeadAttention,
    build_attention_mask,
    cached_lengths,
    check_length,
    eager_attention,
    positions_after,
    sinusoidal_table,
)
from hf_transformer101.sampling import sample_text
from hf_transformer101.tokenization import train_char_tokenizer, train_wordpiece_tokenizer


class Config:
    _attn_implementation = "eager"


def test_attention_is_softmax_of_scaled_dot_products_times_values():
    torch.manual_seed(0)
    query, key, value = torch.randn(1, 1, 4, 8), torch.randn(1, 1, 6, 8), torch.randn(1, 1, 6, 8)
    module = torch.nn.Module()
    module.is_causal = False
    output, weights = eager_attention(module, query, key, value, None, scaling=1 / math.sqrt(8))
    expected_weights = torch.softmax(query @ key.transpose(-1, -2) / math.sqrt(8), dim=-1)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(output, (expected_weights @ value).transpose(1, 2))
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 1, 4))  # each query distributes one unit of attention


def compare_with_written_out_attention(is_causal, inputs, mask, reference, precision):
    """`eager_attention` against `reference(query, key, value) -> (weights, output)`: the same attention weights,
    output and input gradients, to fp32 rounding or about one bf16 rounding, and all finite. Returns our weights."""
    module = torch.nn.Module()
    module.is_causal, module.training = is_causal, False
    results = []
    for function in ("ours", "reference"):
        with torch.autocast("cpu", enabled=precision == "bf16"):
            if function == "ours":
                output, weights = eager_attention(module, *inputs, mask, scaling=8**-0.5)
            else:
                weights, output = reference(*inputs)
        results.append((weights, output, *torch.autograd.grad(output.float().square().sum(), inputs)))
    for ours, expected in zip(*results):
        assert ours.float().isfinite().all()
        tolerance = 0.02 * expected.abs().max().item() if precision == "bf16" else 1e-6
        torch.testing.assert_close(ours.float(), expected.float(), rtol=0, atol=tolerance)
    return results[0][0]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("lengths", [(6, 6), (3, 7)], ids=["no-cache", "cache-in-front"])
def test_causal_attention_without_a_mask_blocks_the_future(lengths, precision):
    """With the causal flag and no mask, the mask and the scaling go into one batched product (`baddbmm`): the same
    weights as softmax of the scaled scores with the future set to the lowest number, query i being token S - T + i;
    the same gradients."""
    query_length, key_length = lengths
    torch.manual_seed(0)
    inputs = [torch.randn(2, 3, length, 8, requires_grad=True) for length in (query_length, key_length, key_length)]

    def reference(query, key, value):
        scores = (query @ key.transpose(-1, -2)) * 8**-0.5
        future = torch.ones(query_length, key_length, dtype=torch.bool).triu(key_length - query_length + 1)
        weights = torch.softmax(scores.masked_fill(future, torch.finfo(scores.dtype).min), dim=-1)
        return weights, (weights @ value).transpose(1, 2)

    weights = compare_with_written_out_attention(True, inputs, None, reference, precision)
    assert weights[..., 0, key_length - query_length + 1:].abs().max() == 0  # the first query sees no later key


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "padding-mask"])
def test_bidirectional_attention_with_and_without_a_mask_is_the_written_out_formula(masked, precision):
    """Mask and scaling inside the batched product (`baddbmm`) give softmax(q k^T * scaling + mask) v and its
    gradients; a row with every key masked stays finite in bf16 (the fp32 mask is capped at bf16's lowest)."""
    torch.manual_seed(0)
    inputs = [torch.randn(2, 3, 5, 8, requires_grad=True) for _ in range(3)]  # query, key, value (B, H, T, D)
    mask = None
    if masked:  # (B, 1, T, S): the second sequence's last two keys are padding, and its first query sees nothing
        mask = torch.zeros(2, 1, 5, 5)
        mask[1, :, :, 3:] = torch.finfo(torch.float32).min
        mask[1, :, 0, :] = torch.finfo(torch.float32).min

    def reference(query, key, value):
        scores = ((query @ key.transpose(-1, -2)) * 8**-0.5).float()
        weights = torch.softmax(scores if mask is None else scores + mask, dim=-1)
        return weights, (weights.to(value.dtype) @ value).transpose(1, 2)

    compare_with_written_out_attention(False, inputs, mask, reference, precision)


def test_multi_head_attention_runs_heads_independently_and_concatenates_them():
    torch.manual_seed(0)
    attention = MultiHeadAttention(Config(), hidden_size=8, num_heads=2, is_causal=False)
    x = torch.randn(1, 5, 8)
    output, weights = attention(x, output_attentions=True)
    q, k, v = attention.qkv_proj(x).split(8, dim=-1)
    heads = []
    for h in range(2):
        part = slice(4 * h, 4 * h + 4)
        w = torch.softmax(q[..., part] @ k[..., part].transpose(-1, -2) / 2.0, dim=-1)
        torch.testing.assert_close(weights[:, h], w)
        heads.append(w @ v[..., part])
    torch.testing.assert_close(output, attention.out_proj(torch.cat(heads, dim=-1)))


def test_causal_mask_hides_the_future_and_padding():
    mask = build_attention_mask(torch.tensor([[0, 1, 1, 1]]), 4, 4, is_causal=True, dtype=torch.float32)
    allowed = mask[0, 0] == 0
    assert allowed.tolist() == [[False, False, False, False], [False, True, False, False],
                                [False, True, True, False], [False, True, True, True]]
    assert build_attention_mask(torch.ones(1, 4), 4, 4, is_causal=True, dtype=torch.float32) is None


def test_masks_for_a_static_cache_and_ready_made_masks():
    """A static cache's keys: 2 cached tokens, 2 new ones, 2 empty slots, which no query may see."""
    allowed = build_attention_mask(None, 2, 6, past_length=2, is_causal=True, dtype=torch.float32)[0, 0] == 0
    assert allowed.tolist() == [[True, True, True, False, False, False], [True, True, True, True, False, False]]
    padded = build_attention_mask(torch.tensor([[0, 1, 1, 1]]), 2, 6, past_length=2, is_causal=True,
                                  dtype=torch.float32)[0, 0] == 0
    assert padded.tolist() == [[False, True, True, False, False, False], [False, True, True, True, False, False]]
    ready = torch.tensor([[True, False], [True, True]])[None, None]  # (1, 1, T, S), what generate passes
    mask = build_attention_mask(ready, 2, 2, is_causal=True, dtype=torch.bfloat16)
    assert mask.dtype == torch.bfloat16 and torch.equal(mask == 0, ready)
    with pytest.raises(ValueError, match="4D attention_mask"):
        build_attention_mask(ready, 2, 3, is_causal=True, dtype=torch.float32)
    with pytest.raises(ValueError, match="covers 3 tokens, but there are 2 cached and 2 new"):
        build_attention_mask(torch.ones(1, 3), 2, 4, is_causal=True, dtype=torch.float32)


def test_a_mask_without_a_padding_mask_is_built_where_the_hidden_states_are():
    """A causal mask with no padding mask to take the device from (a chunk after cached tokens, a static cache's
    empty slots) is built on the `device` given — on a GPU the hidden states' — not on the CPU."""
    meta = torch.device("meta")  # (any device other than the CPU shows it)
    assert build_attention_mask(None, 2, 5, is_causal=True, dtype=torch.float32, device=meta).device == meta
    past_on_device = torch.tensor(3, device=meta)
    assert build_attention_mask(None, 2, 6, past_length=past_on_device, is_causal=True, dtype=torch.float32,
                                device=meta).device == meta


def test_compiled_code_keeps_a_static_caches_length_on_the_device(monkeypatch):
    """Compiled with a static cache (what generate does by itself on a GPU), the past length stays a 0-d tensor:
    reading it is a graph break that torch <= 2.9 refuses under fullgraph (tests/test_hf_contract.py's compiled
    static-cache test failed there, on torch 2.9.1, before). The masks and positions built from it are the ones
    built from the number."""
    from transformers import StaticCache

    config = GPT101Config(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2)
    cache = StaticCache(config=config, max_cache_len=6)
    cache.update(torch.zeros(1, 2, 2, 4), torch.zeros(1, 2, 2, 4), 0)  # 2 tokens cached
    assert cached_lengths(cache, 2) == (2, 6)  # eager: numbers
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    past_length, key_length = cached_lengths(cache, 2)
    assert isinstance(past_length, torch.Tensor) and int(past_length) == 2 and key_length == 6
    assert torch.equal(positions_after(past_length, 2, None), positions_after(2, 2, None))  # [[2, 3]]
    for padding in (None, torch.tensor([[0, 1, 1, 1]])):
        on_device = build_attention_mask(padding, 2, 6, past_length=past_length, is_causal=True, dtype=torch.float32)
        known = build_attention_mask(padding, 2, 6, past_length=2, is_causal=True, dtype=torch.float32)
        assert torch.equal(on_device, known)
    check_length(3, 4, past_length)  # 5 positions of 4, but a value on the device cannot be checked: no error
    with pytest.raises(ValueError, match="5 positions \\(including 2 cached\\)"):
        check_length(3, 4, 2)


def test_cross_attention_reads_keys_and_values_from_the_other_sequence():
    torch.manual_seed(0)
    cross = MultiHeadAttention(Config(), hidden_size=8, num_heads=2, is_causal=False, is_cross_attention=True)
    decoder_states, encoder_states = torch.randn(1, 3, 8), torch.randn(1, 7, 8)
    output, weights = cross(decoder_states, key_value_states=encoder_states, output_attentions=True)
    assert output.shape == (1, 3, 8) and weights.shape == (1, 2, 3, 7)  # 3 target queries over 7 source keys
    changed, _ = cross(decoder_states, key_value_states=encoder_states + 1)
    assert not torch.allclose(output, changed)


def test_sdpa_is_written_out_for_short_bf16_training_on_the_cpu():
    """CPU training in bf16 with <= 128 keys runs `eager_attention` (torch's CPU flash backward is 1.7-5x
    slower there); everywhere else SDPA. Which kernel ran is read off the profiler."""

    class SdpaConfig:
        _attn_implementation = "sdpa"

    def kernels(length, dtype, training=True, causal=True):
        module = MultiHeadAttention(SdpaConfig(), 64, 4, is_causal=causal)
        with (torch.profiler.profile() as profile, torch.autocast("cpu", enabled=dtype != "fp32"),
              torch.set_grad_enabled(training)):
            module(torch.randn(2, length, 64))
        names = {event.key for event in profile.key_averages()}
        return "sdpa" if "aten::scaled_dot_product_attention" in names else "written out"

    assert kernels(256, "bf16") == "written out"  # causal, no mask to add: up to 256 keys
    assert kernels(257, "bf16") == "sdpa"
    assert kernels(128, "bf16", causal=False) == "written out"  # otherwise up to 128
    assert kernels(129, "bf16", causal=False) == "sdpa"
    assert kernels(32, "fp32") == "sdpa"
    assert kernels(32, "bf16", training=False) == "sdpa"  # inference
    with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.FLASH_ATTENTION]):
        assert kernels(32, "bf16") == "sdpa"  # the caller chose a kernel

    # The same attention either way, to bf16 rounding: output and gradients, padding mask and all.
    torch.manual_seed(0)
    module = MultiHeadAttention(SdpaConfig(), 64, 4, is_causal=False)
    hidden = torch.randn(2, 48, 64)
    mask = build_attention_mask(torch.arange(48) < torch.tensor([[48], [30]]), 48, 48, is_causal=False,
                                dtype=torch.float32)
    results = []
    flash_only = torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.FLASH_ATTENTION])
    for kernel_choice in (contextlib.nullcontext(), flash_only):  # written out, then SDPA's flash kernel
        inputs = hidden.clone().requires_grad_()
        with kernel_choice, torch.autocast("cpu"):
            output, _ = module(inputs, mask)
        output.float().square().sum().backward()
        results.append((output.float(), inputs.grad))
    for written_out, flash in zip(*results):
        torch.testing.assert_close(written_out, flash, rtol=0.02, atol=0.02 * flash.abs().max().item())


@pytest.mark.parametrize("pre_norm", [True, False])
def test_block_is_communication_then_computation_with_residuals(pre_norm):
    torch.manual_seed(0)
    block = Block(Config(), hidden_size=8, num_heads=2, intermediate_size=32, activation="gelu",
                  pre_norm=pre_norm, is_causal=True).eval()
    x = torch.randn(2, 5, 8)
    output, _, _ = block(x)
    if pre_norm:  # GPT-2: x + attn(ln(x)), then + mlp(ln(.))
        h = x + block.self_attn(block.self_attn_norm(x))[0]
        expected = h + block.mlp(block.mlp_norm(h))
    else:  # the paper / BERT: ln(x + attn(x)), then ln(. + mlp(.))
        h = block.self_attn_norm(x + block.self_attn(x)[0])
        expected = block.mlp_norm(h + block.mlp(h))
    torch.testing.assert_close(output, expected)


def test_sinusoidal_table_is_the_papers_formula_with_sines_then_cosines():
    table = sinusoidal_table(50, 16)
    for pos in (0, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert table[pos, i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 8 + i].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sampling_continues_past_the_context_window_by_cropping():
    tokenizer = train_char_tokenizer(["abcdefgh "])
    config = GPT101Config(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          max_position_embeddings=8, bos_token_id=tokenizer.eos_token_id,
                          eos_token_id=tokenizer.eos_token_id)
    model = GPT101ForCausalLM(config)
    text = sample_text(model, tokenizer, "abc", max_new_tokens=30, seed=0)  # 33 tokens through an 8-token window
    # An untrained model also samples its special tokens, which decoding drops.
    assert text.startswith("abc") and 20 < len(text) <= 33
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model.generate(tokenizer("abc", return_tensors="pt").input_ids, max_new_tokens=30)


def test_bert_masking_objective_masks_15_percent_and_scores_only_those():
    tokenizer = train_wordpiece_tokenizer(["the cat sat on the mat"] * 20, vocab_size=40)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=0.15)
    torch.manual_seed(0)
    batch = collator([tokenizer("the cat sat on the mat " * 40, truncation=True, max_length=256)] * 8)
    scored = batch["labels"] != -100
    assert 0.1 < scored.float().mean() < 0.2
    original = batch["labels"][scored]
    replaced_by_mask = (batch["input_ids"][scored] == tokenizer.mask_token_id).float().mean()
    assert 0.7 < replaced_by_mask < 0.9  # BERT's 80% [MASK] / 10% random / 10% unchanged
    assert torch.all(original != tokenizer.mask_token_id)
