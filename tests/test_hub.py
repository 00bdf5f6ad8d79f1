"""Sharing: export a Hub-ready folder for each family, load it where hf_transformer101 is not installed, run the
card's own snippet and the pipelines, and push (with HfApi patched: no Hub is reachable from tests)."""
import json
import re

import pytest
import torch
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from transformers import AutoModelForQuestionAnswering, pipeline

from hf_transformer101 import (
    BERT101Config,
    BERT101ForMaskedLM,
    BERT101ForQuestionAnswering,
    BERT101ForSequenceClassification,
    BERT101ForTokenClassification,
    GPT101Config,
    GPT101ForCausalLM,
    hub,
)
from hf_transformer101.modeling.config_checks import check_transformers_version
from hf_transformer101.tokenization import train_char_tokenizer, train_wordpiece_tokenizer
from remote_code import run_without_package

TEXT = ["the cat sat on the mat .", "a dog lay on the rug .", "the bird sang in the tree .",
        "a man is riding a bike .", "two people walk on the beach ."] * 4
GPT_EVAL = {"task_type": "text-generation", "dataset_name": "tiny", "dataset_type": "tiny",
            "dataset_split": "validation", "metrics": {"loss": 1.5, "perplexity": 4.48}}


def gpt_model_and_tokenizer():
    tokenizer = train_char_tokenizer(TEXT, model_max_length=64)
    torch.manual_seed(0)
    config = GPT101Config(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          max_position_embeddings=64, bos_token_id=tokenizer.bos_token_id,
                          eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return GPT101ForCausalLM(config).eval(), tokenizer


def bert_config(tokenizer, **extra):
    return BERT101Config(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, **extra)


def card_snippet(folder):
    """The first python block of the exported README.md: what a Hub visitor copies."""
    return re.search(r"```python\n(.*?)```", (folder / "README.md").read_text(), re.S).group(1)


def test_export_writes_a_complete_folder_and_a_card_from_the_eval_file(tmp_path):
    model, tokenizer = gpt_model_and_tokenizer()
    eval_file = tmp_path / "eval_results.json"
    eval_file.write_text(json.dumps(GPT_EVAL))
    folder = hub.export(model, tokenizer, tmp_path / "gpt101-tiny", eval_results=[eval_file],
                        training_args={"max_steps": 10})
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "README.md",
            "modeling_gpt101.py", "configuration_gpt101.py", "blocks.py", "linear.py",
            "linear_cross_entropy.py", "losses.py", "config_checks.py", "reference_checkpoints.py",
            "training_args.json"} <= names
    assert not any(name.startswith("modeling_bert") for name in names), "only the family's own code travels"
    auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForCausalLM", "AutoModelForSequenceClassification"}
    card = ModelCard.load(folder / "README.md")
    _, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert {(r.metric_type, r.metric_value) for r in results} == {("loss", 1.5), ("perplexity", 4.48)}
    assert card.data.pipeline_tag == "text-generation" and "| tiny | validation | loss | 1.5 |" in card.text
    assert not list(tmp_path.glob(".tmp-*")), "the temporary folder must be renamed away"


