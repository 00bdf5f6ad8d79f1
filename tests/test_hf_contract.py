"""The contract every transformers model keeps, checked on all ten of our classes — what transformers' own
common model tests (`ModelTesterMixin`, `GenerationTesterMixin`, not shipped in the wheel) ask of a model, and
what code written for any Hub model relies on: tuples with `return_dict=False`, `inputs_embeds` for `input_ids`,
a row's output independent of its batch, pickling, loading in bf16, `torch.export` with a padding mask, encoder
states refused without cross-attention, every layer's hidden states with gradients, heads resized or added on
load, and `generate`'s assisted, prompt-lookup, resumed and compiled static-cache decoding giving greedy
decoding's tokens.
"""
import io
import pickle

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from hf_transformer101 import (
    BERT101Config, BERT101ForMaskedLM, BERT101ForQuestionAnswering, BERT101ForSequenceClassification,
    BERT101ForTokenClassification, BERT101Model, GPT101Config, GPT101ForCausalLM, GPT101ForSequenceClassification,
    GPT101Model, Seq2Seq101Config, Seq2Seq101ForConditionalGeneration, Seq2Seq101Model,
)

LAYERS = 2


def gpt_config():
    return GPT101Config(vocab_size=100, hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=4,
                        max_position_embeddings=32, bos_token_id=0, eos_token_id=0, pad_token_id=0)


def bert_config():
    return BERT101Config(vocab_size=100, hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=32)


def seq2seq_config():
    return Seq2Seq101Config(vocab_size=100, d_model=32, encoder_layers=LAYERS, decoder_layers=LAYERS,
                            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                            decoder_ffn_dim=64, max_position_embeddings=32, pad_token_id=1, eos_token_id=2,
                            decoder_start_token_id=0)


CLASSES = {GPT101Model: gpt_config, GPT101ForCausalLM: gpt_config, GPT101ForSequenceClassification: gpt_config,
           BERT101Model: bert_config, BERT101ForMaskedLM: bert_config, BERT101ForSequenceClassification: bert_config,
           BERT101ForTokenClassification: bert_config, BERT101ForQuestionAnswering: bert_config,
           Seq2Seq101Model: seq2seq_config, Seq2Seq101ForConditionalGeneration: seq2seq_config}
every_class = pytest.mark.parametrize("model_class", CLASSES, ids=lambda cls: cls.__name__)


def model_and_inputs(model_class):
    torch.manual_seed(0)
    config = CLASSES[model_class]()
    inputs = {"input_ids": torch.randint(3, 100, (2, 7))}  # (B, T); ids 0-2 are special tokens
    if config.is_encoder_decoder:
        inputs["decoder_input_ids"] = torch.randint(3, 100, (2, 5))
    return model_class(config).eval(), inputs


def first_output(model, inputs):
    return model(**inputs, use_cache=False)[0]


@every_class
def test_return_dict_false_gives_the_output_as_a_tuple(model_class):
    model, inputs = model_and_inputs(model_class)
    as_tuple = model(**inputs, use_cache=False, return_dict=False)
    assert isinstance(as_tuple, tuple)
    expected = model(**inputs, use_cache=False).to_tuple()
    assert len(as_tuple) == len(expected)
    assert all(torch.equal(got, want) for got, want in zip(as_tuple, expected))


@every_class
def test_inputs_embeds_give_the_outputs_of_the_ids(model_class):
    model, inputs = model_and_inputs(model_class)
    embed = model.get_input_embeddings()
    as_embeddings = {name.replace("input_ids", "inputs_embeds"): embed(ids) for name, ids in inputs.items()}
    torch.testing.assert_close(first_output(model, as_embeddings), first_output(model, inputs), rtol=0, atol=0)


@every_class
def test_a_row_gives_the_same_output_alone_and_in_a_batch(model_class):
    model, inputs = model_and_inputs(model_class)
    alone = first_output(model, {name: ids[1:] for name, ids in inputs.items()})
    torch.testing.assert_close(first_output(model, inputs)[1:], alone, rtol=1e-5, atol=1e-6)


