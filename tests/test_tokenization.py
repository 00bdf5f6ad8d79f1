"""Tokenizers: lossless round trips, special-token layouts, save -> AutoTokenizer reload, unknown characters.

Real-data tests use tiny-shakespeare and Multi30k from `data_dir` (skipped when absent); the rest train on a few
hundred generated lines so they run on every machine. Trainings are small (well under a second each).
"""
import json
import random
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from hf_transformer101.tokenization import (
    train_bpe_tokenizer,
    train_char_tokenizer,
    train_sentencepiece_tokenizer,
    train_wordpiece_tokenizer,
)

# Strings a lossless tokenizer must give back unchanged: accents composed and decomposed, runs of spaces,
# leading/trailing spaces, tabs, newlines, emoji and characters (€, CJK) that the training corpus never had.
HARD_TEXTS = [
    "Ein Mädchen in einem grünen Kleid läuft über die Straße.",
    unicodedata.normalize("NFD", "Café naïve Öl"),
    "  two  leading, three   inner and trailing  ",
    "tab\tand\nnewline",
    "Preis: 5 € 😀 北京",
]


def _generated_lines(n: int = 400) -> list[str]:
    """German/English-looking sentences with umlauts, deterministic."""
    rng = random.Random(0)
    words = ["Haus", "Straße", "über", "Mädchen", "café", "naïve", "dog", "runs", "the", "ein", "Mann", "läuft",
             "schnell", "grün", "blue", "Fußball", "spielt", "kids", "play", "Öl"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + rng.choice(".!?") for _ in range(n)]


def _lines(path: Path, n: int | None = None) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1][:n]


@pytest.fixture(scope="module")
def multi30k_spm(data_dir):
    """One joint unigram tokenizer for both sides, trained on 3000 + 3000 Multi30k training lines."""
    folder = data_dir / "multi30k"
    return train_sentencepiece_tokenizer(_lines(folder / "train.en", 3000) + _lines(folder / "train.de", 3000), 2000)


# ----------------------------------------------------------------------------------------------------------------
# Character level


def test_char_tokenizer_is_nanogpt_shakespeare_char(data_dir):
    text = (data_dir / "shakespeare" / "input.txt").read_text(encoding="utf-8")
    tok = train_char_tokenizer(data_dir / "shakespeare" / "input.txt")
    chars = sorted(set(text))
    assert len(chars) == 65 and len(tok) == 65 + 2  # + <unk>, <|endoftext|>
    assert tok.get_vocab() == {**{c: i for i, c in enumerate(chars)}, "<unk>": 65, "<|endoftext|>": 66}
    assert tok("First Citizen")["input_ids"] == [18, 47, 56, 57, 58, 1, 15, 47, 58, 47, 64, 43, 52]  # nanoGPT's stoi
    sample = text[:200_000]  # ~5,000 lines: newlines, blank lines and runs of spaces included
    assert tok.decode(tok(sample)["input_ids"]) == sample


def test_char_tokenizer_unknown_characters_become_unk():
    tok = train_char_tokenizer(["abc \n"])
    ids = tok("a€b\tc")["input_ids"]
    assert ids == [2, tok.unk_token_id, 3, tok.unk_token_id, 4]  # vocabulary: "\n", " ", "a", "b", "c", <unk>
    assert tok.decode(ids) == "a<unk>b<unk>c"
    assert tok.decode(ids, skip_special_tokens=True) == "abc"


def test_char_tokenizer_eos_is_one_token_and_plain_text_still_round_trips():
    tok = train_char_tokenizer(["hello world\n"], extra_special_tokens=["<|user|>"])
    assert tok.eos_token == tok.bos_token == tok.pad_token == "<|endoftext|>"
    assert tok("<|endoftext|>")["input_ids"] == [tok.eos_token_id]
    assert tok("hello")["input_ids"][-1] != tok.eos_token_id  # like GPT-2, nothing is appended
    text = "hello <|user|>\n\nworld  "
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == "hello \n\nworld  "


# ----------------------------------------------------------------------------------------------------------------
# SentencePiece (translation) and byte-level BPE (GPT)