def test_export_refuses_a_non_empty_folder_unless_told(tmp_path):
    model, tokenizer = gpt_model_and_tokenizer()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        hub.export(model, tokenizer, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").exists()
    hub.export(model, tokenizer, tmp_path / "out", overwrite=True)
    assert not (tmp_path / "out" / "keep.txt").exists()


def test_bad_eval_files_are_named(tmp_path):
    model, tokenizer = gpt_model_and_tokenizer()
    with pytest.raises(FileNotFoundError, match="missing.json"):
        hub.export(model, tokenizer, tmp_path / "a", eval_results=[tmp_path / "missing.json"])
    with pytest.raises(ValueError, match="metrics"):
        hub.export(model, tokenizer, tmp_path / "b", eval_results=[{"task_type": "x"}])


@pytest.mark.parametrize("version, refused", [("4.57.6", True), ("5.8.1", True), ("5.10.0", True), ("5.10.1", False),
                                              ("5.25.0.dev0", False), ("6.0", False)])
def test_the_model_code_names_the_transformers_it_needs(version, refused):
    if refused:
        with pytest.raises(ImportError, match=r"needs transformers >= 5\.10\.1.*install -U 'transformers>=5\.10\.1'"):
            check_transformers_version(version)
    else:
        check_transformers_version(version)


def test_an_older_transformers_meets_the_version_error_first(tmp_path):
    """A Hub user on transformers 4.x (faked here: the real one is installed) gets our one-line error, not an
    ImportError of v5 names (`strict`, `PreTrainedConfig`): every config file checks before importing them.
    (Loaded in 4.57.6, 5.0.0 and 5.8.1 by hand: this message; in 5.10.4 to 5.24: the model.)"""
    model, tokenizer = gpt_model_and_tokenizer()
    folder = hub.export(model, tokenizer, tmp_path / "gpt")
    assert "transformers >= 5.10.1" in (folder / "README.md").read_text()
    result = run_without_package("""
        import json, transformers
        transformers.__version__ = "4.57.6"
        try:
            transformers.AutoConfig.from_pretrained(FOLDER, trust_remote_code=True)
            print(json.dumps({"error": None}))
        except ImportError as error:
            print(json.dumps({"error": str(error)}))
    """, folder, tmp_path)
    assert result["error"].startswith("this model's code needs transformers >= 5.10.1, and transformers 4.57.6")


def test_gpt101_export_loads_generates_and_pipelines_without_the_package(tmp_path):
    model, tokenizer = gpt_model_and_tokenizer()
    folder = hub.export(model, tokenizer, tmp_path / "gpt", repo_id=str(tmp_path / "gpt"))
    prompt = "the cat"
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    expected_generation = model.generate(ids, max_new_tokens=8, do_sample=False)
    with_package = pipeline("text-generation", model=str(folder), tokenizer=str(folder), trust_remote_code=True)
    local_text = with_package(prompt, max_new_tokens=8, do_sample=False)[0]["generated_text"]
    assert local_text == tokenizer.decode(expected_generation[0], skip_special_tokens=True)

    result = run_without_package(f"""
        import json, torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, pipeline
        exec({card_snippet(folder)!r})  # the model card's own "How to use" code
        config = AutoConfig.from_pretrained(FOLDER, trust_remote_code=True)
        tokenizer = AutoTokenizer.from_pretrained(FOLDER, trust_remote_code=True)
        model = AutoModelForCausalLM.from_pretrained(FOLDER, trust_remote_code=True).eval()
        ids = tokenizer({prompt!r}, return_tensors="pt").input_ids
        generator = pipeline("text-generation", model=FOLDER, tokenizer=FOLDER, trust_remote_code=True)
        print(json.dumps({{"config": type(config).__name__, "logits": model(ids).logits.tolist(),
                          "generated": model.generate(ids, max_new_tokens=8, do_sample=False).tolist(),
                          "pipeline": generator({prompt!r}, max_new_tokens=8, do_sample=False)[0]["generated_text"]}}))
    """, folder, tmp_path)
    assert result["config"] == "GPT101Config"
    torch.testing.assert_close(torch.tensor(result["logits"]), model(ids).logits, atol=0, rtol=0)
    assert result["generated"] == expected_generation.tolist()
    assert result["pipeline"] == local_text


def test_bert101_export_fill_mask_and_classification_without_the_package(tmp_path):
    tokenizer = train_wordpiece_tokenizer(TEXT, vocab_size=80, model_max_length=64)
    torch.manual_seed(0)
    masked_lm = BERT101ForMaskedLM(bert_config(tokenizer)).eval()
    classifier = BERT101ForSequenceClassification(bert_config(
        tokenizer, id2label={0: "animal", 1: "person"}, label2id={"animal": 0, "person": 1})).eval()
    mlm_folder = hub.export(masked_lm, tokenizer, tmp_path / "mlm", repo_id=str(tmp_path / "mlm"))
    cls_folder = hub.export(classifier, tokenizer, tmp_path / "cls")
    assert set(json.loads((mlm_folder / "config.json").read_text())["auto_map"]) == {
        "AutoConfig", "AutoModel", "AutoModelForMaskedLM", "AutoModelForSequenceClassification",
        "AutoModelForTokenClassification", "AutoModelForQuestionAnswering"}
    # The Hub's widget follows the head: a GLUE classifier is text-classification (it once said fill-mask).
    assert [ModelCard.load(folder / "README.md").data.pipeline_tag for folder in (mlm_folder, cls_folder)] == [
        "fill-mask", "text-classification"]
    text = "the cat [MASK] on the mat ."
    fill = pipeline("fill-mask", model=str(mlm_folder), tokenizer=str(mlm_folder), trust_remote_code=True)
    classify = pipeline("text-classification", model=str(cls_folder), tokenizer=str(cls_folder),
                        trust_remote_code=True)
    inputs = tokenizer(text, return_tensors="pt")
    mask_position = inputs.input_ids[0].tolist().index(tokenizer.mask_token_id)
    expected_token = tokenizer.decode([int(masked_lm(**inputs).logits[0, mask_position].argmax())])
    local_fill = fill(text, top_k=1)[0]
    assert local_fill["token_str"] == expected_token
    logits = classifier(**tokenizer(TEXT[0], return_tensors="pt")).logits
    expected_label = classifier.config.id2label[int(logits.argmax())]
    assert classify(TEXT[0])[0]["label"] == expected_label

    result = run_without_package(f"""
        import json, torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline
        exec({card_snippet(mlm_folder)!r})
        tokenizer = AutoTokenizer.from_pretrained(FOLDER, trust_remote_code=True)
        model = AutoModelForMaskedLM.from_pretrained(FOLDER, trust_remote_code=True).eval()
        fill = pipeline("fill-mask", model=FOLDER, tokenizer=FOLDER, trust_remote_code=True)
        classify = pipeline("text-classification", model={str(cls_folder)!r}, tokenizer={str(cls_folder)!r},
                            trust_remote_code=True)
        print(json.dumps({{"logits": model(**tokenizer({text!r}, return_tensors="pt")).logits.tolist(),
                          "fill": fill({text!r}, top_k=1)[0]["token_str"],
                          "label": classify({TEXT[0]!r})[0]["label"]}}))
    """, mlm_folder, tmp_path)
    torch.testing.assert_close(torch.tensor(result["logits"]), masked_lm(**inputs).logits, atol=0, rtol=0)
    assert result["fill"] == expected_token and result["label"] == expected_label


def test_bert101_token_classification_and_question_answering_exports_load_and_run(tmp_path):
    tokenizer = train_wordpiece_tokenizer(TEXT, vocab_size=80, model_max_length=64)
    torch.manual_seed(0)
    tagger = BERT101ForTokenClassification(bert_config(tokenizer, id2label={0: "O", 1: "ANIMAL"},
                                                       label2id={"O": 0, "ANIMAL": 1})).eval()
    reader = BERT101ForQuestionAnswering(bert_config(tokenizer)).eval()
    folders = {task: hub.export(model, tokenizer, tmp_path / task)
               for task, model in (("token-classification", tagger), ("question-answering", reader))}
    for task, folder in folders.items():
        assert ModelCard.load(folder / "README.md").data.pipeline_tag == task
    tag = pipeline("token-classification", model=str(folders["token-classification"]),
                   tokenizer=str(folders["token-classification"]), trust_remote_code=True)
    words = tag(TEXT[0])
    assert words and {word["entity"] for word in words} <= {"O", "ANIMAL"}
    # (transformers 5 has no question-answering pipeline any more: the span is read off the logits.)
    loaded = AutoModelForQuestionAnswering.from_pretrained(folders["question-answering"], trust_remote_code=True)
    pair = tokenizer("who sat on the mat ?", TEXT[0], return_tensors="pt")
    expected, actual = reader(**pair), loaded.eval()(**pair)
    for name in ("start_logits", "end_logits"):
        torch.testing.assert_close(actual[name], expected[name], atol=0, rtol=0)


def test_push_creates_the_repo_and_uploads_the_folder(tmp_path, monkeypatch):
    model, tokenizer = gpt_model_and_tokenizer()
    folder = hub.export(model, tokenizer, tmp_path / "gpt")
    calls = []
    monkeypatch.setattr(hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw)))
    monkeypatch.setattr(hub.HfApi, "create_branch", lambda self, repo_id, **kw: calls.append(("branch", repo_id, kw)))
    monkeypatch.setattr(hub.HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw)) or "commit-url")
    assert hub.push(folder, "me/gpt101", private=True, token="hf_test", revision="v1",
                    commit_message="first") == "commit-url"
    assert calls[0] == ("create", "me/gpt101", {"private": True, "exist_ok": True, "repo_type": "model"})
    assert calls[1] == ("branch", "me/gpt101", {"branch": "v1", "exist_ok": True})
    upload = calls[2][1]
    assert upload["folder_path"] == str(folder) and upload["repo_id"] == "me/gpt101"
    assert upload["revision"] == "v1" and upload["commit_message"] == "first"


