"""Corpora and datasets for the three families, from local files (offline) or the Hugging Face Hub (online).

    load_text_corpus   text for pretraining: the embedded default corpus, .txt files, or a Hub dataset id
    lm_datasets        GPT: the corpus as one token stream cut into blocks, nanoGPT's 90/10 train/validation
    mlm_datasets       BERT: packed [CLS] ... [SEP] blocks or one example per line
    load_glue          the nine GLUE tasks, from the original TSV folders or `nyu-mll/glue`, same schema
    load_translation   parallel text (Multi30k / WMT layouts) or a Hub id -> {"translation": {src: ..., tgt: ...}}

Every loader checks its input before doing any work: a missing path is a `FileNotFoundError` naming it, bad
contents a `ValueError` saying what was expected. The Hub paths are thin calls to `datasets.load_dataset`.
Splits cut from one corpus are contiguous (the last `val_fraction` validates), so validation text is unseen text,
not a shuffle of neighbouring sentences.
"""
from __future__ import annotations

import csv
import html
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Translation, Value, load_dataset
from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

Source = str | os.PathLike

# A string is a local path (and must exist) when it cannot be a Hub id; see `_local_path`.
_FILE_SUFFIXES = {".txt", ".tsv", ".csv", ".json", ".jsonl", ".parquet", ".gz", ".en", ".de"}


def _local_path(source: Source) -> Path | None:
    """The local file/folder `source` names, or None when it is a Hub dataset id.

    As in `datasets.load_dataset`, an existing path wins. A `Path`, or a string that can only be a path
    (starts with "/", "." or "~", has more than one "/", or ends in a data-file suffix), must exist;
    anything else ("wmt14", "nyu-mll/glue") is a Hub id.
    """
    path = Path(source).expanduser()
    if path.exists():
        return path
    text = str(source)
    if (isinstance(source, os.PathLike) or text.startswith(("/", ".", "~")) or text.count("/") > 1
            or "\\" in text or path.suffix.lower() in _FILE_SUFFIXES):
        raise FileNotFoundError(f"not found: {path} (expected a local file or folder, or a Hub id like 'owner/name')")
    return None


def pretrained_source(source: Source) -> str:
    """`source` for `from_pretrained`: a folder (`~` expanded) or a Hub id, by `_local_path`'s rule. A name that
    can only be a path must exist: a FileNotFoundError naming it, where transformers would call it an invalid
    Hub repo id."""
    path = _local_path(source)
    return str(source) if path is None else str(path)


def _read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file, without line ends.

    Split on "\\n" only: `str.splitlines` also breaks at U+2028, U+0085, form feeds..., which occur inside WMT
    sentences and would silently misalign parallel files. `newline=""` keeps a stray "\\r" inside a line.
    """
    if not path.is_file():
        raise FileNotFoundError(f"not found: {path} (expected a UTF-8 text file, one sentence per line)")
    with path.open(encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.removesuffix("\n").split("\n") if text else []
    return [line.removesuffix("\r") for line in lines]  # CRLF files


# ----------------------------------------------------------------------------------------------------------------
# Text corpora for pretraining


def _default_corpus() -> Dataset:
    """The Python reference documentation that ships with CPython (`pydoc_data.topics`, ~0.46 MB of English prose
    and code): a corpus present on every machine with Python, so the pretraining recipes run offline.
    One row per topic, in sorted order; trailing spaces removed."""
    try:
        from pydoc_data.topics import topics
    except ImportError as error:  # some distributions split the stdlib docs out
        raise ImportError("the default corpus needs CPython's pydoc_data module; pass a text file instead") from error
    texts = ["\n".join(line.rstrip() for line in topics[name].strip().split("\n")) + "\n" for name in sorted(topics)]
    return Dataset.from_dict({"text": texts})


def load_text_corpus(
    source: Source | None = None, *, text_column: str = "text", split: str = "train", hub_config: str | None = None
) -> Dataset:
    """A `Dataset` with one column "text", one row per document.

    `source`: None -> the embedded default corpus (`_default_corpus`); a .txt file -> one row; a folder -> one row
    per `*.txt` file below it, in sorted path order; otherwise a Hub dataset id, read with
    `load_dataset(source, hub_config, split=split)` and its `text_column` renamed to "text".
    """
    if source is None:
        return _default_corpus()
    path = _local_path(source)
    if path is None:
        corpus = load_dataset(source, hub_config, split=split)
        if text_column not in corpus.column_names:
            raise ValueError(f"{source}: no column {text_column!r}; columns are {corpus.column_names}")
        corpus = corpus.select_columns([text_column])
        if text_column != "text":
            corpus = corpus.rename_column(text_column, "text")
    else:
        files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
        corpus = Dataset.from_dict({"text": [file.read_text(encoding="utf-8") for file in files]})
    if not any(text.strip() for text in corpus["text"]):
        raise ValueError(f"{source}: the corpus is empty (no .txt file or no non-whitespace text)")
    return corpus


def _documents(text: str | Dataset | Sequence[str]) -> list[str]:
    documents = [text] if isinstance(text, str) else list(text["text"] if isinstance(text, Dataset) else text)
    if not any(document.strip() for document in documents):
        raise ValueError("text: the corpus is empty (no non-whitespace text)")
    return documents


def _split_tail(examples: Dataset, val_fraction: float, unit: str) -> DatasetDict:
    """train = the first (1 - val_fraction) of the examples, validation = the rest (nanoGPT's contiguous split)."""
    if val_fraction == 0:
        return DatasetDict(train=examples)
    n = len(examples)
    n_val = max(1, round(n * val_fraction))
    if n_val >= n:
        raise ValueError(f"the corpus gives {n} {unit}, too few to split with val_fraction={val_fraction}: "
                         "use a longer corpus, a smaller block, or val_fraction=0")
    return DatasetDict(train=examples.select(range(n - n_val)), validation=examples.select(range(n - n_val, n)))


def _check_sizes(name: str, size: int, minimum: int, val_fraction: float) -> None:
    if not isinstance(size, int) or size < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {size!r}")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")


