"""Render the attention maps of a trained model for a text to PNG — the lecture's "who talks to whom".

    python recipes/show_attention.py --model outputs/pretrain_gpt/model --text "To be, or not to be"
    python recipes/show_attention.py --model outputs/translation/model --text "A man is riding a bike." \
        --target_text "Ein Mann fährt Fahrrad."      # cross-attention: the decoder's "cursor" over the source

Works for GPT101, BERT101 and Seq2Seq101 folders (and the position-code picture with --positional_encoding).
"""

from dataclasses import dataclass, field

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
from transformers import HfArgumentParser

import hf_transformer101  # noqa: F401  (registers our model types with the Auto classes)
from hf_transformer101.data import pretrained_source
from hf_transformer101.plotting import plot_attention_maps, plot_positional_encoding


@dataclass
class Arguments:
    model: str = field(metadata={"help": "A saved GPT101 / BERT101 / Seq2Seq101 folder (or Hub id)."})
    text: str = field(metadata={"help": "The text (for translation: the source sentence)."})
    target_text: str | None = field(default=None, metadata={
        "help": "Translation only: the target to attend with; default the model's own greedy translation."})
    out: str = field(default="attention_maps", metadata={"help": "Folder for the PNG files."})
    layers: list[int] | None = field(default=None, metadata={"help": "Layers to draw (default all)."})
    heads: list[int] | None = field(default=None, metadata={"help": "Heads to draw (default all)."})
    positional_encoding: bool = field(default=False, metadata={"help": "Also draw the sinusoidal position code."})


def load(path):
    path = pretrained_source(path)
    config = AutoConfig.from_pretrained(path, trust_remote_code=True)
    auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else (
        AutoModelForCausalLM if config.model_type == "gpt101" else AutoModel)
    return auto.from_pretrained(path, trust_remote_code=True), AutoTokenizer.from_pretrained(path, trust_remote_code=True)


def main(argv=None):
    (args,) = HfArgumentParser(Arguments).parse_args_into_dataclasses(args=argv)
    model, tokenizer = load(args.model)
    paths = plot_attention_maps(model, tokenizer, args.text, args.out, args.target_text, args.layers, args.heads)
    if args.positional_encoding:
        paths.append(plot_positional_encoding(f"{args.out}/positional_encoding.png"))
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main()
