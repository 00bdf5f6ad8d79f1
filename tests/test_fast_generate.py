"""The static-cache greedy decoder gives exactly `generate`'s tokens, reuses its cache, and refuses bad input."""
import pytest
import torch

from hf_transformer101 import GPT101Config, GPT101ForCausalLM
from hf_transformer101.fast_generate import GreedyDecoder, greedy_generate


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
    decoder = GreedyDecoder(model, batch_size=2, max_length=30, compile=True)
    generator = torch.Generator().manual_seed(1)
    for prompt_length, new_tokens in [(6, 20), (4, 9)]:
        prompt = torch.randint(0, 97, (2, prompt_length), generator=generator)
        expected = model.generate(prompt, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
        assert torch.equal(decoder.generate(prompt, new_tokens), expected)


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
