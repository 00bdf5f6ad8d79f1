"""The lecture's O(n²), made visible: time and memory of causal self-attention against sequence length T.

    python bench/attention_sweep.py --device cpu --max-length 2048      # -> bench-out/attention-sweep-cpu.json/.png
    python bench/attention_sweep.py --device cuda --max-length 4096

Compares the two kernels our models dispatch between (`modeling/blocks.py`): `eager_attention`, which writes out
softmax(q kᵀ/√D) v and so materialises the (T, T) score matrix per head, and PyTorch's fused
scaled_dot_product_attention (through transformers' "sdpa" function, `is_causal`, no mask), whose flash kernels
work tile by tile and never hold the matrix. Both do O(T²) arithmetic; only eager needs O(T²) memory.
Each length is timed forward + backward (training), eager and SDPA alternating round by round (harness.py).
"""

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from hf_transformer101.modeling.blocks import eager_attention  # noqa: E402

KERNELS = {"eager": eager_attention, "sdpa": sdpa_attention_forward}


def attention_step(kernel, batch, heads, length, head_dim, dtype, device):
    """One forward + backward of causal attention on fresh random q, k, v (B, H, T, D)."""
    module = SimpleNamespace(is_causal=True, training=True)  # what the kernels read from our attention layer
    shape = (batch, heads, length, head_dim)

    def run():
        query, key, value = (torch.randn(shape, dtype=dtype, device=device, requires_grad=True) for _ in range(3))
        output, _ = kernel(module, query, key, value, None, scaling=head_dim**-0.5)
        output.sum().backward()
    return run


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = report["lengths"]
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in KERNELS:
        rows = report["results"][name]
        time_axis.plot(lengths, [row["ms"]["median"] for row in rows], "o-", label=name)
        memory_axis.plot(lengths, [row["peak_memory_bytes"] / 2**20 for row in rows], "o-", label=name)
    eager = report["results"]["eager"]
    for axis, last in ((time_axis, eager[-1]["ms"]["median"]), (memory_axis, eager[-1]["peak_memory_bytes"] / 2**20)):
        # A T² guide through eager's longest point (where fixed overheads matter least): parallel = quadratic.
        axis.plot(lengths, [last * (t / lengths[-1]) ** 2 for t in lengths], "k:", linewidth=1, label="∝ T²")
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("sequence length T")
        axis.legend()
        axis.grid(True, which="both", alpha=0.3)
    time_axis.set_ylabel("forward + backward, ms (median)")
    memory_axis.set_ylabel("peak memory, MiB")
    shape = report["shape"]
    device = report["machine"].get("gpu", report["machine"]["cpu"])
    figure.suptitle(f"causal self-attention, B={shape['batch']} H={shape['heads']} D={shape['head_dim']}, "
                    f"{report['dtype']}, {device}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--min-length", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=None,
                        help="longest T, doubling from --min-length (default: 2048 on CPU, 4096 on CUDA)")
    parser.add_argument("--batch", type=int, default=None,
                        help="default: 1 on CPU, 8 on CUDA (at batch 1 a GPU is launch-bound: flat times hide T²)")
    parser.add_argument("--heads", type=int, default=12, help="GPT-2 small's 12 heads of 64")
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default=None,
                        help="default: fp32 on CPU, bf16 on CUDA (the flash kernels' dtype)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the CPU machine has 2 cores)")
    parser.add_argument("--out", type=Path, default=Path("bench-out"), help="folder for JSON and PNG")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device")
    cuda = device.type == "cuda"
    max_length = args.max_length or (4096 if cuda else 2048)
    dtype_name = args.dtype or ("bf16" if cuda else "fp32")
    args.batch = args.batch or (8 if cuda else 1)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    torch.set_num_threads(args.threads)

    lengths = [args.min_length]
    while lengths[-1] * 2 <= max_length:
        lengths.append(lengths[-1] * 2)
    report = {"command": "python " + " ".join(sys.argv), "machine": harness.machine(device), "dtype": dtype_name,
              "shape": {"batch": args.batch, "heads": args.heads, "head_dim": args.head_dim}, "lengths": [],
              "results": {name: [] for name in KERNELS}, "errors": []}
    for length in lengths:
        steps = {name: attention_step(kernel, args.batch, args.heads, length, args.head_dim, dtype, device)
                 for name, kernel in KERNELS.items()}
        try:
            seconds = harness.alternate(steps, rounds=args.rounds, warmup=1, device=device)
            memory = {name: harness.peak_memory(step, device) for name, step in steps.items()}
        except torch.OutOfMemoryError as error:  # eager's T² matrices run out first: keep the lengths done
            report["errors"].append(f"T={length}: {error}")
            break
        report["lengths"].append(length)
        for name in KERNELS:
            report["results"][name].append({"ms": harness.spread([1000 * s for s in seconds[name]]),
                                            "peak_memory_bytes": memory[name]})
        print(f"T={length:5d}: " + " | ".join(
            f"{name} {row[-1]['ms']['median']:9.2f} ms {row[-1]['peak_memory_bytes'] / 2**20:8.1f} MiB"
            for name, row in report["results"].items()), flush=True)
    stem = args.out / f"attention-sweep-{device.type}"
    harness.write_json(stem.with_suffix(".json"), report)
    if report["lengths"]:
        plot(report, stem.with_suffix(".png"))
    print(f"wrote {stem}.json")
    return 0 if report["lengths"] else 1


if __name__ == "__main__":
    sys.exit(main())
