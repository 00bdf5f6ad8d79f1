"""Seq2Seq101: Marian parity (logits, loss, generate, round trip), generation with and without cache, padding,
causality, cross-attention, SDPA == eager, checkpointing, training, save/load, remote code, `translate`, errors."""
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSeq2SeqLM,
    EncoderDecoderCache,
    MarianConfig,
    MarianModel,
    MarianMTModel,
    PreTrainedTokenizerFast,
)

from hf_transformer101 import (
    Seq2Seq101Config,
    Seq2Seq101ForConditionalGeneration,
    Seq2Seq101Model,
    convert,
    translate,
)
from hf_transformer101.modeling.blocks import CACHE_FIELD
from hf_transformer101.modeling.modeling_seq2seq101 import shift_tokens_right
from hf_transformer101.training import enable_activation_checkpointing
from remote_code import run_without_package

VOCAB = 61
PAD, EOS = 0, 2
SIZES = dict(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
             decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
             pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=PAD)


def tiny_config(**overrides):
    return Seq2Seq101Config(**(SIZES | overrides))


def tiny_model(**overrides):
    torch.manual_seed(0)
    model = Seq2Seq101ForConditionalGeneration(tiny_config(**overrides)).eval()
    with torch.no_grad():  # non-trivial output bias, as a trained model has
        model.lm_head.bias.normal_(0.0, 0.5)
    return model


def random_ids(batch=2, length=9, seed=1):
    return torch.randint(3, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def padded_source():
    """Three sources of lengths 9, 6, 4, right-padded, each ending in </s> like a tokenizer's output."""
    ids = random_ids(3, 9, seed=1)
    mask = torch.ones_like(ids)
    for row, length in enumerate([9, 6, 4]):
        ids[row, length - 1] = EOS
        ids[row, length:] = PAD
        mask[row, length:] = 0
    return ids, mask


def padded_labels():
    labels = random_ids(3, 7, seed=2)
    labels[0, 5:] = -100
    labels[2, 3:] = -100
    return labels


def marian_reference(attn="sdpa"):
    """A tiny random MarianMTModel whose activation (relu) and embedding scaling match Seq2Seq101's defaults, with
    the LayerNorms and the logits bias moved off their trivial init so every tensor matters."""
    torch.manual_seed(0)
    config = MarianConfig(**SIZES, activation_function="relu", scale_embedding=True, forced_eos_token_id=None)
    model = MarianMTModel(config)
    model.set_attn_implementation(attn)
    with torch.no_grad():
        model.final_logits_bias.normal_(0.0, 0.5)
        for name, parameter in model.named_parameters():
            if "layer_norm" in name:
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.eval()


# ------------------------------------------------------------------------------------------------ parity with Marian


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_marian_parity_logits_and_loss_on_padded_batches(attn):
    reference = marian_reference(attn)
    ours = convert.from_hf(reference)
    assert type(ours) is Seq2Seq101ForConditionalGeneration
    assert ours.config._attn_implementation == attn
    ids, mask = padded_source()
    labels = padded_labels()
    decoder_mask = (labels != -100).long()
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, labels=labels, decoder_attention_mask=decoder_mask)
        actual = ours(input_ids=ids, attention_mask=mask, labels=labels, decoder_attention_mask=decoder_mask)
    torch.testing.assert_close(actual.logits, expected.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.encoder_last_hidden_state[mask.bool()],
                               expected.encoder_last_hidden_state[mask.bool()], atol=1e-5, rtol=0)


