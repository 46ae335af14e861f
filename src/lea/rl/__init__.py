"""Offline RL for recommenders: replay of transitions, Normal / SNQN / SA2C with the LE switches, warm-up."""
