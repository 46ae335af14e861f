"""``lea train``: train and evaluate one recommender run (backbone x framework x variant x seed)."""

from __future__ import annotations

import argparse
import json

from lea.cli import parse_settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", required=True, help="dataset settings JSON (with the merged 'rec' section) or a file")
    p.add_argument(
        "--variant",
        default='{"name": "base"}',
        help="variant settings JSON (lea.config.variant_settings) or a file; default: base",
    )
    p.add_argument("--backbone", required=True, choices=["gru", "sasrec"])
    p.add_argument("--framework", required=True, choices=["normal", "snqn", "sa2c"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", required=True, help="folder with items/interactions/splits.parquet")
    p.add_argument("--le-states", default=None, help="states.parquet (variants with state le or le+h)")
    p.add_argument("--le-rewards", default=None, help="rewards.parquet (variants with reward le)")
    p.add_argument("--le-augment", default=None, help="augment_{backbone}.parquet (variants with augment)")
    p.add_argument(
        "--negatives",
        default=None,
        help="the negative pool (lea negatives; default: DATA_DIR/negatives.parquet); SNQN and SA2C",
    )
    p.add_argument("--out-dir", required=True, help="the run folder")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a rec setting, e.g. --set max_steps=200 (repeatable)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="tqdm progress bar (default: when stderr is a TTY)",
    )


def main(args: argparse.Namespace) -> int:
    from lea.rl.train import run

    settings = parse_settings(args.settings)
    settings.setdefault("rec", {})
    for kv in args.set:
        key, _, val = kv.partition("=")
        try:
            settings["rec"][key] = json.loads(val)
        except json.JSONDecodeError:
            settings["rec"][key] = val
    variant = parse_settings(args.variant)
    progress = args.progress
    if progress is None:
        import sys

        progress = sys.stderr.isatty()
    m = run(
        settings,
        variant,
        args.backbone,
        args.framework,
        args.seed,
        args.data_dir,
        args.out_dir,
        args.le_states,
        args.le_rewards,
        args.le_augment,
        progress=progress,
        negatives=args.negatives,
    )
    t = m["test"]
    print(
        f"{args.backbone}/{args.framework}/{m['variant']}/seed{args.seed} [{m['selection']}, step "
        f"{m['selected_step']}/{m['steps']}, {m['wall_time_s']:.1f}s on {m['device']}] test "
        + " ".join(f"{k}={v:.4f}" for k, v in t.items())
    )
    return 0