def lm_datasets(
    text: str | Dataset | Sequence[str], tokenizer: PreTrainedTokenizerBase, block_size: int, val_fraction: float = 0.1
) -> DatasetDict:
    """Causal-LM blocks: `input_ids` of exactly `block_size` tokens and `labels` equal to them (the model shifts).

    `text` is one string, a list of documents, or a `Dataset` with a "text" column (`load_text_corpus`). Each
    document is followed by the tokenizer's eos token when it has one (GPT-2's `<|endoftext|>` between
    documents); the stream is cut into non-overlapping blocks, the tail shorter than a block is dropped, and the
    last `val_fraction` of the blocks is the validation split (nanoGPT: 90/10 for shakespeare).
    """
    _check_sizes("block_size", block_size, 1, val_fraction)
    ids = tokenizer(_documents(text), add_special_tokens=False, verbose=False)["input_ids"]
    eos = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    stream = np.fromiter(chain.from_iterable(doc + eos for doc in ids), dtype=np.int64)
    n_blocks = len(stream) // block_size
    if n_blocks == 0:
        raise ValueError(f"the corpus has {len(stream)} tokens, fewer than one block of block_size={block_size}")
    blocks = stream[: n_blocks * block_size].reshape(n_blocks, block_size)  # (n_blocks, block_size)
    return _split_tail(Dataset.from_dict({"input_ids": blocks, "labels": blocks}), val_fraction,
                       f"block(s) of {block_size} tokens ({len(stream)} tokens)")


def mlm_datasets(
    text: str | Dataset | Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    *,
    line_by_line: bool = False,
    val_fraction: float = 0.1,
) -> DatasetDict:
    """Masked-LM examples (unmasked: `DataCollatorForLanguageModeling` masks them per batch).

    packed (default, BERT/RoBERTa "full sentences"): documents joined by [SEP] into one stream, cut into
    `[CLS] <max_length - 2 tokens> [SEP]` examples of exactly `max_length`; needs cls and sep tokens.
    `line_by_line`: one example per non-empty line, the tokenizer's own special tokens, truncated to `max_length`.
    Both carry `special_tokens_mask` so the collator never masks [CLS]/[SEP]. The last `val_fraction` validates.
    """
    _check_sizes("max_length", max_length, 3, val_fraction)
    documents = _documents(text)
    if line_by_line:
        lines = [line for document in documents for line in document.split("\n") if line.strip()]
        encoded = tokenizer(lines, truncation=True, max_length=max_length, return_special_tokens_mask=True,
                            verbose=False)
        return _split_tail(Dataset.from_dict(dict(encoded)), val_fraction, "line(s)")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls is None or sep is None:
        raise ValueError("packed MLM examples need a tokenizer with cls_token and sep_token; use line_by_line=True")
    ids = tokenizer(documents, add_special_tokens=False, verbose=False)["input_ids"]
    stream = np.fromiter(chain.from_iterable(doc + [sep] for doc in ids), dtype=np.int64)
    body = max_length - 2  # room for [CLS] and [SEP]
    n_blocks = len(stream) // body
    if n_blocks == 0:
        raise ValueError(f"the corpus has {len(stream)} tokens, fewer than one block of "
                         f"max_length={max_length} (minus [CLS] and [SEP])")
    blocks = stream[: n_blocks * body].reshape(n_blocks, body)  # (n_blocks, max_length - 2)
    column = np.ones((n_blocks, 1), dtype=np.int64)
    input_ids = np.concatenate([column * cls, blocks, column * sep], axis=1)  # (n_blocks, max_length)
    special = np.isin(input_ids, [cls, sep]).astype(np.int8)
    return _split_tail(Dataset.from_dict({"input_ids": input_ids, "special_tokens_mask": special}), val_fraction,
                       f"block(s) of {max_length} tokens ({len(stream)} tokens)")