def test_sentencepiece_round_trips_real_multi30k(data_dir, multi30k_spm):
    held_out = _lines(data_dir / "multi30k" / "val.en") + _lines(data_dir / "multi30k" / "val.de")
    assert len(held_out) == 2028
    broken = [s for s in held_out if multi30k_spm.decode(multi30k_spm(s)["input_ids"], skip_special_tokens=True) != s]
    assert broken == []
    for text in HARD_TEXTS:
        assert multi30k_spm.decode(multi30k_spm(text)["input_ids"], skip_special_tokens=True) == text


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_is_lossless_and_falls_back_to_bytes(model_type):
    tok = train_sentencepiece_tokenizer(_generated_lines(), 300, model_type=model_type)
    for text in HARD_TEXTS:
        assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text
    assert tok.convert_ids_to_tokens(tok("€", add_special_tokens=False)["input_ids"])[-3:] == [
        "<0xE2>", "<0x82>", "<0xAC>"]  # "€" was never seen: its UTF-8 bytes, not <unk>


def test_sentencepiece_special_tokens_follow_marian():
    tok = train_sentencepiece_tokenizer(_generated_lines(), 300)
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    assert (tok.pad_token, tok.eos_token, tok.unk_token) == ("<pad>", "</s>", "<unk>")
    assert tok.bos_token is None and tok.padding_side == "right" and tok.model_max_length == 512
    sources = tok(["A dog runs.", "Two men are playing football in the park."], padding=True)
    for ids, mask in zip(sources["input_ids"], sources["attention_mask"]):
        assert ids[sum(mask) - 1] == tok.eos_token_id  # every source ends with </s>, then right pads (id 0)
        assert ids[sum(mask):] == [0] * (len(ids) - sum(mask))
    targets = tok(text_target=["Ein Hund rennt.", "Zwei Männer spielen Fußball im Park."])["input_ids"]
    assert all(labels[-1] == tok.eos_token_id and 0 not in labels for labels in targets)  # and every target


def test_sentencepiece_is_joint_over_both_languages(multi30k_spm):
    vocab = multi30k_spm.get_vocab()
    assert {"▁Mann", "▁man"} <= vocab.keys()  # German and English pieces in one vocabulary


def test_byte_level_bpe_is_lossless(data_dir):
    lines = _lines(data_dir / "shakespeare" / "input.txt")
    tok = train_bpe_tokenizer(lines[:5000], 600)
    assert tok.eos_token == tok.bos_token == tok.pad_token == "<|endoftext|>" and tok.unk_token is None
    sample = "\n".join(lines[30000:31000])
    assert tok.decode(tok(sample)["input_ids"]) == sample
    for text in HARD_TEXTS:
        assert tok.decode(tok(text)["input_ids"]) == text


# ----------------------------------------------------------------------------------------------------------------
# WordPiece (BERT)


