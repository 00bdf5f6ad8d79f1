"""Train the tokenizers of the three families and hand them back as `PreTrainedTokenizerFast`.

The algorithms come from the libraries — `tokenizers` (WordLevel, byte-level BPE, WordPiece) and `sentencepiece`
(unigram / BPE) — this file only chooses their settings and wires the special tokens. Every function returns a
`PreTrainedTokenizerFast` whose `save_pretrained(dir)` writes `tokenizer.json` + `tokenizer_config.json`, which
`AutoTokenizer.from_pretrained(dir)` loads with no custom code, no network and no sentencepiece.

    family      function                        special tokens                      decode(encode(text)) == text
    GPT (char)  train_char_tokenizer            <|endoftext|> (bos=eos=pad), <unk>  if every character was seen
    GPT         train_bpe_tokenizer             <|endoftext|> (bos=eos=pad)         always (byte-level)
    seq2seq     train_sentencepiece_tokenizer   <pad>=0 </s>=1 <unk>=2, "$A </s>"   always (byte fallback)
    BERT        train_wordpiece_tokenizer       [PAD] [UNK] [CLS] [SEP] [MASK]      no: lower-cases, strips accents

Corpora are read into memory (lecture-sized: Multi30k, tiny-shakespeare, a few MB). See docs/tokenizers-and-data.md.
"""
from __future__ import annotations

import importlib.util
import io
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

TextsOrFiles = str | os.PathLike | Iterable[str | os.PathLike]

GPT_EOS = "<|endoftext|>"  # GPT-2's document separator; also bos and pad, as in GPT-2
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # ids 0..4 in this order

# A string names a file when it exists, or when it has no whitespace and a path separator or a file suffix
# ("multi30k/train.en", "input.txt"); "2.1", "e.g." or a sentence never do.
_PATH_LIKE = re.compile(r"\S*[/\\]\S*|[^\s/\\]+\.[A-Za-z][A-Za-z0-9]{0,7}")


def _looks_like_path(item: object) -> bool:
    if isinstance(item, os.PathLike):
        return True
    return isinstance(item, str) and (_PATH_LIKE.fullmatch(item) is not None or os.path.isfile(item))


def _read_texts(texts_or_files: TextsOrFiles) -> list[str]:
    """The training texts, from strings or from UTF-8 files.

    A lone `str`/`Path` counts as a one-item list. A list/tuple is files when every item is a `Path` or a
    path-looking string (`_PATH_LIKE`, or an existing file); anything else — sentences, a whole text, a
    generator, a `Dataset` column — is the texts themselves. Pass `Path`s (files) or a generator (texts) to leave
    no doubt. Files are read with universal newlines ("\r\n" -> "\n").
    """
    items = [texts_or_files] if isinstance(texts_or_files, (str, os.PathLike)) else texts_or_files
    if isinstance(items, (list, tuple)) and items and all(_looks_like_path(item) for item in items):
        texts = []
        for item in items:
            path = Path(item)
            if not path.is_file():
                raise FileNotFoundError(f"tokenizer training file not found: {path} (expected a UTF-8 text file)")
            texts.append(path.read_text(encoding="utf-8"))
    else:
        texts = list(items)
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise ValueError(f"texts_or_files: expected strings or file paths, got a {type(bad).__name__}")
    if not any(text.strip() for text in texts):
        raise ValueError("texts_or_files: the training corpus is empty (no non-whitespace text)")
    return texts


def _lines(texts: list[str]) -> list[str]:
    # Subword trainers learn from sentences; sentencepiece silently skips lines over 4192 bytes, so never
    # hand it a whole file as one "sentence".
    return [line for text in texts for line in text.split("\n") if line.strip()]


def _wrap(backend: Tokenizer, **kwargs) -> PreTrainedTokenizerFast:
    # clean_up_tokenization_spaces=False: otherwise decode eats the space before punctuation ("a ." -> "a."),
    # which breaks the round trip.
    return PreTrainedTokenizerFast(tokenizer_object=backend, clean_up_tokenization_spaces=False, **kwargs)


