"""Our three families against the transformers reference classes, with identical weights.

    python bench/run.py --family gpt --device cpu --size cpu            # -> bench-out/bench-gpt-cpu.json + .png
    python bench/run.py --family all --device cuda --size gpu --compile

For each family the reference model (GPT2LMHeadModel, BertForMaskedLM, MarianMTModel) is built from a seeded
random init and converted with `hf_transformer101.convert.from_hf`, so both sides hold the same weights (checked:
same loss on the same batch). Then, ours and HF alternating round by round (see harness.py):

* train: tokens/s of a full step (forward + backward + AdamW) in each precision (fp32, bf16 autocast), peak memory
  of a step, and on GPU the MFU of GPT (nanoGPT's estimate: 6N + 12·L·C·T FLOPs per token / the GPU's bf16 peak);
  BERT also with the MLM head on the masked positions only (`ours_sparse`, config.sparse_prediction), GPT and
  Seq2Seq also with the head and the loss fused (`ours_fused`, config.fused_linear_cross_entropy); on a CPU
  where our fp32 linear layers run on oneDNN (modeling/linear.py), ours also on torch's own fp32 linear
  (`ours_torch_linear`), which shows what that kernel choice alone is worth;
* inference: tokens/s of a forward pass;
* generation: GPT greedy decode ms/token at batch 1 and 32 (`generate`, and our static-cache
  `fast_generate.StaticCacheDecoder`, eager and compiled); Seq2Seq beam-4 sentences/s.

Dropout is 0 everywhere (as in nanoGPT's GPT-2 reproduction), so both sides do the same arithmetic.
Token counts: GPT and BERT B·T per step; Seq2Seq B·(S + T), source plus target.
"""

