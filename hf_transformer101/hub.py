"""Share a model: export a Hub-ready folder (code + safetensors + tokenizer + model card), then push it.

    folder = export(model, tokenizer, "exports/gpt101-shakespeare", eval_results=["runs/gpt/eval_results.json"])
    push(folder, "your-name/gpt101-shakespeare")            # needs a token: `hf auth login` or HF_TOKEN

The folder loads anywhere with `AutoModelFor*.from_pretrained(folder_or_repo, trust_remote_code=True)`: the
modeling files travel with it (`register_for_auto_class`), and `config.json`'s `auto_map` lists every head of
the family, so one upload serves AutoModel, the task heads and the pipelines.

Evaluation files (written by the recipes) feed the card's `model-index`; numbers are never typed by hand. Each
is a JSON object with `task_type`, `dataset_name`, `dataset_type`, optional `dataset_config`/`dataset_split`,
and a `metrics` dict {metric name: value}.
"""

import json
import os
import shutil
from pathlib import Path

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData, get_token

from .modeling.config_checks import MIN_TRANSFORMERS

TEMPLATES = Path(__file__).resolve().parent / "model_cards"

# model_type -> (configuration module.class, {auto class: modeling module.class}, card template)
FAMILIES = {
    "gpt101": ("configuration_gpt101.GPT101Config", {
        "AutoModel": "modeling_gpt101.GPT101Model",
        "AutoModelForCausalLM": "modeling_gpt101.GPT101ForCausalLM",
        "AutoModelForSequenceClassification": "modeling_gpt101.GPT101ForSequenceClassification",
    }, "gpt101.md"),
    "bert101": ("configuration_bert101.BERT101Config", {
        "AutoModel": "modeling_bert101.BERT101Model",
        "AutoModelForMaskedLM": "modeling_bert101.BERT101ForMaskedLM",
        "AutoModelForSequenceClassification": "modeling_bert101.BERT101ForSequenceClassification",
        "AutoModelForTokenClassification": "modeling_bert101.BERT101ForTokenClassification",
        "AutoModelForQuestionAnswering": "modeling_bert101.BERT101ForQuestionAnswering",
    }, "bert101.md"),
    "seq2seq101": ("configuration_seq2seq101.Seq2Seq101Config", {
        "AutoModel": "modeling_seq2seq101.Seq2Seq101Model",
        "AutoModelForSeq2SeqLM": "modeling_seq2seq101.Seq2Seq101ForConditionalGeneration",
    }, "seq2seq101.md"),
}
# The Hub's widget and task filter for each head (its Auto class).
PIPELINE_TAGS = {
    "AutoModel": "feature-extraction", "AutoModelForCausalLM": "text-generation", "AutoModelForMaskedLM": "fill-mask",
    "AutoModelForSequenceClassification": "text-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering", "AutoModelForSeq2SeqLM": "translation",
}


def auto_class_of(model):
    """The Auto class that loads this model's own head, e.g. AutoModelForCausalLM for GPT101ForCausalLM."""
    _, heads, _ = FAMILIES[model.config.model_type]
    for auto_class, path in heads.items():
        if path.endswith("." + type(model).__name__):
            return auto_class
    raise ValueError(f"{type(model).__name__} is not one of the exportable classes {sorted(heads.values())}")


def read_eval_results(paths_or_dicts):
    """EvalResult entries from evaluation JSON files (see the module docstring for the format)."""
    results = []
    for item in paths_or_dicts or ():
        if isinstance(item, dict):
            record, origin = item, "eval_results dict"
        else:
            path = Path(item)
            if not path.is_file():
                raise FileNotFoundError(f"evaluation file not found: {path}")
            record, origin = json.loads(path.read_text()), str(path)
        missing = [key for key in ("task_type", "dataset_name", "dataset_type", "metrics") if key not in record]
        if missing:
            raise ValueError(f"{origin} lacks {missing}; expected task_type, dataset_name, dataset_type, metrics")
        for metric, value in record["metrics"].items():
            results.append(EvalResult(
                task_type=record["task_type"], dataset_type=record["dataset_type"],
                dataset_name=record["dataset_name"], dataset_config=record.get("dataset_config"),
                dataset_split=record.get("dataset_split"), metric_type=metric, metric_name=metric,
                metric_value=float(value)))
    return results


