"""BERT101: the lecture's encoder-only Transformer (BERT architecture), as a Hugging Face model.

tokens -> word + learned position + token-type (segment) embeddings -> LayerNorm -> N post-LN Blocks with
bidirectional self-attention (every token sees every real token, left and right) -> hidden states (B, T, C).
Heads: a masked-LM head (transform + decoder tied to the word embedding, predicts the hidden [MASK]ed tokens),
a sequence classifier on the pooled first token ([CLS]), a token classifier and an answer-span scorer, as in
Devlin et al. 2019.

Module names map onto HF BERT checkpoints by renaming (see `hf_transformer101.convert.bert`):
embeddings.word_embeddings -> embed_tokens, encoder.layer.i.attention.self.{query,key,value} -> one fused
layers.i.self_attn.qkv_proj, attention.output.LayerNorm -> self_attn_norm, output.LayerNorm -> mlp_norm, ...
Legend: B batch, T tokens, C hidden size, V vocabulary, L labels.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from .blocks import (
    Block,
    LearnedPositionalEmbedding,
    build_attention_mask,
    check_input_ids,
    check_length,
    init_weights,
    refuse_encoder_inputs,
)
from .configuration_bert101 import BERT101Config
from .linear import Linear, OutputLinear
from .losses import check_one_label_per_row, token_cross_entropy
from .reference_checkpoints import LoadsReferenceCheckpoints


class BERT101PreTrainedModel(LoadsReferenceCheckpoints, PreTrainedModel):
    reference_model_type = "bert"  # `from_pretrained` converts such a checkpoint (reference_checkpoints.py)
    config_class = BERT101Config
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Block"]  # FSDP / device_map keep a whole Block on one device
    _supports_sdpa = True  # attention dispatches through transformers' ALL_ATTENTION_FUNCTIONS

    def _init_weights(self, module):
        """BERT's init: N(0, initializer_range) for every matrix and embedding, zero biases, unit LayerNorms.

        The [PAD] embedding row starts at zero (HF's BertEmbeddings does the same through `padding_idx`).
        """
        init_weights(module, self.config.initializer_range)


class BERT101Pooler(nn.Module):
    """The [CLS] token's final state through dense + tanh: one vector per text for the classifier.

    BERT trained it on next-sentence prediction; fine-tuning retrains it with the classifier.
    """

    def __init__(self, config):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states):
        return torch.tanh(self.dense(hidden_states[:, 0]))  # (B, T, C) -> first token (B, C)


class BERT101Model(BERT101PreTrainedModel):
    """The body: embeddings and the stack of bidirectional post-LN Blocks; returns the final hidden states (B, T, C)
    and, unless built with `add_pooling_layer=False` (the MLM head needs no pooler), the pooled [CLS] vector."""

    def __init__(self, config: BERT101Config, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.embed_positions = LearnedPositionalEmbedding(config.max_position_embeddings, config.hidden_size)
        # Segment embedding: tells the model which sentence of a pair a token belongs to.
        self.embed_token_types = nn.Embedding(config.type_vocab_size, config.hidden_size)
        # Post-LN never normalises the residual stream's input, so BERT normalises the embedding sum instead.
        self.embed_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layers = nn.ModuleList(
            Block(config, hidden_size=config.hidden_size, num_heads=config.num_attention_heads,
                  intermediate_size=config.intermediate_size, activation=config.hidden_act, pre_norm=False,
                  is_causal=False, layer_norm_eps=config.layer_norm_eps, dropout=config.hidden_dropout_prob,
                  attention_dropout=config.attention_probs_dropout_prob, layer_idx=index)
            for index in range(config.num_hidden_layers)
        )
        self.pooler = BERT101Pooler(config) if add_pooling_layer else None
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, **kwargs):
        """`attention_mask` (B, T): 1 = real token, 0 = padding (no token attends to padding).
        `token_type_ids` (B, T): segment of each token, zeros by default. `position_ids` (B, T): arange by default.
        """
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        refuse_encoder_inputs(type(self).__name__, kwargs)

        # Bad ids would fail deep inside an embedding with an IndexError: check them here, by name.
        check_input_ids(input_ids, self.config.vocab_size)
        # (these two may also come as one (T,) row, broadcast over the batch, as transformers' BERT takes them)
        check_input_ids(token_type_ids, self.config.type_vocab_size, name="token_type_ids", batched=False)
        check_input_ids(position_ids, self.config.max_position_embeddings, name="position_ids", batched=False)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (B, T) -> (B, T, C)
        batch, length, _ = inputs_embeds.shape
        check_length(length, self.config.max_position_embeddings)
        if position_ids is None:
            position_ids = torch.arange(length, device=inputs_embeds.device)[None]  # (1, T), broadcast over B
        if token_type_ids is None:
            token_type_ids = torch.zeros(batch, length, dtype=torch.long, device=inputs_embeds.device)  # (B, T)
        embeddings = inputs_embeds + self.embed_token_types(token_type_ids) + self.embed_positions(position_ids)
        hidden_states = self.dropout(self.embed_norm(embeddings))  # (B, T, C)

        # Bidirectional: only padding is masked. None without padding, so SDPA runs its unmasked fast path.
        mask = build_attention_mask(attention_mask, length, length, is_causal=False, dtype=hidden_states.dtype)
        all_hidden_states, all_attentions = [], []
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states.append(hidden_states)  # the first one is the embedding output, as in HF
            hidden_states, attentions, _ = layer(hidden_states, mask, output_attentions=output_attentions)
            all_attentions.append(attentions)
        all_hidden_states.append(hidden_states)  # post-LN: the last Block's output is already normalised
        pooled = self.pooler(hidden_states) if self.pooler is not None else None  # (B, C)

        output = BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=pooled,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()


class BERT101LMHead(nn.Module):
    """BERT's MLM head: a transform (dense -> activation -> LayerNorm) then the decoder back to the vocabulary.

    The decoder's weight is the word embedding (tied); its per-word bias lives on the decoder Linear itself, not
    as a separate Parameter, so `resize_token_embeddings` resizes it with the weight.
    """

    def __init__(self, config):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = OutputLinear(config.hidden_size, config.vocab_size, bias=True)  # padded on CUDA

    def forward(self, hidden_states):
        hidden_states = self.norm(self.act(self.dense(hidden_states)))  # (B, T, C)
        return self.decoder(hidden_states)  # (B, T, C) -> (B, T, V)


class BERT101ForMaskedLM(BERT101PreTrainedModel):
    """Masked language modelling: logits (B, T, V) for every position. With `labels` (the original token at the
    masked positions, -100 elsewhere — what `DataCollatorForLanguageModeling` builds) it returns the mean
    cross-entropy over the labelled positions. No shift: BERT predicts the token in place, not the next one.

    `config.sparse_prediction=True` (for training): with labels, the head runs on the labelled positions only and
    the logits are theirs, (N, V), in row-major order of the (B, T) labels; the loss is the same.
    """

    _tied_weights_keys = {"lm_head.decoder.weight": "model.embed_tokens.weight"}  # {target: source}, v5 style

    def __init__(self, config: BERT101Config):
        super().__init__(config)
        self.model = BERT101Model(config, add_pooling_layer=False)  # as BertForMaskedLM: no pooler to train
        self.lm_head = BERT101LMHead(config)
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings):
        self.lm_head.decoder = new_embeddings

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, **kwargs):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             position_ids=position_ids, inputs_embeds=inputs_embeds,
                             output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                             return_dict=True, **kwargs)
        hidden_states = outputs.last_hidden_state  # (B, T, C)
        if labels is not None and self.config.sparse_prediction:
            check_one_label_per_row(labels, hidden_states)
            labels = labels.reshape(hidden_states.shape[:-1])  # (B, T), from any shape that holds one per position
            labelled = labels != -100  # (B, T)
            hidden_states, labels = hidden_states[labelled], labels[labelled]  # (N, C), (N,)
        logits = self.lm_head(hidden_states)  # (B, T, V), or (N, V) with sparse_prediction
        loss = None
        if labels is not None:
            # transformers' ForMaskedLM loss (plain cross-entropy, -100 ignored, Trainer's `num_items_in_batch`
            # honoured under gradient accumulation); see token_cross_entropy for how it runs faster.
            loss = token_cross_entropy(logits, labels, kwargs.get("num_items_in_batch"))
        output = MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                attentions=outputs.attentions)
        return output if return_dict else output.to_tuple()


class BERT101ForSequenceClassification(BERT101PreTrainedModel):
    """Classifies a text (or a text pair, told apart by `token_type_ids`) from the pooled [CLS] vector.

    `labels` follow transformers' `problem_type`: floats with `num_labels == 1` -> regression (MSE, e.g. STS-B),
    integer class ids -> single-label cross-entropy, float multi-hot (B, L) -> multi-label BCE.
    """

    # The loss is a per-batch mean for every problem type and ignores Trainer's `num_items_in_batch`, so Trainer
    # must scale it for gradient accumulation itself (it does when the model says it takes no loss kwargs).
    accepts_loss_kwargs = False

    def __init__(self, config: BERT101Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = BERT101Model(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, **kwargs):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             position_ids=position_ids, inputs_embeds=inputs_embeds,
                             output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                             return_dict=True, **kwargs)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # (B, C) -> (B, L)
        loss = None
        if labels is not None:
            # transformers' ForSequenceClassification loss: infers and stores config.problem_type if unset.
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        output = SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                          attentions=outputs.attentions)
        return output if return_dict else output.to_tuple()


class BERT101ForTokenClassification(BERT101PreTrainedModel):
    """Labels every token (named entities, parts of speech): a linear layer on each final hidden state, as
    `BertForTokenClassification` (Devlin et al. 2019, sec. 5.3). `labels` (B, T), -100 for tokens not scored
    (padding, the second piece of a split word)."""

    # A per-batch mean, as transformers' BERT: Trainer scales it for gradient accumulation itself.
    accepts_loss_kwargs = False

    def __init__(self, config: BERT101Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = BERT101Model(config, add_pooling_layer=False)  # every token's state; no [CLS] summary
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, **kwargs):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             position_ids=position_ids, inputs_embeds=inputs_embeds,
                             output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                             return_dict=True, **kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, T, C) -> (B, T, L)
        loss = None
        if labels is not None:
            check_one_label_per_row(labels, logits)
            loss = self.loss_function(logits, labels, self.config)  # transformers' cross-entropy, -100 ignored
        output = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                       attentions=outputs.attentions)
        return output if return_dict else output.to_tuple()


class BERT101ForQuestionAnswering(BERT101PreTrainedModel):
    """Extractive question answering (SQuAD): for a question and a passage packed as one text pair, a linear layer
    scores every token as the answer's start and as its end (Devlin et al. 2019, sec. 4.2), as
    `BertForQuestionAnswering`. `start_positions` / `end_positions` (B,); positions past the text are ignored."""

    # A per-batch mean, as transformers' BERT: Trainer scales it for gradient accumulation itself.
    accepts_loss_kwargs = False

    def __init__(self, config: BERT101Config):
        super().__init__(config)
        self.num_labels = config.num_labels  # 2: start and end
        self.model = BERT101Model(config, add_pooling_layer=False)
        self.qa_outputs = Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, start_positions=None, end_positions=None, output_attentions=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             position_ids=position_ids, inputs_embeds=inputs_embeds,
                             output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                             return_dict=True, **kwargs)
        logits = self.qa_outputs(outputs.last_hidden_state)  # (B, T, C) -> (B, T, 2)
        start_logits, end_logits = (part.squeeze(-1).contiguous() for part in logits.split(1, dim=-1))  # (B, T)
        loss = None
        if start_positions is not None and end_positions is not None:
            # transformers' loss: the mean of the start and end cross-entropies, positions clamped to T (ignored).
            loss = self.loss_function(start_logits, end_logits, start_positions, end_positions)
        output = QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                              hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        return output if return_dict else output.to_tuple()