def test_marian_parity_in_bf16_loaded_from_checkpoints(tmp_path):
    """Both loaded with `from_pretrained(dtype=torch.bfloat16)`: the sinusoidal table, rebuilt on load, must be bf16
    like Marian's (an fp32 one made our embeddings fp32 again, which the bf16 layers refused)."""
    reference = marian_reference()
    reference.save_pretrained(tmp_path / "marian")
    convert.from_hf(reference).save_pretrained(tmp_path / "ours")
    reference = MarianMTModel.from_pretrained(tmp_path / "marian", dtype=torch.bfloat16).eval()
    ours = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "ours", dtype=torch.bfloat16).eval()
    ids, mask = padded_source()
    decoder_ids = random_ids(3, 6, seed=3)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
        actual = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    assert actual.dtype == expected.dtype == torch.bfloat16
    # bf16 keeps 8 bits: the two may round a sum differently, by up to an ulp of the largest logits.
    one_ulp = torch.finfo(torch.bfloat16).eps * expected.abs().max().item()
    torch.testing.assert_close(actual.float(), expected.float(), atol=one_ulp, rtol=0)


@pytest.mark.parametrize("settings", [dict(do_sample=False),
                                      dict(num_beams=4, do_sample=False, length_penalty=0.6, no_repeat_ngram_size=2)])
def test_marian_parity_generate_is_token_identical(settings):
    reference = marian_reference()
    with torch.no_grad():  # make </s> likely enough that beams finish at different lengths
        reference.final_logits_bias[0, EOS] = 2.0
    ours = convert.from_hf(reference)
    ids, mask = padded_source()
    expected = reference.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, **settings)
    actual = ours.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, **settings)
    assert torch.equal(actual, expected)
    assert (actual == EOS).any(), "the test should exercise finished sequences"


@pytest.mark.parametrize("reference_class", [MarianMTModel, MarianModel])
def test_marian_round_trip_gives_identical_state_dicts(reference_class):
    reference = marian_reference()
    if reference_class is MarianModel:
        reference = reference.model
    ours = convert.from_hf(reference)
    assert type(ours) is {MarianMTModel: Seq2Seq101ForConditionalGeneration, MarianModel: Seq2Seq101Model}[
        reference_class]
    back = convert.to_hf(ours)
    assert type(back) is reference_class
    for first, second in [(reference.state_dict(), back.state_dict()),
                          (ours.state_dict(), convert.from_hf(back).state_dict())]:
        assert first.keys() == second.keys()
        for key, tensor in first.items():
            assert torch.equal(tensor, second[key]), key


def test_conversion_carries_the_generation_config_and_rejects_what_has_no_equivalent():
    reference = marian_reference()
    reference.generation_config.num_beams = 3
    assert convert.from_hf(reference).generation_config.num_beams == 3
    separate_vocab = MarianMTModel(MarianConfig(**SIZES, share_encoder_decoder_embeddings=False,
                                                decoder_vocab_size=VOCAB + 2))
    with pytest.raises(ValueError, match="share_encoder_decoder_embeddings=False"):
        convert.from_hf(separate_vocab)
    with pytest.raises(ValueError, match="layer_norm_eps"):
        convert.to_hf(Seq2Seq101ForConditionalGeneration(tiny_config(layer_norm_eps=1e-6)))


# ---------------------------------------------------------------------------------------------------- the model


def test_a_marian_config_dict_passes_as_is_but_not_a_variant_seq2seq101_lacks():
    reference = MarianConfig(**SIZES)
    assert Seq2Seq101Config(**reference.to_dict()).encoder_layers == SIZES["encoder_layers"]
    for option in ({"share_encoder_decoder_embeddings": False}, {"decoder_vocab_size": VOCAB + 2},
                   {"encoder_layerdrop": 0.1}):
        with pytest.raises(Exception, match=f"MarianConfig.{next(iter(option))}"):
            Seq2Seq101Config(**(reference.to_dict() | option))


def test_config_names_defaults_and_auto_registration(tmp_path):
    config = Seq2Seq101Config()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (512, 6, 8)
    assert config.activation_function == "relu" and config.scale_embedding and config.is_encoder_decoder
    assert config.decoder_start_token_id == config.pad_token_id
    decoder = tiny_config(decoder_layers=3, decoder_attention_heads=2).get_text_config(decoder=True)
    assert (decoder.num_hidden_layers, decoder.num_attention_heads) == (3, 2)
    tiny_config().save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), Seq2Seq101Config)


