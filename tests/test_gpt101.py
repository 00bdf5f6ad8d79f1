"""GPT101 behaviour: shapes, causality, padding, cache, SDPA == eager, checkpointing, training, save/load, errors."""
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

from hf_transformer101 import GPT101Config, GPT101ForCausalLM, GPT101ForSequenceClassification, GPT101Model
from hf_transformer101.training import enable_activation_checkpointing

VOCAB = 97


def tiny_config(**overrides):
    settings = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    max_position_embeddings=64, bos_token_id=0, eos_token_id=0, pad_token_id=1)
    return GPT101Config(**(settings | overrides))


def tiny_model(**overrides):
    torch.manual_seed(0)
    return GPT101ForCausalLM(tiny_config(**overrides)).eval()


def random_ids(batch=2, length=12, seed=1):
    return torch.randint(2, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_shapes_and_tied_head():
    model = tiny_model()
    output = model(random_ids(3, 10))
    assert output.logits.shape == (3, 10, VOCAB)
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_the_padded_head_gives_the_plain_logits_and_gradients(monkeypatch):
    """On CUDA, for 1024 positions or more, the head (an `OutputLinear`) pads its weight to a multiple of 64 rows
    for the product and cuts the logits back to the vocabulary (cuBLAS's fast kernels); forced here on the CPU,
    through the model and its loss: the same logits, bit for bit, and the same gradients."""
    from hf_transformer101.modeling import linear

    model = tiny_model(hidden_dropout_prob=0.0, embedding_dropout_prob=0.0, attention_probs_dropout_prob=0.0).train()
    ids = random_ids(16, 64)  # 1024 positions
    results = []
    for padding in (None, lambda vocab_size, device: -vocab_size % 64):
        if padding:
            monkeypatch.setattr(linear, "vocabulary_padding", padding)
        model.zero_grad()
        output = model(ids, labels=ids)
        output.loss.backward()
        results.append((output.logits, model.lm_head.weight.grad.clone()))
    (logits, grad), (padded_logits, padded_grad) = results
    assert padded_logits.shape == logits.shape == (16, 64, VOCAB) and padded_logits.is_contiguous()
    torch.testing.assert_close(padded_logits, logits, rtol=0, atol=0)
    # (the padded weight's gradient comes from a product of another shape: another summation order)
    torch.testing.assert_close(padded_grad, grad, rtol=1e-5, atol=1e-7)


def test_causality_future_tokens_do_not_change_the_past():
    model = tiny_model()
    ids = random_ids(1, 12)
    changed = ids.clone()
    changed[:, 7:] = random_ids(1, 5, seed=9)
    before, after = model(ids).logits, model(changed).logits
    torch.testing.assert_close(before[:, :7], after[:, :7], atol=1e-6, rtol=0)
    assert not torch.allclose(before[:, 7:], after[:, 7:])


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_left_padding_leaves_real_tokens_unchanged(attn):
    model = tiny_model()
    model.set_attn_implementation(attn)
    ids = random_ids(1, 8)
    padded = torch.cat([torch.full((1, 3), 1), ids], dim=1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 8, dtype=torch.long)], dim=1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    alone = model(ids).logits
    with_padding = model(padded, attention_mask=mask, position_ids=positions).logits[:, 3:]
    torch.testing.assert_close(alone, with_padding, atol=1e-5, rtol=0)


