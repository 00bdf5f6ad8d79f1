"""hf-transformer101: the three Transformer families of the lecture as Hugging Face models."""
