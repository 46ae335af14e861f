"""Item-token speed and quality on the same items, in one run (a benchmark, not a timed test).

Speed: the naive padded loop and the fast exact path (length buckets without padding, the shared prefix's KV cache)
on the same items and iterations: tokens/s (loss tokens after S* per second, forward + backward + Adam), their
ratio and the max abs difference of the final losses; then the fast path with ``--max-tokens`` truncation.

Curve (``--recipe``, repeatable): own-vs-other accuracy (whole sentences, ``--pairs`` random pairs, binomial p-value
against 0.5) after each of ``--eval-at`` iterations for each recipe ``name:init:lr:iterations:max_tokens``
(max_tokens ``all`` = the paper's whole sentence), from one training run per recipe (snapshots).

    python benchmarks/bench_item_tokens.py --llm resources/llm/smollm2/hf --items results/industry/data/items.parquet \
        --n-items 64 --iterations 2 --threads 1 --out bench_item_tokens.json
    python benchmarks/bench_item_tokens.py ... --skip-speed --n-items 200 --pairs 1000 \
        --recipe paper:random:0.005:300:all --eval-at 0,10,30,100,300 --curve-csv curve.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from pathlib import Path

import polars as pl
import torch


def label_tokens(enc: list, max_tokens: int | None) -> int:  # type: ignore[type-arg]
    return sum(min(len(e.ids) - e.slot - 1, max_tokens or 10**9) for e in enc)


def matmul_probe(n: int = 512) -> dict:  # type: ignore[type-arg]
    """GFLOP/s (CPU seconds of this process) of one decoder MLP matmul, forward (x @ W.T) and the input gradient's
    (g @ W), in bf16 and fp32: whether this CPU's bf16 kernels pay (le.item_tokens.dtype)."""
    from lea.llm.item_tokens import cpu_bf16_fast

    g = torch.Generator().manual_seed(0)
    w = torch.randn(1536, 576, generator=g)
    x, gy = torch.randn(n, 576, generator=g), torch.randn(n, 1536, generator=g)
    out: dict = {"cpu_bf16_kernels": cpu_bf16_fast(), "rows": n}  # type: ignore[type-arg]
    for dt in (torch.bfloat16, torch.float32):
        for name, a, b in (("forward", x, w.T), ("input_grad", gy, w)):
            a2, b2 = a.to(dt), b.to(dt)
            torch.mm(a2, b2)
            c0 = time.process_time()
            for _ in range(3):
                torch.mm(a2, b2)
            sec = (time.process_time() - c0) / 3
            out[f"{name}_{str(dt).removeprefix('torch.')}_gflops"] = round(
                2 * n * a.shape[1] * b.shape[1] / sec / 1e9, 1
            )
    return out


def write_csv(rows: list[dict], path: Path) -> None:  # type: ignore[type-arg]
    from lea.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        # every row's keys in order of first appearance (a CSV from before a new column gets it empty)
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        w.writeheader()
        w.writerows(rows)


