"""The LLM: loading (HF folder, hub id or GGUF; optional 4-bit) and item tokenization (Figure 2a)."""