def test_shift_tokens_right_and_tied_weights():
    labels = torch.tensor([[5, 6, 7, EOS], [8, EOS, -100, -100]])
    expected = torch.tensor([[PAD, 5, 6, 7], [PAD, 8, EOS, PAD]])
    assert torch.equal(shift_tokens_right(labels, PAD, PAD), expected)
    model = tiny_model()
    assert torch.equal(model.prepare_decoder_input_ids_from_labels(labels), expected)
    shared = model.model.shared
    assert model.lm_head.weight is shared.weight
    assert model.model.encoder.embed_tokens is shared and model.model.decoder.embed_tokens is shared
    assert model.get_encoder() is model.model.encoder and model.lm_head.bias is not None


def test_loss_is_cross_entropy_on_unshifted_labels_ignoring_minus_100():
    model = tiny_model()
    ids, mask = padded_source()
    labels = padded_labels()
    output = model(input_ids=ids, attention_mask=mask, labels=labels)
    explicit = model(input_ids=ids, attention_mask=mask, decoder_input_ids=shift_tokens_right(labels, PAD, PAD))
    torch.testing.assert_close(output.logits, explicit.logits, atol=0, rtol=0)
    keep = labels != -100
    expected = torch.nn.functional.cross_entropy(explicit.logits[keep], labels[keep])
    torch.testing.assert_close(output.loss, expected)
    summed = model(input_ids=ids, attention_mask=mask, labels=labels, num_items_in_batch=2 * int(keep.sum()))
    torch.testing.assert_close(summed.loss, expected / 2)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_encoder_padding_does_not_change_real_tokens_or_the_output(attn):
    model = tiny_model()
    model.set_attn_implementation(attn)
    source, target = random_ids(1, 5, seed=3), random_ids(1, 4, seed=4)
    padded = torch.cat([source, torch.full((1, 3), PAD)], dim=1)
    mask = torch.tensor([[1] * 5 + [0] * 3])
    alone = model(input_ids=source, decoder_input_ids=target)
    with_padding = model(input_ids=padded, attention_mask=mask, decoder_input_ids=target)
    torch.testing.assert_close(with_padding.encoder_last_hidden_state[:, :5], alone.encoder_last_hidden_state,
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(with_padding.logits, alone.logits, atol=1e-5, rtol=0)


def test_decoder_is_causal_and_cross_attention_is_used():
    model = tiny_model(initializer_range=0.1)  # at std 0.02 the source's influence is real but small (~1e-3)
    source, target = random_ids(1, 6, seed=3), random_ids(1, 8, seed=4)
    changed_target = target.clone()
    changed_target[:, 5:] = random_ids(1, 3, seed=5)
    before = model(input_ids=source, decoder_input_ids=target).logits
    after = model(input_ids=source, decoder_input_ids=changed_target).logits
    torch.testing.assert_close(before[:, :5], after[:, :5], atol=1e-6, rtol=0)
    assert not torch.allclose(before[:, 5:], after[:, 5:])
    changed_source = model(input_ids=random_ids(1, 6, seed=6), decoder_input_ids=target).logits
    assert (changed_source - before).abs().max() > 0.05, "the decoder ignores the source"


def test_sdpa_equals_eager_and_eager_returns_every_attention_map():
    model = tiny_model()
    ids, mask = padded_source()
    target = random_ids(3, 5, seed=7)
    sdpa = model(input_ids=ids, attention_mask=mask, decoder_input_ids=target).logits
    model.set_attn_implementation("eager")
    eager = model(input_ids=ids, attention_mask=mask, decoder_input_ids=target, output_attentions=True,
                  output_hidden_states=True)
    torch.testing.assert_close(sdpa, eager.logits, atol=1e-5, rtol=0)
    assert len(eager.encoder_attentions) == 2 and eager.encoder_attentions[0].shape == (3, 4, 9, 9)
    assert eager.decoder_attentions[0].shape == (3, 4, 5, 5) and eager.cross_attentions[0].shape == (3, 4, 5, 9)
    assert torch.all(eager.decoder_attentions[0].triu(1) == 0), "a target token attended to the future"
    assert torch.all(eager.cross_attentions[1][2, :, :, 4:] == 0), "cross-attention looked at source padding"
    assert len(eager.encoder_hidden_states) == len(eager.decoder_hidden_states) == 3


def test_cache_holds_both_attentions_and_equals_no_cache_step_by_step():
    model = tiny_model()
    ids, mask = padded_source()
    target = random_ids(3, 7, seed=8)
    full = model(input_ids=ids, attention_mask=mask, decoder_input_ids=target, use_cache=False)
    assert getattr(full, CACHE_FIELD) is None
    encoder_outputs = model.get_encoder()(input_ids=ids, attention_mask=mask)
    step = model(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=target[:, :3],
                 use_cache=True)
    cache, logits = getattr(step, CACHE_FIELD), [step.logits]
    assert isinstance(cache, EncoderDecoderCache) and cache.get_seq_length() == 3
    assert cache.cross_attention_cache.get_seq_length() == 9
    for t in range(3, 7):
        step = model(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=target[:, t:t + 1],
                     past_key_values=cache if t % 2 else None, cache=None if t % 2 else cache)  # both names work
        cache = getattr(step, CACHE_FIELD)
        logits.append(step.logits)
    torch.testing.assert_close(torch.cat(logits, dim=1), full.logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("settings", [
    dict(do_sample=False),
    dict(do_sample=True, top_k=20, temperature=0.9),
    dict(num_beams=4, do_sample=False, length_penalty=0.6, no_repeat_ngram_size=2, num_return_sequences=2),
])
def test_generate_with_cache_equals_without(settings):
    model = tiny_model()
    ids, mask = padded_source()
    outputs = []
    for use_cache in (True, False):
        torch.manual_seed(3)
        outputs.append(model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, use_cache=use_cache,
                                      **settings))
    assert torch.equal(outputs[0], outputs[1])
    assert outputs[0][:, 0].eq(PAD).all() and outputs[0].shape[1] <= 11


@pytest.mark.parametrize("settings", [dict(do_sample=False), dict(num_beams=3, do_sample=False)])
def test_generate_with_a_static_cache_equals_the_growing_one(settings):
    model = tiny_model()
    ids, mask = padded_source()
    kwargs = dict(input_ids=ids, attention_mask=mask, max_new_tokens=10, **settings)
    assert torch.equal(model.generate(cache_implementation="static", **kwargs), model.generate(**kwargs))


def test_generate_on_a_padded_batch_equals_each_source_alone_and_a_manual_loop():
    model = tiny_model()
    ids, mask = padded_source()
    together = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False)
    for row, length in enumerate([9, 6, 4]):
        alone = model.generate(input_ids=ids[row:row + 1, :length], max_new_tokens=8, do_sample=False)
        assert torch.equal(together[row, :alone.shape[1]], alone[0])
    decoded = torch.full((3, 1), PAD)
    for _ in range(8):  # greedy by hand, without cache, no stopping
        logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoded).logits[:, -1]
        decoded = torch.cat([decoded, logits.argmax(-1, keepdim=True)], dim=1)
    unfinished = ~together[:, 1:].eq(EOS).any(dim=1)
    assert torch.equal(together[unfinished], decoded[unfinished])