def test_push_without_a_token_says_how_to_get_one(tmp_path, monkeypatch):
    model, tokenizer = gpt_model_and_tokenizer()
    folder = hub.export(model, tokenizer, tmp_path / "gpt")
    monkeypatch.setattr(hub, "get_token", lambda: None)
    with pytest.raises(ValueError, match="hf auth login"):
        hub.push(folder, "me/gpt101")
    with pytest.raises(FileNotFoundError, match="export"):
        hub.push(tmp_path, "me/gpt101", token="hf_test")


def test_seq2seq101_export_translates_and_generates_without_the_package(tmp_path):
    from hf_transformer101 import Seq2Seq101Config, Seq2Seq101ForConditionalGeneration, translate
    from hf_transformer101.tokenization import train_sentencepiece_tokenizer

    pairs = ["a man is riding a bike .", "ein mann fährt fahrrad .", "two dogs play in the snow .",
             "zwei hunde spielen im schnee ."] * 5
    tokenizer = train_sentencepiece_tokenizer(pairs, vocab_size=290)
    torch.manual_seed(0)
    config = Seq2Seq101Config(vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1,
                              encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                              decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                              eos_token_id=tokenizer.eos_token_id)
    model = Seq2Seq101ForConditionalGeneration(config).eval()
    folder = hub.export(model, tokenizer, tmp_path / "mt", repo_id=str(tmp_path / "mt"))
    assert set(json.loads((folder / "config.json").read_text())["auto_map"]) == {
        "AutoConfig", "AutoModel", "AutoModelForSeq2SeqLM"}
    sources = ["a man is riding a bike .", "two dogs play ."]
    inputs = tokenizer(sources, return_tensors="pt", padding=True)
    expected = model.generate(**inputs, num_beams=2, max_new_tokens=8)
    expected_text = translate(model, tokenizer, sources, num_beams=2, max_new_tokens=8)

    result = run_without_package(f"""
        import json, torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        exec({card_snippet(folder)!r})
        tokenizer = AutoTokenizer.from_pretrained(FOLDER, trust_remote_code=True)
        model = AutoModelForSeq2SeqLM.from_pretrained(FOLDER, trust_remote_code=True).eval()
        inputs = tokenizer({sources!r}, return_tensors="pt", padding=True)
        generated = model.generate(**inputs, num_beams=2, max_new_tokens=8)
        print(json.dumps({{"generated": generated.tolist(),
                          "text": tokenizer.batch_decode(generated, skip_special_tokens=True)}}))
    """, folder, tmp_path)
    assert result["generated"] == expected.tolist()
    assert result["text"] == expected_text
