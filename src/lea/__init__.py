"""lea-pipeline: LLM as environment (LE) for offline RL recommenders (Wang et al., SIGIR 2024)."""

__version__ = "0.1.0"
