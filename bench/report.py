"""Markdown tables from bench/run.py's JSON files — what docs/benchmarks.md shows, without copying by hand.

    python bench/report.py bench-out/bench-*.json > tables.md

One table per file: every timed measurement with ours and HF as median [min–max] over the rounds and the
speedup (median of the per-round ratios), extra candidates of ours (static-cache decoders, BERT's sparse MLM
head, the fused loss) as rows of their own, the peak memory of each training step and, on GPU, GPT's MFU.
"""

import argparse
import json
import sys
from pathlib import Path

MIB = 2**20


def number(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def spread(result):
    return f"{number(result['median'])} [{number(result['min'])}–{number(result['max'])}]"


def named(text, candidate):
    return text if candidate == "ours" else f"{text} ({candidate})"


def rows(report):
    """(measurement, unit, ours, HF, speedup) for every timed result of the report, then the memory rows and, on
    GPU for GPT, the MFU rows."""
    for part in ("train", "inference", "generation"):
        for setting, result in report.get(part, {}).items():
            hf = result["hf"]
            for name, value in result.items():
                if isinstance(value, dict) and "speedup" in value:
                    speedup = f"**{value['speedup']:.2f}×**"
                    yield named(f"{part} {setting}", name), value["unit"], spread(value), spread(hf), speedup
            memory = result.get("peak_memory_bytes", {})
            for name in (n for n in memory if n not in ("hf", "ratio")):
                ratio = f"ours/HF = {memory[name] / max(memory['hf'], 1):.2f}"
                yield (named(f"{part} {setting} peak memory", name), "MiB", number(memory[name] / MIB),
                       number(memory["hf"] / MIB), ratio)
            mfu = result.get("mfu", {})  # {candidate: fraction of the GPU's dense bf16 peak, ...}
            for name in (n for n in mfu if n.startswith("ours")):
                ratio = f"ours/HF = {mfu[name] / mfu['hf']:.2f}"
                percent = f"{100 * mfu[name]:.1f}", f"{100 * mfu['hf']:.1f}"
                yield named(f"{part} {setting} MFU", name), "%", *percent, ratio


def table(report):
    config = report["config"]
    lines = [f"**{report['family']}** vs `{report['reference_class']}` ({report['device']}, size {report['size']}: "
             f"{config['layers']} layers × {config['hidden']}, batch {config['batch']}; "
             f"{report['rounds']} rounds; `{report['command']}`)", "",
             "| measurement | unit | ours median [min–max] | HF median [min–max] | speedup |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(report)]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path, help="bench-<family>-<device>.json files of bench/run.py")
    args = parser.parse_args(argv)
    print("\n\n".join(table(json.loads(path.read_text())) for path in args.reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
