"""What one conversion between a reference class and ours needs, and the copy that applies it."""

import re
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ConversionPair:
    reference_class: type
    our_class: type
    config_to_ours: Callable  # reference config -> our config
    config_to_reference: Callable  # our config -> reference config
    state_to_ours: Callable  # (reference state dict, our config) -> our state dict
    state_to_reference: Callable  # (our state dict, reference config) -> reference state dict

    @staticmethod
    def convert(model, target_class, convert_config, convert_state):
        """Build `target_class` from the converted config and load the converted tensors into it, strictly."""
        config = convert_config(model.config)
        config._attn_implementation = model.config._attn_implementation
        target = target_class(config)
        state = convert_state(model.state_dict(), config)
        # Tied weights appear under both names in a state dict; strict loading still checks each name.
        target.load_state_dict(state, strict=True)
        target.to(dtype=next(model.parameters()).dtype)
        return target.train(model.training)


def _prefix_pattern(template):
    """'h.{i}.ln_1.' -> a regex matching that key prefix, capturing the layer number as `i`."""
    return re.compile(re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)"))


def rename(state, rules):
    """Rename each key by the first (source prefix, target prefix) rule whose source matches its start.

    Prefixes may hold `{i}` for a layer number. A key no rule matches is an error. Tensors are cloned so the two
    models never share storage. `swap(rules)` gives the rules for the way back.
    """
    renamed = {}
    for key, tensor in state.items():
        for source, target in rules:
            match = _prefix_pattern(source).match(key)
            if match:
                renamed[target.format(**match.groupdict()) + key[match.end():]] = tensor.detach().clone()
                break
        else:
            raise KeyError(f"no conversion rule for weight {key!r}")
    return renamed


def swap(rules):
    return [(target, source) for source, target in rules]