def parse_recipe(text: str) -> dict:  # type: ignore[type-arg]
    name, init, lr, iters, mt = text.split(":")
    return {
        "name": name,
        "init": init,
        "lr": float(lr),
        "iterations": int(iters),
        "max_tokens": None if mt == "all" else int(mt),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", default="resources/llm/smollm2/hf", help="HF folder")
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--prefix-text", default="<|im_start|>")
    ap.add_argument("--items", required=True, help="items.parquet (the data stage's)")
    ap.add_argument("--n-items", type=int, default=64, help="a seeded random sample of this many items")
    ap.add_argument("--iterations", type=int, default=2, help="speed: iterations per path")
    ap.add_argument("--batch-items", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=32, help="speed: the truncated fast run")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--recipe", action="append", default=[], help="name:init:lr:iterations:max_tokens|all")
    ap.add_argument("--eval-at", default="0,5,10,20,30", help="iterations at which the curve is measured")
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the curve of a recipe too slow for the CPU)")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (eager: 2x faster here on short bf16 rows)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="JSON of everything")
    ap.add_argument("--curve-csv", default=None)
    ap.add_argument(
        "--checkpoint-dir",
        default=None,
        help="resume a recipe's curve midway: its whole state every --checkpoint-every item-batch iterations in "
        "DIR/curve_<name>.pt (deleted once the recipe's rows are in the CSV); a resumed recipe's CPU seconds "
        "are this process's only, so its train_cpu_s is left empty",
    )
    ap.add_argument("--checkpoint-every", type=int, default=25)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from lea.llm.item_tokens import encode_sentences, learn_item_tokens, own_vs_other
    from lea.llm.load import load_llm

    model, tok = load_llm({"path": a.llm, "dtype": a.dtype, "device": a.device, "attn_implementation": a.attn})
    items = pl.read_parquet(a.items).sort("item")
    pick = sorted(random.Random(a.seed).sample(range(items.height), min(a.n_items, items.height)))
    enc = encode_sentences(tok, [items["sentence"][i] for i in pick], a.prefix_text)
    res: dict = {
        "threads": torch.get_num_threads(),
        "device": a.device,
        "dtype": a.dtype,
        "attn_implementation": a.attn,
        "llm": Path(a.llm).name,
        "items": len(enc),
        "item_sample_seed": a.seed,
        "loss_tokens_per_iteration": label_tokens(enc, None),
        "versions": {"torch": torch.__version__},
    }
    res["matmul"] = matmul_probe()
    print(json.dumps(res), flush=True)
    if not a.skip_speed:
        kw = dict(iterations=a.iterations, lr=5e-3, init="random", batch_items=a.batch_items, progress=False)
        speed = {}
        finals = {}
        for name, method, mt in (
            ("naive", "naive", None),
            ("fast", "fast", None),
            ("fast_truncated", "fast", a.max_tokens),
        ):
            c0 = time.process_time()
            _, final, _, wall = learn_item_tokens(model, enc, tok.pad_token_id, method=method, max_tokens=mt, **kw)
            cpu = time.process_time() - c0
            finals[name] = final
            speed[name] = {
                "method": method,
                "max_tokens": mt,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "tokens_per_s": round(label_tokens(enc, mt) * a.iterations / wall, 1),
                "tokens_per_cpu_s": round(label_tokens(enc, mt) * a.iterations / cpu, 1),
                "item_iterations_per_s": round(len(enc) * a.iterations / wall, 2),
            }
            print(json.dumps({name: speed[name]}), flush=True)
        # CPU seconds of this process: on a shared machine they vary less than wall seconds (with 1 thread, the
        # process's CPU time is its compute time; with more threads it is their sum)
        for clock in ("wall_s", "cpu_s"):
            speed[f"fast_vs_naive_ratio_{clock}"] = round(speed["naive"][clock] / speed["fast"][clock], 2)
            speed[f"fast_truncated_vs_naive_item_iterations_ratio_{clock}"] = round(
                speed["naive"][clock] / speed["fast_truncated"][clock], 2
            )
        speed["final_loss_max_abs_diff_fast_vs_naive"] = float((finals["fast"] - finals["naive"]).abs().max())
        res["speed"] = {"iterations": a.iterations, "batch_items": a.batch_items, **speed}
        print(json.dumps(res["speed"]), flush=True)
    rows: list[dict] = []  # type: ignore[type-arg]
    done: set[str] = set()
    if a.curve_csv and Path(a.curve_csv).exists():  # resumable: recipes already in the CSV are not run again
        with open(a.curve_csv, newline="") as f:
            rows = list(csv.DictReader(f))
        done = {row["name"] for row in rows}
        print(json.dumps({"resumed_recipes": sorted(done)}), flush=True)
    eval_at = [int(x) for x in a.eval_at.split(",")]
    for text in a.recipe:
        r = parse_recipe(text)
        if r["name"] in done:
            continue
        snaps = {k: torch.empty(0) for k in eval_at if k <= r["iterations"]}
        ck = Path(a.checkpoint_dir) / f"curve_{r['name']}.pt" if a.checkpoint_dir else None
        if ck is not None:
            ck.parent.mkdir(parents=True, exist_ok=True)
        resume: dict[str, int | None] = {}
        t0, c0 = time.perf_counter(), time.process_time()
        _, _, curve, wall = learn_item_tokens(
            model,
            enc,
            tok.pad_token_id,
            iterations=r["iterations"],
            lr=r["lr"],
            init=r["init"],
            max_tokens=r["max_tokens"],
            batch_items=a.batch_items,
            seed=a.seed,
            snapshots=snaps,
            progress=False,
            checkpoint=ck,
            checkpoint_every=a.checkpoint_every,
            context={"llm": a.llm, "dtype": a.dtype, "device": a.device, "attn": a.attn, "n_items": a.n_items},
            resume=resume,
        )
        resumed = resume["from_step"] is not None  # a checkpoint of other settings is ignored: not a resume
        cpu = None if resumed else time.process_time() - c0
        for k in sorted(snaps):
            d = own_vs_other(model, enc, snaps[k], tok.pad_token_id, a.pairs, seed=a.seed + 1)
            row = {
                **r,
                "max_tokens": r["max_tokens"] if r["max_tokens"] is not None else "all",
                "at_iteration": k,
                "train_loss": curve[k - 1] if k > 0 else None,
                "own_vs_other": d["accuracy"],
                "p_value": d["p_value_vs_chance"],
                "pairs": d["pairs"],
                "mean_nll_own": d["mean_nll_own"],
                "mean_nll_other": d["mean_nll_other"],
                "train_wall_s": round(wall, 1),
                "train_cpu_s": round(cpu, 1) if cpu is not None else None,
                "resumed": resumed,
                "train_tokens_per_s": round(label_tokens(enc, r["max_tokens"]) * r["iterations"] / wall, 1),
                "train_tokens_per_cpu_s": (
                    round(label_tokens(enc, r["max_tokens"]) * r["iterations"] / cpu, 1) if cpu is not None else None
                ),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        if a.curve_csv:  # after each recipe, so a killed run keeps the finished ones
            write_csv(rows, Path(a.curve_csv))
        if ck is not None and ck.exists():  # the recipe's rows are written: its checkpoint is done
            ck.unlink()
        print(
            json.dumps(
                {
                    "recipe": r["name"],
                    "wall_with_eval_s": round(time.perf_counter() - t0, 1),
                    "cpu_with_eval_s": round(time.process_time() - c0, 1),
                }
            ),
            flush=True,
        )
    if rows:
        res["curve"] = rows
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
