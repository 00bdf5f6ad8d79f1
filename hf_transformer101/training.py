"""The accelerate training loop the three pretraining recipes share.

What it guarantees:
* Every batch is a pure function of (seed, step): `WindowBatches` / `DatasetBatches` below. A resumed run sees
  exactly the batches it would have seen, and N processes together see the one-process global batch, MLM's
  masks included — so resuming continues the identical loss curve and DDP reaches the same loss as one process
  (without dropout: each process draws its own dropout masks).
* A step's loss is the mean over the labelled tokens of its whole global batch, however it is split into
  micro-batches (gradient accumulation) and processes, as transformers' Trainer computes it.
* Nothing is lost on a crash: checkpoints (`accelerator.save_state`: safetensors weights, optimizer, scheduler,
  RNG states, plus `trainer_state.json`) are written under a temporary name and renamed when complete; the last
  `save_total_limit` are kept; a non-finite loss stops the run naming the step and the last good checkpoint;
  Ctrl-C or SIGTERM (a scheduler's preemption) stops it after the current step with a checkpoint of that step
  (hf_transformer101/interrupts.py).
* Progress is visible: a tqdm bar (loss, lr, tokens/s), TensorBoard through accelerate's trackers, a
  `metrics.jsonl` with one line per log/eval event, and a loss-curve PNG at the end.
"""

import dataclasses
import inspect
import json
import math
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from tqdm.auto import tqdm
from transformers import AutoTokenizer, HfArgumentParser, get_scheduler

