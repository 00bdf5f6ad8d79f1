"""Score a translation model on a test set: batched beam search, detokenized output, sacreBLEU + chrF.

    python recipes/evaluate_translation.py --model outputs/train_translation-cpu/model --data ../shared/data/multi30k
    python recipes/evaluate_translation.py --model path/to/opus-mt-en-de --data ../shared/data/wmt --split test
    python recipes/evaluate_translation.py --model M --data wmt14 --hub_config de-en --source_lang de --target_lang en
    python recipes/evaluate_translation.py --hypotheses hyps.txt --data ../shared/data/multi30k   # score a file

`--model` is any `AutoModelForSeq2SeqLM` folder or Hub id with its tokenizer: ours, or Marian/OPUS-MT. `--data`
is a folder of `{prefix}.{lang}` files (Multi30k: test = test_2016_flickr; WMT: test = newstest2014) or a Hub
dataset id. Writes `output_dir/hypotheses.txt` and `output_dir/bleu.json` (BLEU, chrF, sacreBLEU signatures and
the decoding settings, in the evaluation format `hub.export` puts into a model card).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, HfArgumentParser

import hf_transformer101  # noqa: F401  (registers Seq2Seq101 with AutoModelForSeq2SeqLM)
from hf_transformer101.data import load_translation, pretrained_source
from hf_transformer101.metrics import translation_scores
from hf_transformer101.translation import evaluate_translation, save_translation_eval


@dataclass
class EvaluationArguments:
    data: str = field(metadata={"help": "A folder of {prefix}.{lang} files (Multi30k/WMT layout) or a Hub dataset id."})
    model: str | None = field(default=None, metadata={"help": "An AutoModelForSeq2SeqLM folder or Hub id."})
    hypotheses: str | None = field(default=None, metadata={
        "help": "Instead of --model: a file of translations, one per line, to score against the references."})
    split: str = field(default="test", metadata={"help": "Split to score: test, validation, train, or a Hub split."})
    hub_config: str | None = field(default=None, metadata={"help": "Config of a Hub dataset, e.g. de-en for wmt14."})
    source_lang: str = field(default="en", metadata={"help": "Language code of the source side."})
    target_lang: str = field(default="de", metadata={"help": "Language code of the target side (the references)."})
    max_samples: int | None = field(default=None, metadata={"help": "Score only the first N sentences."})
    num_beams: int = field(default=4, metadata={"help": "Beam size (1 = greedy)."})
    max_new_tokens: int | None = field(default=None, metadata={
        "help": "Longest translation in tokens; empty = 2 * source + 10, capped by the model's positions."})
    length_penalty: float = field(default=1.0, metadata={
        "help": "Beam scores are divided by length**length_penalty (>1 favours longer output)."})
    batch_size: int = field(default=32, metadata={"help": "Sentences per generate() batch."})
    bf16: bool = field(default=False, metadata={"help": "Run under bf16 autocast (faster on GPUs and bf16 CPUs)."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model code from the Hub repository."})
    output_dir: str | None = field(default=None, metadata={
        "help": "Where hypotheses.txt and bleu.json go; empty = MODEL/eval-SPLIT (or beside --hypotheses)."})

    def __post_init__(self) -> None:
        if (self.model is None) == (self.hypotheses is None):
            raise ValueError("pass exactly one of --model (translate, then score) or --hypotheses (score a file)")
        if self.hypotheses is not None and not Path(self.hypotheses).is_file():
            raise FileNotFoundError(f"--hypotheses {self.hypotheses}: file not found")
        for name in ("num_beams", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")


def load_split(args: EvaluationArguments) -> tuple[list[str], list[str], int]:
    splits = load_translation(args.data, args.source_lang, args.target_lang, hub_config=args.hub_config)
    if args.split not in splits:
        raise ValueError(f"--data {args.data} has no {args.split!r} split for {args.source_lang}-{args.target_lang}; "
                         f"found {sorted(splits)}")
    pairs = splits[args.split]["translation"][:args.max_samples]
    return [p[args.source_lang] for p in pairs], [p[args.target_lang] for p in pairs], len(splits[args.split])


def main(argv: list[str] | None = None) -> dict:
    (args,) = HfArgumentParser(EvaluationArguments).parse_args_into_dataclasses(args=argv)
    sources, references, total = load_split(args)
    if args.hypotheses is not None:
        hypotheses = Path(args.hypotheses).read_text(encoding="utf-8").removesuffix("\n").split("\n")
        # translation_scores raises ValueError naming both counts when the file and the references differ.
        result = {**translation_scores(hypotheses, references), "num_sentences": len(hypotheses),
                  "truncated_sources": 0, "generation": {"hypotheses_file": args.hypotheses}, "hypotheses": hypotheses}
        default_output = Path(args.hypotheses).parent
    else:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        source = pretrained_source(args.model)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=args.trust_remote_code)
        model = AutoModelForSeq2SeqLM.from_pretrained(source, trust_remote_code=args.trust_remote_code).to(device)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=args.bf16):
            result = evaluate_translation(model, tokenizer, sources, references, batch_size=args.batch_size,
                                          num_beams=args.num_beams, max_new_tokens=args.max_new_tokens,
                                          length_penalty=args.length_penalty)
        result["generation"]["bf16"] = args.bf16
        default_output = Path(args.model) / f"eval-{args.split}" if Path(args.model).is_dir() else Path("eval")
    split = args.split if len(sources) == total else f"{args.split}[:{len(sources)}]"
    record = save_translation_eval(result, Path(args.output_dir or default_output), dataset_name=Path(args.data).name,
                                   dataset_type=args.data, dataset_split=split, source_lang=args.source_lang,
                                   target_lang=args.target_lang)
    print(json.dumps({key: record[key] for key in ("metrics", "bleu_signature", "chrf_signature", "num_sentences")},
                     indent=2))
    print(f"BLEU {record['metrics']['bleu']:.2f}  chrF {record['metrics']['chrf']:.2f} on {args.data} {split} "
          f"({args.source_lang}->{args.target_lang}); wrote {Path(args.output_dir or default_output)}")
    return record


if __name__ == "__main__":
    main()