def test_sdpa_equals_eager_and_eager_returns_attention_weights():
    model = tiny_model()
    ids = random_ids(2, 12)
    mask = torch.ones_like(ids)
    mask[0, :4] = 0
    sdpa = model(ids, attention_mask=mask).logits
    model.set_attn_implementation("eager")
    eager = model(ids, attention_mask=mask, output_attentions=True)
    torch.testing.assert_close(sdpa[1], eager.logits[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(sdpa[0, 4:], eager.logits[0, 4:], atol=1e-5, rtol=0)
    weights = eager.attentions[0]
    assert weights.shape == (2, 4, 12, 12)
    assert torch.all(weights[1].triu(1) == 0), "a token attended to the future"


def test_cache_equals_no_cache_step_by_step():
    model = tiny_model()
    ids = random_ids(2, 10)
    full = model(ids, use_cache=False).logits
    prefix = model(ids[:, :6], use_cache=True)
    cache, steps = prefix.cache, [prefix.logits]
    for t in range(6, 10):
        step = model(ids[:, t:t + 1], cache=cache, use_cache=True)
        cache = step.cache
        steps.append(step.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("settings", [dict(do_sample=False), dict(num_beams=3, do_sample=False),
                                      dict(do_sample=True, top_k=20, top_p=0.9, temperature=0.8)])
def test_generate_with_cache_equals_without(settings):
    model = tiny_model()
    prompt = random_ids(2, 5)
    outputs = []
    for use_cache in (True, False):
        torch.manual_seed(3)
        outputs.append(model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8,
                                      use_cache=use_cache, pad_token_id=1, **settings))
    assert torch.equal(outputs[0], outputs[1])
    assert outputs[0].shape[1] <= 13


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("settings", [dict(do_sample=False), dict(num_beams=3, do_sample=False)])
def test_generate_with_a_static_cache_equals_the_growing_one(attn, settings):
    """`cache_implementation="static"` (preallocated keys and values, transformers' route to a compiled decode):
    the same tokens as the default cache, on a left-padded batch."""
    model = tiny_model()
    model.set_attn_implementation(attn)
    batch = torch.cat([torch.cat([torch.full((1, 3), 1), random_ids(1, 3, seed=4)], dim=1), random_ids(1, 6)])
    kwargs = dict(attention_mask=(batch != 1).long(), max_new_tokens=8, pad_token_id=1, **settings)
    growing = model.generate(batch, **kwargs)
    assert torch.equal(model.generate(batch, cache_implementation="static", **kwargs), growing)


def test_generate_left_padded_batch_equals_single_prompts():
    model = tiny_model()
    short, long = random_ids(1, 3, seed=4), random_ids(1, 6, seed=5)
    batch = torch.cat([torch.cat([torch.full((1, 3), 1), short], dim=1), long])
    mask = (batch != 1).long()
    together = model.generate(batch, attention_mask=mask, max_new_tokens=6, do_sample=False, pad_token_id=1)
    for row, prompt in enumerate([short, long]):
        alone = model.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=1)
        assert torch.equal(together[row, -6:], alone[0, -6:])


def test_gradient_checkpointing_gives_the_same_gradients():
    ids = random_ids(2, 12)
    gradients = []
    for checkpointing in (False, True):
        model = tiny_model(hidden_dropout_prob=0.0, embedding_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        model.train()
        if checkpointing:
            enable_activation_checkpointing(model)
        model(ids, labels=ids).loss.backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters()})
    for name, gradient in gradients[0].items():
        torch.testing.assert_close(gradient, gradients[1][name], atol=1e-6, rtol=1e-5, msg=name)


def test_one_batch_overfits():
    model = tiny_model(hidden_dropout_prob=0.0, embedding_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model.train()
    ids = random_ids(4, 16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss = model(ids, labels=ids).loss
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first > 4.0 and loss.item() < 0.1


def test_labels_minus_100_are_ignored():
    model = tiny_model()
    ids = random_ids(1, 10)
    labels = ids.clone()
    labels[:, 5:] = -100
    partial = model(ids, labels=labels).loss
    logits = model(ids).logits[:, :4]
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), ids[:, 1:5].reshape(-1))
    torch.testing.assert_close(partial, expected)