from .hub import export, hub_token, push
from .interrupts import StopRequests, TrainingInterrupted, is_first_process
from .metrics import perplexity
from .plotting import plot_loss_curves

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class TrainingArguments101:
    """Arguments of the training loop; each recipe adds its own model and data arguments."""

    output_dir: str = field(default="outputs/run", metadata={
        "help": "Where checkpoints, logs and the model go (recipes default to outputs/<recipe name>)."})
    max_steps: int = field(default=1000, metadata={"help": "Optimizer steps to train for."})
    batch_size: int = field(default=32, metadata={
        "help": "Global batch per micro-step, split evenly over the processes (so results do not depend on "
                "how many processes run)."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-steps per optimizer step."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate, reached after warm-up."})
    min_learning_rate: float = field(default=0.0, metadata={
        "help": "Floor of the cosine schedule (nanoGPT decays to lr/10); 0 decays to zero."})
    lr_scheduler_type: str = field(default="cosine", metadata={
        "help": "Any transformers.get_scheduler name: cosine, linear, constant_with_warmup, ..."})
    warmup_steps: int = field(default=100, metadata={"help": "Linear warm-up steps."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW decay on matrices (never biases/norms)."})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1."})
    adam_beta2: float = field(default=0.99, metadata={
        "help": "AdamW beta2; 0.99 rather than 0.999 because small batches give noisy second moments."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm (0 = off)."})
    mixed_precision: str = field(default="no", metadata={"help": "no, bf16 or fp16 (autocast via accelerate)."})
    eval_every: int = field(default=250, metadata={"help": "Evaluate every N steps (and at the end)."})
    eval_batches: int = field(default=20, metadata={"help": "Validation batches per evaluation."})
    save_every: int = field(default=500, metadata={"help": "Checkpoint every N steps (0 = only at the end)."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints to keep (older ones are deleted)."})
    resume_from_checkpoint: str | None = field(default=None, metadata={
        "help": "'latest' (the newest complete checkpoint in output_dir) or a checkpoint folder."})
    log_every: int = field(default=10, metadata={"help": "Write a metrics line every N steps."})
    seed: int = field(default=1337, metadata={"help": "Seeds model init, batches and dropout."})
    compile: bool = field(default=False, metadata={"help": "torch.compile the model (worth it on GPU)."})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "Recompute activations in the backward pass: less memory, about 30 percent more compute."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the exported model at the end."})
    hub_model_id: str | None = field(default=None, metadata={"help": "Hub repository id for --push_to_hub."})

    def __post_init__(self):
        for name in ("max_steps", "batch_size", "gradient_accumulation_steps", "eval_every", "eval_batches",
                     "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("warmup_steps", "weight_decay", "max_grad_norm", "save_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError(f"min_learning_rate must lie in [0, learning_rate={self.learning_rate}], got "
                             f"{self.min_learning_rate}")
        if self.save_total_limit < 1:
            raise ValueError(f"save_total_limit must keep at least one checkpoint, got {self.save_total_limit}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be no, bf16 or fp16, got {self.mixed_precision!r}")
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("--push_to_hub needs --hub_model_id (e.g. your-name/gpt101-shakespeare)")
        if self.push_to_hub:
            hub_token()


class WindowBatches:
    """Causal-LM batches as random windows of one token stream, as nanoGPT samples them.

    Random offsets give a fresh view of a small corpus at every step, where fixed blocks repeat the same
    boundaries each epoch. Row r of global batch `index` comes from a generator seeded by (seed, index).
    Each window holds block_size + 1 tokens: the model reads the first block_size and every one of those
    positions, the last included, is scored on the token that follows it (`shift_labels`). With `labels` alone
    (the HF convention, shifted inside the model) the last position would never be trained — and sampling
    with a full context window reads exactly that position.
    """

    def __init__(self, tokens, block_size, batch_size, seed):
        if tokens.numel() <= block_size + 1:
            raise ValueError(f"the corpus has {tokens.numel()} tokens, fewer than one block of {block_size} + 1")
        self.tokens, self.block_size, self.batch_size, self.seed = tokens, block_size, batch_size, seed

    def __call__(self, index, rank=0, world_size=1):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        starts = torch.randint(self.tokens.numel() - self.block_size, (self.batch_size,), generator=generator)
        starts = starts.chunk(world_size)[rank]  # this process's share of the global batch
        windows = torch.stack([self.tokens[s:s + self.block_size + 1] for s in starts.tolist()])  # (b, T + 1)
        inputs = windows[:, :-1].contiguous()  # (b, T)
        # `labels` switches the loss on; `shift_labels` (already shifted: token t + 1 for position t) wins over it.
        return {"input_ids": inputs, "labels": inputs, "shift_labels": windows[:, 1:].contiguous()}


class DatasetBatches:
    """Batches of a tokenised `datasets.Dataset`: one seeded permutation per epoch, then `collate`."""

    def __init__(self, dataset, collate, batch_size, seed):
        if len(dataset) < batch_size:
            raise ValueError(f"the dataset has {len(dataset)} examples, fewer than one batch of {batch_size}")
        self.dataset, self.collate, self.batch_size, self.seed = dataset, collate, batch_size, seed
        self.batches_per_epoch = len(dataset) // batch_size  # the ragged tail is dropped: equal-size batches

    def global_rows(self, index):
        """The dataset rows of global batch `index`, (batch_size,)."""
        epoch, position = divmod(index, self.batches_per_epoch)
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed + epoch))
        return order[position * self.batch_size:(position + 1) * self.batch_size]

    def __call__(self, index, rank=0, world_size=1):
        # Every process collates the whole global batch, from one seed per step (the collator's random choices:
        # MLM's masks), and keeps its rows: masks and padding do not depend on the number of processes.
        step_seed = self.seed * 1_000_003 + index
        torch.manual_seed(step_seed)
        batch = self.collate([self.dataset[i] for i in self.global_rows(index).tolist()])
        if world_size > 1:  # the model's dropout: each process draws its own masks
            torch.manual_seed(step_seed * world_size + rank)
        return {name: value.chunk(world_size)[rank] for name, value in batch.items()}


def optimizer_groups(model, weight_decay):
    """Decay matrices (linear weights, embeddings), not biases or norm gains — nanoGPT's split."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_scheduler(optimizer, args):
    kwargs = {}
    name = args.lr_scheduler_type
    if name == "cosine" and args.min_learning_rate > 0:
        name, kwargs = "cosine_with_min_lr", {"min_lr": args.min_learning_rate}
    return get_scheduler(name, optimizer, num_warmup_steps=args.warmup_steps,
                         num_training_steps=args.max_steps, scheduler_specific_kwargs=kwargs)


def list_checkpoints(output_dir):
    """Complete checkpoints, oldest first. Half-written ones carry a temporary name and are never listed."""
    found = []
    for path in Path(output_dir).glob("checkpoint-*"):
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and (path / "trainer_state.json").exists():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def resolve_checkpoint(output_dir, resume_from_checkpoint):
    if resume_from_checkpoint is None:
        return None
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        return checkpoints[-1] if checkpoints else None  # nothing yet: start fresh, so one command fits both
    path = Path(resume_from_checkpoint)
    if not (path / "trainer_state.json").exists():
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no trainer_state.json)")
    return path


def run_tokenizer(args, build):
    """The run's tokenizer, kept in output_dir/tokenizer. A resumed run loads the one its checkpoint's run saved,
    so it reads its data with the ids it started with even if the corpus or the tokenizer flags changed since (and
    does not train it again); a new run builds it with `build()` and saves it there (from its first process)."""
    checkpoint = resolve_checkpoint(args.output_dir, args.resume_from_checkpoint)
    if checkpoint is not None and (checkpoint.parent / "tokenizer").is_dir():
        return AutoTokenizer.from_pretrained(checkpoint.parent / "tokenizer")
    tokenizer = build()
    if is_first_process():
        tokenizer.save_pretrained(Path(args.output_dir) / "tokenizer")
    return tokenizer


def load_checkpoint(accelerator, checkpoint):
    """Restore `checkpoint` (weights, optimizer, scheduler, RNG states) into the prepared objects; returns the run
    state it holds. A checkpoint of another model is refused in one line, not torch's list of every tensor."""
    try:
        accelerator.load_state(str(checkpoint))
    except RuntimeError as error:
        if "Error(s) in loading state_dict" not in str(error):
            raise
        first = next(line.strip() for line in str(error).splitlines()[1:] if line.strip())
        raise RuntimeError(f"{checkpoint} holds another model than these arguments build ({first.rstrip('.')}): "
                           "resume with the preset and flags of the run that wrote it") from error
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    state.pop("processes", None)  # a record of the saving run, not state
    state.setdefault("last_loss", None)  # (a checkpoint from before 2026-11-27)
    return state


class MetricsLog:
    """Appends JSON lines to output_dir/metrics.jsonl; on resume, drops the lines after the resumed step."""

    def __init__(self, path, resume_step):
        self.path = Path(path)
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line and json.loads(line)["step"] <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record):
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")


def token_counter(model):
    """A function giving the number of tokens the loss of `model` scores in a batch (a tensor on the batch's
    device, so no wait for it; None for a batch without labels), or None if its loss takes no
    `num_items_in_batch`. Decided as transformers' Trainer decides it: the model's `accepts_loss_kwargs`, else
    whether its forward takes **kwargs. Counted: `shift_labels`, else `labels` — less each row's first one for a
    causal LM, which shifts them (the first token is never predicted) — without the -100s."""
    if hasattr(model, "accepts_loss_kwargs"):
        accepts = model.accepts_loss_kwargs
    else:
        parameters = inspect.signature(model.forward).parameters.values()
        accepts = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters)
    if not accepts:
        return None
    causal = getattr(model, "loss_type", None) == "ForCausalLM"  # (the encoder-decoders' loss_type differs)

    def count(batch):
        if "shift_labels" in batch:
            return (batch["shift_labels"] != -100).sum()
        if "labels" in batch:
            return ((batch["labels"][..., 1:] if causal else batch["labels"]) != -100).sum()
        return None
    return count


@torch.no_grad()
def evaluate_loss(model, batches, accelerator, count_tokens=None):
    """The mean loss per labelled token over the given batches of every process, perplexity's exponent, with
    `count_tokens` (`token_counter`); without it, the mean of the batches' losses."""
    was_training = model.training
    model.eval()
    total = torch.zeros((), device=accelerator.device)
    count = torch.zeros((), device=accelerator.device)
    for batch in batches:
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        labelled = None if count_tokens is None else count_tokens(batch)
        with accelerator.autocast():
            if labelled is None:
                total, count = total + model(**batch).loss.float(), count + 1
            else:  # num_items_in_batch=1: the summed token losses
                total, count = total + model(**batch, num_items_in_batch=1).loss.float(), count + labelled
    model.train(was_training)
    total, count = accelerator.reduce(torch.stack([total, count]), reduction="sum").tolist()
    return total / count if count else math.nan  # nothing labelled: NaN, as the models' loss


def enable_activation_checkpointing(model):
    """Recompute each Block in the backward pass: `activation_checkpointing_enable`, transformers' name since 5.24,
    or `gradient_checkpointing_enable` (deprecated since) before it."""
    getattr(model, "activation_checkpointing_enable", model.gradient_checkpointing_enable)()


def train(model, train_batches, args, *, eval_batches=None, tokens_in=None):
    """Train `model` on `train_batches(index, rank, world_size)` and return a summary: the `accelerator`, the
    trained `model`, and the run's `step`, `last_loss` (the last step's training loss; None when a checkpoint
    from before 2026-11-27 left nothing to train), `last_eval_loss` and `best_eval_loss`.

    `eval_batches(rank, world_size)` returns an iterable of this process's share of the validation batches
    (the same batches at every evaluation, so the losses compare across steps); `tokens_in(batch)` counts
    a batch's tokens for the tokens/s readout (default: the number of input_ids).
    """
    # split_batches: each process trains on its share of the one global batch (train_batches(index, rank,
    # world_size)), so the prepared scheduler steps once per optimizer step; by default accelerate assumes a
    # batch per process and steps it once per process, which ran the schedule twice as fast on two processes.
    accelerator = Accelerator(mixed_precision=args.mixed_precision, log_with="tensorboard",
                              project_dir=args.output_dir,
                              gradient_accumulation_steps=args.gradient_accumulation_steps,
                              dataloader_config=DataLoaderConfiguration(split_batches=True))
    rank, world = accelerator.process_index, accelerator.num_processes
    launched = int(os.environ.get("WORLD_SIZE", 1))  # set for every process by torchrun / accelerate launch
    if launched > 1 and world == 1:
        # Each process would train alone and all of them write the same output_dir.
        raise RuntimeError(f"started as {launched} processes, but accelerate set up no process group: on a machine "
                           "without GPUs, set ACCELERATE_USE_CPU=true (docs/recipes.md, 'Several GPUs')")
    if args.mixed_precision == "fp16" and accelerator.device.type == "cpu":
        # accelerate would run in fp32 without a word (it has no fp16 autocast on the CPU).
        raise ValueError("--mixed_precision fp16 needs a GPU: on the CPU use bf16 (fast on CPUs with AVX512-BF16 "
                         "or AMX) or no")
    if args.batch_size % accelerator.num_processes:
        raise ValueError(f"batch_size {args.batch_size} must divide evenly over {accelerator.num_processes} "
                         "processes")
    set_seed(args.seed)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tokens_in = tokens_in or (lambda batch: batch["input_ids"].numel())

    if args.gradient_checkpointing:
        enable_activation_checkpointing(model)
    optimizer = torch.optim.AdamW(optimizer_groups(model, args.weight_decay), lr=args.learning_rate,
                                  betas=(args.adam_beta1, args.adam_beta2),
                                  fused=accelerator.device.type == "cuda")  # one kernel for all params on GPU
    scheduler = build_scheduler(optimizer, args)
    # A step's loss is the mean over the labelled tokens of its whole global batch (every micro-batch, every
    # process), as one process with the whole batch computes it: not a mean of per-batch means, which weighs the
    # tokens of a batch with few labels (MLM's random masks, translation's short sentences) more. transformers'
    # Trainer does the same through `num_items_in_batch`; models without that argument keep the mean of means.
    count_tokens = token_counter(model)
    accumulation = args.gradient_accumulation_steps
    loss_scale = accumulation * world
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    forward_model = torch.compile(model) if args.compile else model

    state = {"step": 0, "last_loss": None, "best_eval_loss": math.inf, "last_eval_loss": None}
    checkpoint = resolve_checkpoint(output_dir, args.resume_from_checkpoint)
    if checkpoint is not None:
        state = load_checkpoint(accelerator, checkpoint)
        accelerator.print(f"resumed from {checkpoint} at step {state['step']}")
        if state["step"] >= args.max_steps:  # e.g. the same command run again after the run finished
            accelerator.print(f"nothing to train: the checkpoint is at step {state['step']}, max_steps is "
                              f"{args.max_steps}")
    log = MetricsLog(output_dir / "metrics.jsonl", state["step"]) if accelerator.is_main_process else None
    accelerator.init_trackers("tensorboard", config={k: v for k, v in dataclasses.asdict(args).items()
                                                      if isinstance(v, (int, float, str, bool))})

    run_start = time.perf_counter()

    def record(values):
        accelerator.log(values, step=state["step"])
        if log is not None:
            # Wall time since this process started training: compares runs at equal time, not equal steps.
            log.write({"step": state["step"], **values, "elapsed_seconds": time.perf_counter() - run_start})

    def run_eval():
        if eval_batches is None:
            return
        loss = evaluate_loss(forward_model, eval_batches(rank, world), accelerator, count_tokens)
        state["last_eval_loss"] = loss
        state["best_eval_loss"] = min(state["best_eval_loss"], loss)
        record({"eval_loss": loss, "eval_perplexity": math.exp(min(loss, 50))})

    def save_checkpoint():
        final = output_dir / f"checkpoint-{state['step']}"
        temporary = output_dir / f".tmp-checkpoint-{state['step']}"
        if accelerator.is_main_process and temporary.exists():
            shutil.rmtree(temporary)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(temporary))
        if accelerator.is_main_process:
            # (+ how many processes trained: a record; a run may resume on another number)
            (temporary / "trainer_state.json").write_text(json.dumps({**state, "processes": world}))
            if final.exists():
                shutil.rmtree(final)
            os.replace(temporary, final)  # atomic: a crash leaves either the old or the new checkpoint
            for old in list_checkpoints(output_dir)[:-args.save_total_limit]:
                shutil.rmtree(old)
        accelerator.wait_for_everyone()
        return final

    def stopped_with_checkpoint(last_checkpoint, signum):
        """A stop request's end of the run: a checkpoint of this step (unless it has one), the exception to raise."""
        saved_now = last_checkpoint is not None and last_checkpoint.name == f"checkpoint-{state['step']}"
        checkpoint = last_checkpoint if saved_now else save_checkpoint()
        progress.close()
        accelerator.end_training()
        interrupted = TrainingInterrupted(checkpoint, state["step"], signum)
        if accelerator.is_main_process:
            metrics = output_dir / "metrics.jsonl"
            if metrics.is_file() and metrics.stat().st_size:  # the curve so far (nothing logged yet: none)
                plot_loss_curves(metrics, output_dir / "loss_curve.png")
            print(interrupted.message, file=sys.stderr)
        return interrupted

    model.train()
    progress = tqdm(total=args.max_steps, initial=state["step"], disable=not accelerator.is_local_main_process,
                    desc="training", dynamic_ncols=True)
    window_start, window_tokens = time.perf_counter(), 0
    last_checkpoint = checkpoint
    with StopRequests() as stop:
        while state["step"] < args.max_steps:
            micro_batches = [{k: v.to(accelerator.device) for k, v in train_batches(index, rank, world).items()}
                             for index in range(state["step"] * accumulation, (state["step"] + 1) * accumulation)]
            counts = [None] if count_tokens is None else [count_tokens(batch) for batch in micro_batches]
            labelled = None if any(n is None for n in counts) else accelerator.reduce(sum(counts), "sum")
            step_loss = torch.zeros((), device=accelerator.device)
            for batch in micro_batches:
                with accelerator.accumulate(model):
                    with accelerator.autocast():
                        if labelled is None:  # this micro-batch's mean, 1 / (micro-steps x processes) of the step
                            share = forward_model(**batch).loss / loss_scale
                        else:  # this micro-batch's summed token losses / the step's labelled tokens, all processes
                            share = forward_model(**batch, num_items_in_batch=labelled).loss
                    # accelerate divides by the micro-steps, DDP averages over processes: undone, the gradient is
                    # the step's loss's
                    accelerator.backward(share * loss_scale)
                    if accelerator.sync_gradients and args.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                window_tokens += tokens_in(batch) * world
                step_loss = step_loss + share.detach().float()
            # One reduction per step for the step's loss (the sum of the shares) and whether any process was
            # asked to stop (> 0).
            requested = torch.tensor(float(stop.signum is not None), device=step_loss.device)
            loss_value, stop_value = accelerator.reduce(torch.stack([step_loss, requested]), "sum").tolist()
            if not math.isfinite(loss_value):
                accelerator.end_training()
                where = (f"the last good checkpoint is {last_checkpoint}" if last_checkpoint
                         else "no checkpoint was saved")
                raise FloatingPointError(f"loss became {loss_value} at step {state['step'] + 1}; stopping ({where})")
            state["step"] += 1
            state["last_loss"] = loss_value
            progress.update(1)
            if state["step"] % args.log_every == 0 or state["step"] == args.max_steps:
                elapsed = time.perf_counter() - window_start
                values = {"loss": loss_value, "learning_rate": scheduler.get_last_lr()[0],
                          "tokens_per_second": window_tokens / max(elapsed, 1e-9)}
                record(values)
                progress.set_postfix(loss=f"{loss_value:.4f}", lr=f"{values['learning_rate']:.2e}",
                                     tok_s=f"{values['tokens_per_second']:.0f}")
                window_start, window_tokens = time.perf_counter(), 0
            if state["step"] % args.eval_every == 0 or state["step"] == args.max_steps:
                run_eval()
            if (args.save_every and state["step"] % args.save_every == 0) or state["step"] == args.max_steps:
                last_checkpoint = save_checkpoint()
            if stop_value > 0 and state["step"] < args.max_steps:
                raise stopped_with_checkpoint(last_checkpoint, stop.signum)
    progress.close()
    accelerator.end_training()
    # keep_fp32_wrapper=False: the returned model runs in its own dtype, not under the training autocast.
    model = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    return {"accelerator": accelerator, "model": model, **state}