def test_wordpiece_pair_layout_with_token_type_ids():
    tok = train_wordpiece_tokenizer(_generated_lines(), 200)
    assert [tok.convert_tokens_to_ids(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]
    assert tok.mask_token == "[MASK]" and tok.model_input_names == ["input_ids", "token_type_ids", "attention_mask"]
    single = tok("the dog runs")
    assert tok.convert_ids_to_tokens(single["input_ids"]) == ["[CLS]", "the", "dog", "runs", "[SEP]"]
    pair = tok("The dog", "ein Mann")
    assert tok.convert_ids_to_tokens(pair["input_ids"]) == ["[CLS]", "the", "dog", "[SEP]", "ein", "mann", "[SEP]"]
    assert pair["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    assert tok.decode(tok("Straße über")["input_ids"], skip_special_tokens=True) == "straße uber"  # lossy, as BERT
    assert tok.convert_ids_to_tokens(tok("ζ")["input_ids"]) == ["[CLS]", "[UNK]", "[SEP]"]


def test_training_twice_gives_the_same_ids(data_dir):
    lines = _lines(data_dir / "multi30k" / "train.en", 3000) + _lines(data_dir / "multi30k" / "train.de", 3000)
    for train in (lambda: train_wordpiece_tokenizer(lines, 1000), lambda: train_bpe_tokenizer(lines, 600),
                  lambda: train_sentencepiece_tokenizer(lines, 600, model_type="bpe")):
        assert train().get_vocab() == train().get_vocab()


# ----------------------------------------------------------------------------------------------------------------
# save -> AutoTokenizer, with no custom code


def _all_tokenizers() -> dict[str, PreTrainedTokenizerFast]:
    lines = _generated_lines()
    return {
        "char": train_char_tokenizer(lines),
        "bpe": train_bpe_tokenizer(lines, 300),
        "spm_unigram": train_sentencepiece_tokenizer(lines, 300),
        "spm_bpe": train_sentencepiece_tokenizer(lines, 300, model_type="bpe"),
        "wordpiece": train_wordpiece_tokenizer(lines, 200),
    }


def test_save_and_autotokenizer_reload_give_identical_ids(tmp_path):
    texts = ["Ein Mann läuft über die Straße.", "the kids play Fußball  ", "naïve café!"]
    expected = {}
    for name, tok in _all_tokenizers().items():
        tok.save_pretrained(tmp_path / name)
        reloaded = AutoTokenizer.from_pretrained(tmp_path / name)
        for attribute in ("all_special_tokens", "padding_side", "model_max_length", "model_input_names"):
            assert getattr(reloaded, attribute) == getattr(tok, attribute), (name, attribute)
        expected[name] = [tok(text)["input_ids"] for text in texts]
        assert [reloaded(text)["input_ids"] for text in texts] == expected[name], name
        assert reloaded(texts[0], texts[1]) == tok(texts[0], texts[1]), name
    # A fresh interpreter that cannot import this package, sentencepiece or protobuf loads the same ids.
    script = textwrap.dedent(f"""
        import json, sys
        for name in ("hf_transformer101", "sentencepiece", "google", "google.protobuf"):
            sys.modules[name] = None  # as if not installed: import fails, importlib.util.find_spec gives None
        from transformers import AutoTokenizer
        texts = {json.dumps(texts)}
        out = {{name: [AutoTokenizer.from_pretrained({str(tmp_path)!r} + "/" + name)(t)["input_ids"] for t in texts]
               for name in {json.dumps(list(expected))}}}
        print(json.dumps(out))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


# ----------------------------------------------------------------------------------------------------------------
# Inputs and errors


def test_files_and_texts_are_both_accepted(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("ab\nc\n", encoding="utf-8")
    from_path, from_str, from_texts = (train_char_tokenizer(x) for x in ([path], [str(path)], ["ab\nc\n"]))
    assert from_path.get_vocab() == from_str.get_vocab() == from_texts.get_vocab()
    assert train_char_tokenizer(str(path)).get_vocab() == from_path.get_vocab()  # a lone path
    assert "." in train_char_tokenizer(["2.1", "e.g."]).get_vocab()  # sentences that are not file names


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "train.en"
    for make in (lambda f: train_char_tokenizer(f), lambda f: train_sentencepiece_tokenizer(f, 300),
                 lambda f: train_wordpiece_tokenizer(f, 100), lambda f: train_bpe_tokenizer(f, 300)):
        with pytest.raises(FileNotFoundError, match=str(missing)):
            make([missing])
    with pytest.raises(FileNotFoundError, match="train.de"):
        train_char_tokenizer(["train.de"])  # a string that can only be a path


def test_bad_arguments_are_value_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        train_char_tokenizer([empty])
    with pytest.raises(ValueError, match="empty"):
        train_sentencepiece_tokenizer(["", "  "], 300)
    with pytest.raises(ValueError, match="model_type"):
        train_sentencepiece_tokenizer(["a b"], 300, model_type="char")
    with pytest.raises(ValueError, match="vocab_size"):
        train_sentencepiece_tokenizer(["a b"], 100)  # smaller than the 256 byte pieces
    with pytest.raises(ValueError, match="Vocabulary size too high"):
        train_sentencepiece_tokenizer(["a tiny corpus"], 5000)
    with pytest.raises(ValueError, match="three distinct"):
        train_sentencepiece_tokenizer(["a b"], 300, special_tokens=("<pad>", "</s>"))
    with pytest.raises(ValueError, match="strings or file paths"):
        train_char_tokenizer([b"bytes"])
