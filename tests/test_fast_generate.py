"""The static-cache decoder gives exactly `generate`'s tokens, greedy or sampled, reuses its cache, and refuses bad
input."""
import pytest
import torch

from hf_transformer101 import GPT101Config, GPT101ForCausalLM
from hf_transformer101.fast_generate import GreedyDecoder, StaticCacheDecoder, greedy_generate


def tiny_model(attn="sdpa"):
    torch.manual_seed(0)
    # No EOS: `generate` would stop at (or, with min_new_tokens, forbid) it, the greedy loop does not.
    config = GPT101Config(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          max_position_embeddings=40, bos_token_id=None, eos_token_id=None,
                          attn_implementation=attn)
    return GPT101ForCausalLM(config).eval()


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("batch", [1, 3])
def test_same_tokens_as_generate(attn, batch):
    model = tiny_model(attn)
    prompt = torch.randint(0, 97, (batch, 7), generator=torch.Generator().manual_seed(batch))
    expected = model.generate(prompt, do_sample=False, max_new_tokens=20, min_new_tokens=20)
    assert torch.equal(greedy_generate(model, prompt, 20), expected)


@pytest.mark.parametrize("settings", [dict(), dict(temperature=0.7), dict(top_k=5), dict(top_p=0.8),
                                      dict(temperature=1.3, top_k=20, top_p=0.9)], ids=str)
def test_sampled_tokens_equal_generates_from_the_same_seed(settings):
    model = tiny_model()
    decoder = StaticCacheDecoder(model, batch_size=3)
    prompt = torch.randint(0, 97, (3, 5), generator=torch.Generator().manual_seed(2))
    torch.manual_seed(7)
    expected = model.generate(prompt, do_sample=True, max_new_tokens=30, min_new_tokens=30,
                              **{"top_k": None} | settings)  # (generate's default would be top_k=50)
    torch.manual_seed(7)
    assert torch.equal(decoder.generate(prompt, 30, do_sample=True, **settings), expected)
    draws = [decoder.generate(prompt, 30, do_sample=True, generator=torch.Generator().manual_seed(seed), **settings)
             for seed in (1, 1, 2)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_a_top_k_of_one_is_greedy_and_settings_without_sampling_are_refused():
    model = tiny_model()
    decoder = GreedyDecoder(model, batch_size=2)  # the former name still works
    prompt = torch.randint(0, 97, (2, 4), generator=torch.Generator().manual_seed(3))
    assert torch.equal(decoder.generate(prompt, 12, do_sample=True, top_k=1), decoder.generate(prompt, 12))
    with pytest.raises(ValueError, match="do_sample=True"):
        decoder.generate(prompt, 12, temperature=0.5)
    with pytest.raises(ValueError, match="temperature"):
        decoder.generate(prompt, 12, do_sample=True, temperature=0.0)
    with pytest.raises(ValueError, match="top_p"):
        decoder.generate(prompt, 12, do_sample=True, top_p=1.5)


def test_decoder_reuses_its_cache_across_calls():
    model = tiny_model()
    decoder = GreedyDecoder(model, batch_size=2)  # max_length defaults to the whole context
    generator = torch.Generator().manual_seed(0)
    for prompt_length, new_tokens in [(10, 25), (3, 5)]:  # the second call must not see the first one's slots
        prompt = torch.randint(0, 97, (2, prompt_length), generator=generator)
        expected = model.generate(prompt, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
        assert torch.equal(decoder.generate(prompt, new_tokens), expected)


def test_compiled_decoder_on_cpu_gives_the_same_tokens():
    """The CPU compile settings (frozen weights, C++ wrapper), compiled once and replayed for a second prompt."""
    model = tiny_model()
    decoder = StaticCacheDecoder(model, batch_size=2, max_length=30, compile=True)
    generator = torch.Generator().manual_seed(1)
    for prompt_length, new_tokens in [(6, 20), (4, 9)]:
        prompt = torch.randint(0, 97, (2, prompt_length), generator=generator)
        expected = model.generate(prompt, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
        assert torch.equal(decoder.generate(prompt, new_tokens), expected)
    torch.manual_seed(5)  # and sampling through the same compiled step
    expected = model.generate(prompt, do_sample=True, top_k=10, temperature=0.8, max_new_tokens=9, min_new_tokens=9)
    torch.manual_seed(5)
    assert torch.equal(decoder.generate(prompt, 9, do_sample=True, top_k=10, temperature=0.8), expected)


def test_bad_inputs_are_refused_with_the_reason():
    model = tiny_model()
    decoder = GreedyDecoder(model, batch_size=1, max_length=12)
    with pytest.raises(ValueError, match=r"shape \(1, T0\)"):
        decoder.generate(torch.zeros(2, 4, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_length=12"):
        decoder.generate(torch.zeros(1, 10, dtype=torch.long), 3)
    with pytest.raises(ValueError, match=r"input_ids must lie in \[0, 97\)"):
        decoder.generate(torch.tensor([[3, 97]]), 3)
    with pytest.raises(ValueError, match="max_position_embeddings=40"):
        GreedyDecoder(model, batch_size=1, max_length=41)
    with pytest.raises(ValueError, match="eval mode"):
        decoder.model.train()
        decoder.generate(torch.zeros(1, 4, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="GPT101ForCausalLM"):
        GreedyDecoder(model.model, batch_size=1)
