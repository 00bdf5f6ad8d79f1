"""The benchmarks run on a tiny size and write valid JSON (and their charts). No timing is asserted, ever:
speed is measured by the scripts in bench/, on purpose-built runs, not by tests on a shared machine."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"


# The scripts set torch's thread count (2 by default); keep the test process's, or later tests see another one.
THREADS = ["--threads", str(torch.get_num_threads())]


def load(script):
    spec = importlib.util.spec_from_file_location(f"bench_{script}", BENCH / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("family", ["gpt", "bert", "seq2seq"])
def test_run_writes_json_and_chart(family, tmp_path):
    run = load("run")
    assert run.main(["--family", family, "--size", "tiny", "--rounds", "1", "--out", str(tmp_path), *THREADS]) == 0
    report = json.loads((tmp_path / f"bench-{family}-cpu.json").read_text())
    assert report["errors"] == []
    # Tied weights are not duplicated (Marian also keeps its sinusoid tables as weights: ours has fewer).
    assert report["parameters"]["ours"] <= report["parameters"]["hf"]
    assert report["loss_check"]["ours"] == pytest.approx(report["loss_check"]["hf"], abs=1e-3)
    for precision in ("fp32", "bf16"):
        train = report["train"][precision]
        assert {"median", "min", "max", "samples", "speedup"} <= set(train["ours"])
        assert train["peak_memory_bytes"]["hf"] >= 0
        assert report["inference"][precision]["ours"]["unit"] == "tokens/s"
    if family != "bert":
        generation = next(iter(report["generation"].values()))
        assert all(generation["same_tokens_as_hf"].values())
    assert (tmp_path / f"bench-{family}-cpu.png").stat().st_size > 0
    option = "ours_sparse" if family == "bert" else "ours_fused"  # BERT's sparse MLM head, the others' fused loss
    assert report["train"]["fp32"][option]["speedup"] > 0  # (each checked to give our loss first)
    # Ours on torch's fp32 linear too, where ours runs on oneDNN (fp32 only: bf16 autocast is the same computation).
    assert ("ours_torch_linear" in report["train"]["fp32"]) == report["onednn_linear"]
    assert "ours_torch_linear" not in report["train"]["bf16"]


def test_report_renders_the_json_as_markdown_tables(tmp_path, capsys):
    run, report = load("run"), load("report")
    run.main(["--family", "gpt", "--size", "tiny", "--rounds", "1", "--parts", "train,generation",
              "--out", str(tmp_path), *THREADS])
    capsys.readouterr()
    assert report.main([str(tmp_path / "bench-gpt-cpu.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| measurement | unit | ours median [min–max] | HF median [min–max] | speedup |"
    measured = {line.split(" | ")[0].lstrip("| ") for line in lines[4:]}
    assert {"train fp32", "train fp32 peak memory", "generation batch_1 (ours_static_compiled)"} <= measured


def test_report_shows_the_mfu_of_every_candidate_of_ours(tmp_path, capsys):
    """GPU runs of GPT record the MFU of each candidate; the tables show ours' and HF's side by side."""
    report = load("report")
    gpu_run = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "gpu-2-h100" / "bench-gpt-cuda.json"
    data = json.loads(gpu_run.read_text())
    data["train"]["bf16"]["mfu"]["ours_fused"] = 0.3  # as a run with the fused loss records it
    (tmp_path / "run.json").write_text(json.dumps(data))
    assert report.main([str(tmp_path / "run.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "| train bf16 MFU | % | 27.7 | 11.5 | ours/HF = 2.40 |" in lines
    assert "| train bf16 MFU (ours_fused) | % | 30.0 | 11.5 | ours/HF = 2.60 |" in lines


def test_run_profiles_and_picks_the_attention_kernel(tmp_path):
    """--profile writes each model's torch.profiler table; --sdpa-backend names the kernel SDPA uses (and the
    output files), for both models; --batch, --layers and --vocab change the size (--vocab: the files' names too)."""
    run = load("run")
    assert run.main(["--family", "gpt", "--size", "tiny", "--rounds", "1", "--parts", "train", "--precisions", "fp32",
                     "--profile", "--sdpa-backend", "math", "--batch", "1", "--layers", "1", "--vocab", "50",
                     "--out", str(tmp_path), *THREADS]) == 0
    report = json.loads((tmp_path / "bench-gpt-cpu-math-vocab50.json").read_text())
    assert report["sdpa_backend"] == "math" and report["errors"] == []
    assert (report["config"]["batch"], report["config"]["layers"], report["config"]["vocab"]) == (1, 1, 50)
    for name in ("ours", "hf"):
        table = (tmp_path / f"profile-gpt-cpu-math-vocab50-{name}-fp32.txt").read_text()
        assert "aten::bmm" in table and "Self CPU" in table  # the math kernel ran (batched products),
        assert "_scaled_dot_product_flash_attention" not in table  # not the flash one


def test_attention_sweep_writes_json_and_chart(tmp_path):
    sweep = load("attention_sweep")
    assert sweep.main(["--min-length", "16", "--max-length", "32", "--heads", "2", "--head-dim", "8",
                       "--rounds", "1", "--out", str(tmp_path), *THREADS]) == 0
    report = json.loads((tmp_path / "attention-sweep-cpu.json").read_text())
    assert report["lengths"] == [16, 32] and report["errors"] == []
    for kernel in ("eager", "sdpa"):
        assert [row["ms"]["median"] > 0 for row in report["results"][kernel]] == [True, True]
    assert (tmp_path / "attention-sweep-cpu.png").stat().st_size > 0
