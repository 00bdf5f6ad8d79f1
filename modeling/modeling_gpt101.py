"""GPT101: the lecture's decoder-only Transformer (GPT-2 architecture), as a Hugging Face model.

tokens -> token embedding + learned position embedding -> N pre-LN Blocks with causal self-attention -> final
LayerNorm -> linear head tied to the token embedding -> next-token logits.

Module names map onto GPT-2's checkpoints by renaming (see `hf_transformer101.convert`): wte -> embed_tokens,
wpe -> embed_positions, h.i.ln_1 -> layers.i.self_attn_norm, attn.c_attn -> self_attn.qkv_proj, ...
Legend: B batch, T new tokens, S all tokens (cached + new), C hidden size, V vocabulary, L labels.
"""

import math

import torch
from torch import nn
from transformers import DynamicCache, GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutputWithPast,
)

from .blocks import (
    CACHE_FIELD,
    Block,
    LearnedPositionalEmbedding,
    build_attention_mask,
    cached_lengths,
    check_input_ids,
    check_length,
    init_weights,
    positions_after,
    refuse_encoder_inputs,
)
from .configuration_gpt101 import GPT101Config
from .linear import Linear, OutputLinear
from .linear_cross_entropy import fused_loss_applies, linear_cross_entropy
from .losses import token_cross_entropy
from .reference_checkpoints import LoadsReferenceCheckpoints


class GPT101PreTrainedModel(LoadsReferenceCheckpoints, PreTrainedModel):
    reference_model_type = "gpt2"  # `from_pretrained` converts such a checkpoint (reference_checkpoints.py)
    config_class = GPT101Config
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Block"]  # FSDP / device_map keep a whole Block on one device
    _supports_sdpa = True  # attention dispatches through transformers' ALL_ATTENTION_FUNCTIONS

    def _init_weights(self, module):
        """GPT-2's init: N(0, 0.02) everywhere, and the projections that write into the residual stream scaled
        by 1/sqrt(2 * layers), so the stream's variance does not grow with depth (GPT-2 paper, sec. 2.3)."""
        std = self.config.initializer_range
        if getattr(module, "writes_residual", False):
            std = std / math.sqrt(2 * self.config.num_hidden_layers)
        init_weights(module, std)


class GPT101Model(GPT101PreTrainedModel):
    """The body: embeddings and the stack of causal Blocks; returns the final hidden states (B, T, C)."""

    def __init__(self, config: GPT101Config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embed_positions = LearnedPositionalEmbedding(config.max_position_embeddings, config.hidden_size)
        self.dropout = nn.Dropout(config.embedding_dropout_prob)
        self.layers = nn.ModuleList(
            Block(config, hidden_size=config.hidden_size, num_heads=config.num_attention_heads,
                  intermediate_size=config.intermediate_size, activation=config.hidden_act, pre_norm=True,
                  is_causal=True, bias=config.bias, layer_norm_eps=config.layer_norm_eps,
                  dropout=config.hidden_dropout_prob, attention_dropout=config.attention_probs_dropout_prob,
                  layer_idx=index)
            for index in range(config.num_hidden_layers)
        )
        for layer in self.layers:
            layer.self_attn.out_proj.writes_residual = layer.mlp.fc_out.writes_residual = True
        # Pre-LN leaves the residual stream un-normalised, so one last LayerNorm before the head.
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, bias=config.bias)
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, past_key_values=None,
                inputs_embeds=None, use_cache=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, token_type_ids=None, **kwargs):
        """`cache` (transformers >= 5.24) and `past_key_values` (older 5.x) are the same thing: the keys and
        values of earlier tokens, so generation only feeds the new token. `attention_mask` (B, S) marks real
        tokens with 1 and padding with 0, over the cached tokens too. `token_type_ids` (B, T), as in GPT-2, add
        the token embedding of each type id (GPT-2 has no segment table: it reuses the vocabulary's rows)."""
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        # A cache only pays off when generating; in training it would just hold memory.
        use_cache = use_cache if use_cache is not None else (self.config.use_cache and not self.training)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        refuse_encoder_inputs(type(self).__name__, kwargs)

        cache = cache if cache is not None else past_key_values
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        check_input_ids(input_ids, self.config.vocab_size)
        check_input_ids(token_type_ids, self.config.vocab_size, name="token_type_ids")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (B, T) -> (B, T, C)
        batch, length, _ = inputs_embeds.shape
        past_length, key_length = cached_lengths(cache, length)
        check_length(length, self.config.max_position_embeddings, past_length)
        if position_ids is None:
            position_ids = positions_after(past_length, length, inputs_embeds.device)
        hidden_states = inputs_embeds + self.embed_positions(position_ids)  # (B, T, C)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.embed_tokens(token_type_ids.expand(batch, length))
        hidden_states = self.dropout(hidden_states)

        mask = build_attention_mask(attention_mask, length, key_length, past_length=past_length, is_causal=True,
                                    dtype=hidden_states.dtype, device=hidden_states.device)
        all_hidden_states, all_attentions = [], []
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            hidden_states, attentions, _ = layer(hidden_states, mask, cache=cache,
                                                 output_attentions=output_attentions)
            all_attentions.append(attentions)
        hidden_states = self.norm(hidden_states)
        all_hidden_states.append(hidden_states)

        output = BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
            **{CACHE_FIELD: cache if use_cache else None},
        )
        return output if return_dict else output.to_tuple()