def test_gradient_checkpointing_gives_the_same_gradients():
    ids, mask = padded_source()
    labels = padded_labels()
    gradients = []
    for checkpointing in (False, True):
        model = tiny_model(dropout=0.0)
        model.train()
        if checkpointing:
            enable_activation_checkpointing(model)
            assert all(layer.gradient_checkpointing for layer in model.model.decoder.layers)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters()})
    for name, gradient in gradients[0].items():
        torch.testing.assert_close(gradient, gradients[1][name], atol=1e-6, rtol=1e-5, msg=name)


def test_save_and_reload_with_auto_classes_gives_identical_logits(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    ids, mask = padded_source()
    target = random_ids(3, 5, seed=7)
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert type(reloaded) is Seq2Seq101ForConditionalGeneration
    assert reloaded.lm_head.weight is reloaded.model.shared.weight
    # The sinusoidal tables are not saved: equal logits show `_init_weights` recomputed them.
    torch.testing.assert_close(reloaded(input_ids=ids, attention_mask=mask, decoder_input_ids=target).logits,
                               model(input_ids=ids, attention_mask=mask, decoder_input_ids=target).logits,
                               atol=0, rtol=0)
    assert type(AutoModel.from_pretrained(tmp_path)) is Seq2Seq101Model


def test_untied_head_and_resized_vocabulary(tmp_path):
    model = tiny_model(tie_word_embeddings=False)
    assert model.lm_head.weight is not model.model.shared.weight
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    torch.testing.assert_close(reloaded.lm_head.weight, model.lm_head.weight, atol=0, rtol=0)
    tied = tiny_model()
    tied.resize_token_embeddings(VOCAB + 3)
    assert tied.lm_head.weight.shape == (VOCAB + 3, 32) and tied.lm_head.bias.shape == (VOCAB + 3,)
    assert tied.model.decoder.embed_tokens is tied.model.shared and tied.lm_head.weight is tied.model.shared.weight
    ids = torch.tensor([[VOCAB + 2, EOS]])
    assert tied(input_ids=ids, decoder_input_ids=ids).logits.shape == (1, 2, VOCAB + 3)


def test_remote_code_folder_loads_and_generates_without_the_package(tmp_path):
    model = tiny_model()
    Seq2Seq101Config.register_for_auto_class()
    Seq2Seq101ForConditionalGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")
    folder = tmp_path / "seq2seq101"
    model.save_pretrained(folder)
    assert {"blocks.py", "losses.py", "config_checks.py", "configuration_seq2seq101.py", "modeling_seq2seq101.py"} <= {
        path.name for path in folder.iterdir()}
    ids, mask = padded_source()
    result = run_without_package(f"""
        import json, torch
        from transformers import AutoModelForSeq2SeqLM
        model = AutoModelForSeq2SeqLM.from_pretrained(FOLDER, trust_remote_code=True).eval()
        ids, mask = torch.tensor({ids.tolist()}), torch.tensor({mask.tolist()})
        greedy = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False)
        beams = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, num_beams=4)
        print(json.dumps({{"module": type(model).__module__, "greedy": greedy.tolist(), "beams": beams.tolist()}}))
    """, folder, tmp_path)
    assert result["module"].startswith("transformers_modules")
    assert result["greedy"] == model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8,
                                              do_sample=False).tolist()
    assert result["beams"] == model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8,
                                             num_beams=4).tolist()


