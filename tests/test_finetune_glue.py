"""recipes/finetune_glue.py: the Trainer fine-tuning recipe on GLUE, with tiny models so each run takes seconds.

The two CI runs (20 steps on 64 examples of SST-2 and of STS-B) use the real TSVs from shared/data; the other
runs use small generated folders in the original GLUE layout (the shared data has no test splits).
"""
import importlib.util
import json
import os
import random
import signal
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
)

from hf_transformer101 import (
    BERT101Config,
    BERT101ForMaskedLM,
    BERT101ForSequenceClassification,
    GPT101Config,
    GPT101ForCausalLM,
    GPT101ForSequenceClassification,
)
from hf_transformer101 import hub
from hf_transformer101.interrupts import TrainingInterrupted
from hf_transformer101.tokenization import train_bpe_tokenizer, train_wordpiece_tokenizer

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("finetune_glue", REPO / "recipes" / "finetune_glue.py")
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)

EVAL_KEYS = {"task_type", "dataset_name", "dataset_type", "dataset_config", "dataset_split", "metrics", "task",
             "split", "model", "seed"}
WORDS = ("the a film movie good bad great awful dog cat runs sits man woman plays guitar very not is was it "
         "funny boring slow charming story actors").split()


# --- fixtures: generated GLUE folders and tiny checkpoints -------------------------------------------------


def sentences(n, seed):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) + " ." for _ in range(n)]


def write_glue(root, n=24):
    """SST-2, STS-B, RTE and MNLI folders with train/dev/test TSVs in the original GLUE layout."""
    a, b = sentences(n, 1), sentences(n, 2)
    files = {
        "SST-2/train.tsv": "sentence\tlabel\n" + "".join(f"{s} \t{i % 2}\n" for i, s in enumerate(a)),
        "SST-2/dev.tsv": "sentence\tlabel\n" + "".join(f"{s} \t{i % 2}\n" for i, s in enumerate(b)),
        "SST-2/test.tsv": "index\tsentence\n" + "".join(f"{i}\t{s} \n" for i, s in enumerate(b[:10])),
        "RTE/train.tsv": "index\tsentence1\tsentence2\tlabel\n" + "".join(
            f"{i}\t{x}\t{y}\t{['entailment', 'not_entailment'][i % 2]}\n" for i, (x, y) in enumerate(zip(a, b))),
        "RTE/dev.tsv": "index\tsentence1\tsentence2\tlabel\n" + "".join(
            f"{i}\t{y}\t{x}\t{['entailment', 'not_entailment'][i % 2]}\n" for i, (x, y) in enumerate(zip(a, b))),
        "RTE/test.tsv": "index\tsentence1\tsentence2\n" + "".join(
            f"{i}\t{x}\t{y}\n" for i, (x, y) in enumerate(zip(a[:10], b[:10]))),
    }
    stsb = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
    files["STS-B/train.tsv"] = stsb + "\tscore\n" + "".join(
        f"{i}\tmain-news\th\t2016\t{i}\tnone\tnone\t{x}\t{y}\t{i % 6:.3f}\n" for i, (x, y) in enumerate(zip(a, b)))
    files["STS-B/dev.tsv"] = files["STS-B/train.tsv"]
    files["STS-B/test.tsv"] = stsb + "\n" + "".join(
        f"{i}\tmain-news\th\t2016\t{i}\tnone\tnone\t{x}\t{y}\n" for i, (x, y) in enumerate(zip(a[:10], b[:10])))
    mnli = "index\tpromptID\tpairID\tgenre\tsentence1\tsentence2"
    labels = ("entailment", "neutral", "contradiction")
    pairs = "".join(f"{i}\t{i}\t{i}e\tfiction\t{x}\t{y}\t{labels[i % 3]}\n" for i, (x, y) in enumerate(zip(a, b)))
    tests = "".join(f"{i}\t{i}\t{i}\tslate\t{x}\t{y}\n" for i, (x, y) in enumerate(zip(a[:10], b[:10])))
    for name in ("train", "dev_matched", "dev_mismatched"):
        files[f"MNLI/{name}.tsv"] = f"{mnli}\tgold_label\n{pairs}"
    for name in ("test_matched", "test_mismatched"):
        files[f"MNLI/{name}.tsv"] = f"{mnli}\n{tests}"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    return write_glue(tmp_path_factory.mktemp("glue_data"))


