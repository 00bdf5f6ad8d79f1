"""The shared training loop: deterministic batches, exact resume after SIGKILL, a checkpoint on Ctrl-C or
SIGTERM, crash-safe checkpoints, non-finite loss, and two-process DDP equal to one process."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hf_transformer101 import hub, interrupts
from hf_transformer101.interrupts import TrainingInterrupted
from hf_transformer101.training import (
    DatasetBatches,
    TrainingArguments101,
    WindowBatches,
    list_checkpoints,
    resolve_checkpoint,
    run_tokenizer,
    train,
)

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "pretrain_gpt.py"


def recipe_command(output_dir, *extra):
    return [sys.executable, str(RECIPE), "--preset", "debug", "--output_dir", str(output_dir),
            "--sample_tokens", "0", *extra]


def losses(output_dir):
    lines = (Path(output_dir) / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r.get("loss"), r.get("eval_loss")) for r in map(json.loads, lines)]  # not elapsed time


def final_weights(output_dir):
    return load_file(Path(output_dir) / "model" / "model.safetensors")


def tiny_gpt():
    """Without dropout: runs that split the batch differently draw different dropout masks."""
    from hf_transformer101 import GPT101Config, GPT101ForCausalLM
    torch.manual_seed(0)
    return GPT101ForCausalLM(GPT101Config(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                          max_position_embeddings=16, hidden_dropout_prob=0.0,
                                          embedding_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


def test_window_batches_are_a_pure_function_of_the_step_and_split_over_processes():
    batches = WindowBatches(torch.arange(1000), block_size=16, batch_size=8, seed=3)
    assert torch.equal(batches(5)["input_ids"], batches(5)["input_ids"])
    assert not torch.equal(batches(5)["input_ids"], batches(6)["input_ids"])
    halves = [batches(5, rank, 2)["input_ids"] for rank in (0, 1)]
    assert torch.equal(torch.cat(halves), batches(5)["input_ids"])
    with pytest.raises(ValueError, match="fewer than one block"):
        WindowBatches(torch.arange(10), block_size=16, batch_size=2, seed=0)


def test_window_batches_score_every_position_including_the_last():
    batch = WindowBatches(torch.arange(1000), block_size=16, batch_size=4, seed=0)(0)
    assert batch["input_ids"].shape == batch["shift_labels"].shape == (4, 16)
    assert torch.equal(batch["shift_labels"], batch["input_ids"] + 1)  # the stream is 0, 1, 2, ...


def test_dataset_batches_cover_each_epoch_once():
    rows = [{"x": i} for i in range(10)]
    batches = DatasetBatches(rows, lambda examples: {"x": torch.tensor([e["x"] for e in examples])}, 5, seed=0)
    epoch = torch.cat([batches(0)["x"], batches(1)["x"]])
    assert sorted(epoch.tolist()) == list(range(10))
    assert not torch.equal(batches(2)["x"], batches(0)["x"])  # a new permutation in the next epoch


def test_dataset_batches_give_each_process_its_rows_of_the_one_process_batch_random_choices_included():
    """The collator's random choices (MLM's masks) do not depend on the number of processes; the model's dropout,
    drawn after the batch, does differ between processes."""
    def collate(examples):
        ids = torch.tensor([example["x"] for example in examples])
        return {"x": ids, "noise": torch.rand(len(ids))}  # drawn from torch's generator, as MLM's masks

    batches = DatasetBatches([{"x": i} for i in range(10)], collate, 4, seed=0)
    whole = batches(3)
    shares = []
    for rank in (0, 1):
        shares.append(batches(3, rank, 2))
        shares[-1]["dropout"] = torch.rand(3)
    for name in whole:
        assert torch.equal(torch.cat([share[name] for share in shares]), whole[name]), name
    assert not torch.equal(shares[0]["dropout"], shares[1]["dropout"])


RECIPE_STEPS = ["--max_steps", "60", "--save_every", "20", "--save_total_limit", "3"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The recipe's run that the interrupted and resumed ones must reproduce."""
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    subprocess.run(recipe_command(output_dir, *RECIPE_STEPS), check=True, capture_output=True, cwd=output_dir)
    return output_dir