def _check_vocab_size(vocab_size: int, minimum: int) -> None:
    if not isinstance(vocab_size, int) or vocab_size < minimum:
        raise ValueError(f"vocab_size must be an int >= {minimum} for this tokenizer, got {vocab_size!r}")


def train_char_tokenizer(
    texts_or_files: TextsOrFiles,
    *,
    model_max_length: int = 1024,
    unk_token: str = "<unk>",
    eos_token: str = GPT_EOS,
    extra_special_tokens: Sequence[str] = (),
    padding_side: str = "right",
) -> PreTrainedTokenizerFast:
    """nanoGPT's shakespeare-char tokenizer: one id per character seen in the corpus.

    Ids 0..N-1 are the sorted characters (exactly nanoGPT's `stoi`), then `unk_token`, `eos_token` (also bos and
    pad, GPT-2 style) and `extra_special_tokens`. A character never seen in training encodes to `unk_token`;
    `decode` shows it as "<unk>" (or drops it with `skip_special_tokens=True`). Text made of seen characters
    round-trips exactly — newlines, runs of spaces and all. Right padding suits absolute positions and packed
    training; set `tokenizer.padding_side = "left"` for batched generation.
    """
    chars = sorted(set("".join(_read_texts(texts_or_files))))
    vocab = {char: i for i, char in enumerate(chars)}
    vocab[unk_token] = len(vocab)
    backend = Tokenizer(models.WordLevel(vocab, unk_token=unk_token))
    # One piece per code point. "[\s\S]", not ".": Oniguruma's "." skips "\n", and "\n\n" would become one <unk>.
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    return _wrap(
        backend, unk_token=unk_token, bos_token=eos_token, eos_token=eos_token, pad_token=eos_token,
        extra_special_tokens=list(extra_special_tokens), model_max_length=model_max_length, padding_side=padding_side,
    )


def train_bpe_tokenizer(
    texts_or_files: TextsOrFiles,
    vocab_size: int,
    *,
    min_frequency: int = 2,
    model_max_length: int = 1024,
    eos_token: str = GPT_EOS,
    extra_special_tokens: Sequence[str] = (),
    padding_side: str = "right",
) -> PreTrainedTokenizerFast:
    """GPT-2's byte-level BPE: lossless on any text, no unknown tokens (all 256 bytes are in the base alphabet)."""
    _check_vocab_size(vocab_size, 256 + 1 + len(extra_special_tokens))
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # GPT-2: "Hello" and " Hello" differ
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)  # offsets only; adds no tokens
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[eos_token, *extra_special_tokens],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(_lines(_read_texts(texts_or_files)), trainer)
    return _wrap(
        backend, bos_token=eos_token, eos_token=eos_token, pad_token=eos_token,
        extra_special_tokens=list(extra_special_tokens), model_max_length=model_max_length, padding_side=padding_side,
    )


