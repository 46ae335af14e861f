"""The LLM environment (LE): prompts, shared LoRA + heads, fine-tuning, batched inference, precompute shards."""