def assert_resumed_run_is_identical(interrupted, uninterrupted, cwd):
    subprocess.run(recipe_command(interrupted, *RECIPE_STEPS, "--resume_from_checkpoint", "latest"), check=True,
                   capture_output=True, cwd=cwd)
    assert losses(interrupted) == losses(uninterrupted)
    expected, actual = final_weights(uninterrupted), final_weights(interrupted)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


def test_resume_after_sigkill_continues_the_identical_run(uninterrupted, tmp_path):
    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(recipe_command(interrupted, *RECIPE_STEPS), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.time() + 120
    while not (interrupted / "checkpoint-20" / "trainer_state.json").exists():
        assert process.poll() is None and time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (interrupted / "model").exists(), "the run finished before it could be killed"

    assert_resumed_run_is_identical(interrupted, uninterrupted, tmp_path)
    # The same command once more, after the run finished: nothing to train, the same model exported again.
    again = subprocess.run(recipe_command(interrupted, *RECIPE_STEPS, "--resume_from_checkpoint", "latest"),
                           capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to train: the checkpoint is at step 60" in again.stdout, again.stderr
    assert all(torch.equal(tensor, final_weights(uninterrupted)[name])
               for name, tensor in final_weights(interrupted).items())
    # The recipe trains with the fused head + loss and exports a model that returns logits, as GPT2 does.
    config = json.loads((uninterrupted / "model" / "config.json").read_text())
    assert config["fused_linear_cross_entropy"] is False


def test_sigterm_saves_the_current_step_and_ends_with_status_143(uninterrupted, tmp_path):
    """A scheduler's preemption notice: the run finishes its step, checkpoints it and exits 128 + 15."""
    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(recipe_command(interrupted, *RECIPE_STEPS), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.time() + 120
    while not ((interrupted / "metrics.jsonl").exists() and (interrupted / "metrics.jsonl").read_text()):
        assert process.poll() is None and time.time() < deadline, "training did not start"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert not (interrupted / "model").exists(), "the run finished before it could be stopped"
    saved = list_checkpoints(interrupted)[-1]
    step = json.loads((saved / "trainer_state.json").read_text())["step"]
    assert 0 < step < 60 and f"SIGTERM: stopped after step {step}, saved {saved}" in stderr
    assert (interrupted / "loss_curve.png").is_file()  # the curve so far
    assert "Traceback" not in stderr
    assert_resumed_run_is_identical(interrupted, uninterrupted, tmp_path)


def signalling(batches, signals_at):
    """`batches`, sending this process the signals {batch index: [signal, ...]} as it makes those batches."""
    def make(index, rank=0, world_size=1):
        for signum in signals_at.get(index, ()):
            os.kill(os.getpid(), signum)
        return batches(index, rank, world_size)
    return make


def test_ctrl_c_checkpoints_the_step_it_arrived_in_and_the_run_resumes_identically(tmp_path):
    """In-process, as in a notebook: `train` raises TrainingInterrupted (a SystemExit with status 130) after
    saving the step, restores the signal handlers it found, and a resumed run ends where one run would."""
    batches = WindowBatches(torch.arange(200) % 50, block_size=8, batch_size=2, seed=0)
    args = dict(max_steps=8, batch_size=2, save_every=0, warmup_steps=0, eval_every=100)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as stopped:
        train(tiny_gpt(), signalling(batches, {2: [signal.SIGINT]}), TrainingArguments101(
            output_dir=str(tmp_path / "run"), **args))
    assert signal.getsignal(signal.SIGINT) is handler
    assert isinstance(stopped.value, SystemExit) and stopped.value.code == 130 and stopped.value.step == 3
    assert list_checkpoints(tmp_path / "run") == [stopped.value.checkpoint] == [tmp_path / "run" / "checkpoint-3"]

    resumed = train(tiny_gpt(), batches, TrainingArguments101(output_dir=str(tmp_path / "run"),
                                                              resume_from_checkpoint="latest", **args))
    whole = train(tiny_gpt(), batches, TrainingArguments101(output_dir=str(tmp_path / "whole"), **args))
    assert resumed["step"] == whole["step"] == 8
    for (name, expected), actual in zip(whole["model"].state_dict().items(), resumed["model"].state_dict().values()):
        assert torch.equal(expected, actual), name


def test_a_second_ctrl_c_stops_at_once_unless_it_is_the_launchers_copy_of_the_first(tmp_path, monkeypatch):
    batches = WindowBatches(torch.arange(200) % 50, block_size=8, batch_size=2, seed=0)
    args = TrainingArguments101(output_dir=str(tmp_path), max_steps=8, batch_size=2, save_every=0,
                                warmup_steps=0, eval_every=100)
    # Within FORCE_AFTER_SECONDS of the first (torchrun forwards the terminal's Ctrl-C): one request.
    with pytest.raises(TrainingInterrupted) as stopped:
        train(tiny_gpt(), signalling(batches, {1: [signal.SIGINT, signal.SIGINT]}), args)
    assert stopped.value.step == 2
    # Later: the user insists, and the run stops in the middle of its step, without a checkpoint.
    monkeypatch.setattr(interrupts, "FORCE_AFTER_SECONDS", 0.0)
    shutil.rmtree(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_gpt(), signalling(batches, {1: [signal.SIGINT, signal.SIGINT]}), args)
    assert list_checkpoints(tmp_path) == []


def test_a_step_averages_over_the_labelled_tokens_of_its_whole_batch_whatever_the_micro_batches(tmp_path):
    """With gradient accumulation (and, the same way, over processes) a step's loss and gradient are the mean over
    every labelled token of the global batch — one batch of 4 rows trains as 2 micro-batches of 2 — not a mean
    of the micro-batches' means, which would weigh the tokens of the row pair with fewer labels more."""
    torch.manual_seed(0)
    input_ids = torch.randint(0, 50, (4, 8))  # (B, T)
    labels = input_ids.clone()
    labels[0, 2:] = labels[1, 3:] = -100  # rows 0-1 score 1 + 2 tokens (the first label is never predicted)
    rows = {"input_ids": input_ids, "labels": labels}

    def whole(index, rank=0, world_size=1):
        return rows

    def halves(index, rank=0, world_size=1):
        half = slice(2 * (index % 2), 2 * (index % 2) + 2)
        return {name: value[half] for name, value in rows.items()}

    common = dict(max_steps=3, warmup_steps=0, eval_every=100, log_every=1, save_every=0)
    one = train(tiny_gpt(), whole, TrainingArguments101(output_dir=str(tmp_path / "one"), batch_size=4, **common))
    accumulated = train(tiny_gpt(), halves, TrainingArguments101(output_dir=str(tmp_path / "two"), batch_size=2,
                                                                   gradient_accumulation_steps=2, **common))
    for (_, loss_1, _), (_, loss_2, _) in zip(losses(tmp_path / "one"), losses(tmp_path / "two")):
        assert abs(loss_1 - loss_2) < 1e-6
    for (name, expected), actual in zip(one["model"].state_dict().items(), accumulated["model"].state_dict().values()):
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-6, msg=name)

    # The data tells the two apart: the first step's loss is the token mean, far from the mean of the halves' means.
    model = tiny_gpt()
    with torch.no_grad():
        halves_means = [model(**halves(i)).loss.item() for i in (0, 1)]
        token_mean = model(**rows).loss.item()
    assert losses(tmp_path / "one")[0][1] == pytest.approx(token_mean, abs=1e-6)
    assert abs(token_mean - sum(halves_means) / 2) > 1e-3


def test_resuming_with_another_model_says_to_use_the_first_runs_flags(tmp_path):
    from hf_transformer101 import GPT101Config, GPT101ForCausalLM
    batches = WindowBatches(torch.arange(200) % 50, block_size=8, batch_size=2, seed=0)
    args = dict(output_dir=str(tmp_path), max_steps=2, batch_size=2, warmup_steps=0, eval_every=100)
    train(tiny_gpt(), batches, TrainingArguments101(**args))
    wider = GPT101ForCausalLM(GPT101Config(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                           max_position_embeddings=16))
    with pytest.raises(RuntimeError, match="checkpoint-2 holds another model than these arguments build .size mismatch"
                                           ".*resume with the preset and flags of the run that wrote it"):
        train(wider, batches, TrainingArguments101(**args, resume_from_checkpoint="latest"))


def test_a_resumed_run_reads_its_data_with_the_tokenizer_it_started_with(tmp_path):
    from hf_transformer101.tokenization import train_char_tokenizer
    first = run_tokenizer(TrainingArguments101(output_dir=str(tmp_path)), lambda: train_char_tokenizer(["abc"]))
    assert (tmp_path / "tokenizer" / "tokenizer.json").is_file()
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "trainer_state.json").write_text(json.dumps({"step": 5}))
    # The corpus changed since (new characters): the resumed run keeps the ids its model was trained on.
    resumed = run_tokenizer(TrainingArguments101(output_dir=str(tmp_path), resume_from_checkpoint="latest"),
                            lambda: train_char_tokenizer(["abcxyz"]))
    assert resumed.get_vocab() == first.get_vocab()
    fresh = run_tokenizer(TrainingArguments101(output_dir=str(tmp_path)), lambda: train_char_tokenizer(["abcxyz"]))
    assert "x" in fresh.get_vocab()  # a new run builds its own


def test_a_half_written_checkpoint_is_never_resumed(tmp_path):
    good = tmp_path / "checkpoint-20"
    good.mkdir()
    (good / "trainer_state.json").write_text(json.dumps({"step": 20}))
    (tmp_path / ".tmp-checkpoint-40").mkdir()  # a crash while writing step 40
    (tmp_path / "checkpoint-30").mkdir()  # a folder without its state file is not complete either
    assert list_checkpoints(tmp_path) == [good]
    assert resolve_checkpoint(tmp_path, "latest") == good
    assert resolve_checkpoint(tmp_path / "empty", "latest") is None
    with pytest.raises(FileNotFoundError, match="checkpoint-30"):
        resolve_checkpoint(tmp_path, str(tmp_path / "checkpoint-30"))


class ExplodingModel(torch.nn.Module):
    """Its loss turns NaN at the fourth step."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.calls = 0

    def forward(self, input_ids, labels, shift_labels=None):
        self.calls += 1
        loss = (self.weight * input_ids.float()).mean()
        return type("Output", (), {"loss": loss * float("nan") if self.calls >= 4 else loss})


def test_non_finite_loss_stops_the_run_naming_the_step(tmp_path):
    args = TrainingArguments101(output_dir=str(tmp_path), max_steps=10, batch_size=2, save_every=2,
                                warmup_steps=0, eval_every=100)
    batches = WindowBatches(torch.arange(100), block_size=4, batch_size=2, seed=0)
    with pytest.raises(FloatingPointError, match="at step 4.*checkpoint-2"):
        train(ExplodingModel(), batches, args)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-2"]


def test_gradient_checkpointing_trains_to_the_same_weights(tmp_path):
    """`--gradient_checkpointing` recomputes each Block in the backward pass (through transformers' current
    method name, without its deprecation warning) and changes nothing else: dropout is off here."""
    from hf_transformer101 import GPT101Config, GPT101ForCausalLM

    batches = WindowBatches(torch.arange(200) % 50, block_size=8, batch_size=4, seed=0)
    weights = {}
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = GPT101ForCausalLM(GPT101Config(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                                               num_attention_heads=4, max_position_embeddings=16,
                                               bos_token_id=0, eos_token_id=0, hidden_dropout_prob=0.0,
                                               embedding_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
        model_at_init = {name: value.detach().clone() for name, value in model.state_dict().items()}
        args = TrainingArguments101(output_dir=str(tmp_path / str(checkpointing)), max_steps=3, batch_size=4,
                                    warmup_steps=0, eval_every=100, save_every=0, gradient_checkpointing=checkpointing)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*checkpointing.*deprecated", category=FutureWarning)
            train(model, batches, args)
        assert model.model.gradient_checkpointing is checkpointing
        weights[checkpointing] = {name: value.detach().clone() for name, value in model.state_dict().items()}
    assert not torch.equal(weights[False]["lm_head.weight"], model_at_init["lm_head.weight"])  # it trained
    for name, value in weights[False].items():
        torch.testing.assert_close(weights[True][name], value)


@pytest.mark.parametrize("field, value, message", [("max_steps", 0, "max_steps"),
                                                   ("mixed_precision", "fp8", "mixed_precision"),
                                                   ("push_to_hub", True, "hub_model_id"),
                                                   ("learning_rate", -1e-3, "learning_rate"),
                                                   ("learning_rate", 0.0, "learning_rate"),
                                                   ("min_learning_rate", 1.0, "min_learning_rate"),
                                                   ("warmup_steps", -5, "warmup_steps"),
                                                   ("save_total_limit", 0, "save_total_limit")])
def test_bad_training_arguments_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainingArguments101(**{field: value})


@pytest.mark.parametrize("recipe, extra", [("pretrain_gpt", ["--sample_tokens", "0"]),
                                           ("pretrain_mlm", ["--dropout", "0"])])
def test_two_process_ddp_reaches_the_one_process_loss(tmp_path, recipe, extra):
    """Two CPU processes over gloo, started as torchrun starts them (accelerate's `--cpu` launcher starts one
    process without MPI), each training on its half of every global batch. For MLM that takes the masks drawn for
    the whole batch and a loss over the whole batch's masked tokens; without dropout, whose masks each process
    draws for itself."""
    one, two = tmp_path / "one", tmp_path / "two"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [str(REPO / "recipes" / f"{recipe}.py"), "--preset", "debug", *extra, "--output_dir"]
    subprocess.run([sys.executable, *command, str(one)], check=True, capture_output=True, cwd=tmp_path, env=env)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run([*torchrun, *command, str(two)], capture_output=True, text=True, cwd=tmp_path,
                            env=dict(env, ACCELERATE_USE_CPU="true"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((two / "checkpoint-20" / "trainer_state.json").read_text())["processes"] == 2
    single, double = losses(one), losses(two)
    assert [step for step, *_ in single] == [step for step, *_ in double]
    for (step, loss_1, eval_1), (_, loss_2, eval_2) in zip(single, double):
        # Same global batches; only the order of floating-point sums differs between one and two processes.
        for a, b in ((loss_1, loss_2), (eval_1, eval_2)):
            assert (a is None) == (b is None) and (a is None or abs(a - b) < 1e-4), (step, a, b)


def test_ctrl_c_stops_two_processes_at_the_same_step_with_one_checkpoint(tmp_path):
    """A terminal's Ctrl-C reaches torchrun and both workers (and torchrun passes it on to them once more): both
    finish the same step and save it together — a process that stopped alone would leave the other waiting."""
    output_dir = tmp_path / "run"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    process = subprocess.Popen(torchrun + recipe_command(output_dir, "--max_steps", "100000", "--save_every", "0")[1:],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                               env=dict(os.environ, OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="true"),
                               start_new_session=True)
    deadline = time.time() + 120
    while not ((output_dir / "metrics.jsonl").exists() and (output_dir / "metrics.jsonl").read_text()):
        assert process.poll() is None and time.time() < deadline, "training did not start"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # the whole process group, as a terminal does
    process.wait(timeout=120)
    [saved] = list_checkpoints(output_dir)
    state = json.loads((saved / "trainer_state.json").read_text())
    assert state["processes"] == 2 and 0 < state["step"] < 100000
    assert not (output_dir / "model").exists()


def test_processes_started_without_a_process_group_are_refused(tmp_path, monkeypatch):
    """torchrun on a machine without GPUs and without ACCELERATE_USE_CPU: accelerate sets up no process group,
    and each process would train alone into the same output_dir."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    batches = WindowBatches(torch.arange(200) % 50, block_size=8, batch_size=2, seed=0)
    with pytest.raises(RuntimeError, match="started as 2 processes.*ACCELERATE_USE_CPU=true"):
        train(tiny_gpt(), batches, TrainingArguments101(output_dir=str(tmp_path), max_steps=2, batch_size=2))


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 autocast is refused on the CPU only")
def test_fp16_on_the_cpu_is_refused_rather_than_run_in_fp32(tmp_path):
    # In a fresh process: accelerate keeps the first Accelerator's precision for the life of a process.
    result = subprocess.run(recipe_command(tmp_path / "run", "--mixed_precision", "fp16"), capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode != 0 and "fp16 needs a GPU: on the CPU use bf16" in result.stderr


def test_push_to_hub_without_a_login_fails_before_training(monkeypatch):
    monkeypatch.setattr(hub, "get_token", lambda: None)
    with pytest.raises(ValueError, match="needs a Hugging Face token: run `hf auth login`"):
        TrainingArguments101(push_to_hub=True, hub_model_id="someone/gpt101")