def train_sentencepiece_tokenizer(
    texts_or_files: TextsOrFiles,
    vocab_size: int,
    *,
    model_type: str = "unigram",
    special_tokens: Sequence[str] = ("<pad>", "</s>", "<unk>"),
    extra_special_tokens: Sequence[str] = (),
    model_max_length: int = 512,
    character_coverage: float = 1.0,
) -> PreTrainedTokenizerFast:
    """The joint source+target SentencePiece tokenizer for translation (one shared vocabulary, as in the paper).

    Train on both languages together. `special_tokens` are (pad, eos, unk) and get ids 0, 1, 2: pad id 0 is also
    the decoder start token, as in Marian. Every encoded text ends with eos — sources, and `text_target` labels.
    Trained with the real sentencepiece trainer and converted once to `tokenizer.json` (the conversion needs
    `protobuf`; loading the result does not). Normalisation is "identity" and byte fallback is on, so
    decode(encode(text)) == text for any string: accents (NFC or NFD, kept as given), runs of spaces, leading
    and trailing spaces, tabs, emoji; characters outside the vocabulary become their UTF-8 byte pieces
    (<0xE2><0x82><0xAC>) rather than <unk>.
    """
    if model_type not in ("unigram", "bpe"):
        raise ValueError(f"model_type must be 'unigram' or 'bpe', got {model_type!r}")
    if len(special_tokens) != 3 or len(set(special_tokens)) != 3:
        raise ValueError(f"special_tokens must be three distinct tokens (pad, eos, unk), got {tuple(special_tokens)!r}")
    if importlib.util.find_spec("google.protobuf") is None:
        raise ImportError("train_sentencepiece_tokenizer needs protobuf to convert the model: pip install protobuf")
    # 256 byte pieces + the specials + at least one learnt piece.
    _check_vocab_size(vocab_size, 256 + len(special_tokens) + len(extra_special_tokens) + 1)
    pad, eos, unk = special_tokens
    lines = _lines(_read_texts(texts_or_files))
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model,
            vocab_size=vocab_size, model_type=model_type, character_coverage=character_coverage,
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece=pad, eos_piece=eos, unk_piece=unk,
            user_defined_symbols=list(extra_special_tokens),
            # Lossless: no NFKC, keep every space; unseen characters fall back to bytes.
            normalization_rule_name="identity", remove_extra_whitespaces=False, byte_fallback=True,
            num_threads=os.cpu_count() or 1, minloglevel=2,
        )
    except RuntimeError as error:  # e.g. "Vocabulary size too high" on a small corpus
        raise ValueError(f"sentencepiece could not train a vocab_size={vocab_size} {model_type} model: {error}")
    with tempfile.TemporaryDirectory() as folder:
        # transformers converts a folder holding `tokenizer.model` into a tokenizers backend on load.
        Path(folder, "tokenizer.model").write_bytes(model.getvalue())
        converted = PreTrainedTokenizerFast.from_pretrained(folder)
    backend = converted.backend_tokenizer
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A $B {eos}", special_tokens=[(eos, 1)]  # Marian's layout: "src </s>"
    )
    return _wrap(
        backend, pad_token=pad, eos_token=eos, unk_token=unk, extra_special_tokens=list(extra_special_tokens),
        model_max_length=model_max_length, padding_side="right",
    )


def train_wordpiece_tokenizer(
    texts_or_files: TextsOrFiles,
    vocab_size: int,
    *,
    lowercase: bool = True,
    min_frequency: int = 2,
    model_max_length: int = 512,
    extra_special_tokens: Sequence[str] = (),
) -> PreTrainedTokenizerFast:
    """BERT's WordPiece: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4; pairs are `[CLS] a [SEP] b [SEP]`.

    BERT's normaliser is lossy by design: it cleans control characters, splits CJK characters, and with
    `lowercase` also strips accents (as bert-base-uncased); words it cannot spell become [UNK]. The tokenizer
    returns `token_type_ids` (0 for a and its [SEP], 1 for b and its [SEP]).
    """
    _check_vocab_size(vocab_size, len(BERT_SPECIAL_TOKENS) + len(extra_special_tokens) + 1)
    pad, unk, cls, sep, mask = BERT_SPECIAL_TOKENS
    backend = Tokenizer(models.WordPiece(unk_token=unk))
    backend.normalizer = normalizers.BertNormalizer(lowercase=lowercase)  # strip_accents follows lowercase
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        special_tokens=[*BERT_SPECIAL_TOKENS, *extra_special_tokens],
    )
    backend.train_from_iterator(_lines(_read_texts(texts_or_files)), trainer)
    # The trainer numbers its "##" pieces in hash-map order, different on every run (huggingface/tokenizers#1794).
    # WordPiece ids carry no meaning (no merges), so renumber: specials first, then sorted. On real corpora the
    # learnt set is then identical run to run; only exact count ties (toy corpora) can still pick other merges.
    specials = [*BERT_SPECIAL_TOKENS, *extra_special_tokens]
    learnt = sorted(set(backend.get_vocab(with_added_tokens=False)) - set(specials))
    backend.model = models.WordPiece({token: i for i, token in enumerate([*specials, *learnt])}, unk_token=unk)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1", special_tokens=[(cls, 2), (sep, 3)]
    )
    return _wrap(
        backend, pad_token=pad, unk_token=unk, cls_token=cls, sep_token=sep, mask_token=mask,
        extra_special_tokens=list(extra_special_tokens), model_max_length=model_max_length, padding_side="right",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )
