"""``lea recommend``: top-k recommendations of a trained run for a history of raw item ids (supervised head only,
paper 3.4 'Inference'). Python: ``load_model(run_dir)`` and ``recommend(run_dir, history, k)``.

    lea recommend --run results/industry/runs/sasrec/sa2c/base/seed0 --history 12,55,78 -k 10
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import torch

from lea.errors import InputError, MissingInputError
from lea.rec.backbones import RecNet


@dataclass
class LoadedModel:
    net: RecNet
    items: pl.DataFrame  # item, raw_id, title
    raw_to_item: dict[str, int]
    window: int


def _items_path(run_dir: Path, meta: dict[str, str], items: str | Path | None) -> Path:
    if items is not None:
        return Path(items)
    cands = [Path(meta["items"])] if "items" in meta else []
    # results/{dataset}/runs/{backbone}/{framework}/{variant}/seed{seed} -> results/{dataset}/data/items.parquet
    cands.append(run_dir.resolve().parents[4] / "data" / "items.parquet")
    for c in cands:
        if c.exists():
            return c
    return cands[0]


def load_model(run_dir: str | Path, items: str | Path | None = None, network: int = 0) -> LoadedModel:
    """Network ``network`` (0: the evaluated one) of a run, from model.safetensors (no pickle)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    run = Path(run_dir)
    path = run / "model.safetensors"
    if not path.exists():
        raise MissingInputError(path, "train")
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != "lea-recnet-1":
        raise InputError(path, "not a lea recommender model (metadata 'format' != lea-recnet-1)")
    net = RecNet(
        meta["backbone"],
        int(meta["n_items"]),
        int(meta["hidden"]),
        int(meta["window"]),
        float(meta["dropout"]),
        meta["state_mode"],
        int(meta["le_dim"]),
    )
    sd = load_file(str(path))
    prefix = f"net{network}."
    net.load_state_dict({k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)})
    net.eval()
    ipath = _items_path(run, meta, items)
    cols = pl.read_parquet_schema(ipath) if ipath.exists() else {}
    if not ipath.exists():
        raise MissingInputError(ipath, "preprocess")
    table = pl.read_parquet(ipath, columns=[c for c in ("item", "raw_id", "title") if c in cols]).sort("item")
    if table.height != net.n_items:
        raise InputError(ipath, f"{table.height} items, the model has {net.n_items}")
    raw_to_item = dict(zip(table["raw_id"].to_list(), table["item"].to_list()))
    return LoadedModel(net, table, raw_to_item, int(meta["window"]))


def recommend(
    run_dir: str | Path | LoadedModel, history: list[str], k: int = 10, items: str | Path | None = None
) -> pl.DataFrame:
    """Top-k items after ``history`` (raw item ids, oldest first): rank, raw_id, item, title, score."""
    m = run_dir if isinstance(run_dir, LoadedModel) else load_model(run_dir, items)
    unknown = [h for h in history if h not in m.raw_to_item]
    if unknown:
        raise InputError("--history", f"unknown item id(s): {', '.join(unknown[:5])} (ids as in the input data)")
    ids = [m.raw_to_item[h] for h in history][-m.window :]
    pad = m.net.n_items
    state = torch.tensor([ids + [pad] * (m.window - len(ids))])
    length = torch.tensor([max(1, len(ids))])
    with torch.no_grad():
        scores = m.net.scores(state, length)[0]
    top = scores.topk(min(k, m.net.n_items))
    idx = top.indices.tolist()
    rows = m.items.filter(pl.col("item").is_in(idx))
    order = pl.DataFrame(
        {"item": idx, "rank": list(range(1, len(idx) + 1)), "score": top.values.tolist()},
        schema={"item": rows.schema["item"], "rank": pl.Int32, "score": pl.Float64},
    )
    return (
        order.join(rows, on="item", how="left")
        .select("rank", "raw_id", "item", *(["title"] if "title" in rows.columns else []), "score")
        .sort("rank")
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="a run folder (holding model.safetensors)")
    p.add_argument("--history", required=True, help="comma-separated raw item ids, oldest first")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--items", default=None, help="items.parquet (default: the run's data folder)")


def main(args: argparse.Namespace) -> int:
    history = [h.strip() for h in args.history.split(",") if h.strip()]
    df = recommend(args.run, history, args.k, args.items)
    for row in df.iter_rows(named=True):
        title = row.get("title") or ""
        print(f"{row['rank']:>3}  {row['raw_id']:<16} {row['score']:8.3f}  {title}")
    return 0
