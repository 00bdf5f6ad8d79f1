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


def check_heads(config, hidden_name, heads_name):
    hidden, heads = getattr(config, hidden_name), getattr(config, heads_name)
    if hidden % heads:
        raise ValueError(f"{hidden_name} ({hidden}) must be divisible by {heads_name} ({heads})")