# ----------------------------------------------------------------------------------------------------------------
# GLUE

# task -> its text columns, as `run_glue.py`'s task_to_keys: (first, second or None). The nine tasks, in order.
GLUE_TASKS: dict[str, tuple[str, str | None]] = {
    "cola": ("sentence", None),
    "sst2": ("sentence", None),
    "mrpc": ("sentence1", "sentence2"),
    "stsb": ("sentence1", "sentence2"),
    "qqp": ("question1", "question2"),
    "mnli": ("premise", "hypothesis"),
    "qnli": ("question", "sentence"),
    "rte": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"),
}
# task -> label names with the Hub's ids (`nyu-mll/glue`); None: stsb is a regression (float scores 0-5).
GLUE_LABEL_NAMES: dict[str, list[str] | None] = {
    "cola": ["unacceptable", "acceptable"],
    "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"],
    "stsb": None,
    "qqp": ["not_duplicate", "duplicate"],
    "mnli": ["entailment", "neutral", "contradiction"],
    "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"],
    "wnli": ["not_entailment", "entailment"],
}


@dataclass(frozen=True)
class _GlueTsv:
    """Where a task lives in the original `glue_data/` download and which TSV column holds what."""

    folder: str
    columns: tuple[str, ...]  # TSV column for each of GLUE_TASKS[task]'s text keys
    label: str
    splits: tuple[tuple[str, str], ...] = (("train", "train.tsv"), ("validation", "dev.tsv"), ("test", "test.tsv"))


_GLUE_TSV = {
    "cola": _GlueTsv("CoLA", ("sentence",), "label"),
    "sst2": _GlueTsv("SST-2", ("sentence",), "label"),
    "mrpc": _GlueTsv("MRPC", ("#1 String", "#2 String"), "Quality"),
    "stsb": _GlueTsv("STS-B", ("sentence1", "sentence2"), "score"),
    "qqp": _GlueTsv("QQP", ("question1", "question2"), "is_duplicate"),
    "mnli": _GlueTsv("MNLI", ("sentence1", "sentence2"), "gold_label", (
        ("train", "train.tsv"), ("validation_matched", "dev_matched.tsv"),
        ("validation_mismatched", "dev_mismatched.tsv"), ("test_matched", "test_matched.tsv"),
        ("test_mismatched", "test_mismatched.tsv"))),
    "qnli": _GlueTsv("QNLI", ("question", "sentence"), "label"),
    "rte": _GlueTsv("RTE", ("sentence1", "sentence2"), "label"),
    "wnli": _GlueTsv("WNLI", ("sentence1", "sentence2"), "label"),
}
_COLA_COLUMNS = ["source", "label", "judgement", "sentence"]  # CoLA train/dev have no header row


def glue_features(task: str) -> Features:
    """The Hub's `nyu-mll/glue` schema for `task`: text columns, `label` (ClassLabel, or float32 for stsb), `idx`."""
    names = GLUE_LABEL_NAMES[task]
    label = Value("float32") if names is None else ClassLabel(names=names)
    texts = {key: Value("string") for key in GLUE_TASKS[task] if key is not None}
    return Features({**texts, "label": label, "idx": Value("int32")})


