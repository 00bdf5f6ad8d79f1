"""Seq2Seq101: the encoder-decoder Transformer of "Attention is all you need" (Vaswani et al. 2017), as a Hugging
Face model.

source tokens -> shared embedding * sqrt(C) + sinusoidal positions -> N post-LN encoder Blocks (every token sees
every other real token) -> "memory" (B, S, C)
target tokens (shifted right) -> same embedding + positions -> N post-LN decoder Blocks (causal self-attention,
then cross-attention into the memory) -> linear layer tied to the embedding (+ a bias) -> next-token logits.

The layout is Marian's (`MarianMTModel`), so OPUS-MT checkpoints map onto it by renaming
(see `hf_transformer101.convert.marian`): model.shared, model.encoder.layers.i.self_attn.qkv_proj, ...
Departures from the paper, all Marian's: the sinusoids are stored sines-first instead of interleaved (same
code, permuted dimensions); the output layer has a bias (Marian's `final_logits_bias`); optional dropout on the
attention weights and inside the FFN.
Legend: B batch, S source length, T new target tokens, P all target tokens (cached + new), C hidden size,
V vocabulary.
"""

import torch
from torch import nn
from transformers import DynamicCache, EncoderDecoderCache, GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)

from .blocks import (
    CACHE_FIELD,
    Block,
    SinusoidalPositionalEmbedding,
    build_attention_mask,
    cached_lengths,
    check_input_ids,
    check_length,
    embedding_scale,
    init_weights,
    positions_after,
)
from .configuration_seq2seq101 import Seq2Seq101Config
from .linear import OutputLinear
from .linear_cross_entropy import fused_loss_applies, linear_cross_entropy
from .losses import token_cross_entropy
from .reference_checkpoints import LoadsReferenceCheckpoints


def shift_tokens_right(labels, pad_token_id, decoder_start_token_id):
    """Teacher forcing: the decoder reads the target shifted one step right and predicts it unshifted.

    labels (B, T) = [y1, y2, ..., </s>]  ->  decoder_input_ids (B, T) = [start, y1, y2, ...], so position t sees
    y_<t and is trained to output y_t. The -100 that mark ignored label positions become pad tokens.
    """
    if pad_token_id is None or decoder_start_token_id is None:
        raise ValueError("shifting labels into decoder_input_ids needs pad_token_id and decoder_start_token_id")
    shifted = labels.new_zeros(labels.shape)  # (B, T)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class Seq2Seq101PreTrainedModel(LoadsReferenceCheckpoints, PreTrainedModel):
    reference_model_type = "marian"  # `from_pretrained` converts such a checkpoint (reference_checkpoints.py)
    config_class = Seq2Seq101Config
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Block"]  # FSDP / device_map keep a whole Block on one device
    _supports_sdpa = True  # attention dispatches through transformers' ALL_ATTENTION_FUNCTIONS

    def _init_weights(self, module):
        """N(0, initializer_range) for every matrix and embedding, zero biases, unit LayerNorms (Marian / BART).

        The sinusoidal tables are not weights: they are non-persistent buffers that `from_pretrained` recreates
        empty, so they are recomputed here.
        """
        init_weights(module, self.config.initializer_range)


class Seq2Seq101Encoder(nn.Module):
    """The encoder stack: tokens talk freely (bidirectional self-attention, padding masked out) -> (B, S, C).

    `generate()` calls it once per batch through `get_encoder()` and feeds the result to every decoder step.
    """

    def __init__(self, config: Seq2Seq101Config, embed_tokens: nn.Embedding):
        super().__init__()
        self.config = config
        self.embed_tokens = embed_tokens  # the model's shared embedding (same module, so same weights)
        # sqrt(C): the embedding is N(0, 0.02)-small and shared with the output layer; scaling puts tokens on the
        # same footing as the unit-amplitude sinusoids (paper, sec. 3.4).
        self.embed_scale = embedding_scale(config.d_model, config.scale_embedding)
        self.embed_positions = SinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.dropout = nn.Dropout(config.dropout)  # "we apply dropout to the sums of the embeddings and the PE"
        self.layers = nn.ModuleList(
            Block(config, hidden_size=config.d_model, num_heads=config.encoder_attention_heads,
                  intermediate_size=config.encoder_ffn_dim, activation=config.activation_function, pre_norm=False,
                  is_causal=False, layer_norm_eps=config.layer_norm_eps, dropout=config.dropout,
                  attention_dropout=config.attention_dropout, activation_dropout=config.activation_dropout,
                  layer_idx=index)
            for index in range(config.encoder_layers)
        )
        # Post-LN: every Block already ends with a LayerNorm, so there is no final one (unlike GPT101's pre-LN).
        self.gradient_checkpointing = False

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, output_attentions=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        """input_ids (B, S) and the tokenizer's attention_mask (B, S; 1 = real token) -> `BaseModelOutput`.

        `inputs_embeds` replaces the embedding lookup only: it is scaled and gets positions like looked-up rows.
        """
        config = self.config
        output_attentions = output_attentions if output_attentions is not None else config.output_attentions
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else config.output_hidden_states)
        return_dict = return_dict if return_dict is not None else config.return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds to the encoder")
        check_input_ids(input_ids, config.vocab_size)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (B, S) -> (B, S, C)
        length = inputs_embeds.shape[1]
        check_length(length, config.max_position_embeddings, name="source (input_ids)")
        positions = torch.arange(length, device=inputs_embeds.device)[None]  # (1, S)
        hidden_states = self.dropout(inputs_embeds * self.embed_scale + self.embed_positions(positions))  # (B, S, C)

        # Padding keys are hidden from every query; pad queries still compute something, which nobody reads.
        mask = build_attention_mask(attention_mask, length, length, is_causal=False, dtype=hidden_states.dtype)
        all_hidden_states, all_attentions = [], []
        for layer in self.layers:
            all_hidden_states.append(hidden_states)
            hidden_states, attentions, _ = layer(hidden_states, mask, output_attentions=output_attentions)
            all_attentions.append(attentions)
        all_hidden_states.append(hidden_states)

        output = BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()


