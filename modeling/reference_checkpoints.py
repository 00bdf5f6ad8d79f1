"""`from_pretrained` on a reference checkpoint (GPT-2's, BERT's, Marian's) for our classes: converted, not random.

transformers matches a checkpoint's weights to the model by name. Handed a GPT-2 checkpoint, a plain
`GPT101ForCausalLM.from_pretrained` reads its config (GPT101Config takes GPT-2's names) but finds none of the
weights under our names, so it returns a randomly initialised model and only prints a load report. Here a
checkpoint whose config.json names the reference's model_type is loaded by the reference class and converted by
`hf_transformer101.convert`, which copies every tensor and checks that none is missing or left over: the same
logits as the reference class. A checkpoint of any other family is refused (transformers would warn, then load
none of its weights).

This file travels with exported models. The conversion lives in the hf-transformer101 package: without it (a Hub
user with `trust_remote_code`), a reference checkpoint gets a clear error instead.
"""

from transformers import PretrainedConfig

# from_pretrained's arguments that say where config.json is read from
_LOCATION_ARGUMENTS = ("cache_dir", "force_download", "local_files_only", "proxies", "revision", "subfolder", "token")


class LoadsReferenceCheckpoints:
    """Mixin for our PreTrainedModel classes: `from_pretrained` converts a `reference_model_type` checkpoint."""

    reference_model_type = None  # the model_type in a reference checkpoint's config.json, e.g. "gpt2"

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        model_type = _checkpoint_model_type(pretrained_model_name_or_path, kwargs)
        if model_type is None or model_type == cls.config_class.model_type:
            return super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        if model_type != cls.reference_model_type:
            # transformers would warn, then find none of the weights under our names: a random model.
            raise ValueError(f"{pretrained_model_name_or_path} is a {model_type!r} checkpoint; {cls.__name__} loads "
                             f"{cls.config_class.model_type!r} checkpoints, and {cls.reference_model_type!r} ones "
                             "by converting them")
        if model_args or kwargs.get("config") is not None:
            raise ValueError(f"{pretrained_model_name_or_path} is a {model_type!r} checkpoint, converted to "
                             f"{cls.__name__} from its own config: pass no config")
        try:  # transformers skips imports inside try blocks when it checks a remote-code folder's requirements
            from hf_transformer101 import convert
        except ImportError as error:
            raise ImportError(f"{pretrained_model_name_or_path} is a {model_type!r} checkpoint, whose weights "
                              f"{cls.__name__} names differently: converting it needs the hf-transformer101 "
                              "package (pip install hf-transformer101)") from error
        return convert.from_hf_pretrained(cls, pretrained_model_name_or_path, **kwargs)


def _checkpoint_model_type(path, kwargs):
    """config.json's model_type, or None where there is none to read (transformers then says what is missing)."""
    location = {name: kwargs[name] for name in _LOCATION_ARGUMENTS if name in kwargs}
    try:
        config, _ = PretrainedConfig.get_config_dict(path, **location)
    except (OSError, TypeError, ValueError):  # no such folder or id, no path at all (a config and a state dict)
        return None
    return config.get("model_type")
