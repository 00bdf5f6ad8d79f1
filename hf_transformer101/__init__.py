"""hf-transformer101: the three Transformer families of the lecture as Hugging Face models.

Importing the package registers every config and model with transformers' Auto classes (here, in one place),
so `AutoModelForCausalLM.from_pretrained(folder)` works on our checkpoints without `trust_remote_code`.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .modeling.configuration_bert101 import BERT101Config
from .modeling.configuration_gpt101 import GPT101Config
from .modeling.modeling_bert101 import (
    BERT101ForMaskedLM,
    BERT101ForQuestionAnswering,
    BERT101ForSequenceClassification,
    BERT101ForTokenClassification,
    BERT101Model,
    BERT101PreTrainedModel,
)
from .modeling.modeling_gpt101 import (
    GPT101ForCausalLM,
    GPT101ForSequenceClassification,
    GPT101Model,
    GPT101PreTrainedModel,
)
from .modeling.configuration_seq2seq101 import Seq2Seq101Config
from .modeling.modeling_seq2seq101 import (
    Seq2Seq101ForConditionalGeneration,
    Seq2Seq101Model,
    Seq2Seq101PreTrainedModel,
)
from .translation import translate

AutoConfig.register(GPT101Config.model_type, GPT101Config)
AutoModel.register(GPT101Config, GPT101Model)
AutoModelForCausalLM.register(GPT101Config, GPT101ForCausalLM)
AutoModelForSequenceClassification.register(GPT101Config, GPT101ForSequenceClassification)

AutoConfig.register(BERT101Config.model_type, BERT101Config)
AutoModel.register(BERT101Config, BERT101Model)
AutoModelForMaskedLM.register(BERT101Config, BERT101ForMaskedLM)
AutoModelForSequenceClassification.register(BERT101Config, BERT101ForSequenceClassification)
AutoModelForTokenClassification.register(BERT101Config, BERT101ForTokenClassification)
AutoModelForQuestionAnswering.register(BERT101Config, BERT101ForQuestionAnswering)

AutoConfig.register(Seq2Seq101Config.model_type, Seq2Seq101Config)
AutoModel.register(Seq2Seq101Config, Seq2Seq101Model)
AutoModelForSeq2SeqLM.register(Seq2Seq101Config, Seq2Seq101ForConditionalGeneration)

__all__ = [
    "BERT101Config",
    "BERT101ForMaskedLM",
    "BERT101ForQuestionAnswering",
    "BERT101ForSequenceClassification",
    "BERT101ForTokenClassification",
    "BERT101Model",
    "BERT101PreTrainedModel",
    "GPT101Config",
    "GPT101ForCausalLM",
    "GPT101ForSequenceClassification",
    "GPT101Model",
    "GPT101PreTrainedModel",
    "Seq2Seq101Config",
    "Seq2Seq101ForConditionalGeneration",
    "Seq2Seq101Model",
    "Seq2Seq101PreTrainedModel",
    "translate",
]