@pytest.fixture(scope="module")
def texts(data_dir_or_none):
    found = sentences(200, 3)
    if data_dir_or_none is not None:
        for task in ("SST-2", "STS-B"):
            lines = (data_dir_or_none / "glue" / task / "train.tsv").read_text().split("\n")[1:2000]
            found += [field for line in lines for field in line.split("\t")[-3:]]
    return found


@pytest.fixture(scope="module")
def data_dir_or_none():
    candidates = [os.environ.get("HF101_DATA_DIR"), REPO.parent / "shared" / "data"]
    found = [Path(c) for c in candidates if c and (Path(c) / "glue" / "SST-2").is_dir()]
    return found[0] if found else None


@pytest.fixture(scope="module")
def wordpiece(texts):
    return train_wordpiece_tokenizer(texts, 600, model_max_length=64)


TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64)


def tiny_mlm_checkpoint(folder, config_class, model_class, tokenizer):
    """A pretrained-looking MLM checkpoint with the tokenizer beside it (the classifier head is new at fine-tuning)."""
    torch.manual_seed(0)
    config = config_class(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **TINY)
    model_class(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert101_dir(tmp_path_factory, wordpiece):
    return tiny_mlm_checkpoint(tmp_path_factory.mktemp("bert101"), BERT101Config, BERT101ForMaskedLM, wordpiece)


@pytest.fixture(scope="module")
def hf_bert_dir(tmp_path_factory, wordpiece):
    """An HF BERT checkpoint folder (model_type "bert"), as a downloaded bert-base would be."""
    return tiny_mlm_checkpoint(tmp_path_factory.mktemp("hf_bert"), BertConfig, BertForMaskedLM, wordpiece)


@pytest.fixture(scope="module")
def gpt101_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt101")
    tokenizer = train_bpe_tokenizer(sentences(300, 4), 300, model_max_length=64)
    torch.manual_seed(0)
    config = GPT101Config(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          max_position_embeddings=64, eos_token_id=tokenizer.eos_token_id,
                          bos_token_id=tokenizer.bos_token_id)
    GPT101ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run(task, model_dir, data, out, *extra):
    return recipe.main(["--preset", "debug", "--task", task, "--model_name_or_path", str(model_dir),
                        "--data_dir", str(data), "--output_dir", str(out), *extra])


def read_tsv(path):
    header, *rows = path.read_text().rstrip("\n").split("\n")
    return header.split("\t"), [row.split("\t") for row in rows]


# --- the two CI runs on real data ----------------------------------------------------------------------------


def test_sst2_20_steps_on_64_examples(data_dir, bert101_dir, tmp_path):
    result = run("sst2", bert101_dir, data_dir / "glue", tmp_path)
    assert result["trainer"].state.global_step == 20
    record = json.loads((tmp_path / "eval_results.json").read_text())
    assert EVAL_KEYS <= record.keys()
    assert (record["task"], record["split"], record["dataset_split"], record["seed"]) == (
        "sst2", "validation", "validation", 42)
    assert record["model"] == str(bert101_dir) and record["model_class"] == "BERT101ForSequenceClassification"
    assert set(record["metrics"]) == {"accuracy"} and 0 <= record["metrics"]["accuracy"] <= 1
    assert record["num_examples"] == 64 and record["train"]["train_samples"] == 64

    header, rows = read_tsv(tmp_path / "predictions_validation.tsv")
    assert header == ["index", "prediction", "label"] and len(rows) == 64
    assert {row[1] for row in rows} <= {"negative", "positive"} and rows[0][0] == "0"
    assert not (tmp_path / "submission").exists()  # the shared data has no test split

    # The output folder is an ordinary checkpoint: Auto class, labels by name, the tokenizer beside it.
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(model) is BERT101ForSequenceClassification
    assert model.config.id2label == {0: "negative", 1: "positive"}
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    with torch.no_grad():
        logits = model(**tokenizer(["a charming film ."], return_tensors="pt")).logits
    assert logits.shape == (1, 2)


def test_stsb_20_steps_is_a_regression(data_dir, bert101_dir, tmp_path):
    result = run("stsb", bert101_dir, data_dir / "glue", tmp_path)
    assert result["trainer"].state.global_step == 20
    record = json.loads((tmp_path / "eval_results.json").read_text())
    assert EVAL_KEYS <= record.keys()
    assert record["task"] == "stsb" and set(record["metrics"]) == {"pearson", "spearmanr"}
    assert all(-1 <= value <= 1 for value in record["metrics"].values())
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert model.config.num_labels == 1 and model.config.problem_type == "regression"
    _, rows = read_tsv(tmp_path / "predictions_validation.tsv")
    assert len(rows) == 64 and all(float(row[1]) == float(row[1]) for row in rows)  # floats, no NaN
    assert float(rows[0][2]) == 5.0  # the first STS-B dev pair's gold score


# --- checkpoints: HF BERT (converted), --reference, GPT101 ---------------------------------------------------


def test_hf_bert_folder_is_converted_to_bert101_and_matches_the_reference_run(hf_bert_dir, glue, tmp_path):
    ours = run("rte", hf_bert_dir, glue, tmp_path / "ours", "--max_steps", "4")
    theirs = run("rte", hf_bert_dir, glue, tmp_path / "hf", "--max_steps", "4", "--reference")
    assert type(ours["trainer"].model) is BERT101ForSequenceClassification
    assert type(theirs["trainer"].model) is BertForSequenceClassification
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["model_type"] == "bert101"
    assert type(AutoModelForSequenceClassification.from_pretrained(tmp_path / "hf")) is BertForSequenceClassification
    # Same weights, same seed, same batches: the same training run, up to float rounding.
    ours_log = [e["loss"] for e in ours["trainer"].state.log_history if "loss" in e]
    theirs_log = [e["loss"] for e in theirs["trainer"].state.log_history if "loss" in e]
    assert ours_log == pytest.approx(theirs_log, abs=1e-4)
    records = [json.loads((tmp_path / run / "eval_results.json").read_text()) for run in ("ours", "hf")]
    assert records[0]["eval_loss"] == pytest.approx(records[1]["eval_loss"], abs=1e-4)
    assert records[1]["reference"] is True and records[1]["model_class"] == "BertForSequenceClassification"


def test_reinit_pooler_gives_ours_and_the_reference_the_same_new_pooler(hf_bert_dir, gpt101_dir, glue, tmp_path):
    ours = run("rte", hf_bert_dir, glue, tmp_path / "ours", "--do_eval", "--reinit_pooler")
    theirs = run("rte", hf_bert_dir, glue, tmp_path / "hf", "--do_eval", "--reinit_pooler", "--reference")
    pretrained = BertForSequenceClassification.from_pretrained(hf_bert_dir).bert.pooler.dense
    ours_pooler, their_pooler = ours["trainer"].model.model.pooler.dense, theirs["trainer"].model.bert.pooler.dense
    assert torch.equal(ours_pooler.weight, their_pooler.weight) and torch.equal(ours_pooler.bias, their_pooler.bias)
    assert not torch.equal(their_pooler.weight, pretrained.weight) and not their_pooler.bias.any()
    records = [json.loads((tmp_path / run / "eval_results.json").read_text()) for run in ("ours", "hf")]
    assert records[0]["eval_loss"] == pytest.approx(records[1]["eval_loss"], abs=1e-5)
    with pytest.raises(ValueError, match="--reinit_pooler re-initialises a BERT pooler"):
        run("rte", gpt101_dir, glue, tmp_path / "gpt", "--do_eval", "--reinit_pooler")


def test_gpt101_checkpoint_classifies_from_its_last_token(gpt101_dir, glue, tmp_path):
    result = run("rte", gpt101_dir, glue, tmp_path, "--max_steps", "4")
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(model) is GPT101ForSequenceClassification and type(result["trainer"].model) is type(model)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert model.config.pad_token_id == tokenizer.pad_token_id is not None
    assert model.config.id2label == {0: "entailment", 1: "not_entailment"}
    assert set(json.loads((tmp_path / "eval_results.json").read_text())["metrics"]) == {"accuracy"}


def test_lora_trains_an_adapter_and_leaves_an_ordinary_merged_checkpoint(bert101_dir, glue, tmp_path):
    peft = pytest.importorskip("peft", reason="--lora_rank needs peft (a dev dependency)")
    lora = ("--max_steps", "4", "--learning_rate", "1e-2", "--lora_rank", "4", "--save_strategy", "steps",
            "--save_steps", "2")
    result = run("rte", bert101_dir, glue, tmp_path, *lora)
    merged = result["trainer"].model
    assert type(merged) is BERT101ForSequenceClassification  # the adapter folded in, PEFT's wrapper gone
    saved = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(saved) is BERT101ForSequenceClassification and saved.state_dict().keys() == merged.state_dict().keys()
    # The encoder moved only through the adapter, the embeddings not at all; the new classifier trained in full.
    base = AutoModelForSequenceClassification.from_pretrained(bert101_dir, num_labels=2)
    base_weights, saved_weights = base.state_dict(), saved.state_dict()
    assert torch.equal(saved_weights["model.embed_tokens.weight"], base_weights["model.embed_tokens.weight"])
    qkv = "model.layers.0.self_attn.qkv_proj.weight"
    assert not torch.equal(saved_weights[qkv], base_weights[qkv])
    assert torch.linalg.matrix_rank(saved_weights[qkv] - base_weights[qkv]) <= 4  # a rank-4 update
    # The adapter alone, on the base checkpoint, gives the merged model's outputs.
    adapter = peft.PeftModel.from_pretrained(base, tmp_path / "lora_adapter").eval()
    input_ids = torch.randint(5, 50, (2, 12))  # (B, T)
    with torch.no_grad():
        torch.testing.assert_close(adapter(input_ids=input_ids).logits, saved.eval()(input_ids=input_ids).logits,
                                   rtol=1e-4, atol=1e-5)
    assert json.loads((tmp_path / "eval_results.json").read_text())["lora_rank"] == 4
    # A checkpoint holds the adapter and the optimizer: resuming from it gives the uninterrupted run's model.
    resumed = run("rte", bert101_dir, glue, tmp_path / "resumed", *lora, "--resume_from_checkpoint",
                  str(tmp_path / "checkpoint-2"))
    for name, tensor in resumed["trainer"].model.state_dict().items():
        torch.testing.assert_close(tensor, saved_weights[name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="--lora_rank must be 0"):
        run("rte", bert101_dir, glue, tmp_path / "bad", "--lora_rank", "-1")
    with pytest.raises(ValueError, match="--lora_rank trains a LoRA adapter: it needs a training run"):
        run("rte", bert101_dir, glue, tmp_path / "eval", "--do_eval", "--lora_rank", "4")


def test_sigterm_checkpoints_the_step_and_the_resumed_run_ends_as_one_run(bert101_dir, glue, tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM under Trainer: a checkpoint of the step it arrived in, no evaluation or export of the
    unfinished model, exit status 143; `--resume_from_checkpoint latest` then ends with the uninterrupted model."""
    steps = ("--max_steps", "6")
    whole = run("rte", bert101_dir, glue, tmp_path / "whole", *steps)["trainer"].model.state_dict()

    class SignallingCollator(recipe.DataCollatorWithPadding):
        batches = 0

        def __call__(self, features):
            SignallingCollator.batches += 1
            if SignallingCollator.batches == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().__call__(features)

    handler = signal.getsignal(signal.SIGTERM)
    with monkeypatch.context() as patch:
        patch.setattr(recipe, "DataCollatorWithPadding", SignallingCollator)
        with pytest.raises(TrainingInterrupted) as stopped:
            run("rte", bert101_dir, glue, tmp_path / "run", *steps)
    assert signal.getsignal(signal.SIGTERM) is handler
    assert stopped.value.code == 128 + signal.SIGTERM and 0 < stopped.value.step < 6
    assert Path(stopped.value.checkpoint) == tmp_path / "run" / f"checkpoint-{stopped.value.step}"
    assert (Path(stopped.value.checkpoint) / "trainer_state.json").is_file()
    assert not any((tmp_path / "run" / name).exists() for name in ("eval_results.json", "model.safetensors"))

    resumed = run("rte", bert101_dir, glue, tmp_path / "run", *steps, "--resume_from_checkpoint", "latest")
    for name, tensor in resumed["trainer"].model.state_dict().items():
        torch.testing.assert_close(tensor, whole[name], rtol=0, atol=0)


# --- test splits: GLUE submission files ----------------------------------------------------------------------


@pytest.mark.parametrize("task, file, values", [
    ("sst2", "SST-2.tsv", {"0", "1"}),
    ("rte", "RTE.tsv", {"entailment", "not_entailment"}),
    ("stsb", "STS-B.tsv", None),
])
def test_test_split_gives_a_glue_submission_file(bert101_dir, glue, tmp_path, task, file, values):
    run(task, bert101_dir, glue, tmp_path, "--max_steps", "2")  # no --do_* flag: train, eval, and predict test
    header, rows = read_tsv(tmp_path / "submission" / file)
    assert header == ["index", "prediction"]
    assert [row[0] for row in rows] == [str(i) for i in range(10)]
    if values is None:
        assert all(isinstance(float(row[1]), float) for row in rows)
    else:
        assert {row[1] for row in rows} <= values


def test_mnli_evaluates_matched_and_mismatched(bert101_dir, glue, tmp_path):
    result = run("MNLI", bert101_dir, glue, tmp_path, "--max_steps", "2")
    assert [p.name for p in result["eval_files"]] == ["eval_results.json",
                                                      "eval_results_validation_mismatched.json"]
    splits = [json.loads(p.read_text())["split"] for p in result["eval_files"]]
    assert splits == ["validation_matched", "validation_mismatched"]
    assert (tmp_path / "predictions_validation_mismatched.tsv").is_file()
    assert sorted(p.name for p in (tmp_path / "submission").iterdir()) == ["MNLI-m.tsv", "MNLI-mm.tsv"]
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path).config.num_labels == 3


def test_eval_only_writes_no_model_and_predict_only_needs_no_labels(bert101_dir, glue, tmp_path):
    run("sst2", bert101_dir, glue, tmp_path / "eval", "--do_eval")
    assert (tmp_path / "eval" / "eval_results.json").is_file()
    assert not (tmp_path / "eval" / "model.safetensors").exists()
    # --eval_strategy makes TrainingArguments set do_eval itself: that run still trains.
    result = run("sst2", bert101_dir, glue, tmp_path / "during", "--max_steps", "2", "--eval_strategy", "steps",
                 "--eval_steps", "1")
    assert (tmp_path / "during" / "model.safetensors").is_file()
    assert sum("eval_accuracy" in entry for entry in result["trainer"].state.log_history) == 2
    run("sst2", bert101_dir, glue, tmp_path / "predict", "--do_predict")
    assert (tmp_path / "predict" / "submission" / "SST-2.tsv").is_file()
    assert not (tmp_path / "predict" / "eval_results.json").exists()


# --- hub export/push ----------------------------------------------------------------------------------------


def test_push_to_hub_exports_through_our_hub_module(bert101_dir, glue, tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "get_token", lambda: "hf_test")  # as after `hf auth login`
    pushed = []
    monkeypatch.setattr(recipe, "push", lambda folder, repo_id, **kwargs: pushed.append((folder, repo_id)))
    result = run("sst2", bert101_dir, glue, tmp_path, "--max_steps", "2", "--push_to_hub", "--hub_model_id",
                 "someone/bert101-sst2")
    assert result["trainer"].args.push_to_hub is False  # Trainer itself never pushes
    assert pushed == [(tmp_path / "hub", "someone/bert101-sst2")]
    card = (tmp_path / "hub" / "README.md").read_text()
    accuracy = json.loads((tmp_path / "eval_results.json").read_text())["metrics"]["accuracy"]
    assert "model-index" in card and "GLUE SST2" in card and f"value: {accuracy}" in card
    config = json.loads((tmp_path / "hub" / "config.json").read_text())
    assert config["auto_map"]["AutoModelForSequenceClassification"].endswith("BERT101ForSequenceClassification")
    assert (tmp_path / "hub" / "modeling_bert101.py").is_file()


def test_push_to_hub_without_a_login_fails_before_training(bert101_dir, glue, tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "get_token", lambda: None)
    with pytest.raises(ValueError, match="needs a Hugging Face token: run `hf auth login`"):
        run("sst2", bert101_dir, glue, tmp_path, "--push_to_hub", "--hub_model_id", "someone/bert101-sst2")
    assert not any(tmp_path.iterdir())  # nothing trained


# --- arguments and errors -------------------------------------------------------------------------------------


def test_arguments_from_a_yaml_file(tmp_path, bert101_dir):
    path = tmp_path / "args.yaml"
    path.write_text(f"task: STS-B\nmodel_name_or_path: {bert101_dir}\noutput_dir: {tmp_path}/out\n"
                    "learning_rate: 0.0003\nmax_seq_length: 32\n")
    glue_args, training_args = recipe.parse_arguments([str(path)])
    assert (glue_args.task, glue_args.max_seq_length, training_args.learning_rate) == ("stsb", 32, 3e-4)
    assert recipe.normalize_task("SST-2") == "sst2"
    # Every argument has help.
    assert all(f.metadata.get("help") for f in recipe.dataclasses.fields(recipe.GlueArguments))


def test_clear_errors(bert101_dir, glue, tmp_path):
    with pytest.raises(ValueError, match=r"unknown GLUE task 'sst3'.*'cola', 'sst2', 'mrpc'"):
        run("sst3", bert101_dir, glue, tmp_path)
    only_dev = tmp_path / "glue_dev_only" / "SST-2"
    only_dev.mkdir(parents=True)
    (only_dev / "dev.tsv").write_text((glue / "SST-2" / "dev.tsv").read_text())
    with pytest.raises(FileNotFoundError, match=str(only_dev / "train.tsv")):
        run("sst2", bert101_dir, only_dev.parent, tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere" / "CoLA")):
        run("cola", bert101_dir, tmp_path / "nowhere", tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        run("sst2", tmp_path, glue, tmp_path / "out")
    with pytest.raises(ValueError, match="--reference .* needs an HF BERT checkpoint"):
        run("sst2", bert101_dir, glue, tmp_path / "out", "--reference")
    with pytest.raises(ValueError, match="--push_to_hub needs --hub_model_id"):
        run("sst2", bert101_dir, glue, tmp_path / "out", "--push_to_hub")