def print_once(*args, **kwargs):
    """`print` in the first process of a run only (what a recipe says before `train` sets accelerate up; the
    launchers give every process its RANK)."""
    if is_first_process():
        print(*args, **kwargs)


def parse_recipe_arguments(dataclass_types, preset_dir, argv=None):
    """Parse the recipe's dataclasses from the command line with `HfArgumentParser`.

    `--preset NAME` (a YAML/JSON file in `preset_dir`, or a path) supplies defaults; anything on the command
    line overrides them. Unknown preset keys are an error, not silently ignored.
    """
    parser = HfArgumentParser(dataclass_types)
    presets = sorted(p.stem for p in Path(preset_dir).glob("*.yaml"))
    parser.add_argument("--preset", default=None, help=f"Defaults from a preset: one of {presets}, or a file.")
    parser.set_defaults(output_dir=f"outputs/{Path(preset_dir).name}")  # e.g. outputs/pretrain_gpt
    known, _ = parser.parse_known_args(argv)
    if known.preset:
        path = Path(known.preset) if Path(known.preset).is_file() else Path(preset_dir) / f"{known.preset}.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"preset {known.preset!r} not found: expected one of {presets} or a file path")
        values = yaml.safe_load(path.read_text()) or {}
        fields = {f.name for cls in dataclass_types for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"{path} sets unknown arguments {unknown}")
        parser.set_defaults(**values)
    *parsed, _namespace = parser.parse_args_into_dataclasses(args=argv)
    return parsed


