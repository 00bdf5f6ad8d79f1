"""Pretrain a BERT101 masked language model — the lecture's encoder-only family.

    python recipes/pretrain_mlm.py --preset cpu             # a small BERT on the built-in corpus, CPU, ~5 min
    python recipes/pretrain_mlm.py --preset debug           # seconds (tests)
    accelerate launch recipes/pretrain_mlm.py --preset gpu --corpus path/to/corpus_dir   # a BERT-small

With no arguments it needs no download: the corpus is the Python reference documentation that ships with
CPython. A WordPiece vocabulary is trained on the corpus (or `--tokenizer FOLDER` loads one), the text is packed
into `[CLS] ... [SEP]` blocks, and `DataCollatorForLanguageModeling` masks 15% of the tokens of every batch
(BERT's 80/10/10 rule: [MASK], a random token, or unchanged). The score is the validation MLM loss and its
perplexity; `output_dir/model` loads with `AutoModelForMaskedLM` and `pipeline("fill-mask")`.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoTokenizer, DataCollatorForLanguageModeling, PreTrainedTokenizerBase

from hf_transformer101 import BERT101Config, BERT101ForMaskedLM
from hf_transformer101.data import load_text_corpus, mlm_datasets
from hf_transformer101.metrics import perplexity
from hf_transformer101.tokenization import train_wordpiece_tokenizer
from hf_transformer101.training import (
    DatasetBatches,
    TrainingArguments101,
    parse_recipe_arguments,
    print_once,
    publish,
    run_tokenizer,
    train,
    write_eval_results,
)

PRESETS = Path(__file__).parent / "configs" / "pretrain_mlm"


@dataclass
class ModelArguments:
    num_hidden_layers: int = field(default=4, metadata={"help": "Transformer blocks (BERT-base: 12)."})
    num_attention_heads: int = field(default=4, metadata={"help": "Heads per attention layer."})
    hidden_size: int = field(default=256, metadata={"help": "Width of the residual stream."})
    intermediate_size: int | None = field(default=None, metadata={"help": "MLP width; empty = 4 * hidden_size."})
    max_length: int = field(default=128, metadata={
        "help": "Tokens per example, [CLS] and [SEP] included (max_position_embeddings). BERT spends nine tenths "
                "of its steps at 128."})
    dropout: float = field(default=0.1, metadata={"help": "Hidden and attention dropout (BERT: 0.1)."})


@dataclass
class DataArguments:
    corpus: str | None = field(default=None, metadata={
        "help": "A text file, a folder of .txt files, or a Hub dataset id; empty = the built-in corpus."})
    tokenizer: str = field(default="wordpiece", metadata={
        "help": "'wordpiece' (trained on the corpus) or a saved tokenizer folder with a [MASK] token."})
    vocab_size: int = field(default=8192, metadata={"help": "WordPiece vocabulary size when --tokenizer wordpiece."})
    lowercase: bool = field(default=True, metadata={"help": "Lower-case and strip accents (bert-base-uncased)."})
    line_by_line: bool = field(default=False, metadata={
        "help": "One example per line (padded) instead of packed blocks of max_length tokens."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Fraction of tokens to predict (BERT: 0.15)."})
    val_fraction: float = field(default=0.1, metadata={"help": "Tail of the corpus kept for validation."})


def build_tokenizer(data_args: DataArguments, corpus: Dataset, max_length: int) -> PreTrainedTokenizerBase:
    if data_args.tokenizer == "wordpiece":
        return train_wordpiece_tokenizer(corpus["text"], data_args.vocab_size, lowercase=data_args.lowercase,
                                         model_max_length=max_length)
    if not Path(data_args.tokenizer).is_dir():
        raise FileNotFoundError(f"--tokenizer {data_args.tokenizer}: expected 'wordpiece' or a tokenizer folder")
    tokenizer = AutoTokenizer.from_pretrained(data_args.tokenizer)
    if tokenizer.mask_token is None:
        raise ValueError(f"--tokenizer {data_args.tokenizer} has no mask token; masked LM needs one ([MASK])")
    return tokenizer


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, args = parse_recipe_arguments(
        (ModelArguments, DataArguments, TrainingArguments101), PRESETS, argv)
    if not 0 < data_args.mlm_probability < 1:
        raise ValueError(f"--mlm_probability must be in (0, 1), got {data_args.mlm_probability}")
    corpus = load_text_corpus(data_args.corpus)
    tokenizer = run_tokenizer(args, lambda: build_tokenizer(data_args, corpus, model_args.max_length))
    datasets = mlm_datasets(corpus, tokenizer, model_args.max_length, line_by_line=data_args.line_by_line,
                            val_fraction=data_args.val_fraction)
    if "validation" not in datasets:
        raise ValueError("--val_fraction 0 leaves nothing to evaluate on; the MLM score is the validation loss")
    print_once(f"corpus: {sum(map(len, corpus['text'])):,} characters -> {len(datasets['train']):,} training / "
               f"{len(datasets['validation']):,} validation examples of <= {model_args.max_length} tokens "
               f"(vocabulary {len(tokenizer)})")

    torch.manual_seed(args.seed)
    config = BERT101Config(
        vocab_size=len(tokenizer), hidden_size=model_args.hidden_size, num_hidden_layers=model_args.num_hidden_layers,
        num_attention_heads=model_args.num_attention_heads, intermediate_size=model_args.intermediate_size,
        max_position_embeddings=model_args.max_length, hidden_dropout_prob=model_args.dropout,
        attention_probs_dropout_prob=model_args.dropout, pad_token_id=tokenizer.pad_token_id,
        # The MLM head only where the loss looks (the 15% masked positions): same loss and gradients, and the
        # head over the whole vocabulary is the biggest matmul of a small BERT (docs/benchmarks.md).
        sparse_prediction=True,
    )
    model = BERT101ForMaskedLM(config)
    print_once(f"model: {model.num_parameters() / 1e6:.2f}M parameters")

    # The collator masks each batch afresh (dynamic masking, as RoBERTa); DatasetBatches seeds it per step, so
    # masks are reproducible and a resumed run sees the same ones.
    collate = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=data_args.mlm_probability)
    train_batches = DatasetBatches(datasets["train"], collate, args.batch_size, args.seed)
    validation = datasets["validation"]
    val_batches = DatasetBatches(validation, collate, min(args.batch_size, len(validation)), args.seed + 1)
    n_eval = min(args.eval_batches, val_batches.batches_per_epoch)  # distinct examples, no repeats

    def eval_batches(rank, world_size):
        # Same examples and same masks at every evaluation, so the losses are comparable across steps.
        return (val_batches(i, rank, world_size) for i in range(n_eval))

    result = train(model, train_batches, args, eval_batches=eval_batches,
                   tokens_in=lambda batch: int((batch["input_ids"] != tokenizer.pad_token_id).sum()))
    accelerator, model = result["accelerator"], result["model"]
    if not accelerator.is_main_process:
        return result

    output_dir = Path(args.output_dir)
    n_val = n_eval * val_batches.batch_size
    eval_results = write_eval_results(result, output_dir, task_type="fill-mask", corpus=data_args.corpus,
                                      split=f"last {data_args.val_fraction:.0%} (validation, {n_val} examples)")
    model.config.sparse_prediction = False  # the shared model gives logits everywhere, as BertForMaskedLM does
    publish(model, tokenizer, args, [eval_results], {"model": model_args, "data": data_args, "training": args},
            description=f"Pretrained with masked-LM on {eval_results['dataset_type']}.")
    print(f"validation MLM loss {result['last_eval_loss']:.4f} (perplexity {perplexity(result['last_eval_loss']):.1f}, "
          f"best loss {result['best_eval_loss']:.4f}); model saved to {output_dir / 'model'}")
    return result


if __name__ == "__main__":
    main()
