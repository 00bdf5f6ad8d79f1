"""Data loaders: real GLUE / Multi30k / WMT / shakespeare files when present, tiny generated files always.

Real-data tests ask for `data_dir` and skip when it is absent; expected sizes are the official ones listed in
shared/data/README.md. The Hub paths cannot run offline: they are checked with `load_dataset` replaced by a fake
that returns what the Hub would.
"""
from collections import Counter

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import DataCollatorForLanguageModeling

from hf_transformer101 import data
from hf_transformer101.data import (
    GLUE_LABEL_NAMES,
    GLUE_TASKS,
    glue_features,
    lm_datasets,
    load_glue,
    load_text_corpus,
    load_translation,
    mlm_datasets,
)
from hf_transformer101.tokenization import train_char_tokenizer, train_wordpiece_tokenizer

# The Hub's `nyu-mll/glue` features, written out independently of the code under test.
_PAIR = {"sentence1": Value("string"), "sentence2": Value("string")}
HUB_FEATURES = {
    "cola": Features({"sentence": Value("string"), "label": ClassLabel(names=["unacceptable", "acceptable"]),
                      "idx": Value("int32")}),
    "sst2": Features({"sentence": Value("string"), "label": ClassLabel(names=["negative", "positive"]),
                      "idx": Value("int32")}),
    "mrpc": Features({**_PAIR, "label": ClassLabel(names=["not_equivalent", "equivalent"]), "idx": Value("int32")}),
    "stsb": Features({**_PAIR, "label": Value("float32"), "idx": Value("int32")}),
    "qqp": Features({"question1": Value("string"), "question2": Value("string"),
                     "label": ClassLabel(names=["not_duplicate", "duplicate"]), "idx": Value("int32")}),
    "mnli": Features({"premise": Value("string"), "hypothesis": Value("string"),
                      "label": ClassLabel(names=["entailment", "neutral", "contradiction"]), "idx": Value("int32")}),
    "qnli": Features({"question": Value("string"), "sentence": Value("string"),
                      "label": ClassLabel(names=["entailment", "not_entailment"]), "idx": Value("int32")}),
    "rte": Features({**_PAIR, "label": ClassLabel(names=["entailment", "not_entailment"]), "idx": Value("int32")}),
    "wnli": Features({**_PAIR, "label": ClassLabel(names=["not_entailment", "entailment"]), "idx": Value("int32")}),
}


# ----------------------------------------------------------------------------------------------------------------
# GLUE on the real TSVs

# task: (train rows, dev rows, train label counts {id: n}, dev label counts) from shared/data/README.md.
GLUE_REAL = {
    "cola": (8551, 1043, {1: 6023, 0: 2528}, {1: 721, 0: 322}),
    "sst2": (67349, 872, {1: 37569, 0: 29780}, {1: 444, 0: 428}),
    "mrpc": (3668, 408, {1: 2474, 0: 1194}, {1: 279, 0: 129}),
    "stsb": (5749, 1500, None, None),
    "rte": (2490, 277, {0: 1249, 1: 1241}, {0: 146, 1: 131}),  # 0 = entailment
    "wnli": (635, 71, {1: 312, 0: 323}, {1: 31, 0: 40}),
    "qnli": (None, 5463, None, {0: 2702, 1: 2761}),  # dev only: QNLI train is not in shared/data
}


def _counts(labels) -> dict:
    return dict(Counter(labels))


@pytest.mark.parametrize("task", list(GLUE_REAL))
def test_glue_tsv_sizes_labels_and_schema_match_the_hub(data_dir, task):
    n_train, n_dev, train_counts, dev_counts = GLUE_REAL[task]
    glue = load_glue(task, data_dir / "glue")
    assert set(glue) == ({"validation"} if n_train is None else {"train", "validation"})
    for split, n, counts in (("train", n_train, train_counts), ("validation", n_dev, dev_counts)):
        if n is None:
            continue
        rows = glue[split]
        assert rows.num_rows == n and rows.features == HUB_FEATURES[task]
        assert rows["idx"][:] == list(range(n))
        if counts is not None:
            assert _counts(rows["label"]) == counts
        else:  # STS-B: similarity scores
            assert min(rows["label"]) == 0.0 and max(rows["label"]) == 5.0


