"""ONNX export, the usual road to serving outside PyTorch: `torch.onnx.export(model, ..., dynamo=True)` of each
family, run by onnxruntime on a padded batch, gives the eager model's logits."""
import pytest
import torch

from hf_transformer101 import (
    BERT101Config,
    BERT101ForSequenceClassification,
    GPT101Config,
    GPT101ForCausalLM,
    Seq2Seq101Config,
    Seq2Seq101ForConditionalGeneration,
)

pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript (a dev dependency)")
onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graph (a dev dependency)")

MODELS = {
    "gpt101": lambda: GPT101ForCausalLM(GPT101Config(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=32,
        bos_token_id=0, eos_token_id=0, use_cache=False)),
    "bert101": lambda: BERT101ForSequenceClassification(BERT101Config(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=32, num_labels=3)),
    "seq2seq101": lambda: Seq2Seq101ForConditionalGeneration(Seq2Seq101Config(
        vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=32,
        pad_token_id=1, eos_token_id=2, decoder_start_token_id=0, use_cache=False)),
}


@pytest.mark.parametrize("family", MODELS)
def test_onnx_export_runs_in_onnxruntime_with_the_eager_logits(family, tmp_path):
    torch.manual_seed(0)
    model = MODELS[family]().eval()
    inputs = {"input_ids": torch.randint(3, 100, (2, 7)),  # (B, T), the second row padded
              "attention_mask": torch.tensor([[1] * 7, [1] * 4 + [0] * 3])}
    if model.config.is_encoder_decoder:
        inputs["decoder_input_ids"] = torch.randint(3, 100, (2, 5))
    path = tmp_path / f"{family}.onnx"
    torch.onnx.export(model, (), kwargs=inputs, f=str(path), dynamo=True)
    session = onnxruntime.InferenceSession(str(path))
    names = [graph_input.name for graph_input in session.get_inputs()]
    assert names == list(inputs)
    logits = session.run(None, {name: inputs[name].numpy() for name in names})[0]
    with torch.no_grad():
        expected = model(**inputs).logits
    torch.testing.assert_close(torch.from_numpy(logits), expected, rtol=0, atol=1e-5)