# ------------------------------------------------------------------------------------------ translate and training

LETTERS = list("abcdefghij")


def letter_tokenizer():
    """Word-level tokenizer over ten letters: <pad> 0, <unk> 1, </s> 2 (appended to every text), letters 3..12."""
    vocab = {token: index for index, token in enumerate(["<pad>", "<unk>", "</s>"] + LETTERS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", EOS)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")


def test_overfits_a_tiny_parallel_batch_to_reverse_and_translate_returns_the_reversals():
    generator = torch.Generator().manual_seed(0)
    sources = [" ".join(LETTERS[i] for i in torch.randint(0, 10, (int(n),), generator=generator))
               for n in torch.randint(3, 7, (12,), generator=generator)]
    targets = [" ".join(reversed(text.split())) for text in sources]
    tokenizer = letter_tokenizer()
    batch = tokenizer(sources, text_target=targets, padding=True, return_tensors="pt")
    labels = batch["labels"].masked_fill(batch["labels"] == PAD, -100)
    torch.manual_seed(0)
    model = Seq2Seq101ForConditionalGeneration(tiny_config(vocab_size=len(tokenizer), dropout=0.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-3)
    model.train()
    losses = []
    for _ in range(80):
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[0] > 2.0 and losses[-1] < 0.1, (losses[0], losses[-1])
    assert translate(model, tokenizer, sources, batch_size=5) == targets  # beam search, 3 batches
    assert translate(model, tokenizer, sources[0], num_beams=1) == targets[0]
    assert model.training, "translate must restore the training mode"


def test_translate_works_for_marian_keeps_order_and_rejects_bad_input():
    tokenizer = letter_tokenizer()
    reference = MarianMTModel(MarianConfig(**(SIZES | {"vocab_size": len(tokenizer)}), forced_eos_token_id=None)).eval()
    texts = ["a b c d e f", "b", "c d", "j i h"]
    together = translate(reference, tokenizer, texts, batch_size=3, max_new_tokens=5)
    assert together == [translate(reference, tokenizer, [text], max_new_tokens=5)[0] for text in texts]
    assert all(isinstance(text, str) for text in together)
    several = translate(reference, tokenizer, texts[:2], max_new_tokens=5, num_return_sequences=2)
    assert len(several) == 2 and all(len(options) == 2 for options in several)
    for bad, message in [([], "empty"), (["a", 3], r"texts\[1\]"), (None, "list of strings")]:
        with pytest.raises(ValueError, match=message):
            translate(reference, tokenizer, bad)
    with pytest.raises(ValueError, match="batch_size"):
        translate(reference, tokenizer, texts, batch_size=0)


# ---------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("field, value, message", [
    ("d_model", 30, "divisible"),
    ("decoder_layers", 0, "positive"),
    ("activation_function", "nope", "activation"),
    ("dropout", 1.5, "dropout"),
    ("pad_token_id", VOCAB, "vocab_size"),
    ("is_encoder_decoder", False, "is_encoder_decoder"),
])
def test_bad_config_is_rejected_with_the_field_name(field, value, message):
    with pytest.raises(Exception, match=message) as error:
        tiny_config(**{field: value})
    assert field in str(error.value)
    # huggingface_hub's strict dataclass wraps the ValueError raised by our validator.
    assert isinstance(error.value, ValueError) or isinstance(error.value.__cause__, ValueError)


@pytest.mark.parametrize("inputs, message", [
    (dict(input_ids=torch.full((1, 65), 3), decoder_input_ids=torch.full((1, 2), 3)), "source.*64"),
    (dict(input_ids=torch.full((1, 3), 3), decoder_input_ids=torch.full((1, 65), 3)), "target.*64"),
    (dict(input_ids=torch.tensor([[3, VOCAB]]), decoder_input_ids=torch.tensor([[3]])), "input_ids.*61"),
    (dict(input_ids=torch.tensor([[3, 4]]), decoder_input_ids=torch.tensor([[3, -1]])), "decoder_input_ids.*-1"),
    (dict(input_ids=torch.tensor([[3, 4]])), "decoder_input_ids"),
])
def test_bad_inputs_raise_value_errors_with_the_numbers(inputs, message):
    with pytest.raises(ValueError, match=message):
        tiny_model()(**inputs)
    with pytest.raises(ValueError, match=message):
        Seq2Seq101Model(tiny_config())(**inputs)


def test_generation_past_the_positions_raises_a_clear_error():
    ids, mask = padded_source()
    with pytest.raises(ValueError, match="max_position_embeddings"):
        tiny_model(eos_token_id=None, max_position_embeddings=16).generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=20, do_sample=False)
