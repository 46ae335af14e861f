"""The small workload tests/test_slurm.py sends through SLURM: a RecBole-format raw log, a random-weight tiny LLM
(tests/test_env_fixtures.py) and a config whose DAG is one preprocess, one item_tokens, the
negatives pool the Q-head runs share, and three train jobs.

    python tests/slurm/workload.py DIR     # writes DIR/raw, DIR/tiny_llm, DIR/config.yaml (for trying it by hand)
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the tiny LLM of test_env_fixtures

from test_env_fixtures import WORDS, make_tiny_llm

DATASET = "tiny"
LLM = "tiny"
FRAMEWORKS = ["normal", "snqn", "sa2c"]
BACKBONE = "gru"
SEED = 0


def write_raw(folder: Path, n_users: int = 160, n_items: int = 30, seed: int = 0) -> Path:
    """RecBole .inter/.item files whose sequences follow a learnable pattern (next item = previous + 1 mod n)."""
    rng = random.Random(seed)
    nums = [w for w in WORDS if w in {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}]
    genres = ["drama", "comedy", "action", "horror"]
    folder.mkdir(parents=True, exist_ok=True)
    inter = ["user_id:token\titem_id:token\ttimestamp:float"]
    t = 1_000_000
    for u in range(n_users):
        start = rng.randrange(n_items)
        for p in range(rng.randint(4, 12)):
            t += rng.randint(1, 50)
            inter.append(f"u{u}\ti{(start + p) % n_items}\t{t}")
    (folder / "tiny.inter").write_text("\n".join(inter) + "\n")
    item = ["item_id:token\ttitle:token_seq\tgenre:token"]
    item += [f"i{i}\t{nums[i % 10]} {nums[(i // 10) % 10]}\t{genres[i % 4]}" for i in range(n_items)]
    (folder / "tiny.item").write_text("\n".join(item) + "\n")
    return folder


def config(data_dir: Path, results_dir: Path, llm_dir: Path, resources_dir: Path) -> dict[str, Any]:
    """A full config (validated by the workflow like any other); only the base runs and item tokens are built."""
    return {
        "data_dir": str(data_dir),
        "results_dir": str(results_dir),
        "resources_dir": str(resources_dir),
        "seeds": [SEED],
        "datasets_enabled": [DATASET],
        "datasets": {
            DATASET: {
                "reader": "recbole",
                "source": "tiny",
                "files": {"inter": "tiny.inter", "item": "tiny.item"},
                "text_fields": {"title": "title", "genres": "genre"},
                "sentence_template": "{S} movie is titled {title}, its genres are {genres}.",
                "domain": {
                    "item": "movie",
                    "items": "movies",
                    "history": "has watched these movies",
                    "next": "be the next movie to be watched",
                    "continue": "continue to watch",
                },
                "filter": {"min_seq_len": 3, "min_item_count": 1, "iterate": True},
                "split": {"train": 0.8, "valid": 0.1, "test": 0.1},
                # a few seconds per run on one CPU, with checkpoints often enough that a cancelled run has one
                "rec": {
                    "backbones": [BACKBONE],
                    "frameworks": FRAMEWORKS,
                    "hidden": 32,
                    "batch_size": 16,
                    "epochs": 6,
                    "eval_every": 100,
                    "sa2c_warmup_steps": 100,
                    "checkpoint_every": 10,
                    "threads": 1,
                },
            }
        },
        "llms": {LLM: {"path": str(llm_dir), "dtype": "fp32", "device": "cpu", "prefix_text": "[BOS]"}},
        "le": {
            "llm": LLM,
            "item_tokens": {"iterations": 4, "lr": 0.2, "batch_items": 16, "heldout_pairs": 20, "checkpoint_every": 1},
            "settings": {"frac0.1": {"fraction": 0.1}},
        },
        "experiments": {"table1": {}},
    }


def targets(results_dir: Path) -> dict[str, list[str]]:
    """The files each job kind writes (relative to the results folder) that a SLURM run must reproduce."""
    runs = [f"{DATASET}/runs/{BACKBONE}/{fw}/base/seed{SEED}" for fw in FRAMEWORKS]
    return {
        "preprocess": [f"{DATASET}/data/{n}" for n in ("items.parquet", "interactions.parquet", "splits.parquet")],
        "negatives": [f"{DATASET}/data/negatives.parquet"],  # the Q-head runs' shared negative pool
        "item_tokens": [f"{DATASET}/le/{LLM}/item_tokens.safetensors", f"{DATASET}/le/{LLM}/item_tokens.parquet"],
        "train": [f"{r}/{n}" for r in runs for n in ("metrics.json", "ranks.parquet", "model.safetensors")],
    }


def write_workload(root: Path, results_dir: Path) -> Path:
    """raw data, the tiny LLM and config.yaml under ``root``; returns the config file."""
    write_raw(root / "raw" / "tiny")
    llm = root / "tiny_llm"
    if not (llm / "config.json").exists():
        make_tiny_llm(llm)
    cfg = root / f"config-{results_dir.name}.yaml"
    cfg.write_text(yaml.safe_dump(config(root / "raw", results_dir, llm, root / "resources"), sort_keys=False))
    return cfg


if __name__ == "__main__":
    out = Path(sys.argv[1]).resolve()
    print(write_workload(out, out / "results"))