BUILT_IN_CORPUS = "CPython reference documentation (built in)"  # what data.load_text_corpus(None) reads


def write_eval_results(result, output_dir, *, task_type, corpus, split):
    """A pretraining run's final validation loss as `output_dir/eval_results.json`, in the format `hub.export`
    reads into the model card's model-index. `corpus` is the recipe's --corpus (None: the built-in one)."""
    corpus_name = corpus or BUILT_IN_CORPUS
    eval_results = {
        "task_type": task_type, "dataset_name": Path(corpus).name if corpus else corpus_name,
        "dataset_type": corpus_name, "dataset_split": split,
        "metrics": {"loss": result["last_eval_loss"], "perplexity": perplexity(result["last_eval_loss"])},
        "best_eval_loss": result["best_eval_loss"], "step": result["step"],
    }
    (Path(output_dir) / "eval_results.json").write_text(json.dumps(eval_results, indent=2))
    return eval_results


def publish(model, tokenizer, args, eval_results, arguments, description):
    """The end every pretraining recipe shares: a Hub-ready `output_dir/model` (its card's model-index read from
    `eval_results`, `arguments` {name: dataclass} recorded), the upload with --push_to_hub, the loss-curve PNG."""
    output_dir = Path(args.output_dir)
    folder = export(model.float(), tokenizer, output_dir / "model", eval_results=eval_results,
                    training_args={name: dataclasses.asdict(value) for name, value in arguments.items()},
                    model_name=output_dir.name, repo_id=args.hub_model_id, overwrite=True, description=description)
    plot_loss_curves(output_dir / "metrics.jsonl", output_dir / "loss_curve.png")
    if args.push_to_hub:  # last: a failed upload leaves everything else written
        push(folder, args.hub_model_id)
    return folder
