"""Two-way weight conversion between our models and transformers' reference classes.

    ours = convert.from_hf(GPT2LMHeadModel.from_pretrained("gpt2"))    # -> GPT101ForCausalLM, same logits
    theirs = convert.to_hf(ours)                                        # -> GPT2LMHeadModel again
    ours = GPT101ForCausalLM.from_pretrained("gpt2")                    # the same: from_hf_pretrained, below

Each family module (`gpt2`, ...) lists its pairs in `PAIRS`: (reference class, our class, a function that
turns the reference config into ours and back, and one that renames a state dict each way). The conversion
copies every tensor and checks nothing is missing or left over (`load_state_dict(strict=True)`), so a silent
partial conversion cannot happen.
"""

from . import bert, gpt2, marian

FAMILIES = (gpt2, bert, marian)


def _pairs():
    for family in FAMILIES:
        yield from family.PAIRS


def from_hf(model):
    """A transformers reference model (e.g. GPT2LMHeadModel) -> the matching model of ours, same weights."""
    for pair in _pairs():
        if type(model) is pair.reference_class:
            return pair.convert(model, pair.our_class, pair.config_to_ours, pair.state_to_ours)
    supported = sorted(pair.reference_class.__name__ for pair in _pairs())
    raise ValueError(f"cannot convert {type(model).__name__}; supported reference classes: {supported}")


def from_hf_pretrained(our_class, pretrained_model_name_or_path, **kwargs):
    """`our_class` (e.g. GPT101ForCausalLM) from a checkpoint of its reference class (a GPT-2 folder or Hub id):
    the reference class loads it, with `kwargs` (dtype, revision, attn_implementation, ...), then `from_hf`. This is
    what `our_class.from_pretrained` does with such a checkpoint."""
    pair = _pair_of(our_class, f"no reference class converts to {our_class.__module__}.{our_class.__name__}")
    reference = pair.reference_class.from_pretrained(pretrained_model_name_or_path, **kwargs)
    return from_hf(reference).to(reference.device)


def to_hf(model):
    """One of our models (e.g. GPT101ForCausalLM) -> the transformers reference class, same weights."""
    pair = _pair_of(type(model), f"cannot convert {type(model).__name__}")
    return pair.convert(model, pair.reference_class, pair.config_to_reference, pair.state_to_reference)


def _pair_of(our_class, failure):
    """The conversion pair of one of our classes, or a ValueError: `failure`, then the classes there are."""
    for pair in _pairs():
        if our_class is pair.our_class:
            return pair
    supported = sorted(pair.our_class.__name__ for pair in _pairs())
    raise ValueError(f"{failure}; supported classes: {supported}")