def _parse_label(raw: str, names: list[str] | None) -> int | float | None:
    """A TSV label as the Hub stores it: a name or a digit -> its class id, a score -> float; None if neither."""
    if names is None:
        try:
            return float(raw)
        except ValueError:
            return None
    ids = {name: i for i, name in enumerate(names)} | {str(i): i for i in range(-1, len(names))}
    return ids.get(raw)


def _read_glue_tsv(task: str, path: Path, headerless: bool) -> Dataset:
    """One GLUE TSV as the Hub builds it: `idx` = row number, no label (test) -> -1, label strings -> ids.

    Quoting is off (many sentences have unbalanced quotes); "utf-8-sig" drops MRPC's byte-order mark.
    Rows with missing fields are dropped, as the Hub's builder does, and counted in a warning.
    """
    spec, names = _GLUE_TSV[task], GLUE_LABEL_NAMES[task]
    keys = [key for key in GLUE_TASKS[task] if key is not None]
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, fieldnames=_COLA_COLUMNS if headerless else None, delimiter="\t",
                                quoting=csv.QUOTE_NONE)
        header = reader.fieldnames or []
        missing = [column for column in spec.columns if column not in header]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing} for GLUE {task}; the header is {header}")
        has_label = spec.label in header  # test files have none
        columns: dict[str, list] = {key: [] for key in (*keys, "label", "idx")}
        dropped = 0
        for idx, row in enumerate(reader):
            texts = [row[column] for column in spec.columns]
            raw = row[spec.label] if has_label else "-1"
            if raw is None or any(text is None for text in texts):
                dropped += 1
                continue
            label = _parse_label(raw, names)
            if label is None:
                expected = "a float" if names is None else f"one of {names} or an id in -1..{len(names) - 1}"
                raise ValueError(f"{path}, row {idx + 1}: label {raw!r} is not {expected}")
            for key, text in zip(keys, texts):
                columns[key].append(text)
            columns["label"].append(label)
            columns["idx"].append(idx)
    if dropped:
        logger.warning("%s: dropped %d malformed row(s) with missing fields", path, dropped)
    return Dataset.from_dict(columns, features=glue_features(task))


def load_glue(task: str, data_dir: Source | None = None, *, hub_id: str = "nyu-mll/glue") -> DatasetDict:
    """A GLUE task as a `DatasetDict` with the Hub's schema (`glue_features`) and split names.

    `data_dir` None -> `load_dataset(hub_id, task)`. Otherwise the original download's folder, `glue_data/`
    (holding CoLA/, SST-2/, ...), or the task's own folder: train.tsv -> train, dev.tsv -> validation,
    test.tsv -> test (labels -1); MNLI: dev_matched/dev_mismatched -> validation_matched/validation_mismatched,
    test_matched/test_mismatched. Only the split files present are loaded; at least one must be.
    """
    if task not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {task!r}; expected one of {list(GLUE_TASKS)}")
    if data_dir is None:
        return load_dataset(hub_id, task)
    spec = _GLUE_TSV[task]
    root = Path(data_dir).expanduser()
    folder = root if root.name == spec.folder else root / spec.folder
    if not folder.is_dir():
        raise FileNotFoundError(f"GLUE {task}: folder not found: {folder} (expected glue_data/{spec.folder}/)")
    splits = {
        split: _read_glue_tsv(task, folder / name, headerless=task == "cola" and not split.startswith("test"))
        for split, name in spec.splits if (folder / name).is_file()
    }
    if not splits:
        raise FileNotFoundError(f"GLUE {task}: none of {[name for _, name in spec.splits]} in {folder}")
    return DatasetDict(splits)


# ----------------------------------------------------------------------------------------------------------------
# Translation

# split -> file prefixes tried in order: Multi30k (train, val, test_2016_flickr) and WMT (newstest2013/2014).
TRANSLATION_PREFIXES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "validation": ("val", "valid", "dev", "newstest2013"),
    "test": ("test_2016_flickr", "test", "newstest2014"),
}


