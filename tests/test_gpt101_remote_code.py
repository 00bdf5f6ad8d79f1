"""A saved GPT101 folder loads with trust_remote_code in a Python that cannot import hf_transformer101."""
import torch

from hf_transformer101 import GPT101Config, GPT101ForCausalLM
from remote_code import run_without_package


def test_gpt101_loads_and_generates_without_the_package(tmp_path):
    torch.manual_seed(0)
    config = GPT101Config(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          max_position_embeddings=32, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = GPT101ForCausalLM(config).eval()
    GPT101Config.register_for_auto_class()
    GPT101ForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    folder = tmp_path / "gpt101"
    model.save_pretrained(folder)
    assert {"blocks.py", "linear.py", "linear_cross_entropy.py", "losses.py", "modeling_gpt101.py",
            "configuration_gpt101.py", "config_checks.py"} <= {p.name for p in folder.iterdir()}
    ids = torch.tensor([[3, 9, 4, 17, 8]])
    result = run_without_package("""
        import json, torch
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(FOLDER, trust_remote_code=True).eval()
        ids = torch.tensor([[3, 9, 4, 17, 8]])
        generated = model.generate(ids, max_new_tokens=6, do_sample=False)
        print(json.dumps({"module": type(model).__module__, "logits": model(ids).logits.tolist(),
                          "generated": generated.tolist()}))
    """, folder, tmp_path)
    assert result["module"].startswith("transformers_modules")
    torch.testing.assert_close(torch.tensor(result["logits"]), model(ids).logits, atol=0, rtol=0)
    assert result["generated"] == model.generate(ids, max_new_tokens=6, do_sample=False).tolist()
