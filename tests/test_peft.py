"""LoRA through PEFT, the way most practitioners fine-tune a Hub model: our layers are `nn.Linear` subclasses, so
`target_modules="all-linear"` finds them (PEFT knows no default target names for architectures it has not
listed), the adapter trains while the base weights stay frozen, saves and loads on a fresh base, and merges back
into a model of our own class — with our own linear layers, so the merged model keeps their fast CPU path.
"""
import pytest
import torch

from hf_transformer101 import BERT101Config, BERT101ForSequenceClassification, GPT101Config, GPT101ForCausalLM
from hf_transformer101.modeling.linear import Linear

peft = pytest.importorskip("peft", reason="peft is a dev dependency (pip install -e '.[dev]')")


def bert_classifier():
    torch.manual_seed(0)
    return BERT101ForSequenceClassification(BERT101Config(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=32, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


def gpt():
    torch.manual_seed(0)
    return GPT101ForCausalLM(GPT101Config(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                          max_position_embeddings=32, bos_token_id=0, eos_token_id=0))


def lora(task_type):
    return peft.LoraConfig(task_type=task_type, r=4, lora_alpha=8, target_modules="all-linear")


def test_lora_adapts_every_linear_layer_of_the_blocks_and_trains_them_alone():
    adapted = peft.get_peft_model(bert_classifier(), lora(peft.TaskType.SEQ_CLS))
    wrapped = {name.rsplit(".", 1)[-1] for name, module in adapted.named_modules()
               if isinstance(module, peft.tuners.lora.LoraLayer)}
    assert wrapped == {"qkv_proj", "out_proj", "fc_in", "fc_out", "dense"}  # dense: the pooler
    frozen = {name: p.detach().clone() for name, p in adapted.named_parameters() if not p.requires_grad}
    assert any(name.endswith("qkv_proj.base_layer.weight") for name in frozen)
    input_ids, labels = torch.randint(0, 100, (4, 10)), torch.tensor([0, 1, 0, 1])  # (B, T), (B,)
    optimizer = torch.optim.AdamW([p for p in adapted.parameters() if p.requires_grad], lr=1e-2)
    first = adapted(input_ids=input_ids, labels=labels).loss.item()
    for _ in range(30):
        adapted(input_ids=input_ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert adapted(input_ids=input_ids, labels=labels).loss.item() < first / 10
    assert all(torch.equal(p, frozen[name]) for name, p in adapted.named_parameters() if name in frozen)


def test_a_saved_adapter_loads_on_a_fresh_base_and_merges_into_our_own_class(tmp_path):
    adapted = peft.get_peft_model(gpt(), lora(peft.TaskType.CAUSAL_LM))
    for name, parameter in adapted.named_parameters():
        if "lora_B" in name:  # B starts at zero (the adapter starts as a no-op): move it so the test means something
            torch.nn.init.normal_(parameter, std=0.1)
    adapted.eval()
    input_ids = torch.randint(1, 100, (2, 9))  # (B, T)
    expected = adapted(input_ids=input_ids).logits
    adapted.save_pretrained(tmp_path)

    reloaded = peft.PeftModel.from_pretrained(gpt(), tmp_path).eval()
    torch.testing.assert_close(reloaded(input_ids=input_ids).logits, expected)
    merged = reloaded.merge_and_unload()
    assert type(merged) is GPT101ForCausalLM
    assert all(type(module) is Linear for module in merged.model.layers.modules() if isinstance(module, torch.nn.Linear))
    torch.testing.assert_close(merged(input_ids=input_ids).logits, expected, rtol=1e-5, atol=1e-5)
    generated = reloaded.generate(input_ids=input_ids[:1], max_new_tokens=4, do_sample=False)
    assert torch.equal(generated, merged.generate(input_ids=input_ids[:1], max_new_tokens=4, do_sample=False))