def test_save_and_reload_with_auto_classes(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    ids = random_ids()
    assert isinstance(AutoConfig.from_pretrained(tmp_path), GPT101Config)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(reloaded) is GPT101ForCausalLM
    torch.testing.assert_close(reloaded(ids).logits, model(ids).logits, atol=0, rtol=0)
    assert type(AutoModel.from_pretrained(tmp_path)) is GPT101Model
    classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    assert type(classifier) is GPT101ForSequenceClassification


def test_sequence_classification_uses_last_real_token():
    torch.manual_seed(0)
    model = GPT101ForSequenceClassification(tiny_config(num_labels=3)).eval()
    ids = random_ids(1, 6)
    padded = torch.cat([ids, torch.full((1, 4), 1)], dim=1)
    alone = model(ids).logits
    right_padded = model(padded, attention_mask=(padded != 1).long()).logits
    torch.testing.assert_close(alone, right_padded, atol=1e-5, rtol=0)
    output = model(ids, labels=torch.tensor([2]))
    assert output.loss > 0 and output.logits.shape == (1, 3)


def test_a_gpt2_config_dict_passes_as_is():
    """GPT-2's names (n_layer, resid_pdrop, layer_norm_epsilon, ...) set our fields: the same config as the
    converter's field-by-field mapping. Dropout given under GPT-2's names was once stored aside, unused."""
    from transformers import GPT2Config

    from hf_transformer101.convert import gpt2

    reference = GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, n_inner=None, resid_pdrop=0.0,
                           embd_pdrop=0.05, attn_pdrop=0.2, layer_norm_epsilon=1e-6, activation_function="relu")
    passed_as_is, converted = GPT101Config(**reference.to_dict()), gpt2.config_to_ours(reference)
    for _, field in gpt2.CONFIG_FIELDS:
        assert getattr(passed_as_is, field) == getattr(converted, field), field
    assert (passed_as_is.hidden_dropout_prob, passed_as_is.intermediate_size) == (0.0, 128)
    for option in ({"scale_attn_by_inverse_layer_idx": True}, {"reorder_and_upcast_attn": True}):
        with pytest.raises(Exception, match=f"GPT2Config.{next(iter(option))}"):  # not kept aside, unused
            GPT101Config(**(reference.to_dict() | option))


@pytest.mark.parametrize("field, value, message", [
    ("hidden_size", 30, "divisible"),
    ("num_hidden_layers", 0, "positive"),
    ("hidden_act", "nope", "activation"),
    ("hidden_dropout_prob", 1.5, "dropout"),
])
def test_bad_config_is_rejected_with_the_field_name(field, value, message):
    with pytest.raises(Exception, match=message) as error:
        tiny_config(**{field: value})
    assert field in str(error.value)


def test_bad_config_json_is_rejected_on_load(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(path.read_text().replace('"num_attention_heads": 4', '"num_attention_heads": 5'))
    with pytest.raises(Exception, match="divisible"):
        AutoConfig.from_pretrained(tmp_path)


@pytest.mark.parametrize("ids, message", [
    (torch.full((1, 65), 3), "max_position_embeddings=64"),
    (torch.tensor([[3, VOCAB]]), "vocab_size|97"),
    (torch.tensor([[3, -1]]), "-1"),
])
def test_bad_inputs_raise_value_errors_with_the_numbers(ids, message):
    with pytest.raises(ValueError, match=message):
        tiny_model()(ids)


@pytest.mark.parametrize("ids, labels, error, message", [
    (torch.tensor([3.0, 4.0]), None, TypeError, "integer token ids"),
    (torch.tensor([3, 4]), None, ValueError, r"\(batch, length\); got shape \(2,\)"),
    (torch.zeros(2, 0, dtype=torch.long), None, ValueError, "no positions"),
    (torch.tensor([[3, 4, 5]]), torch.tensor([[3, 4]]), ValueError, r"labels of shape \(1, 2\) do not match"),
])
def test_malformed_inputs_and_labels_are_refused_with_the_reason(ids, labels, error, message):
    with pytest.raises(error, match=message):
        tiny_model()(ids, labels=labels)


def test_generation_past_the_context_raises_a_clear_error():
    with pytest.raises(ValueError, match="max_position_embeddings"):
        tiny_model().generate(random_ids(1, 60), max_new_tokens=10, do_sample=False, pad_token_id=1)
