"""Checks shared by the three configs: each error names the field and what was expected.

Imported by every configuration file before anything else of transformers' v5 API, so that an older transformers
(a Hub user's, loading an exported model with `trust_remote_code`) meets one clear error naming the version needed,
not an ImportError from deep inside the config classes. `strict` comes from here for that reason.
"""

import re

import transformers

# The oldest transformers the exported code loads in: 5.10.1 (tested: 5.10.4, 5.11, 5.12, 5.16, 5.17, 5.24). Before
# it, transformers copies only the direct relative imports of a local folder's model file into its module cache
# (5.8 - 5.10.0, which was yanked), or lacks `strict` (5.0 - 5.7).
MIN_TRANSFORMERS = (5, 10, 1)


def check_transformers_version(version=transformers.__version__):
    """Raise an ImportError that names the fix when `version` (e.g. "4.57.6", "5.25.0.dev0") is older than
    MIN_TRANSFORMERS."""
    major, minor, patch = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version).groups(default="0")
    if (int(major), int(minor), int(patch)) < MIN_TRANSFORMERS:
        needed = ".".join(map(str, MIN_TRANSFORMERS))
        raise ImportError(f"this model's code needs transformers >= {needed}, and transformers {version} is "
                          f"installed: pip install -U 'transformers>={needed}'")


check_transformers_version()

# transformers re-exports huggingface_hub's `strict` here: modeling code imports only torch and transformers.
from transformers.activations import ACT2FN  # noqa: E402  (after the version check, as the module says)
from transformers.configuration_utils import strict  # noqa: E402  (the configs' decorator, handed on)

__all__ = ["MIN_TRANSFORMERS", "check_activation", "check_heads", "check_positive", "check_probability",
           "check_reference_variants", "check_transformers_version", "strict"]


def check_positive(config, *names):
    for name in names:
        value = getattr(config, name)
        if value is None or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_probability(config, *names):
    for name in names:
        value = getattr(config, name)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} is a dropout probability and must lie in [0, 1), got {value!r}")


def check_activation(config, name):
    if getattr(config, name) not in ACT2FN:
        raise ValueError(f"{name}={getattr(config, name)!r} is not a known activation; expected one of "
                         f"{sorted(ACT2FN)}")


def check_reference_variants(config, family, reference, expected):
    """Options of the reference config (GPT-2's, BERT's, Marian's) that `family` does not have, each expected at
    the one value it implements. A reference config dict passed as is keeps its extra keys as attributes, unused:
    refused here instead, by name, rather than building another model than the one asked for."""
    for name, wanted in expected.items():
        value = getattr(config, name, wanted)  # absent: not asked for
        if value != wanted:
            raise ValueError(f"{family} has no equivalent of {reference}.{name}={value!r} (expected {wanted!r})")


def check_heads(config, hidden_name, heads_name):
    hidden, heads = getattr(config, hidden_name), getattr(config, heads_name)
    if hidden % heads:
        raise ValueError(f"{hidden_name} ({hidden}) must be divisible by {heads_name} ({heads})")
