"""Our classes' `from_pretrained` on a reference checkpoint (GPT-2's, BERT's, Marian's): converted on load, the
reference's logits — not a randomly initialised model with a load report, which transformers alone would give."""
import sys

import pytest
import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Model,
    MarianConfig,
    MarianMTModel,
)

from hf_transformer101 import (
    BERT101ForMaskedLM,
    BERT101ForSequenceClassification,
    GPT101ForCausalLM,
    GPT101Model,
    Seq2Seq101ForConditionalGeneration,
)

GPT2 = GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=0)
BERT = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  max_position_embeddings=64)
MARIAN = MarianConfig(vocab_size=100, decoder_vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2,
                      encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                      max_position_embeddings=64, pad_token_id=99, eos_token_id=0, decoder_start_token_id=99,
                      forced_eos_token_id=None)
PAIRS = [(GPT2LMHeadModel, GPT2, GPT101ForCausalLM), (GPT2Model, GPT2, GPT101Model),
         (BertForMaskedLM, BERT, BERT101ForMaskedLM), (BertForSequenceClassification, BERT,
                                                       BERT101ForSequenceClassification),
         (MarianMTModel, MARIAN, Seq2Seq101ForConditionalGeneration)]
each_pair = pytest.mark.parametrize("reference_class, config, our_class", PAIRS,
                                    ids=[pair[2].__name__ for pair in PAIRS])


def saved_reference(reference_class, config, folder):
    torch.manual_seed(0)
    reference_class(config).save_pretrained(folder)
    return reference_class.from_pretrained(folder).eval()


def first_output(model, input_ids):
    inputs = {"decoder_input_ids": input_ids[:, :4]} if model.config.is_encoder_decoder else {}
    return model(input_ids=input_ids, **inputs)[0]


@each_pair
def test_our_class_converts_a_reference_checkpoint_on_load(reference_class, config, our_class, tmp_path):
    reference = saved_reference(reference_class, config, tmp_path)
    ours = our_class.from_pretrained(tmp_path).eval()
    assert type(ours) is our_class
    input_ids = torch.randint(1, 99, (2, 7))  # (B, T)
    with torch.no_grad():
        torch.testing.assert_close(first_output(ours, input_ids), first_output(reference, input_ids),
                                   rtol=0, atol=1e-5)
    loaded_in_bf16 = our_class.from_pretrained(tmp_path, dtype=torch.bfloat16)  # arguments reach the reference
    assert {p.dtype for p in loaded_in_bf16.parameters()} == {torch.bfloat16}


def test_our_own_checkpoints_load_as_before_and_errors_are_clear(tmp_path, monkeypatch):
    saved_reference(GPT2LMHeadModel, GPT2, tmp_path / "gpt2")
    with pytest.raises(ValueError, match="'gpt2' checkpoint, converted to GPT101ForCausalLM from its own config"):
        GPT101ForCausalLM.from_pretrained(tmp_path / "gpt2", config=GPT101ForCausalLM.config_class())
    saved_reference(BertForMaskedLM, BERT, tmp_path / "bert")
    with pytest.raises(ValueError, match="'bert' checkpoint; GPT101ForCausalLM loads 'gpt101' checkpoints, and "
                                         "'gpt2' ones by converting them"):
        GPT101ForCausalLM.from_pretrained(tmp_path / "bert")
    ours = GPT101ForCausalLM.from_pretrained(tmp_path / "gpt2")
    ours.save_pretrained(tmp_path / "ours")
    reloaded = GPT101ForCausalLM.from_pretrained(tmp_path / "ours")
    assert all(torch.equal(a, b) for a, b in zip(reloaded.state_dict().values(), ours.state_dict().values()))
    # Where the package is absent (a remote-code folder on another machine): say what converting needs.
    monkeypatch.setitem(sys.modules, "hf_transformer101", None)
    with pytest.raises(ImportError, match="'gpt2' checkpoint.*needs the hf-transformer101 package"):
        GPT101ForCausalLM.from_pretrained(tmp_path / "gpt2")
