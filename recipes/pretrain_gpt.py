"""Pretrain a GPT101 language model — the lecture's main job.

    python recipes/pretrain_gpt.py                          # char-level GPT on the built-in corpus, CPU
    python recipes/pretrain_gpt.py --preset cpu --corpus ../shared/data/shakespeare/input.txt
    accelerate launch recipes/pretrain_gpt.py --preset gpu --corpus shakespeare.txt   # nanoGPT shakespeare-char

With no arguments it needs no download: the corpus is the Python reference documentation that ships with
CPython. At the end it prints a sample, and `output_dir/model` loads with `AutoModelForCausalLM`.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from hf_transformer101 import GPT101Config, GPT101ForCausalLM
from hf_transformer101.data import load_text_corpus, pretrained_source
from hf_transformer101.sampling import sample_text
from hf_transformer101.tokenization import train_bpe_tokenizer, train_char_tokenizer
from hf_transformer101.training import (
    TrainingArguments101,
    WindowBatches,
    parse_recipe_arguments,
    print_once,
    publish,
    run_tokenizer,
    train,
    write_eval_results,
)

PRESETS = Path(__file__).parent / "configs" / "pretrain_gpt"


@dataclass
class ModelArguments:
    num_hidden_layers: int = field(default=4, metadata={"help": "Transformer blocks."})
    num_attention_heads: int = field(default=4, metadata={"help": "Heads per attention layer."})
    hidden_size: int = field(default=128, metadata={"help": "Width of the residual stream."})
    block_size: int = field(default=128, metadata={"help": "Context length (max_position_embeddings)."})
    dropout: float = field(default=0.0, metadata={"help": "Dropout everywhere; 0.2 helps on long small-data runs."})
    bias: bool = field(default=False, metadata={"help": "Biases in Linear/LayerNorm (GPT-2 has them)."})


@dataclass
class DataArguments:
    corpus: str | None = field(default=None, metadata={
        "help": "A text file, a folder of .txt files, or a Hub dataset id; empty = the built-in corpus."})
    tokenizer: str = field(default="char", metadata={
        "help": "'char' (one id per character), 'bpe' (byte-level BPE), or a saved tokenizer folder."})
    bpe_vocab_size: int = field(default=4096, metadata={"help": "Vocabulary size when --tokenizer bpe."})
    val_fraction: float = field(default=0.1, metadata={"help": "Tail of the corpus kept for validation."})
    sample_prompt: str = field(default="\n", metadata={"help": "Prompt of the sample printed at the end."})
    sample_tokens: int = field(default=400, metadata={"help": "Tokens to sample at the end (0 = none)."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature."})
    top_k: int = field(default=200, metadata={"help": "Sample among the k most likely tokens."})


def build_tokenizer(data_args, text, block_size):
    if data_args.tokenizer == "char":
        return train_char_tokenizer([text], model_max_length=block_size)
    if data_args.tokenizer == "bpe":
        return train_bpe_tokenizer([text], data_args.bpe_vocab_size, model_max_length=block_size)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(pretrained_source(data_args.tokenizer))


def main(argv=None):
    model_args, data_args, args = parse_recipe_arguments(
        (ModelArguments, DataArguments, TrainingArguments101), PRESETS, argv)
    # One stream of characters; documents (files, or pages of the built-in corpus) separated by a blank line.
    text = "\n\n".join(load_text_corpus(data_args.corpus)["text"])
    tokenizer = run_tokenizer(args, lambda: build_tokenizer(data_args, text, model_args.block_size))
    tokens = torch.tensor(tokenizer(text, add_special_tokens=False, verbose=False).input_ids, dtype=torch.long)
    split = int(len(tokens) * (1 - data_args.val_fraction))  # nanoGPT: the last 10% is validation
    train_tokens, val_tokens = tokens[:split], tokens[split:]
    print_once(f"corpus: {len(text):,} characters -> {len(tokens):,} tokens (vocabulary {len(tokenizer)}); "
               f"train {len(train_tokens):,} / validation {len(val_tokens):,}")

    torch.manual_seed(args.seed)
    config = GPT101Config(
        vocab_size=len(tokenizer), hidden_size=model_args.hidden_size, num_hidden_layers=model_args.num_hidden_layers,
        num_attention_heads=model_args.num_attention_heads, max_position_embeddings=model_args.block_size,
        hidden_dropout_prob=model_args.dropout, embedding_dropout_prob=model_args.dropout,
        attention_probs_dropout_prob=model_args.dropout, bias=model_args.bias,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        # The head and the loss chunk by chunk, without the (B, T, V) logits: same loss and gradients, with a
        # subword vocabulary (GPT-2's 50257) ~1.1x the speed and ~2/3 of the memory; as fast with characters.
        fused_linear_cross_entropy=True,
    )
    model = GPT101ForCausalLM(config)
    print_once(f"model: {model.num_parameters() / 1e6:.2f}M parameters")

    train_batches = WindowBatches(train_tokens, model_args.block_size, args.batch_size, args.seed)
    val_batches = WindowBatches(val_tokens, model_args.block_size, args.batch_size, args.seed + 1)

    def eval_batches(rank, world_size):
        # The same validation windows at every evaluation, so the numbers are comparable across steps.
        return (val_batches(i, rank, world_size) for i in range(args.eval_batches))

    result = train(model, train_batches, args, eval_batches=eval_batches)
    accelerator, model = result["accelerator"], result["model"]
    if not accelerator.is_main_process:
        return result

    output_dir = Path(args.output_dir)
    sample = ""
    if data_args.sample_tokens:
        sample = sample_text(model, tokenizer, data_args.sample_prompt, data_args.sample_tokens,
                             temperature=data_args.temperature, top_k=data_args.top_k, seed=args.seed)
        print("-" * 30 + " sample " + "-" * 30 + "\n" + sample + "\n" + "-" * 68)
        (output_dir / "samples.txt").write_text(sample)
    eval_results = write_eval_results(result, output_dir, task_type="text-generation", corpus=data_args.corpus,
                                      split=f"last {data_args.val_fraction:.0%} (validation)")
    model.config.fused_linear_cross_entropy = False  # the shared model gives logits always, as GPT2LMHeadModel does
    publish(model, tokenizer, args, [eval_results], {"model": model_args, "data": data_args, "training": args},
            description=f"Trained on {eval_results['dataset_type']}.")
    print(f"validation loss {result['last_eval_loss']:.4f} (best {result['best_eval_loss']:.4f}); "
          f"model saved to {output_dir / 'model'}")
    return result


if __name__ == "__main__":
    main()
