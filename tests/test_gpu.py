"""CUDA-only paths of the models (marked `gpu`, off by default: `pytest -m gpu` on a machine with a GPU)."""
import pytest
import torch

from hf_transformer101 import GPT101Config, GPT101ForCausalLM

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def model_and_ids():
    """A small GPT101 on CUDA with a vocabulary that is not a multiple of 64, and 2 x 512 = 1024 positions: the
    padded head's case."""
    torch.manual_seed(0)
    config = GPT101Config(vocab_size=1001, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                          max_position_embeddings=512, hidden_dropout_prob=0.0, embedding_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, bos_token_id=None, eos_token_id=None)
    return GPT101ForCausalLM(config).cuda(), torch.randint(0, 1001, (2, 512), device="cuda")


@pytest.mark.parametrize("bias", [False, True], ids=["gpt", "bert-and-seq2seq"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_padded_output_layer_matches_the_plain_one(bias, dtype):
    """On CUDA, >= 1024 rows and a vocabulary that is not a multiple of 64 take the padded product
    (`OutputLinear`): the plain product's logits and gradients, in fp32 and under bf16 autocast."""
    from hf_transformer101.modeling.linear import OutputLinear

    torch.manual_seed(0)
    layer = OutputLinear(64, 1001, bias=bias).cuda()
    hidden = torch.randn(2, 512, 64, device="cuda")
    results = []
    for product in (layer, lambda rows: torch.nn.functional.linear(rows, layer.weight, layer.bias)):
        layer.zero_grad()
        rows = hidden.clone().requires_grad_()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            logits = product(rows)
        logits.float().square().mean().backward()
        results.append([logits.float(), rows.grad] + [p.grad.clone() for p in layer.parameters()])
    assert results[0][0].shape == (2, 512, 1001) and results[0][0].is_contiguous()
    tolerance = 1e-5 if dtype == torch.float32 else 1e-2
    for padded, plain in zip(*results, strict=True):
        torch.testing.assert_close(padded, plain, atol=tolerance * plain.abs().max().item(), rtol=tolerance)


def test_compiled_loss_matches_the_eager_one_in_training():
    """GPU training runs the cross-entropy compiled (modeling/losses.py): the same loss and gradients as the
    eager function, in fp32 and under bf16 autocast."""
    from hf_transformer101.modeling import losses as loss_functions

    torch.manual_seed(0)
    logits = torch.randn(3000, 1001, device="cuda", requires_grad=True)
    labels = torch.randint(0, 1001, (3000,), device="cuda").masked_fill(torch.rand(3000, device="cuda") < 0.2, -100)
    for dtype in (torch.float32, torch.bfloat16):
        inputs = logits.detach().to(dtype).requires_grad_()
        losses, gradients = [], []
        for function in (loss_functions.token_cross_entropy, loss_functions._cross_entropy):
            args = (inputs, labels) if function is loss_functions.token_cross_entropy else (inputs, labels, -100, "mean")
            loss = function(*args)
            (gradient,) = torch.autograd.grad(loss, inputs)
            losses.append(loss), gradients.append(gradient.float())
        assert loss_functions._compiled_cross_entropy.compiled not in (None, False), "the compiled loss was not used"
        torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-5)
        # Gradients are ~1/(N·V) = 3e-7: a relative tolerance, fp32 rounding or one bf16 rounding.
        rtol = 1e-5 if dtype == torch.float32 else 1e-2
        torch.testing.assert_close(gradients[0], gradients[1], rtol=rtol, atol=1e-10)


def test_loss_through_the_padded_head_equals_the_plain_loss_with_its_gradients():
    """Training on CUDA takes the padded head and the compiled loss: the plain head's loss and gradients."""
    model, ids = model_and_ids()
    loss = model(ids, labels=ids).loss
    loss.backward()
    gradients = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    logits = torch.nn.functional.linear(model.model(ids).last_hidden_state, model.lm_head.weight)  # the plain head
    plain = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 1001), ids[:, 1:].reshape(-1))
    plain.backward()
    torch.testing.assert_close(loss, plain, atol=1e-5, rtol=1e-5)
    for name, p in model.named_parameters():
        torch.testing.assert_close(gradients[name], p.grad, atol=1e-6, rtol=1e-4, msg=name)


def test_fused_linear_cross_entropy_matches_the_plain_head_and_loss():
    """On CUDA the fused head + loss pads the vocabulary (1001 -> 1024) and runs each chunk's loss and gradient
    compiled: the plain path's loss and gradients, in fp32 and under bf16 autocast."""
    from hf_transformer101.modeling import linear_cross_entropy

    model, ids = model_and_ids()
    for dtype in (torch.float32, torch.bfloat16):
        results = []
        for fused in (False, True):
            model.config.fused_linear_cross_entropy = fused
            model.zero_grad()
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                output = model(ids, labels=ids)
            output.loss.backward()
            results.append((output.loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}))
        assert output.logits is None
        assert linear_cross_entropy._compiled_loss_and_gradient.compiled not in (None, False)
        (expected_loss, expected_grads), (loss, grads) = results
        tolerance = 1e-5 if dtype == torch.float32 else 1e-2
        torch.testing.assert_close(loss, expected_loss, rtol=tolerance, atol=tolerance)
        for name, grad in grads.items():
            scale = expected_grads[name].abs().max().item()
            torch.testing.assert_close(grad, expected_grads[name], rtol=tolerance, atol=tolerance * scale, msg=name)


def test_cuda_graph_decoder_gives_generates_tokens_greedy_and_sampled():
    """The static-cache decoder captured as a CUDA graph (`compile=True`): generate's greedy tokens, and its
    sampled ones from the same seed (the draws happen outside the graph)."""
    from hf_transformer101.fast_generate import StaticCacheDecoder

    model, ids = model_and_ids()
    model.eval()
    prompt = ids[:, :8]
    decoder = StaticCacheDecoder(model, batch_size=2, max_length=40, compile=True)
    greedy = model.generate(prompt, do_sample=False, max_new_tokens=24, min_new_tokens=24)
    assert torch.equal(decoder.generate(prompt, 24), greedy)
    torch.manual_seed(3)
    sampled = model.generate(prompt, do_sample=True, top_k=50, temperature=0.9, max_new_tokens=24, min_new_tokens=24)
    torch.manual_seed(3)
    assert torch.equal(decoder.generate(prompt, 24, do_sample=True, top_k=50, temperature=0.9), sampled)


def test_generate_with_a_static_cache_compiles_by_itself_and_gives_the_growing_caches_tokens():
    """On a GPU, `generate(cache_implementation="static")` compiles the forward (fullgraph, CUDA graphs) without
    being asked: GPT101 and Seq2Seq101 must trace whole — the cache's length stays on the device (modeling/blocks.py
    `cached_lengths`; torch 2.9 refused reading it) — and give the tokens of the eager growing cache."""
    from hf_transformer101 import Seq2Seq101Config, Seq2Seq101ForConditionalGeneration

    model, ids = model_and_ids()
    torch.manual_seed(0)
    translator = Seq2Seq101ForConditionalGeneration(Seq2Seq101Config(
        vocab_size=1001, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)).cuda()
    for model in (model.eval(), translator.eval()):
        prompt = ids[:, :8]
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        settings = dict(do_sample=False, max_new_tokens=16, min_new_tokens=16)
        static = model.generate(prompt, cache_implementation="static", **settings)
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0, "transformers compiled nothing"
        assert torch.equal(static, model.generate(prompt, **settings))
