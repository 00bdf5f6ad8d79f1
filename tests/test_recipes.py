"""The MLM, translation and evaluation recipes: `--preset debug` runs end to end in a subprocess and leaves a
folder the Auto classes load; translation scores carry sacreBLEU signatures; bad input is named.

Translation data is a generated toy language pair in Multi30k's file layout, so nothing here needs ../shared/data.
"""
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoTokenizer, MarianConfig, MarianMTModel

import hf_transformer101  # noqa: F401  (registers our models with the Auto classes)
from hf_transformer101.tokenization import train_sentencepiece_tokenizer
from hf_transformer101.translation import evaluate_translation, translate

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
# A word-for-word "translation": learnable by a tiny model in a few steps, with umlauts and ß for the tokenizer.
EN_DE = {"a": "ein", "man": "mann", "woman": "frau", "dog": "hund", "child": "kind", "big": "großer",
         "small": "kleiner", "red": "roter", "runs": "läuft", "sits": "sitzt", "sleeps": "schläft",
         "on": "auf", "the": "der", "street": "straße", "grass": "wiese", "and": "und", "plays": "spielt"}
SIGNATURE_START = "nrefs:1|case:mixed|eff:no|tok:13a"  # sacreBLEU's BLEU signature with its default settings


def load_recipe(name):
    """A recipe script as a module, so error paths can be checked in-process (they fail before any training)."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_recipe(name, *args, cwd):
    result = subprocess.run([sys.executable, str(RECIPES / f"{name}.py"), *map(str, args)], capture_output=True,
                            text=True, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def toy_pairs(tmp_path_factory):
    """train / val / test_2016_flickr .en and .de files: 240 / 16 / 12 generated sentence pairs."""
    folder = tmp_path_factory.mktemp("toy_multi30k")
    rng = random.Random(0)
    for prefix, count in (("train", 240), ("val", 16), ("test_2016_flickr", 12)):
        english = [" ".join(rng.choice(list(EN_DE)) for _ in range(rng.randint(3, 9))) for _ in range(count)]
        (folder / f"{prefix}.en").write_text("".join(f"{s}.\n" for s in english), encoding="utf-8")
        german = [" ".join(EN_DE[word] for word in s.split()) for s in english]
        (folder / f"{prefix}.de").write_text("".join(f"{s}.\n" for s in german), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def translation_run(toy_pairs, tmp_path_factory):
    """One debug run of train_translation, shared by the tests below: de -> en (the direction flags) under bf16
    autocast (the final translations must still be fp32, as the exported weights are)."""
    output_dir = tmp_path_factory.mktemp("translation")
    run_recipe("train_translation", "--preset", "debug", "--data", toy_pairs, "--source_lang", "de",
               "--target_lang", "en", "--vocab_size", 300, "--mixed_precision", "bf16", "--output_dir", output_dir,
               cwd=output_dir)
    return output_dir


@pytest.mark.parametrize("name", ["pretrain_mlm", "train_translation", "evaluate_translation"])
def test_help_lists_the_arguments(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_recipe(name).main(["--help"])
    assert exit_info.value.code == 0 and "--output_dir" in capsys.readouterr().out


def test_pretrain_mlm_debug_exports_a_masked_lm_with_its_validation_loss(tmp_path):
    output = run_recipe("pretrain_mlm", "--preset", "debug", "--output_dir", tmp_path / "run", cwd=tmp_path)
    assert "validation MLM loss" in output
    results = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    assert results["task_type"] == "fill-mask"
    assert results["metrics"]["perplexity"] == pytest.approx(torch.tensor(results["metrics"]["loss"]).exp().item())
    evals = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in evals if "eval_loss" in r] == [10, 20]

    folder = tmp_path / "run" / "model"
    model, tokenizer = AutoModelForMaskedLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == "BERT101ForMaskedLM"
    inputs = tokenizer(f"the {tokenizer.mask_token} of a class", return_tensors="pt")
    assert model(**inputs).logits.shape == (1, inputs["input_ids"].shape[1], len(tokenizer))
    assert "fill-mask" in (folder / "README.md").read_text()


def test_pretrain_mlm_names_bad_arguments(tmp_path):
    recipe = load_recipe("pretrain_mlm")
    with pytest.raises(ValueError, match="--mlm_probability"):
        recipe.main(["--preset", "debug", "--mlm_probability", "1.5", "--output_dir", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="--tokenizer .*no-such-folder"):
        recipe.main(["--preset", "debug", "--tokenizer", str(tmp_path / "no-such-folder"),
                     "--output_dir", str(tmp_path)])


def test_train_translation_debug_scores_validation_and_test_and_exports(translation_run, toy_pairs):
    for split, count in (("validation", 8), ("test", 8)):  # the debug preset's BLEU slices
        record = json.loads((translation_run / "eval" / split / "bleu.json").read_text())
        assert record["task_type"] == "translation" and record["dataset_config"] == "de-en"
        assert set(record["metrics"]) == {"bleu", "chrf"}
        assert record["bleu_signature"].startswith(SIGNATURE_START) and "nc:6" in record["chrf_signature"]
        assert record["generation"]["num_beams"] == 2
        hypotheses = (translation_run / "eval" / split / "hypotheses.txt").read_text(encoding="utf-8")
        assert len(hypotheses.splitlines()) == record["num_sentences"] == count
    headline = json.loads((translation_run / "eval_results.json").read_text())
    assert headline["dataset_split"] == "test[:8]"
    evals = [json.loads(line) for line in (translation_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in evals if "eval_loss" in r] == [5, 10]

    folder = translation_run / "model"
    model, tokenizer = AutoModelForSeq2SeqLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == "Seq2Seq101ForConditionalGeneration"
    assert model.config.fused_linear_cross_entropy is False  # trained with it; exported to return logits
    assert isinstance(translate(model, tokenizer, "ein mann läuft.", num_beams=2, max_new_tokens=8), str)
    assert "bleu" in (folder / "README.md").read_text()  # the card's model-index, from bleu.json


def test_length_grouped_batches_cover_each_epoch_once_with_little_padding():
    lengths = [1 + (i * 7) % 40 for i in range(400)]
    rows = [{"x": i} for i in range(400)]
    batches = load_recipe("train_translation").LengthGroupedBatches(
        rows, lambda examples: {"x": torch.tensor([e["x"] for e in examples])}, batch_size=20, seed=0,
        lengths=lengths, group=5)
    epoch = [batches(i)["x"] for i in range(20)]
    assert sorted(torch.cat(epoch).tolist()) == list(range(400))
    assert torch.equal(batches(3)["x"], epoch[3]) and not torch.equal(batches(23)["x"], epoch[3])  # new order next epoch
    assert torch.equal(torch.cat([batches(3, rank, 2)["x"] for rank in (0, 1)]), epoch[3])
    spread = [max(lengths[i] for i in b.tolist()) - min(lengths[i] for i in b.tolist()) for b in epoch]
    assert sum(spread) / len(spread) < 10  # a random batch of 20 spans ~35 of the 40 lengths


def test_train_translation_without_data_names_the_data_argument(tmp_path, monkeypatch):
    recipe = load_recipe("train_translation")
    monkeypatch.setattr(recipe, "REPO", tmp_path / "checkout")  # no shared/data beside this "checkout"
    monkeypatch.delenv("HF101_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no --data given.*pass --data"):
        recipe.main(["--preset", "debug"])


def test_train_translation_needs_a_validation_split(tmp_path):
    for side in ("en", "de"):
        (tmp_path / f"train.{side}").write_text("a\nb\n")
    with pytest.raises(ValueError, match="no validation split"):
        load_recipe("train_translation").main(["--preset", "debug", "--data", str(tmp_path)])


def test_evaluate_translation_recipe_scores_a_model_and_a_hypotheses_file(translation_run, toy_pairs, tmp_path):
    recipe = load_recipe("evaluate_translation")
    record = recipe.main(["--model", str(translation_run / "model"), "--data", str(toy_pairs), "--source_lang", "de",
                          "--target_lang", "en", "--num_beams", "3", "--length_penalty", "0.8",
                          "--max_new_tokens", "20", "--output_dir", str(tmp_path / "model_eval")])
    saved = json.loads((tmp_path / "model_eval" / "bleu.json").read_text())
    assert saved == json.loads(json.dumps(record))
    assert saved["dataset_split"] == "test" and saved["num_sentences"] == 12
    assert saved["generation"] == {"num_beams": 3, "max_new_tokens": 20, "length_penalty": 0.8, "bf16": False}
    assert saved["bleu_signature"].startswith(SIGNATURE_START)

    # The exported model reproduces the recipe's own test translations (same decoding settings as the preset).
    recipe.main(["--model", str(translation_run / "model"), "--data", str(toy_pairs), "--source_lang", "de",
                 "--target_lang", "en", "--num_beams", "2", "--length_penalty", "0.6", "--batch_size", "16",
                 "--max_samples", "8", "--output_dir", str(tmp_path / "reproduced")])
    reproduced = (tmp_path / "reproduced" / "hypotheses.txt").read_text(encoding="utf-8")
    assert reproduced == (translation_run / "eval" / "test" / "hypotheses.txt").read_text(encoding="utf-8")

    # Scoring the references against themselves: a perfect 100, and the file's own count is checked.
    references = toy_pairs / "test_2016_flickr.en"
    perfect = recipe.main(["--hypotheses", str(references), "--data", str(toy_pairs), "--source_lang", "de",
                           "--target_lang", "en", "--output_dir", str(tmp_path / "file_eval")])
    assert perfect["metrics"] == {"bleu": pytest.approx(100), "chrf": pytest.approx(100)}
    with pytest.raises(ValueError, match="12 hypotheses but 16 references"):
        recipe.main(["--hypotheses", str(references), "--data", str(toy_pairs), "--split", "validation",
                     "--source_lang", "de", "--target_lang", "en", "--output_dir", str(tmp_path / "bad")])


@pytest.mark.parametrize("argv, error, message", [
    (["--data", "X"], ValueError, "exactly one of --model"),
    (["--data", "X", "--hypotheses", "missing.txt"], FileNotFoundError, "--hypotheses missing.txt"),
    (["--data", "X", "--model", "M", "--num_beams", "0"], ValueError, "--num_beams"),
])
def test_evaluate_translation_recipe_names_bad_arguments(argv, error, message):
    with pytest.raises(error, match=message):
        load_recipe("evaluate_translation").main(argv)


def test_evaluate_translation_recipe_names_a_missing_split(toy_pairs, tmp_path):
    hypotheses = tmp_path / "h.txt"
    hypotheses.write_text("x\n")
    with pytest.raises(ValueError, match="no 'dev' split.*found"):
        load_recipe("evaluate_translation").main(["--hypotheses", str(hypotheses), "--data", str(toy_pairs),
                                                  "--split", "dev"])


def test_evaluate_translation_works_for_any_seq2seq_model_and_checks_lengths(toy_pairs):
    """A (random, tiny) MarianMTModel goes through the same function as ours; mismatched inputs are refused."""
    tokenizer = train_sentencepiece_tokenizer([toy_pairs / "train.en", toy_pairs / "train.de"], 300)
    config = MarianConfig(vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, max_position_embeddings=16, pad_token_id=tokenizer.pad_token_id,
                          eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = MarianMTModel(config)
    sources = ["a man runs.", "the big red dog sleeps on the grass and the child plays on the street " * 3]
    result = evaluate_translation(model, tokenizer, sources, ["ein mann läuft.", "der hund."], num_beams=2,
                                  max_new_tokens=5)
    assert result["num_sentences"] == 2 and len(result["hypotheses"]) == 2
    assert result["truncated_sources"] == 1  # the second source is longer than the model's 16 positions
    assert result["bleu_signature"].startswith(SIGNATURE_START)
    with pytest.raises(ValueError, match="got 2 sources but 3 references"):
        evaluate_translation(model, tokenizer, sources, ["a", "b", "c"])
