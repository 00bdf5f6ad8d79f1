"""Checks shared by the three configs: each error names the field and what was expected."""

from transformers.activations import ACT2FN


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