@every_class
def test_pickled_and_torch_saved_models_compute_the_same(model_class):
    model, inputs = model_and_inputs(model_class)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    for copy in (pickle.loads(pickle.dumps(model)), torch.load(buffer, weights_only=False)):
        assert type(copy) is model_class
        assert torch.equal(first_output(copy, inputs), first_output(model, inputs))


@every_class
def test_loading_in_bf16_gives_the_cast_model_and_a_bf16_checkpoint_loads_as_saved(model_class, tmp_path):
    """`from_pretrained(dtype=torch.bfloat16)` builds the model in bf16 (and casts no buffer afterwards): it must
    compute what the fp32 model cast with `.to(torch.bfloat16)` computes; `dtype="auto"` keeps a bf16 checkpoint's
    dtype."""
    model, inputs = model_and_inputs(model_class)
    model.save_pretrained(tmp_path / "fp32")
    loaded = model_class.from_pretrained(tmp_path / "fp32", dtype=torch.bfloat16).eval()
    floating = [t for t in [*loaded.parameters(), *loaded.buffers()] if t.is_floating_point()]
    assert {t.dtype for t in floating} == {torch.bfloat16}
    cast = model.to(torch.bfloat16)
    assert torch.equal(first_output(loaded, inputs), first_output(cast, inputs))
    cast.save_pretrained(tmp_path / "bf16")
    reloaded = model_class.from_pretrained(tmp_path / "bf16", dtype="auto").eval()
    assert torch.equal(first_output(reloaded, inputs), first_output(cast, inputs))


@every_class
def test_torch_export_with_a_padding_mask_gives_the_eager_outputs(model_class):
    """`torch.export` (the first step of `torch.onnx.export`) traces one graph for any mask: the model must not
    branch on the mask's values (whether a row has padding) while exported, as transformers' models do not."""
    model, inputs = model_and_inputs(model_class)
    inputs["attention_mask"] = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])  # (B, T): the second row padded
    if model.config.is_encoder_decoder:
        inputs["decoder_attention_mask"] = torch.tensor([[1] * 5, [1] * 3 + [0] * 2])
    exported = torch.export.export(model, (), {**inputs, "use_cache": False})
    assert all("mkldnn" not in str(node.target) for node in exported.graph.nodes)  # portable ops only
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(**inputs, use_cache=False)[0], first_output(model, inputs))


@every_class
def test_hidden_states_and_attentions_of_every_layer_keep_their_gradients(model_class):
    model, inputs = model_and_inputs(model_class)
    model.set_attn_implementation("eager")  # the attention weights exist only there
    outputs = model(**inputs, output_hidden_states=True, output_attentions=True, use_cache=False)
    hidden_name = "decoder_hidden_states" if model.config.is_encoder_decoder else "hidden_states"
    attentions_name = "decoder_attentions" if model.config.is_encoder_decoder else "attentions"
    hidden_states, attentions = outputs[hidden_name], outputs[attentions_name]
    assert len(hidden_states) == LAYERS + 1 and len(attentions) == LAYERS  # the embeddings, then each layer
    hidden_states[0].retain_grad()
    attentions[0].retain_grad()
    outputs[0].flatten()[0].backward()
    assert hidden_states[0].grad is not None and attentions[0].grad is not None


@pytest.mark.parametrize("model_class", [cls for cls in CLASSES if not CLASSES[cls]().is_encoder_decoder],
                         ids=lambda cls: cls.__name__)
def test_encoder_states_are_refused_by_the_models_without_cross_attention(model_class):
    """transformers' GPT-2 and BERT raise on `encoder_hidden_states` unless built with cross-attention; ours have
    none, and must not drop them silently into their keyword arguments."""
    model, inputs = model_and_inputs(model_class)
    encoder_states = torch.randn(2, 5, model.config.hidden_size)  # (B, S, C)
    with pytest.raises(ValueError, match="no cross-attention.*encoder_hidden_states"):
        model(**inputs, encoder_hidden_states=encoder_states)
    with pytest.raises(ValueError, match="encoder_attention_mask"):
        model(**inputs, encoder_attention_mask=torch.ones(2, 5))
    model(**inputs, encoder_hidden_states=None)  # None, as generic code passes it, is no encoder


@pytest.mark.parametrize("model_class", [BERT101ForSequenceClassification, GPT101ForSequenceClassification],
                         ids=lambda cls: cls.__name__)
