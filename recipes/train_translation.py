"""Train a Seq2Seq101 translation model — the lecture's encoder-decoder family — and score it with sacreBLEU.

    python recipes/train_translation.py --preset debug             # seconds: a slice of Multi30k (tests)
    python recipes/train_translation.py --preset cpu               # Multi30k en->de, 2 CPU cores, ~15 min: BLEU 35
    python recipes/train_translation.py --preset cpu --source_lang de --target_lang en --output_dir outputs/de-en
    accelerate launch recipes/train_translation.py --preset gpu    # Multi30k, the paper's recipe at small scale

`--data` is a folder of parallel files in Multi30k's layout (train.en/train.de, val.*, test_2016_flickr.*) or a
Hub id (`bentrevett/multi30k`, `wmt14 --hub_config de-en`); by default `../shared/data/multi30k` when it exists.
One SentencePiece vocabulary is trained on both sides of the training data (the paper's shared vocabulary, so
encoder embedding, decoder embedding and output layer are one matrix). Every `eval_every` steps the validation
loss is logged; at the end a slice of the validation split, and the test split when there is one, is translated
with beam search and scored with sacreBLEU + chrF: `eval/{split}/bleu.json` (with the signatures) and
`eval/{split}/hypotheses.txt`. `output_dir/model` loads with `AutoModelForSeq2SeqLM`.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer, DataCollatorForSeq2Seq, PreTrainedTokenizerBase

from hf_transformer101 import Seq2Seq101Config, Seq2Seq101ForConditionalGeneration
from hf_transformer101.data import load_translation, pretrained_source
from hf_transformer101.tokenization import train_sentencepiece_tokenizer
from hf_transformer101.training import (
    DatasetBatches,
    TrainingArguments101,
    parse_recipe_arguments,
    print_once,
    publish,
    run_tokenizer,
    train,
)
from hf_transformer101.translation import evaluate_translation, save_translation_eval

PRESETS = Path(__file__).parent / "configs" / "train_translation"
REPO = Path(__file__).resolve().parents[1]


@dataclass
class ModelArguments:
    layers: int = field(default=3, metadata={"help": "Encoder and decoder blocks each (the paper's base: 6)."})
    d_model: int = field(default=256, metadata={"help": "Width of the residual stream (base: 512)."})
    attention_heads: int = field(default=4, metadata={"help": "Heads per attention layer (base: 8)."})
    ffn_dim: int | None = field(default=None, metadata={"help": "FFN width; empty = 4 * d_model (base: 2048)."})
    dropout: float = field(default=0.1, metadata={"help": "P_drop on residual branches and embeddings (base: 0.1)."})
    max_length: int = field(default=128, metadata={
        "help": "Longest source / target in tokens; longer training pairs are truncated."})


@dataclass
class DataArguments:
    data: str | None = field(default=None, metadata={
        "help": "Parallel data: a folder of {prefix}.{lang} files (Multi30k/WMT layout) or a Hub dataset id; "
                "empty = ../shared/data/multi30k ($HF101_DATA_DIR/multi30k) when it exists."})
    hub_config: str | None = field(default=None, metadata={"help": "Config of a Hub dataset, e.g. de-en for wmt14."})
    source_lang: str = field(default="en", metadata={"help": "Language code of the source side (file suffix)."})
    target_lang: str = field(default="de", metadata={"help": "Language code of the target side."})
    max_train_examples: int | None = field(default=None, metadata={"help": "Use only the first N training pairs."})
    tokenizer: str = field(default="sentencepiece", metadata={
        "help": "'sentencepiece' (a joint unigram model trained on both sides) or a saved tokenizer folder."})
    vocab_size: int = field(default=8000, metadata={"help": "Joint vocabulary size when training SentencePiece."})
    bleu_validation_examples: int | None = field(default=500, metadata={
        "help": "Validation sentences translated for BLEU at the end (empty = all)."})
    bleu_test_examples: int | None = field(default=None, metadata={
        "help": "Test sentences translated for BLEU at the end (empty = all: the number to report)."})
    num_beams: int = field(default=4, metadata={"help": "Beam size for the final translations (1 = greedy)."})
    length_penalty: float = field(default=0.6, metadata={
        "help": "Beam scores are divided by length**length_penalty (the paper: alpha = 0.6)."})
    eval_batch_size: int = field(default=64, metadata={"help": "Sentences per generate() batch."})


class LengthGroupedBatches(DatasetBatches):
    """`DatasetBatches` whose batches hold pairs of similar length, so little of each batch is padding (about half
    of a random Multi30k batch is; grouping roughly doubles CPU throughput).

    As transformers' `group_by_length`: the epoch's seeded permutation is cut into spans of `group` batches, each
    span is sorted by length and cut into batches, and the batches are shuffled. Still a pure function of
    (seed, step), so resume and DDP stay exact.
    """

    def __init__(self, dataset, collate, batch_size: int, seed: int, lengths: list[int], group: int = 50):
        super().__init__(dataset, collate, batch_size, seed)
        self.lengths, self.group = torch.tensor(lengths), group
        self._epoch = (None, None)  # (epoch, its batches): sorting once per epoch, not once per step

    def epoch_batches(self, epoch: int) -> torch.Tensor:
        if self._epoch[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(len(self.dataset), generator=generator)[:self.batches_per_epoch * self.batch_size]
            spans = order.split(self.group * self.batch_size)
            order = torch.cat([span[torch.argsort(self.lengths[span], descending=True, stable=True)]
                               for span in spans])
            batches = order.view(self.batches_per_epoch, self.batch_size)  # (batches, batch_size)
            self._epoch = (epoch, batches[torch.randperm(self.batches_per_epoch, generator=generator)])  # mixed
        return self._epoch[1]

    def global_rows(self, index: int) -> torch.Tensor:
        epoch, position = divmod(index, self.batches_per_epoch)
        return self.epoch_batches(epoch)[position]


def find_default_data() -> tuple[str | None, list[Path]]:
    """Multi30k beside the checkout or the working directory; None when absent (the caller names --data)."""
    candidates = [Path(os.environ["HF101_DATA_DIR"]) / "multi30k"] if os.environ.get("HF101_DATA_DIR") else []
    candidates += [REPO.parent / "shared" / "data" / "multi30k", Path("../shared/data/multi30k")]
    return next((str(path) for path in candidates if (path / "train.en").is_file()), None), candidates


def load_data(data_args: DataArguments) -> tuple[str, DatasetDict]:
    source = data_args.data
    if source is None:
        source, tried = find_default_data()
        if source is None:
            raise FileNotFoundError("no --data given and no Multi30k folder found (looked in "
                                    f"{', '.join(map(str, tried))}): pass --data DIR with train.en/train.de, "
                                    "val.*, test_2016_flickr.*, or a Hub id such as bentrevett/multi30k")
    splits = load_translation(source, data_args.source_lang, data_args.target_lang, hub_config=data_args.hub_config)
    missing = [split for split in ("train", "validation") if split not in splits]
    if missing:
        raise ValueError(f"--data {source}: no {' or '.join(missing)} split (found {sorted(splits)}); training "
                         "needs train.{lang} and val.{lang} files, or a Hub dataset with both splits")
    if data_args.max_train_examples:
        splits["train"] = splits["train"].select(range(min(data_args.max_train_examples, len(splits["train"]))))
    return source, splits


def build_tokenizer(data_args: DataArguments, train_split: Dataset, max_length: int) -> PreTrainedTokenizerBase:
    if data_args.tokenizer != "sentencepiece":
        return AutoTokenizer.from_pretrained(pretrained_source(data_args.tokenizer))
    pairs = train_split["translation"]
    sides = (pair[lang] for lang in (data_args.source_lang, data_args.target_lang) for pair in pairs)
    return train_sentencepiece_tokenizer(sides, data_args.vocab_size, model_max_length=max_length)


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, args = parse_recipe_arguments(
        (ModelArguments, DataArguments, TrainingArguments101), PRESETS, argv)
    src, tgt = data_args.source_lang, data_args.target_lang
    source, splits = load_data(data_args)
    tokenizer = run_tokenizer(args, lambda: build_tokenizer(data_args, splits["train"], model_args.max_length))

    def tokenize(batch):
        # "src </s>" as input_ids, "tgt </s>" as labels; the model shifts labels right into decoder inputs.
        return tokenizer([p[src] for p in batch["translation"]], text_target=[p[tgt] for p in batch["translation"]],
                         max_length=model_args.max_length, truncation=True)

    encoded = {name: splits[name].map(tokenize, batched=True, remove_columns=["translation"])
               for name in ("train", "validation")}
    print_once(f"data: {source} {src}->{tgt}, " + ", ".join(f"{name} {len(split):,}" for name, split in splits.items())
               + f" pairs; joint vocabulary {len(tokenizer)}")

    torch.manual_seed(args.seed)
    ffn_dim = model_args.ffn_dim or 4 * model_args.d_model
    config = Seq2Seq101Config(
        vocab_size=len(tokenizer), d_model=model_args.d_model, encoder_layers=model_args.layers,
        decoder_layers=model_args.layers, encoder_attention_heads=model_args.attention_heads,
        decoder_attention_heads=model_args.attention_heads, encoder_ffn_dim=ffn_dim, decoder_ffn_dim=ffn_dim,
        dropout=model_args.dropout, max_position_embeddings=model_args.max_length,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        # The output layer and the loss chunk by chunk, without the (B, T, V) logits: same loss and gradients,
        # less memory (docs/benchmarks.md). Off again in the exported model, which returns logits as Marian does.
        fused_linear_cross_entropy=True,
    )
    model = Seq2Seq101ForConditionalGeneration(config)
    print_once(f"model: {model.num_parameters() / 1e6:.2f}M parameters")

    # Pads each batch to its longest pair, labels with -100, and builds decoder_input_ids with the model's shift.
    collate = DataCollatorForSeq2Seq(tokenizer, model=model)
    train_set = encoded["train"]
    lengths = [max(len(a), len(b)) for a, b in zip(train_set["input_ids"], train_set["labels"])]  # padded length
    train_batches = LengthGroupedBatches(train_set, collate, args.batch_size, args.seed, lengths)
    validation = encoded["validation"]
    val_batches = DatasetBatches(validation, collate, min(args.batch_size, len(validation)), args.seed + 1)
    n_eval = min(args.eval_batches, val_batches.batches_per_epoch)

    def eval_batches(rank, world_size):
        return (val_batches(i, rank, world_size) for i in range(n_eval))

    def tokens_in(batch):  # source + target tokens, padding excluded
        return int(batch["attention_mask"].sum() + (batch["labels"] != -100).sum())

    result = train(model, train_batches, args, eval_batches=eval_batches, tokens_in=tokens_in)
    accelerator, model = result["accelerator"], result["model"]
    if not accelerator.is_main_process:
        return result

    output_dir = Path(args.output_dir)
    # Decode in fp32 without accelerate's autocast wrapper around forward: the exported weights are fp32, so
    # evaluate_translation.py on output_dir/model then reproduces these scores exactly.
    model = accelerator.unwrap_model(model, keep_fp32_wrapper=False).float()
    model.config.fused_linear_cross_entropy = False
    generation = {"num_beams": data_args.num_beams, "length_penalty": data_args.length_penalty,
                  "batch_size": data_args.eval_batch_size}
    records = []
    limits = {"validation": data_args.bleu_validation_examples, "test": data_args.bleu_test_examples}
    for split, limit in limits.items():
        if split not in splits:
            continue
        examples = splits[split]["translation"][:limit]  # [:None] keeps everything
        scores = evaluate_translation(model, tokenizer, [p[src] for p in examples], [p[tgt] for p in examples],
                                      **generation)
        records.append(save_translation_eval(
            scores, output_dir / "eval" / split, dataset_name=Path(source).name, dataset_type=source,
            dataset_split=split if len(examples) == len(splits[split]) else f"{split}[:{len(examples)}]",
            source_lang=src, target_lang=tgt))
        print(f"{split} ({len(examples)} sentences): BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  "
              f"[{scores['bleu_signature']}]")
    # The headline number: the test split when there is one.
    (output_dir / "eval_results.json").write_text(json.dumps(records[-1], indent=2))
    publish(model, tokenizer, args, records, {"model": model_args, "data": data_args, "training": args},
            description=f"Trained from scratch on {Path(source).name} {src}->{tgt}.")
    print(f"validation loss {result['last_eval_loss']:.4f} (best {result['best_eval_loss']:.4f}); "
          f"model saved to {output_dir / 'model'}")
    return result


if __name__ == "__main__":
    main()