class GPT101ForCausalLM(GPT101PreTrainedModel, GenerationMixin):
    """Next-token prediction: logits (B, T, V). With `labels` (usually = input_ids; -100 ignored) the model
    shifts them by one and returns the cross-entropy of predicting token t+1 from tokens <= t.

    With `config.fused_linear_cross_entropy` (for training), labels given and gradients on, the head and the loss
    run together a chunk of rows at a time and the output has no logits (`logits=None`): the same loss and
    gradients, without the (B, T, V) logits in memory (modeling/linear_cross_entropy.py)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # {target: source}, v5 style

    def __init__(self, config: GPT101Config):
        super().__init__(config)
        self.model = GPT101Model(config)
        self.lm_head = OutputLinear(config.hidden_size, config.vocab_size, bias=False)  # padded on CUDA
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, past_key_values=None,
                inputs_embeds=None, labels=None, use_cache=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, logits_to_keep=0, token_type_ids=None, **kwargs):
        """`logits_to_keep=k` computes logits for the last k positions only (0 = all): generation needs one."""
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.model(input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             cache=cache if cache is not None else past_key_values, inputs_embeds=inputs_embeds,
                             use_cache=use_cache, output_attentions=output_attentions,
                             output_hidden_states=output_hidden_states, return_dict=True,
                             token_type_ids=token_type_ids, **kwargs)
        hidden_states = outputs.last_hidden_state
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        fused = fused_loss_applies(self.config, labels)
        logits = None if fused else self.lm_head(hidden_states)  # (B, T, C) -> (B, T, V)
        loss = None
        if labels is not None:
            # Token t predicts token t + 1: the labels move one to the left (Trainer may pass them shifted).
            shifted = kwargs.get("shift_labels")
            if shifted is None:
                shifted = nn.functional.pad(labels, (0, 1), value=-100)[..., 1:]  # (B, T), the last one ignored
            if fused:
                loss = linear_cross_entropy(hidden_states, self.lm_head.weight, shifted,
                                            num_items_in_batch=kwargs.get("num_items_in_batch"))
            else:
                loss = token_cross_entropy(logits, shifted, kwargs.get("num_items_in_batch"))
        output = CausalLMOutputWithPast(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions,
                                        **{CACHE_FIELD: getattr(outputs, CACHE_FIELD)})
        return output if return_dict else output.to_tuple()


class GPT101ForSequenceClassification(GPT101PreTrainedModel):
    """Classifies a text from the hidden state of its last real token — the only one that has seen the whole
    text under causal attention (as GPT-2's head). Needs `pad_token_id` to find it in padded batches."""

    # The loss is a mean over the batch and ignores Trainer's `num_items_in_batch`: this tells Trainer to scale
    # it for gradient accumulation itself.
    accepts_loss_kwargs = False

    def __init__(self, config: GPT101Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = GPT101Model(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.score = Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, past_key_values=None,
                inputs_embeds=None, labels=None, use_cache=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, token_type_ids=None, **kwargs):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.model(input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             cache=cache if cache is not None else past_key_values, inputs_embeds=inputs_embeds,
                             use_cache=use_cache, output_attentions=output_attentions,
                             output_hidden_states=output_hidden_states, return_dict=True,
                             token_type_ids=token_type_ids, **kwargs)
        logits = self.score(self.dropout(outputs.last_hidden_state))  # (B, T, L)
        batch = logits.shape[0]
        if input_ids is None or self.config.pad_token_id is None:
            if batch != 1 and self.config.pad_token_id is None:
                raise ValueError("batches of more than one text need config.pad_token_id to find each text's end")
            last_token = torch.full((batch,), -1, device=logits.device)
        else:
            # Rightmost non-pad token: right as well as left padding works.
            is_real = (input_ids != self.config.pad_token_id).int()  # (B, T)
            last_token = (torch.arange(is_real.shape[-1], device=logits.device) * is_real).argmax(-1)  # (B,)
        pooled_logits = logits[torch.arange(batch, device=logits.device), last_token]  # (B, L)
        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=pooled_logits, config=self.config)
        output = SequenceClassifierOutputWithPast(loss=loss, logits=pooled_logits,
                                                  hidden_states=outputs.hidden_states,
                                                  attentions=outputs.attentions,
                                                  **{CACHE_FIELD: getattr(outputs, CACHE_FIELD)})
        return output if return_dict else output.to_tuple()
