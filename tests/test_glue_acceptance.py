"""recipes/glue_acceptance.py, the driver of the GLUE acceptance run, with a stand-in for finetune_glue.py.

The real acceptance fine-tunes for an hour or more; here a tiny script takes the recipe's place, writes the files
the recipe writes (eval_results.json, trainer_state.json) and records the command it was given, so the driver's
commands, its parallel runs and its summary table are checked in a second.
"""
import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("glue_acceptance", REPO / "recipes" / "glue_acceptance.py")
acceptance = importlib.util.module_from_spec(spec)
spec.loader.exec_module(acceptance)

# Writes what finetune_glue.py writes; HF's run ("--reference") scores 0.5 points lower on every metric.
FAKE_RECIPE = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    args = sys.argv[1:]
    out = Path(args[args.index("--output_dir") + 1])
    task = args[args.index("--task") + 1]
    shift = 0.005 if "--reference" in args else 0.0
    metrics = {"stsb": {"spearmanr": 0.86, "pearson": 0.85}}.get(task, {"accuracy": 0.91})
    metrics = {name: value - shift for name, value in metrics.items()}
    (out / "command.json").write_text(json.dumps(args))
    (out / "onednn.txt").write_text(os.environ.get("HF101_ONEDNN_LINEAR", "unset"))
    (out / "eval_results.json").write_text(json.dumps({"metrics": metrics, "train": {"train_runtime": 1.0}}))
    history = [{f"eval_{name}": value - 0.02 for name, value in metrics.items()},
               {f"eval_{name}": value for name, value in metrics.items()}]
    (out / "trainer_state.json").write_text(json.dumps({"log_history": history}))
""")


@pytest.fixture
def fake_recipe(tmp_path, monkeypatch):
    script = tmp_path / "fake_finetune_glue.py"
    script.write_text(FAKE_RECIPE)
    monkeypatch.setattr(acceptance, "RECIPE", script)
    return script


def test_runs_every_task_and_model_and_writes_the_table(fake_recipe, tmp_path, capsys):
    output_dir = tmp_path / "acceptance"
    acceptance.main(["--tasks", "sst2", "stsb", "--jobs", "2", "--output_dir", str(output_dir),
                     "--data_dir", str(tmp_path), "--", "--max_steps", "3"])

    for task in ("sst2", "stsb"):
        for run in ("ours", "hf"):
            command = json.loads((output_dir / task / run / "command.json").read_text())
            assert command[command.index("--bf16") + 1] == "false"  # fp32 unless asked: ours == HF
            assert command[-2:] == ["--max_steps", "3"]  # arguments after `--` reach every run, last
            assert ("--reference" in command) == (run == "hf")
            assert (output_dir / task / run / "onednn.txt").read_text() == "0"  # torch's fp32 linear, as HF's
            run_record = json.loads((output_dir / task / run / "run.json").read_text())
            assert run_record["returncode"] == 0 and run_record["command"].startswith("HF101_ONEDNN_LINEAR=0 ")
    sst2_command = json.loads((output_dir / "sst2" / "ours" / "command.json").read_text())
    assert sst2_command[sst2_command.index("--eval_steps") + 1] == "500"

    rows = {row["task"]: row for row in json.loads((output_dir / "summary.json").read_text())}
    assert rows["sst2"]["ours"]["accuracy"] == pytest.approx(91.0)
    assert rows["sst2"]["difference"]["accuracy"] == pytest.approx(0.5)
    assert rows["stsb"]["ours_curve"] == pytest.approx([84.0, 86.0])
    summary = (output_dir / "summary.md").read_text()
    assert "| sst2 | accuracy | ≥ 90.0 | 91.00 | 90.50 | +0.50 |" in summary
    assert "ours and HF differ by more than 0.3 points on: ['sst2', 'stsb']" in capsys.readouterr().out


def test_bf16_and_report_only(fake_recipe, tmp_path):
    output_dir = tmp_path / "acceptance"
    acceptance.main(["--tasks", "rte", "--runs", "ours", "--bf16", "--output_dir", str(output_dir)])
    command = json.loads((output_dir / "rte" / "ours" / "command.json").read_text())
    assert command[command.index("--bf16") + 1] == "true"

    (output_dir / "summary.md").unlink()
    fake_recipe.write_text("raise SystemExit('--report_only must not train')")
    acceptance.main(["--tasks", "rte", "--report_only", "--output_dir", str(output_dir)])
    assert "| rte | accuracy |  | 91.00 | — | — |" in (output_dir / "summary.md").read_text()