def build_model_card(model, model_name, repo_id, eval_results=(), training_args=None, datasets=None,
                     description=None):
    """The README.md of an export, from the family's template in model_cards/."""
    _, _, template = FAMILIES[model.config.model_type]
    pipeline_tag = PIPELINE_TAGS[auto_class_of(model)]  # a GLUE classifier is text-classification, not fill-mask
    results = read_eval_results(eval_results)
    card_data = ModelCardData(
        model_name=model_name, library_name="transformers", license="mit", pipeline_tag=pipeline_tag,
        tags=["hf-transformer101", model.config.model_type, "custom_code"], datasets=datasets or None,
        eval_results=results or None,
    )
    return ModelCard.from_template(
        card_data, template_path=str(TEMPLATES / template), model_name=model_name, repo_id=repo_id,
        context=model.config.max_position_embeddings,
        min_transformers=".".join(map(str, MIN_TRANSFORMERS)),
        description=description or "", parameters=f"{model.num_parameters():,}",
        config=json.dumps({k: v for k, v in model.config.to_diff_dict().items() if k != "auto_map"}, indent=2),
        training_args=json.dumps(training_args, indent=2, default=str) if training_args else "",
        results=[(r.dataset_name, r.dataset_split or "", r.metric_type, f"{r.metric_value:.4g}") for r in results],
    )


def export(model, tokenizer, out_dir, *, model_name=None, repo_id=None, eval_results=(), training_args=None,
           datasets=None, description=None, overwrite=False):
    """Write a Hub-ready folder for any of our models; returns its path.

    Contents: config.json (with auto_map for every head of the family), the family's modeling files,
    model.safetensors, the tokenizer, generation_config.json where it applies, and README.md (the card).
    Refuses a non-empty `out_dir` unless `overwrite=True`; builds everything in a temporary folder beside it
    and renames it into place only when complete.
    """
    out_dir = Path(out_dir)
    if model.config.model_type not in FAMILIES:
        raise ValueError(f"cannot export model_type {model.config.model_type!r}; expected one of {sorted(FAMILIES)}")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; pass overwrite=True to replace it")
    model_name = model_name or out_dir.name
    config_path, heads, _ = FAMILIES[model.config.model_type]
    # The card's snippet loads `repo_id`: the Hub id once pushed (defaults to the folder name).
    card = build_model_card(model, model_name, repo_id or model_name, eval_results, training_args, datasets,
                            description)

    temporary = out_dir.with_name(f".tmp-{out_dir.name}")
    if temporary.exists():
        shutil.rmtree(temporary)
    type(model.config).register_for_auto_class()
    type(model).register_for_auto_class(auto_class_of(model))
    model.config.auto_map = {"AutoConfig": config_path, **heads}
    model.save_pretrained(temporary)
    if tokenizer is not None:
        tokenizer.save_pretrained(temporary)
    if training_args:
        (temporary / "training_args.json").write_text(json.dumps(training_args, indent=2, default=str))
    card.save(temporary / "README.md")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(temporary, out_dir)
    return out_dir


def hub_token(token=None):
    """`token`, else the one `hf auth login` saved or HF_TOKEN names; a clear error without one. Recipes ask for it
    before they train (no network needed), so a missing login fails the run at its start, not after hours."""
    token = token or get_token()
    if not token:
        raise ValueError("pushing to the Hub needs a Hugging Face token: run `hf auth login`, set HF_TOKEN, or pass "
                         "token=...")
    return token


def push(out_dir, repo_id, *, private=None, token=None, revision=None, commit_message=None):
    """Upload an exported folder to the Hub with `HfApi` (creating the repository if needed); returns the commit.

    One-line manual check after pushing: `python -c "from transformers import AutoModel;
    AutoModel.from_pretrained('REPO_ID', trust_remote_code=True)"`.
    """
    out_dir = Path(out_dir)
    if not (out_dir / "config.json").is_file():
        raise FileNotFoundError(f"{out_dir} is not an exported model folder (no config.json); run export() first")
    api = HfApi(token=hub_token(token))
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    return api.upload_folder(folder_path=str(out_dir), repo_id=repo_id, repo_type="model", revision=revision,
                             commit_message=commit_message or f"Upload {out_dir.name} (hf-transformer101)")