class Seq2Seq101Decoder(nn.Module):
    """The decoder stack: causal self-attention over the target so far, cross-attention into the encoder output,
    MLP; all post-LN. With a cache it is fed only the new tokens and continues from where it stopped."""

    def __init__(self, config: Seq2Seq101Config, embed_tokens: nn.Embedding):
        super().__init__()
        self.config = config
        self.embed_tokens = embed_tokens
        self.embed_scale = embedding_scale(config.d_model, config.scale_embedding)
        self.embed_positions = SinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            Block(config, hidden_size=config.d_model, num_heads=config.decoder_attention_heads,
                  intermediate_size=config.decoder_ffn_dim, activation=config.activation_function, pre_norm=False,
                  is_causal=True, has_cross_attention=True, layer_norm_eps=config.layer_norm_eps,
                  dropout=config.dropout, attention_dropout=config.attention_dropout,
                  activation_dropout=config.activation_dropout, layer_idx=index)
            for index in range(config.decoder_layers)
        )
        self.gradient_checkpointing = False

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                cache=None, past_key_values=None, inputs_embeds=None, use_cache=None, output_attentions=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        """input_ids (B, T) new target tokens; attention_mask (B, P) over cached + new target tokens;
        encoder_hidden_states (B, S, C) and its source mask encoder_attention_mask (B, S).

        `cache` (transformers >= 5.24) and `past_key_values` (older 5.x) name the same `EncoderDecoderCache`: the
        self-attention keys/values of earlier target tokens, and the cross-attention keys/values of the source,
        computed on the first step only.
        """
        config = self.config
        output_attentions = output_attentions if output_attentions is not None else config.output_attentions
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else config.output_hidden_states)
        return_dict = return_dict if return_dict is not None else config.return_dict
        # A cache only pays off when generating; in training it would just hold memory.
        use_cache = use_cache if use_cache is not None else (config.use_cache and not self.training)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of decoder_input_ids or decoder_inputs_embeds")
        if encoder_hidden_states is None:
            raise ValueError("the decoder needs encoder_hidden_states (the encoder output) to attend to")

        cache = cache if cache is not None else past_key_values
        if cache is not None and not isinstance(cache, EncoderDecoderCache):
            # A plain Cache holds the self-attention part; the cross part is filled on this call.
            cache = EncoderDecoderCache(cache, DynamicCache(config=config))
        if use_cache and cache is None:
            cache = EncoderDecoderCache(DynamicCache(config=config), DynamicCache(config=config))
        check_input_ids(input_ids, config.vocab_size, name="decoder_input_ids")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (B, T) -> (B, T, C)
        length = inputs_embeds.shape[1]
        past_length, key_length = cached_lengths(cache, length)  # target tokens already decoded, and all the keys
        check_length(length, config.max_position_embeddings, past_length, name="target (decoder_input_ids)")
        positions = positions_after(past_length, length, inputs_embeds.device)  # (1, T)
        hidden_states = self.dropout(inputs_embeds * self.embed_scale + self.embed_positions(positions))  # (B, T, C)

        # Self-attention: query t sees target tokens <= t (and not padding); cross-attention: every real source token.
        self_mask = build_attention_mask(attention_mask, length, key_length, past_length=past_length, is_causal=True,
                                         dtype=hidden_states.dtype, device=hidden_states.device)  # (B, 1, T, P) or None
        cross_mask = build_attention_mask(encoder_attention_mask, length, encoder_hidden_states.shape[1],
                                          is_causal=False, dtype=hidden_states.dtype)  # (B, 1, T, S) or None
        all_hidden_states, all_attentions, all_cross_attentions = [], [], []
        for layer in self.layers:
            all_hidden_states.append(hidden_states)
            # Tensors positionally: gradient checkpointing only replays positional arguments with their gradients.
            hidden_states, attentions, cross_attentions = layer(
                hidden_states, self_mask, encoder_hidden_states, cross_mask, cache=cache,
                output_attentions=output_attentions,
            )
            all_attentions.append(attentions)
            all_cross_attentions.append(cross_attentions)
        all_hidden_states.append(hidden_states)

        output = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
            cross_attentions=tuple(all_cross_attentions) if output_attentions else None,
            **{CACHE_FIELD: cache if use_cache else None},
        )
        return output if return_dict else output.to_tuple()