def test_glue_tsv_first_rows_are_the_hub_rows(data_dir):
    root = data_dir / "glue"
    assert load_glue("cola", root)["train"][0] == {
        "sentence": "Our friends won't buy this analysis, let alone the next one we propose.", "label": 1, "idx": 0}
    assert load_glue("sst2", root)["train"][0] == {
        "sentence": "hide new secretions from the parental units ", "label": 0, "idx": 0}  # trailing space kept
    rte = load_glue("rte", root)["validation"][0]
    assert rte["sentence2"] == "Christopher Reeve had an accident." and rte["label"] == 1  # not_entailment
    assert load_glue("cola", root / "CoLA")["validation"].num_rows == 1043  # the task folder itself works too


# ----------------------------------------------------------------------------------------------------------------
# GLUE on generated TSVs: all nine tasks, test splits, the format quirks

_MNLI_HEADER = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t" \
               "sentence2_parse\tsentence1\tsentence2"
_STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
GLUE_FILES = {
    # CoLA: no header in train/dev, dev without a final newline; an unbalanced quote must not swallow rows.
    "CoLA/train.tsv": 'gj04\t1\t\tOur friends won\'t buy this.\ngj04\t0\t*\tThey drank the "pub.\n',
    "CoLA/dev.tsv": "gj04\t0\t*\tThe more does Bill smoke.",
    "CoLA/test.tsv": "index\tsentence\n0\tBill left.\n1\tLeft Bill.\n",
    "SST-2/train.tsv": "sentence\tlabel\nit 's a charming journey . \t1\n",
    "SST-2/test.tsv": "index\tsentence\n0\tuneasy mishmash . \n",
    "MRPC/train.tsv": "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                      "1\t702876\t702977\tHe said \"no .\tHe did .\n",
    "MRPC/test.tsv": "\ufeffindex\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tA .\tB .\n",
    "STS-B/train.tsv": f"{_STSB_HEADER}\tscore\n"
                       "0\tmain-captions\tMSRvid\t2012test\t1\tnone\tnone\tA plane.\tA jet.\t5.000\n",
    "STS-B/test.tsv": f"{_STSB_HEADER}\n0\tmain-news\theadlines\t2016\t1\tnone\tnone\tA.\tB.\n",
    "QQP/train.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tWhy?\tHow?\t0\n1\t3\t4\tA?\tA!\t1\n",
    "QQP/test.tsv": "id\tquestion1\tquestion2\n0\tWhat?\tWho?\n",
    "MNLI/train.tsv": f"{_MNLI_HEADER}\tlabel1\tgold_label\n0\t1\t1n\tfiction\t-\t-\t-\t-\tA.\tB.\tneutral\tneutral\n",
    "MNLI/dev_matched.tsv": f"{_MNLI_HEADER}\tlabel1\tgold_label\n0\t1\t1c\tslate\t-\t-\t-\t-\tA.\tB.\tcontradiction\t"
                            "contradiction\n",
    "MNLI/dev_mismatched.tsv": f"{_MNLI_HEADER}\tlabel1\tgold_label\n0\t1\t1e\tletters\t-\t-\t-\t-\tA.\tB.\t"
                               "entailment\tentailment\n",
    "MNLI/test_matched.tsv": f"{_MNLI_HEADER}\n0\t1\t1\tslate\t-\t-\t-\t-\tA.\tB.\n",
    "MNLI/test_mismatched.tsv": f"{_MNLI_HEADER}\n0\t1\t1\tletters\t-\t-\t-\t-\tA.\tB.\n",
    "QNLI/dev.tsv": "index\tquestion\tsentence\tlabel\n0\tWhat?\tThis.\tnot_entailment\n1\tWho?\tHim.\tentailment\n",
    "RTE/train.tsv": "index\tsentence1\tsentence2\tlabel\n0\tA dog ran.\tAn animal ran.\tentailment\n",
    "RTE/test.tsv": "index\tsentence1\tsentence2\n0\tA.\tB.\n",
    "WNLI/dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\t1\n",
}
# task: {split: (first row's texts, first row's label)} expected from GLUE_FILES.
GLUE_EXPECTED = {
    "cola": {"train": (("Our friends won't buy this.",), 1), "validation": (("The more does Bill smoke.",), 0),
             "test": (("Bill left.",), -1)},
    "sst2": {"train": (("it 's a charming journey . ",), 1), "test": (("uneasy mishmash . ",), -1)},
    "mrpc": {"train": (('He said "no .', "He did ."), 1), "test": (("A .", "B ."), -1)},
    "stsb": {"train": (("A plane.", "A jet."), 5.0), "test": (("A.", "B."), -1.0)},
    "qqp": {"train": (("Why?", "How?"), 0), "test": (("What?", "Who?"), -1)},
    "mnli": {"train": (("A.", "B."), 1), "validation_matched": (("A.", "B."), 2),
             "validation_mismatched": (("A.", "B."), 0), "test_matched": (("A.", "B."), -1),
             "test_mismatched": (("A.", "B."), -1)},
    "qnli": {"validation": (("What?", "This."), 1)},
    "rte": {"train": (("A dog ran.", "An animal ran."), 0), "test": (("A.", "B."), -1)},
    "wnli": {"validation": (("A.", "B."), 1)},
}