def _parallel_split(folder: Path, prefix: str, src_lang: str, tgt_lang: str, unescape_xml: bool) -> Dataset:
    src_path, tgt_path = folder / f"{prefix}.{src_lang}", folder / f"{prefix}.{tgt_lang}"
    src, tgt = _read_lines(src_path), _read_lines(tgt_path)
    if len(src) != len(tgt):
        raise ValueError(f"parallel files differ in length: {src_path} has {len(src)} lines, "
                         f"{tgt_path} has {len(tgt)}; line i of one must translate line i of the other")
    if not src:
        raise ValueError(f"{src_path} and {tgt_path} are empty")
    if unescape_xml:  # Moses' escape-special-chars: &amp; &lt; &gt; &apos; &quot; &#124; &#91; &#93;
        src, tgt = [html.unescape(s) for s in src], [html.unescape(t) for t in tgt]
    pairs = [{src_lang: s, tgt_lang: t} for s, t in zip(src, tgt)]
    return Dataset.from_dict({"translation": pairs},
                             features=Features({"translation": Translation(languages=[src_lang, tgt_lang])}))


def _default_splits(folder: Path, src_lang: str, tgt_lang: str) -> dict[str, str]:
    """Each split's first prefix in `TRANSLATION_PREFIXES` with a file on either side (the other side must then
    exist too, or `_read_lines` names it)."""
    splits = {}
    for split, prefixes in TRANSLATION_PREFIXES.items():
        for prefix in prefixes:
            if (folder / f"{prefix}.{src_lang}").exists() or (folder / f"{prefix}.{tgt_lang}").exists():
                splits[split] = prefix
                break
    if not splits:
        raise FileNotFoundError(f"no parallel files in {folder}: expected e.g. train.{src_lang} and "
                                f"train.{tgt_lang} (prefixes {TRANSLATION_PREFIXES})")
    return splits


def _hub_translation(source: str, src_lang: str, tgt_lang: str, hub_config: str | None) -> DatasetDict:
    """A Hub dataset in the translation schema: wmt14-style ("translation" column) is kept as it is;
    one column per language (e.g. `bentrevett/multi30k`: "en", "de") is zipped into "translation"."""
    features = Features({"translation": Translation(languages=[src_lang, tgt_lang])})
    splits = {}
    for name, split in load_dataset(source, hub_config).items():
        if "translation" in split.column_names:
            languages = set(split.features["translation"].languages)
            if not {src_lang, tgt_lang} <= languages:
                raise ValueError(f"{source}: languages are {sorted(languages)}, not {src_lang} and {tgt_lang}")
            splits[name] = split.select_columns(["translation"])
        elif {src_lang, tgt_lang} <= set(split.column_names):
            splits[name] = split.map(
                lambda batch: {"translation": [{src_lang: s, tgt_lang: t}
                                               for s, t in zip(batch[src_lang], batch[tgt_lang])]},
                batched=True, remove_columns=split.column_names, features=features,
            )
        else:
            raise ValueError(f"{source} [{name}]: expected a 'translation' column or columns {src_lang!r} and "
                             f"{tgt_lang!r}; columns are {split.column_names}")
    return DatasetDict(splits)


def load_translation(
    source: Source,
    src_lang: str = "en",
    tgt_lang: str = "de",
    *,
    splits: Mapping[str, str] | None = None,
    hub_config: str | None = None,
    unescape_xml: bool = False,
) -> DatasetDict:
    """Parallel text as a `DatasetDict` of `{"translation": {src_lang: ..., tgt_lang: ...}}`, either direction.

    Local folder: `{prefix}.{lang}` files, line i of one translating line i of the other. `splits` maps split
    names to prefixes, e.g. `{"train": "train_sample_ende", "test": "newstest2014"}`, and every file named
    must exist; by default each split takes the first prefix of `TRANSLATION_PREFIXES` that has a file, so a
    Multi30k folder gives train/validation/test. `unescape_xml` undoes Moses' XML escaping (`&apos;` -> `'`)
    of already-tokenised WMT data; the tokenisation itself (spaces around punctuation) stays.
    Hub id: `load_dataset(source, hub_config)`, e.g. ("wmt14", hub_config="de-en") or "bentrevett/multi30k".
    """
    if src_lang == tgt_lang:
        raise ValueError(f"src_lang and tgt_lang must differ, both are {src_lang!r}")
    folder = _local_path(source)
    if folder is None:
        return _hub_translation(str(source), src_lang, tgt_lang, hub_config)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder} (expected a folder of {{prefix}}.{src_lang} files)")
    if splits is None:
        splits = _default_splits(folder, src_lang, tgt_lang)
    return DatasetDict({split: _parallel_split(folder, prefix, src_lang, tgt_lang, unescape_xml)
                        for split, prefix in splits.items()})