class Seq2Seq101Model(Seq2Seq101PreTrainedModel):
    """The body: shared embedding, encoder, decoder; returns the decoder's last hidden states (B, T, C) together
    with the encoder output."""

    # One vocabulary for source and target: the three names are one matrix ({target: source}, v5 style).
    _tied_weights_keys = {"encoder.embed_tokens.weight": "shared.weight",
                          "decoder.embed_tokens.weight": "shared.weight"}

    def __init__(self, config: Seq2Seq101Config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_token_id)
        self.encoder = Seq2Seq101Encoder(config, self.shared)
        self.decoder = Seq2Seq101Decoder(config, self.shared)
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def set_input_embeddings(self, value):
        self.shared = value
        self.encoder.embed_tokens = self.decoder.embed_tokens = value

    def get_encoder(self, modality=None):
        return self.encoder

    def get_decoder(self):
        return self.decoder

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, cache=None, past_key_values=None, inputs_embeds=None,
                decoder_inputs_embeds=None, use_cache=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, **kwargs):
        """Encode the source (unless `encoder_outputs` are given, as `generate` does after its first call) and
        decode `decoder_input_ids` against it. `attention_mask` is the source mask, `decoder_attention_mask` the
        target one."""
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                                           output_attentions=output_attentions,
                                           output_hidden_states=output_hidden_states, return_dict=True)
        elif not isinstance(encoder_outputs, BaseModelOutput):  # a tuple, e.g. from return_dict=False
            encoder_outputs = BaseModelOutput(last_hidden_state=encoder_outputs[0])
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError("pass decoder_input_ids (or labels to Seq2Seq101ForConditionalGeneration, which shifts "
                             "them right into decoder_input_ids)")
        decoder_outputs = self.decoder(
            decoder_input_ids, attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state, encoder_attention_mask=attention_mask,
            cache=cache if cache is not None else past_key_values, inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        output = Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
            **{CACHE_FIELD: getattr(decoder_outputs, CACHE_FIELD)},
        )
        return output if return_dict else output.to_tuple()


class Seq2Seq101ForConditionalGeneration(Seq2Seq101PreTrainedModel, GenerationMixin):
    """Translation: next-target-token logits (B, T, V) given the source. With `labels` (B, T) — the target
    followed by </s>, -100 where ignored — the labels are shifted right into `decoder_input_ids` (unless given)
    and the mean cross-entropy over the non-ignored positions is returned.

    With `config.fused_linear_cross_entropy` (for training), labels given and gradients on, the output layer and
    the loss run together a chunk of rows at a time and the output has no logits (`logits=None`): the same loss
    and gradients, without the (B, T, V) logits in memory (modeling/linear_cross_entropy.py)."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight",
                          "model.encoder.embed_tokens.weight": "model.shared.weight",
                          "model.decoder.embed_tokens.weight": "model.shared.weight"}

    def __init__(self, config: Seq2Seq101Config):
        super().__init__(config)
        self.model = Seq2Seq101Model(config)
        # The weight is tied to the embedding; the bias is Marian's `final_logits_bias`, kept on the Linear so
        # `resize_token_embeddings` resizes it too.
        self.lm_head = OutputLinear(config.d_model, config.vocab_size, bias=True)  # padded on CUDA
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    def get_encoder(self, modality=None):
        return self.model.encoder

    def get_decoder(self):
        return self.model.decoder

    def prepare_decoder_input_ids_from_labels(self, labels):
        """Used by `DataCollatorForSeq2Seq(tokenizer, model=model)` to build decoder inputs in the collator."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, cache=None, past_key_values=None, inputs_embeds=None,
                decoder_inputs_embeds=None, labels=None, use_cache=None, output_attentions=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if labels is not None:
            use_cache = False  # training / scoring a whole target: nothing to continue from
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id,
                                                       self.config.decoder_start_token_id)
        outputs = self.model(
            input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask, encoder_outputs=encoder_outputs,
            cache=cache if cache is not None else past_key_values, inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds, use_cache=use_cache, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=True,
        )
        hidden_states = outputs.last_hidden_state
        logits = loss = None
        # Labels are already aligned with the outputs (the shift happened on the decoder inputs), so the loss is
        # plain cross-entropy — not `self.loss_function`, whose causal-LM variant would shift them again.
        if fused_loss_applies(self.config, labels):
            loss = linear_cross_entropy(hidden_states, self.lm_head.weight, labels, bias=self.lm_head.bias,
                                        num_items_in_batch=kwargs.get("num_items_in_batch"))
        else:
            logits = self.lm_head(hidden_states)  # (B, T, C) -> (B, T, V)
            if labels is not None:
                loss = token_cross_entropy(logits, labels, kwargs.get("num_items_in_batch"))
        output = Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
            **{CACHE_FIELD: getattr(outputs, CACHE_FIELD)},
        )
        return output if return_dict else output.to_tuple()