@pytest.fixture
def glue_dir(tmp_path):
    for name, text in GLUE_FILES.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_glue_tasks_constant_lists_the_nine_tasks_with_their_columns():
    assert list(GLUE_TASKS) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"]
    for task, keys in GLUE_TASKS.items():
        assert [k for k in keys if k] == [name for name in HUB_FEATURES[task] if name not in ("label", "idx")]
        assert glue_features(task) == HUB_FEATURES[task]
        names = GLUE_LABEL_NAMES[task]
        assert names == (None if task == "stsb" else HUB_FEATURES[task]["label"].names)


@pytest.mark.parametrize("task", list(GLUE_TASKS))
def test_glue_tsv_layout_for_every_task(glue_dir, task):
    glue = load_glue(task, glue_dir)
    assert list(glue) == list(GLUE_EXPECTED[task])
    for split, (texts, label) in GLUE_EXPECTED[task].items():
        row = glue[split][0]
        assert glue[split].features == HUB_FEATURES[task]
        assert tuple(row[key] for key in GLUE_TASKS[task] if key) == texts
        assert (row["label"], row["idx"]) == (label, 0)
    if task == "cola":
        assert glue["train"]["sentence"][1] == 'They drank the "pub.'  # the quote stays, the next row survives


def test_glue_bad_input(glue_dir, tmp_path):
    with pytest.raises(ValueError, match="cola.*sst2.*mrpc.*stsb.*qqp.*mnli.*qnli.*rte.*wnli"):
        load_glue("sst-2", glue_dir)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_glue("rte", tmp_path / "nowhere")
    (glue_dir / "QQP" / "train.tsv").unlink()
    (glue_dir / "QQP" / "test.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="QQP"):
        load_glue("qqp", glue_dir)
    (glue_dir / "RTE" / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tmaybe\n")
    with pytest.raises(ValueError, match=r"dev.tsv, row 1: label 'maybe'"):
        load_glue("rte", glue_dir)
    (glue_dir / "WNLI" / "dev.tsv").write_text("index\tpremise\thypothesis\tlabel\n")
    with pytest.raises(ValueError, match="sentence1"):
        load_glue("wnli", glue_dir)


def test_glue_hub_path_asks_nyu_mll_glue(monkeypatch):
    calls = []
    monkeypatch.setattr(data, "load_dataset", lambda *args: calls.append(args) or DatasetDict())
    load_glue("mnli")
    assert calls == [("nyu-mll/glue", "mnli")]


# ----------------------------------------------------------------------------------------------------------------
# Translation


def test_multi30k_splits_sizes_and_alignment(data_dir):
    en_de = load_translation(data_dir / "multi30k", "en", "de")
    assert {split: rows.num_rows for split, rows in en_de.items()} == {"train": 29000, "validation": 1014,
                                                                        "test": 1000}
    train, test = en_de["train"]["translation"], en_de["test"]["translation"]
    assert train[0] == {"en": "Two young, White males are outside near many bushes.",
                        "de": "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."}
    assert train[999] == {"en": "Two men in the middle of the action of a fighting match.",
                          "de": "Zwei Männer mitten in einem Kampf."}
    assert train[28999]["de"].startswith("Ein Mann in Shorts und Hawaiihemd")
    assert test[999] == {"en": "A girl at the shore of a beach with a mountain in the distance.",
                         "de": "Ein Mädchen an einer Küste mit einem Berg im Hintergrund."}
    de_en = load_translation(data_dir / "multi30k", "de", "en")  # the other direction: same pairs
    assert de_en["validation"]["translation"][:] == en_de["validation"]["translation"][:]
    assert all(pair["en"] and pair["de"] for pair in train)


def test_wmt_newstest2014_and_escaped_training_sample(data_dir):
    wmt = load_translation(data_dir / "wmt", "en", "de", splits={"train": "train_sample_ende", "test": "newstest2014"})
    assert (wmt["train"].num_rows, wmt["test"].num_rows) == (10000, 3003)
    assert wmt["test"][0]["translation"] == {"en": "Gutach: Increased safety for pedestrians",
                                             "de": "Gutach: Noch mehr Sicherheit für Fußgänger"}
    assert wmt["test"][3002]["translation"]["de"].endswith("und es deshalb zu einem Freispruch kommt.")
    raw = " ".join(pair["en"] for pair in wmt["train"]["translation"])
    assert "&apos;" in raw and "&amp;" in raw  # Moses-escaped, as the README says
    plain = load_translation(data_dir / "wmt", splits={"train": "train_sample_ende"}, unescape_xml=True)
    text = " ".join(pair["en"] for pair in plain["train"]["translation"])
    assert "&apos;" not in text and "&amp;" not in text and " 's " in text
    assert list(load_translation(data_dir / "wmt")) == ["test"]  # default prefixes find newstest2014 only


def _write_parallel(folder, prefix, en, de):
    folder.mkdir(exist_ok=True)
    (folder / f"{prefix}.en").write_text(en, encoding="utf-8")
    (folder / f"{prefix}.de").write_text(de, encoding="utf-8")


def test_parallel_files_align_line_by_line_only_at_newlines(tmp_path):
    # U+2028 and form feeds inside a sentence would split it under str.splitlines and shift every later line.
    _write_parallel(tmp_path, "train", "a\u2028b\nc\x0cd\nlast", "A B\nC D\nLETZTE\n")
    pairs = load_translation(tmp_path)["train"]["translation"]
    assert pairs[:] == [{"en": "a\u2028b", "de": "A B"}, {"en": "c\x0cd", "de": "C D"}, {"en": "last", "de": "LETZTE"}]
    _write_parallel(tmp_path, "val", "x &apos;s &amp; y\r\n", "x&quot;\r\n")  # CRLF, Moses escapes
    val = load_translation(tmp_path, splits={"validation": "val"}, unescape_xml=True)["validation"]
    assert val[0]["translation"] == {"en": "x 's & y", "de": 'x"'}


def test_translation_bad_input(tmp_path):
    _write_parallel(tmp_path, "train", "one\ntwo\nthree\n", "eins\nzwei\n")
    with pytest.raises(ValueError, match=r"train.en has 3 lines.*train.de has 2"):
        load_translation(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"test.en"):
        load_translation(tmp_path, splits={"test": "test"})
    (tmp_path / "val.de").write_text("x\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"val.en"):  # one side present, the other missing
        load_translation(tmp_path, splits={"validation": "val"})
    _write_parallel(tmp_path, "empty", "", "")
    with pytest.raises(ValueError, match="empty"):
        load_translation(tmp_path, splits={"train": "empty"})
    with pytest.raises(FileNotFoundError, match="no parallel files"):
        load_translation(tmp_path, "fr", "it")
    with pytest.raises(FileNotFoundError, match="missing_folder"):
        load_translation(tmp_path / "missing_folder")
    with pytest.raises(ValueError, match="differ"):
        load_translation(tmp_path, "en", "en")


def test_translation_hub_path_gives_the_translation_schema(monkeypatch):
    per_language = DatasetDict(train=Dataset.from_dict({"en": ["A dog."], "de": ["Ein Hund."]}))
    monkeypatch.setattr(data, "load_dataset", lambda source, config: per_language)  # bentrevett/multi30k
    pairs = load_translation("bentrevett/multi30k", "de", "en")
    assert pairs["train"].column_names == ["translation"]
    assert pairs["train"][0]["translation"] == {"de": "Ein Hund.", "en": "A dog."}
    wmt = load_translation("bentrevett/multi30k")  # an existing "translation" column is kept as it is
    monkeypatch.setattr(data, "load_dataset", lambda source, config: wmt)
    assert load_translation("wmt14", "de", "en", hub_config="de-en")["train"][0] == pairs["train"][0]
    with pytest.raises(ValueError, match="fr"):
        load_translation("wmt14", "fr", "en")


# ----------------------------------------------------------------------------------------------------------------
# Text corpora and LM datasets


def test_default_corpus_is_embedded_and_offline():
    corpus = load_text_corpus()
    assert corpus.column_names == ["text"] and corpus.num_rows > 50
    text = "".join(corpus["text"])
    assert len(text) > 200_000 and 'The "assert" statement' in text
    assert corpus["text"][:] == load_text_corpus()["text"][:]  # same order every time


def test_text_corpus_from_file_and_folder(tmp_path):
    (tmp_path / "b.txt").write_text("second\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("third\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first\n", encoding="utf-8")
    (tmp_path / "skip.md").write_text("not text\n", encoding="utf-8")
    assert load_text_corpus(tmp_path)["text"][:] == ["first\n", "second\n", "third\n"]  # sorted paths
    assert load_text_corpus(str(tmp_path / "b.txt"))["text"][:] == ["second\n"]


def test_text_corpus_bad_input(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_text_corpus(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="corpus.txt"):
        load_text_corpus("corpus.txt")  # a string that can only be a file
    (tmp_path / "empty.txt").write_text(" \n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        load_text_corpus(tmp_path / "empty.txt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="empty"):
        load_text_corpus(tmp_path / "folder")
    hub = Dataset.from_dict({"content": ["Hub text."], "id": [1]})
    monkeypatch.setattr(data, "load_dataset", lambda source, config, split: hub)
    assert load_text_corpus("owner/corpus", text_column="content")[:] == {"text": ["Hub text."]}
    with pytest.raises(ValueError, match="no column 'text'"):
        load_text_corpus("owner/corpus")


def test_shakespeare_char_blocks_follow_nanogpt(data_dir):
    text = (data_dir / "shakespeare" / "input.txt").read_text(encoding="utf-8")
    tok = train_char_tokenizer([text])
    lm = lm_datasets(text, tok, block_size=256)
    n_blocks = (len(text) + 1) // 256  # + one <|endoftext|> after the document
    assert (lm["train"].num_rows, lm["validation"].num_rows) == (n_blocks - round(n_blocks * 0.1),
                                                                 round(n_blocks * 0.1))
    assert lm["train"].column_names == ["input_ids", "labels"]
    first, last = lm["train"][0], lm["validation"][-1]
    assert first["labels"] == first["input_ids"] and len(first["input_ids"]) == 256
    assert tok.decode(first["input_ids"]) == text[:256]
    assert tok.decode(last["input_ids"]) == text[(n_blocks - 1) * 256: n_blocks * 256]  # validation = the tail


def test_lm_blocks_join_documents_with_eos_and_split_contiguously():
    tok = train_char_tokenizer(["abcdefgh"])
    eos = tok.eos_token_id
    lm = lm_datasets(["abc", "defgh", "ab"], tok, block_size=2, val_fraction=0.25)
    stream = [0, 1, 2, eos, 3, 4, 5, 6, 7, eos, 0, 1, eos]
    blocks = [stream[i:i + 2] for i in range(0, 12, 2)]  # 13 tokens -> 6 blocks, the last token dropped
    assert lm["train"]["input_ids"][:] + lm["validation"]["input_ids"][:] == blocks
    assert lm["validation"].num_rows == 2  # round(6 * 0.25)
    assert list(lm_datasets("abcd", tok, 2, val_fraction=0)) == ["train"]


def test_lm_bad_input():
    tok = train_char_tokenizer(["abcdefgh"])
    with pytest.raises(ValueError, match=r"5 tokens, fewer than one block of block_size=8"):
        lm_datasets("abcd", tok, 8)  # 4 characters + eos
    with pytest.raises(ValueError, match="1 block"):
        lm_datasets("abcdefgh", tok, 8)  # one block cannot be split into train and validation
    with pytest.raises(ValueError, match="empty"):
        lm_datasets(["", " "], tok, 8)
    with pytest.raises(ValueError, match="block_size"):
        lm_datasets("abcd", tok, 0)
    with pytest.raises(ValueError, match="val_fraction"):
        lm_datasets("abcd", tok, 1, val_fraction=1.0)


def test_mlm_packed_and_line_by_line():
    lines = [f"the dog number {i} runs after the cat" for i in range(40)]
    tok = train_wordpiece_tokenizer(lines, 100)
    packed = mlm_datasets("\n".join(lines), tok, max_length=16)
    rows = packed["train"]["input_ids"][:] + packed["validation"]["input_ids"][:]
    assert all(len(r) == 16 and r[0] == tok.cls_token_id and r[-1] == tok.sep_token_id for r in rows)
    assert packed["train"][0]["special_tokens_mask"] == [1] + [0] * 14 + [1]
    by_line = mlm_datasets(lines + ["", "  "], tok, max_length=6, line_by_line=True)
    assert by_line["train"].num_rows + by_line["validation"].num_rows == 40  # blank lines skipped
    assert tok.convert_ids_to_tokens(by_line["train"][0]["input_ids"]) == ["[CLS]", "the", "dog", "number", "0",
                                                                           "[SEP]"]  # truncated to 6
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.5)
    for split in (packed["train"], by_line["train"]):  # the collator masks words, never [CLS]/[SEP]/[PAD]
        labels = collator([split[i] for i in range(4)])["labels"]
        targets = set(labels[labels != -100].tolist())
        assert targets and not targets & {tok.cls_token_id, tok.sep_token_id, tok.pad_token_id}


def test_mlm_bad_input():
    tok = train_wordpiece_tokenizer(["a b c d e"], 30)
    with pytest.raises(ValueError, match=r"tokens, fewer than one block of max_length=64"):
        mlm_datasets("a b c", tok, 64)
    with pytest.raises(ValueError, match="cls_token"):
        mlm_datasets("a b c", train_char_tokenizer(["abc"]), 4)


def test_pretrained_source_is_a_folder_or_a_hub_id_and_a_missing_folder_is_named(tmp_path, monkeypatch):
    """What the recipes hand to `from_pretrained`: transformers would call a mistyped folder an invalid repo id."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "model").mkdir()
    assert data.pretrained_source("~/model") == str(tmp_path / "model")
    assert data.pretrained_source("Helsinki-NLP/opus-mt-en-de") == "Helsinki-NLP/opus-mt-en-de"
    for missing in ("./outputs/en-de/model", "/nowhere/model", "~/models/gpt"):
        with pytest.raises(FileNotFoundError, match="not found"):
            data.pretrained_source(missing)