def test_a_classifier_loads_with_another_number_of_labels_or_from_the_bare_model(tmp_path, model_class):
    config = CLASSES[model_class]()
    config.num_labels = 2
    model_class(config).save_pretrained(tmp_path / "two-labels")
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        AutoModelForSequenceClassification.from_pretrained(tmp_path / "two-labels", num_labels=5)
    resized = AutoModelForSequenceClassification.from_pretrained(tmp_path / "two-labels", num_labels=5,
                                                                 ignore_mismatched_sizes=True)
    bare_class = GPT101Model if model_class is GPT101ForSequenceClassification else BERT101Model
    bare_class(CLASSES[model_class]()).save_pretrained(tmp_path / "bare")
    with_new_head = AutoModelForSequenceClassification.from_pretrained(tmp_path / "bare", num_labels=5)
    for model in (resized, with_new_head):
        head = model.score if model_class is GPT101ForSequenceClassification else model.classifier
        assert head.weight.shape[0] == 5
        assert head.weight.isfinite().all() and 0 < head.weight.std() < 0.1  # _init_weights' normal(0, 0.02)


def greedy(model, inputs, **settings):
    return model.generate(**inputs, max_new_tokens=8, do_sample=False, **settings)


@pytest.mark.parametrize("model_class", [GPT101ForCausalLM, Seq2Seq101ForConditionalGeneration],
                         ids=lambda cls: cls.__name__)
def test_assisted_and_prompt_lookup_decoding_give_greedy_tokens(model_class):
    model, inputs = model_and_inputs(model_class)
    inputs = {"input_ids": inputs["input_ids"][:1]}  # (transformers' assisted decoding takes one sequence)
    torch.manual_seed(1)
    assistant = model_class(CLASSES[model_class]()).eval()  # another random model: it guesses wrong, often
    assert torch.equal(greedy(model, inputs, assistant_model=assistant), greedy(model, inputs))
    assert torch.equal(greedy(model, inputs, prompt_lookup_num_tokens=3), greedy(model, inputs))


def test_gpt_generation_resumes_from_its_returned_cache_and_starts_from_embeddings():
    model, inputs = model_and_inputs(GPT101ForCausalLM)
    prompt = inputs["input_ids"][:1]
    whole = greedy(model, {"input_ids": prompt})
    first = model.generate(prompt, max_new_tokens=4, do_sample=False, return_dict_in_generate=True)
    cache_name = "cache" if "cache" in first else "past_key_values"  # renamed in transformers 5.24
    resumed = model.generate(first.sequences, max_new_tokens=4, do_sample=False, **{cache_name: first[cache_name]})
    assert torch.equal(resumed, whole)
    from_embeddings = model.generate(inputs_embeds=model.get_input_embeddings()(prompt), max_new_tokens=8,
                                     do_sample=False)
    assert torch.equal(from_embeddings, whole[:, prompt.shape[1]:])  # only the new tokens, as for any model


def test_seq2seq_generation_starts_from_given_encoder_outputs():
    model, inputs = model_and_inputs(Seq2Seq101ForConditionalGeneration)
    encoder_outputs = model.get_encoder()(inputs["input_ids"])
    from_ids = greedy(model, {"input_ids": inputs["input_ids"]})
    assert torch.equal(greedy(model, {"encoder_outputs": encoder_outputs}), from_ids)


@pytest.mark.parametrize("model_class", [GPT101ForCausalLM, Seq2Seq101ForConditionalGeneration],
                         ids=lambda cls: cls.__name__)
def test_generate_compiles_the_forward_with_a_static_cache(model_class):
    """On a GPU, `generate(cache_implementation="static")` compiles the forward whole (fullgraph) by itself;
    forced on the CPU here, through the flag transformers keeps for that. Same tokens as the eager growing cache."""
    from transformers import CompileConfig

    model, inputs = model_and_inputs(model_class)
    inputs = {"input_ids": inputs["input_ids"]}
    compile_config = CompileConfig(fullgraph=True, mode="default")
    compile_config._compile_all_devices = True  # (transformers compiles on its own on accelerators only)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = greedy(model, inputs, cache_implementation="static", compile_config=compile_config)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # it did compile
    assert torch.equal(compiled, greedy(model, inputs))