import argparse
import contextlib
import dataclasses
import sys
import traceback
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel, MarianConfig, MarianMTModel

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python bench/run.py` from anywhere finds harness.py
import harness  # noqa: E402
from hf_transformer101 import convert  # noqa: E402
from hf_transformer101.fast_generate import StaticCacheDecoder  # noqa: E402
from hf_transformer101.modeling.linear import onednn_linear_active, use_onednn_linear  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Size:
    vocab: int
    layers: int  # per stack for Seq2Seq (encoder and decoder alike)
    hidden: int
    heads: int
    length: int  # tokens per sequence (Seq2Seq: source and target each)
    batch: int
    new_tokens: int = 0  # generated per sequence
    gen_batches: tuple = ()  # batch sizes for generation


# cpu: nanoGPT's shakespeare-char GPT (character vocabulary), an all-MiniLM-sized BERT (BERT's 30522 WordPieces),
# a small translation model (an 8k shared SentencePiece vocabulary). gpu: GPT-2 124M, BERT-base, Marian-base.
SIZES = {
    "gpt": {"tiny": Size(65, 2, 64, 2, 32, 2, 8, (1, 2)),
            "cpu": Size(65, 6, 384, 6, 256, 8, 32, (1, 32)),
            "gpu": Size(50257, 12, 768, 12, 1024, 16, 128, (1, 32))},
    "bert": {"tiny": Size(128, 2, 64, 2, 16, 2),
             "cpu": Size(30522, 6, 384, 12, 128, 8),
             "gpu": Size(30522, 12, 768, 12, 128, 64)},
    "seq2seq": {"tiny": Size(128, 1, 64, 2, 8, 2, 8, (2,)),
                "cpu": Size(8000, 3, 256, 4, 32, 16, 32, (8,)),
                "gpu": Size(58101, 6, 512, 8, 64, 64, 64, (64,))},
}
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
COMPILE_MODES = ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
SDPA_BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
                 "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}


def reference_model(family, size):
    """The transformers reference model, randomly initialised, dropout off."""
    if family == "gpt":
        # No BOS/EOS: `generate` would forbid EOS (min_new_tokens) where the static-cache loop would not.
        config = GPT2Config(vocab_size=size.vocab, n_positions=size.length, n_embd=size.hidden, n_layer=size.layers,
                            n_head=size.heads, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                            bos_token_id=None, eos_token_id=None)
        return GPT2LMHeadModel(config)
    if family == "bert":
        config = BertConfig(vocab_size=size.vocab, hidden_size=size.hidden, num_hidden_layers=size.layers,
                            num_attention_heads=size.heads, intermediate_size=4 * size.hidden,
                            max_position_embeddings=max(512, size.length), hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0)
        return BertForMaskedLM(config)
    pad = size.vocab - 1  # Marian's convention: the last id pads and starts the decoder; 0 is </s>
    config = MarianConfig(vocab_size=size.vocab, decoder_vocab_size=size.vocab, d_model=size.hidden,
                          encoder_layers=size.layers, decoder_layers=size.layers, encoder_attention_heads=size.heads,
                          decoder_attention_heads=size.heads, encoder_ffn_dim=4 * size.hidden,
                          decoder_ffn_dim=4 * size.hidden, max_position_embeddings=max(512, 2 * size.length),
                          dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, pad_token_id=pad,
                          eos_token_id=0, decoder_start_token_id=pad, forced_eos_token_id=None,
                          share_encoder_decoder_embeddings=True)
    return MarianMTModel(config)


def training_batch(family, size, device, generator):
    """Inputs with labels, and the number of tokens they hold. No padding, so no attention mask."""
    def ids(*shape, low=0, high=size.vocab):
        return torch.randint(low, high, shape, generator=generator).to(device)

    if family == "gpt":
        tokens = ids(size.batch, size.length)
        return {"input_ids": tokens, "labels": tokens}, tokens.numel()
    if family == "bert":
        tokens = ids(size.batch, size.length)
        masked = torch.rand(tokens.shape, generator=generator).to(device) < 0.15  # BERT's 15% of positions
        return {"input_ids": tokens, "labels": tokens.masked_fill(~masked, -100)}, tokens.numel()
    # Ids 1 .. V-2: neither </s> (0) nor the pad/start token (V-1), so nothing is ignored or shifted oddly.
    source = ids(size.batch, size.length, low=1, high=size.vocab - 1)
    target = ids(size.batch, size.length, low=1, high=size.vocab - 1)
    return {"input_ids": source, "labels": target}, source.numel() + target.numel()


def autocast(device, precision):
    return torch.autocast(device.type, dtype=PRECISIONS[precision] or torch.float32,
                          enabled=PRECISIONS[precision] is not None)


def check_same_weights(models, batch):
    """Both models in eval mode on the same batch must give the same loss, or the comparison is void."""
    losses = {}
    with torch.no_grad():
        for name, model in models.items():
            model.eval()
            losses[name] = model(**batch).loss.item()
            model.train()
    if abs(losses["ours"] - losses["hf"]) > 1e-3 * max(1.0, abs(losses["hf"])):
        raise RuntimeError(f"the converted model does not match the reference: losses {losses}")
    return losses


def bench_train(models, batch, tokens, args, device, size, family):
    """Training step tokens/s per precision, its peak memory, and (GPU, GPT) the MFU.

    BERT also runs as `ours_sparse`: the same model with `config.sparse_prediction` (the MLM head on the masked
    positions only, as `recipes/pretrain_mlm.py` trains); GPT and Seq2Seq as `ours_fused`, with
    `config.fused_linear_cross_entropy` (the head and the loss chunk by chunk, no logits). Each is checked to give
    the same loss first.
    """
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True) for name, model in models.items()}
    mode = None if args.compile == "default" else args.compile
    runners = {name: torch.compile(model, mode=mode) if args.compile else model for name, model in models.items()}
    candidates = {name: Variant(name) for name in models}
    fused = ("ours_fused", "fused_linear_cross_entropy")
    option = {"bert": ("ours_sparse", "sparse_prediction"), "gpt": fused, "seq2seq": fused}
    if family in option:
        name, field = option[family]
        candidates[name] = Variant("ours", options=((field, True),))
        check_same_loss(models["ours"], candidates[name], batch)

    def step(candidate, precision):
        variant = candidates[candidate]

        def run():
            with variant.applied(models[variant.model]):
                for _ in range(args.steps):
                    with autocast(device, precision):
                        loss = runners[variant.model](**batch).loss
                    loss.backward()
                    optimizers[variant.model].step()
                    optimizers[variant.model].zero_grad(set_to_none=True)
        return run

    results = {}
    for precision in args.precisions:
        if precision == "fp32" and device.type == "cpu" and onednn_linear_active() and not args.compile:
            candidates["ours_torch_linear"] = Variant("ours", torch_linear=True)
        else:
            candidates.pop("ours_torch_linear", None)  # the same computation as ours: bf16 autocast, compiled, GPU
        seconds = harness.alternate({name: step(name, precision) for name in candidates}, rounds=args.rounds,
                                    warmup=args.warmup, device=device)
        result = harness.compare(seconds, work=tokens * args.steps, unit="tokens/s", higher_is_better=True)
        memory = {name: harness.peak_memory(step(name, precision), device) for name in candidates}
        result["peak_memory_bytes"] = {**memory, "ratio": memory["ours"] / max(memory["hf"], 1)}
        peak = harness.gpu_peak_flops(device)
        if peak and family == "gpt" and precision == "bf16":
            flops = flops_per_token(models["ours"], size)
            result["mfu"] = {name: flops * result[name]["median"] / peak for name in candidates}
            result["mfu"]["flops_per_token"], result["mfu"]["peak_flops"] = flops, peak
        results[precision] = result
        print(f"  train {precision}: " + summary(result, "tokens/s"), flush=True)
        if "mfu" in result:
            print(f"  train {precision} MFU: " + ", ".join(f"{name} {100 * result['mfu'][name]:.1f}%"
                                                        for name in candidates), flush=True)
        if args.profile:
            for name in models:
                path = args.out / f"profile-{run_name(family, device, args)}-{name}-{precision}.txt"
                profile_step(step(name, precision), device, path)
    return results


@dataclasses.dataclass(frozen=True)
class Variant:
    """A timed candidate: one of the models, with our model's options set for its runs only."""
    model: str  # "ours" or "hf"
    options: tuple = ()  # (config field, value) pairs, e.g. BERT's sparse MLM head
    torch_linear: bool = False  # fp32 CPU linear layers on torch's own kernel instead of oneDNN (modeling/linear.py)

    @contextlib.contextmanager
    def applied(self, model):
        before = {field: getattr(model.config, field) for field, _ in self.options}
        for field, value in self.options:
            setattr(model.config, field, value)
        onednn_before = use_onednn_linear(False) if self.torch_linear else None
        try:
            yield
        finally:
            if self.torch_linear:
                use_onednn_linear(onednn_before)
            for field, value in before.items():
                setattr(model.config, field, value)


def profile_step(run, device, path):
    """torch.profiler over `run` (one timed call: args.steps training steps): the 30 costliest operators by their
    own time on the device (CPU time on CPU), as a text table — where a step's time goes, kernel by kernel."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profiler:
        run()
        harness.synchronize(device)
    sort_by = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profiler.key_averages().table(sort_by=sort_by, row_limit=30, max_name_column_width=90) + "\n")


def check_same_loss(model, variant, batch):
    """A variant of our model must give its loss (with gradients on: the fused loss acts in training only), or
    it would time another computation."""
    losses = []
    for candidate in (Variant("ours"), variant):
        with candidate.applied(model):
            losses.append(model(**batch).loss.item())
    model.zero_grad(set_to_none=True)
    if abs(losses[0] - losses[1]) > 1e-4 * max(1.0, abs(losses[0])):
        raise RuntimeError(f"{variant.options} changed the loss: {losses}")


def flops_per_token(model, size):
    """nanoGPT's estimate_mfu: 6N (forward + backward matmuls) + 12·L·C·T (attention scores and weighted sum),
    N without the position embeddings (a lookup, not a matmul); the tied head is counted once."""
    parameters = sum(p.numel() for p in model.parameters())
    parameters -= model.model.embed_positions.weight.numel()
    return 6 * parameters + 12 * size.layers * size.hidden * size.length


def bench_inference(models, batch, tokens, args, device, family):
    inputs = {"input_ids": batch["input_ids"]}
    if family == "seq2seq":  # teacher-forced: the whole target in one pass, as in scoring
        inputs["decoder_input_ids"] = batch["labels"]
    results = {}
    for model in models.values():
        model.eval()  # as a user would call it: both sides then also fill a KV cache (their default)

    def forward(name, precision):
        def run():
            with torch.inference_mode(), autocast(device, precision):
                for _ in range(args.steps):
                    models[name](**inputs)
        return run

    for precision in args.precisions:
        seconds = harness.alternate({name: forward(name, precision) for name in models}, rounds=args.rounds,
                                    warmup=args.warmup, device=device)
        results[precision] = harness.compare(seconds, work=tokens * args.steps, unit="tokens/s",
                                             higher_is_better=True)
        print(f"  inference {precision}: " + summary(results[precision], "tokens/s"), flush=True)
    return results  # run_family puts the models back in training mode


def bench_gpt_decode(models, size, args, device, generator):
    """Greedy decode ms per step (one new token for every sequence of the batch), fp32."""
    ours, hf = models["ours"].eval(), models["hf"].eval()
    results = {}
    for batch_size in size.gen_batches:
        prompt = torch.randint(0, size.vocab, (batch_size, 16), generator=generator).to(device)
        n = size.new_tokens
        kwargs = dict(attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=n, min_new_tokens=n)
        # Compiled: CUDA graphs on GPU; on CPU frozen, autotuned GEMMs and a C++ wrapper (fast_generate.compile_step).
        decoders = {"ours_static": StaticCacheDecoder(ours, batch_size, prompt.shape[1] + n),
                    "ours_static_compiled": StaticCacheDecoder(ours, batch_size, prompt.shape[1] + n, compile=True)}
        candidates = {"ours": lambda: ours.generate(prompt, **kwargs), "hf": lambda: hf.generate(prompt, **kwargs)}
        for name, decoder in decoders.items():
            candidates[name] = lambda decoder=decoder: decoder.generate(prompt, n)
        with torch.inference_mode():
            outputs = {name: fn() for name, fn in candidates.items()}  # also the warm-up (and compilation)
            seconds = harness.alternate(candidates, rounds=args.rounds, warmup=0, device=device)
        result = harness.compare(seconds, work=n, unit="ms/token", higher_is_better=False)
        result["same_tokens_as_hf"] = {name: bool(torch.equal(out, outputs["hf"])) for name, out in outputs.items()}
        # Random weights give near-uniform logits: a last-bit difference between kernels can flip an argmax (seen
        # on GPU in fp32). How many tokens agree before the first flip tells a flip from a bug.
        result["tokens_before_first_difference"] = {
            name: first_difference(out[:, prompt.shape[1]:], outputs["hf"][:, prompt.shape[1]:])
            for name, out in outputs.items()}
        results[f"batch_{batch_size}"] = result
        print(f"  decode batch {batch_size}: " + summary(result, "ms/token"), flush=True)
    return results


def first_difference(tokens, reference):
    """Position of the first token that differs from the reference in any sequence (its length if none)."""
    differs = (tokens != reference).any(dim=0).nonzero()
    return int(differs[0]) if len(differs) else tokens.shape[1]


def bench_beam_search(models, size, args, device, generator):
    """Beam-4 translation of a batch of random sources, sentences/s, fp32."""
    ours, hf = models["ours"].eval(), models["hf"].eval()
    results = {}
    for batch_size in size.gen_batches:
        source = torch.randint(1, size.vocab - 1, (batch_size, size.length), generator=generator).to(device)
        n = size.new_tokens
        kwargs = dict(num_beams=4, do_sample=False, max_new_tokens=n, min_new_tokens=n)
        candidates = {"ours": lambda: ours.generate(source, **kwargs), "hf": lambda: hf.generate(source, **kwargs)}
        with torch.inference_mode():
            outputs = {name: fn() for name, fn in candidates.items()}  # also the warm-up
            seconds = harness.alternate(candidates, rounds=args.rounds, warmup=0, device=device)
        result = harness.compare(seconds, work=batch_size, unit="sentences/s", higher_is_better=True)
        result["same_tokens_as_hf"] = {"ours": bool(torch.equal(outputs["ours"], outputs["hf"]))}
        result["tokens_before_first_difference"] = {"ours": first_difference(outputs["ours"], outputs["hf"])}
        results[f"beam4_batch_{batch_size}"] = result
        print(f"  beam-4 batch {batch_size}: " + summary(result, "sentences/s"), flush=True)
    return results


def summary(result, unit):
    ours, hf = result["ours"], result["hf"]
    text = f"ours {ours['median']:.4g} vs HF {hf['median']:.4g} {unit} (speedup {ours['speedup']:.2f}x)"
    extra = [f"{name} {value['median']:.4g} ({value['speedup']:.2f}x)" for name, value in result.items()
             if name.startswith("ours_")]
    return text + ("; " + "; ".join(extra) if extra else "")


# Steps per timed call on CUDA: a call of a few tens of milliseconds is at the mercy of one slow launch or pause
# (seen: BERT-base rounds of 5 steps, ~0.15 s, one of them 35% slow). GPT-2's step takes ~50 ms, the others' ~30.
CUDA_STEPS = {"gpt": 5, "bert": 20, "seq2seq": 20}


def run_family(family, args, device):
    steps = args.steps or (CUDA_STEPS[family] if device.type == "cuda" else 1)
    args = argparse.Namespace(**{**vars(args), "steps": steps})  # this family's own, --family all runs three
    size = SIZES[family][args.size]
    size = dataclasses.replace(size, batch=args.batch or size.batch, layers=args.layers or size.layers,
                               vocab=args.vocab or size.vocab)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    hf = reference_model(family, size)
    models = {"ours": convert.from_hf(hf).to(device).train(), "hf": hf.to(device).train()}
    batch, tokens = training_batch(family, size, device, generator)
    report = {
        "family": family, "device": device.type, "size": args.size, "compile": args.compile,
        "command": "python " + " ".join(sys.argv), "machine": harness.machine(device),
        "config": dataclasses.asdict(size), "tokens_per_step": tokens, "steps_per_round": args.steps,
        "rounds": args.rounds, "reference_class": type(hf).__name__, "sdpa_backend": args.sdpa_backend,
        "parameters": {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()},
        "attention": {name: model.config._attn_implementation for name, model in models.items()},
        "onednn_linear": device.type == "cpu" and onednn_linear_active(),  # ours' fp32 CPU linear layers
        "loss_check": check_same_weights(models, batch), "errors": [],
    }
    print(f"{family} on {device.type} ({args.size}): {report['parameters']['ours']:,} parameters", flush=True)
    parts = {"train": lambda: bench_train(models, batch, tokens, args, device, size, family),
             "inference": lambda: bench_inference(models, batch, tokens, args, device, family)}
    if family == "gpt":
        parts["generation"] = lambda: bench_gpt_decode(models, size, args, device, generator)
    elif family == "seq2seq":
        parts["generation"] = lambda: bench_beam_search(models, size, args, device, generator)
    # Training moves the weights, and not bit-identically on both sides (different kernels round differently):
    # every part starts again from the converted weights, or generation would compare two different models.
    initial = {name: {key: value.clone() for key, value in model.state_dict().items()}
               for name, model in models.items()}
    for part, fn in parts.items():
        if part not in args.parts:
            continue
        for name, model in models.items():
            model.load_state_dict(initial[name])
        try:
            report[part] = fn()
        except Exception as error:  # one broken part must not lose the others' numbers
            traceback.print_exc()
            report["errors"].append(f"{part}: {type(error).__name__}: {error}")
        finally:
            for model in models.values():
                model.train()
    return report


def plot(report, path):
    """Horizontal bars: our speed relative to HF's (1.0 = same) for every measurement, memory ratio apart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def named(text, candidate):
        return text if candidate == "ours" else f"{text} [{candidate}]"

    labels, speedups = [], []
    for part in ("train", "inference", "generation"):
        for setting, result in report.get(part, {}).items():
            for name, value in result.items():
                if isinstance(value, dict) and "speedup" in value:
                    labels.append(named(f"{part} {setting}", name))
                    speedups.append(value["speedup"])
    memory = []  # (label, the candidate's peak / HF's), for ours and our other candidates
    for precision, result in report.get("train", {}).items():
        peaks = result["peak_memory_bytes"]
        memory += [(named(f"train {precision} peak memory", name), peak / max(peaks["hf"], 1))
                   for name, peak in peaks.items() if name not in ("hf", "ratio")]
    figure, axes = plt.subplots(1, 2, figsize=(12, 0.45 * max(len(labels), len(memory), 3) + 1.5),
                                gridspec_kw={"width_ratios": [3, 1.3]})
    axes[0].barh(labels, speedups, color=["tab:green" if s >= 1 else "tab:red" for s in speedups])
    axes[0].axvline(1.0, color="black", linewidth=1)
    axes[0].set_xlabel("speedup vs transformers (median of per-round ratios; > 1 = ours faster)")
    axes[0].invert_yaxis()
    if memory:
        names, ratios = zip(*memory)
        axes[1].barh(names, ratios, color=["tab:green" if r <= 1 else "tab:red" for r in ratios])
        axes[1].axvline(1.0, color="black", linewidth=1)
        axes[1].set_xlabel("peak memory, ours / HF\n(< 1 = ours smaller)")
        axes[1].invert_yaxis()
    else:
        axes[1].axis("off")
    device = report["machine"].get("gpu", report["machine"]["cpu"])
    vocab = report["config"]["vocab"]
    vocabulary = "" if vocab == SIZES[report["family"]][report["size"]].vocab else f" (vocabulary {vocab:,})"
    figure.suptitle(f"{report['family']} vs {report['reference_class']}, size {report['size']}{vocabulary}, {device}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["gpt", "bert", "seq2seq", "all"], default="all")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--size", choices=["tiny", "cpu", "gpu"], default=None,
                        help="model/batch size (default: cpu on CPU, gpu on CUDA)")
    parser.add_argument("--batch", type=int, default=None, help="batch size instead of the size's own")
    parser.add_argument("--layers", type=int, default=None, help="layers (per stack) instead of the size's own")
    parser.add_argument("--vocab", type=int, default=None, help="vocabulary instead of the size's own (e.g. GPT-2's "
                        "50257 at the CPU size; the files' names then say so)")
    parser.add_argument("--compile", nargs="?", const="default", choices=COMPILE_MODES, default=None,
                        help="torch.compile both models for training, in torch.compile's default mode or the one "
                        "named (reduce-overhead: CUDA graphs; max-autotune: GEMMs tuned, with CUDA graphs)")
    parser.add_argument("--out", type=Path, default=Path("bench-out"), help="folder for JSON and PNG")
    parser.add_argument("--parts", default="train,inference,generation", help="comma-separated subset to run")
    parser.add_argument("--precisions", default=None, help="comma-separated, from fp32,bf16 (default: both on "
                        "CPU, bf16 on CUDA, where the targets are set in bf16)")
    parser.add_argument("--rounds", type=int, default=5, help="timed A/B rounds per measurement")
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls first (default: 1 CPU, 3 CUDA)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per timed call (default: 1 on CPU; on CUDA 5 for GPT, 20 for BERT and Seq2Seq)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the CPU machine has 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sdpa-backend", choices=["default", *SDPA_BACKENDS], default="default",
                        help="the attention kernel SDPA uses, for both models (the math one where it cannot run; "
                        "default: torch's own choice)")
    parser.add_argument("--profile", action="store_true",
                        help="also write each model's torch.profiler table of one timed training call")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device")
    cuda = device.type == "cuda"
    args.size = args.size or ("gpu" if cuda else "cpu")
    args.precisions = (args.precisions or ("bf16" if cuda else "fp32,bf16")).split(",")
    if unknown := set(args.precisions) - set(PRECISIONS):
        parser.error(f"unknown precision(s) {sorted(unknown)}; expected fp32 and/or bf16")
    args.parts = set(args.parts.split(","))
    args.warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    torch.set_num_threads(args.threads)

    failed = False
    with contextlib.ExitStack() as stack:
        if args.sdpa_backend != "default":  # that kernel only, and the math one where it cannot run
            kernels = {SDPA_BACKENDS[args.sdpa_backend], SDPBackend.MATH}
            stack.enter_context(torch.nn.attention.sdpa_kernel(list(kernels)))
        for family in ["gpt", "bert", "seq2seq"] if args.family == "all" else [args.family]:
            failed |= run_and_write(family, args, device)
    return 1 if failed else 0


def run_name(family, device, args):
    """What names this run's files: family, device and the settings that change the measurement."""
    suffix = {None: "", "default": "-compile"}.get(args.compile, f"-compile-{args.compile}")
    suffix += "" if args.sdpa_backend == "default" else f"-{args.sdpa_backend}"
    suffix += f"-vocab{args.vocab}" if args.vocab else ""
    return f"{family}-{device.type}{suffix}"


def run_and_write(family, args, device):
    """One family: run it, write its JSON and chart; True if anything failed."""
    stem = args.out / f"bench-{run_name(family, device, args)}"
    try:
        report = run_family(family, args, device)
    except Exception as error:  # e.g. the model does not build: record it, go on with the next family
        traceback.print_exc()
        report = {"family": family, "device": device.type, "size": args.size,
                  "errors": [f"{type(error).__name__}: {error}"]}
    harness.write_json(stem.with_suffix(".json"), report)
    if "machine" in report:
        plot(report, stem.with_suffix(".png"))
    print(f"wrote {stem}.json", flush=True)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return bool(report["errors"])


if __name__ == "__main__":
    sys.exit(main())
