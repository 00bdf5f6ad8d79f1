"""Pictures: loss curves of a run, attention maps of any of our models, the sinusoidal position code.

matplotlib with the Agg backend: works on headless machines; every function writes a PNG and returns its path.
"""

import json
from pathlib import Path

import matplotlib
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def plot_loss_curves(metrics_path, png_path):
    """Training loss (per logged step) and validation loss from a run's metrics.jsonl."""
    records = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    if not records:
        raise ValueError(f"{metrics_path} holds no metrics")
    figure, axis = plt.subplots(figsize=(7, 4))
    for key, label in (("loss", "training loss"), ("eval_loss", "validation loss")):
        points = [(r["step"], r[key]) for r in records if key in r]
        if points:
            steps, values = zip(*points)
            axis.plot(steps, values, label=label, marker="o" if key == "eval_loss" else None)
    axis.set_xlabel("step")
    axis.set_ylabel("cross-entropy (nats/token)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)
    plt.close(figure)
    return Path(png_path)


def plot_positional_encoding(png_path, num_positions=128, dim=128):
    """The sinusoidal position code of "Attention is all you need" (as our models store it): one row per
    position, sines in the first half of the columns and cosines in the second, slower to the right."""
    from .modeling.blocks import sinusoidal_table

    table = sinusoidal_table(num_positions, dim)  # (P, C)
    figure, axis = plt.subplots(figsize=(7, 5))
    image = axis.imshow(table.numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    axis.set_xlabel("dimension (sin | cos)")
    axis.set_ylabel("position")
    axis.set_title("sinusoidal position encoding")
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)
    plt.close(figure)
    return Path(png_path)


VISIBLE_WHITESPACE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥"})  # a blank tick label says nothing


def _tokens(tokenizer, ids):
    return [tokenizer.convert_ids_to_tokens(int(i)).translate(VISIBLE_WHITESPACE) for i in ids]


@torch.no_grad()
def attention_weights(model, tokenizer, text, target_text=None, max_new_tokens=40):
    """{kind: (weights (L, H, T, S), query tokens, key tokens)} for a text, through the eager attention path.

    Decoder-only and encoder models give "self-attention". Encoder-decoders give "encoder self-attention",
    "decoder self-attention" and "cross-attention" (decoder queries over source keys: where the model looks in
    the source while writing each target token); the target is `target_text` or, if None, the model's own
    greedy translation.
    """
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")  # SDPA never materialises the weights
    was_training = model.training
    model.eval()
    try:
        inputs = tokenizer(text, return_tensors="pt").to(model.device)
        source = _tokens(tokenizer, inputs.input_ids[0])
        if not model.config.is_encoder_decoder:
            output = model(**inputs, output_attentions=True)
            return {"self-attention": (torch.stack(output.attentions)[:, 0], source, source)}
        if target_text is None:
            # The decoder's start token takes one of its positions.
            budget = min(max_new_tokens, model.config.max_position_embeddings - 1)
            decoder_ids = model.generate(**inputs, num_beams=1, do_sample=False, max_new_tokens=budget)
        else:
            labels = tokenizer(text_target=target_text, return_tensors="pt").input_ids.to(model.device)
            start = torch.full((1, 1), model.config.decoder_start_token_id, device=model.device)
            decoder_ids = torch.cat([start, labels[:, :-1]], dim=1)  # teacher forcing: the target shifted right
        output = model(**inputs, decoder_input_ids=decoder_ids, output_attentions=True)
        target = _tokens(tokenizer, decoder_ids[0])
        return {"encoder self-attention": (torch.stack(output.encoder_attentions)[:, 0], source, source),
                "decoder self-attention": (torch.stack(output.decoder_attentions)[:, 0], target, target),
                "cross-attention": (torch.stack(output.cross_attentions)[:, 0], target, source)}
    finally:
        model.set_attn_implementation(previous)
        model.train(was_training)


def plot_attention_maps(model, tokenizer, text, out_dir, target_text=None, layers=None, heads=None):
    """One PNG per attention kind: a grid of layers (rows) x heads (columns), query tokens down, key tokens
    across; brighter = more attention. Returns the PNG paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, (weights, queries, keys) in attention_weights(model, tokenizer, text, target_text).items():
        layer_ids = list(layers) if layers is not None else list(range(weights.shape[0]))
        head_ids = list(heads) if heads is not None else list(range(weights.shape[1]))
        size = max(1.6, 0.22 * max(len(queries), len(keys)))
        figure, axes = plt.subplots(len(layer_ids), len(head_ids), squeeze=False,
                                    figsize=(size * len(head_ids) + 1, size * len(layer_ids) + 1))
        for row, layer in enumerate(layer_ids):
            for column, head in enumerate(head_ids):
                axis = axes[row][column]
                axis.imshow(weights[layer, head].float().cpu().numpy(), cmap="viridis", vmin=0, vmax=1)
                axis.set_title(f"layer {layer} head {head}", fontsize=8)
                axis.set_xticks(range(len(keys)), keys, rotation=90, fontsize=6)
                axis.set_yticks(range(len(queries)), queries, fontsize=6)
        figure.suptitle(f"{kind} — {type(model).__name__}")
        figure.tight_layout()
        path = out_dir / f"{kind.replace(' ', '_')}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        paths.append(path)
    return paths
