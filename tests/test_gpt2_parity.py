"""GPT101 equals transformers' GPT-2 on the same weights: logits, loss, generation, and a lossless round trip."""
import pytest
import torch
from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, GPT2Model

from hf_transformer101 import GPT101ForCausalLM, GPT101ForSequenceClassification, GPT101Model, convert

VOCAB = 101


def reference(model_class=GPT2LMHeadModel, **overrides):
    torch.manual_seed(0)
    config = GPT2Config(**(dict(vocab_size=VOCAB, n_positions=64, n_embd=48, n_layer=3, n_head=4, bos_token_id=0,
                                eos_token_id=0, pad_token_id=1) | overrides))
    return model_class(config).eval()


def padded_batch():
    ids = torch.randint(2, VOCAB, (3, 14), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, :5] = 0  # left padding
    mask[2, 10:] = 0  # right padding
    return ids.masked_fill(mask == 0, 1), mask


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_logits_and_loss_equal_gpt2(attn):
    theirs = reference()
    theirs.set_attn_implementation(attn)
    ours = convert.from_hf(theirs)
    assert type(ours) is GPT101ForCausalLM and ours.config._attn_implementation == attn
    ids, mask = padded_batch()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    labels = ids.masked_fill(mask == 0, -100)
    labels[0, 5] = -100  # predicted from a padding position, whose (unused) logits the two masks define differently
    expected = theirs(ids, attention_mask=mask, position_ids=positions, labels=labels)
    actual = ours(ids, attention_mask=mask, position_ids=positions, labels=labels)
    real = mask.bool()
    torch.testing.assert_close(actual.logits[real], expected.logits[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)
    unpadded = ids[1:2]
    torch.testing.assert_close(ours(unpadded).logits, theirs(unpadded).logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=4, num_return_sequences=2)])
def test_generate_is_token_identical(settings):
    theirs = reference()
    ours = convert.from_hf(theirs)
    ids, mask = padded_batch()
    ids, mask = ids[:2, :10], mask[:2, :10]
    kwargs = dict(attention_mask=mask, max_new_tokens=12, do_sample=False, pad_token_id=1, **settings)
    assert torch.equal(ours.generate(ids, **kwargs), theirs.generate(ids, **kwargs))


@pytest.mark.parametrize("model_class", [GPT2LMHeadModel, GPT2ForSequenceClassification])
def test_token_type_ids_add_their_token_embeddings_as_in_gpt2(model_class):
    """GPT-2 adds wte(token_type_ids) to the embeddings; GPT101 once ignored them, silently (a tokenizer that
    returns them, e.g. for text pairs, then got other logits than GPT-2's)."""
    theirs = reference(model_class)
    ours = convert.from_hf(theirs)
    ids, _ = padded_batch()
    types = (torch.arange(ids.shape[1]) >= 6).long().expand_as(ids)  # segment 0, then segment 1
    expected, actual = theirs(ids, token_type_ids=types).logits, ours(ids, token_type_ids=types).logits
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(actual, ours(ids).logits)
    if model_class is GPT2LMHeadModel:
        kwargs = dict(token_type_ids=types, max_new_tokens=6, do_sample=False, pad_token_id=1)
        assert torch.equal(ours.generate(ids, **kwargs), theirs.generate(ids, **kwargs))
    with pytest.raises(ValueError, match="token_type_ids must lie in"):
        ours(ids, token_type_ids=types + VOCAB)


def test_body_and_classifier_convert_too():
    body = reference(GPT2Model)
    ours = convert.from_hf(body)
    assert type(ours) is GPT101Model
    ids, mask = padded_batch()
    torch.testing.assert_close(ours(ids[1:]).last_hidden_state, body(ids[1:]).last_hidden_state, atol=1e-5, rtol=0)
    classifier = reference(GPT2ForSequenceClassification, num_labels=3)
    ours = convert.from_hf(classifier)
    assert type(ours) is GPT101ForSequenceClassification
    labels = torch.tensor([0, 2, 1])
    expected, actual = classifier(ids, attention_mask=mask, labels=labels), ours(ids, attention_mask=mask, labels=labels)
    # Left-padded row 0 differs only through position ids, which both models derive the same way.
    torch.testing.assert_close(actual.logits, expected.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)


@pytest.mark.parametrize("model_class", [GPT2Model, GPT2LMHeadModel, GPT2ForSequenceClassification])
def test_round_trip_gives_identical_state_dicts(model_class):
    original = reference(model_class)
    back = convert.to_hf(convert.from_hf(original))
    assert type(back) is model_class
    before, after = original.state_dict(), back.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key


def test_unsupported_models_are_named():
    with pytest.raises(ValueError, match="cannot convert Linear"):
        convert.from_hf(torch.nn.Linear(2, 2))
