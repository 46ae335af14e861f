"""Run every benchmarks/bench_*.py in a small quick mode and print the ratios each one measures (`make bench`).

    python benchmarks/run_all.py                            # all benchmarks, quick mode
    python benchmarks/run_all.py --only bench_rec --full    # one benchmark with its own defaults

Quick mode passes each benchmark the arguments of QUICK below, or, for a benchmark not listed there, the list in its
own module-level ``QUICK_ARGS = [...]`` (read without importing it), else none. In those arguments ``{llm}`` and
``{data}`` name an LLM folder and a data folder: the demo's SmolLM2 (resources/llm/smollm2/hf) and data
(results/demo/data) when `make demo` has made them, otherwise a random-weight tiny Llama and a small synthetic
dataset written to a temporary folder (speed ratios of a tiny model say little about a 7B one: the runner says
which it used); ``{out}`` names a JSON file the benchmark writes, read back for its ratios. Quick mode checks that
the benchmarks run and gives a first look at their ratios; it is not a measurement (benchmarks/bench_le_gpu.sh and
the benchmarks' own defaults are). Ratios are what the benchmarks report: a JSON key named ``speedup`` or
``*_ratio``, or a table column headed ``x <baseline>``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEMO_LLM = REPO / "resources" / "llm" / "smollm2" / "hf"
DEMO_DATA = REPO / "results" / "demo" / "data"

QUICK: dict[str, list[str]] = {
    "bench_rec": ["--steps", "10", "--threads", "1"],
    "bench_le": [
        "--llm",
        "{llm}",
        "--data-dir",
        "{data}",
        "--prefix-text",
        "{prefix}",
        "--dtype",
        "fp32",
        "--items",
        "8",
        "--iterations",
        "2",
        "--train-steps",
        "2",
        "--sequences",
        "6",
        "--batch-size",
        "8",
        "--threads",
        "1",
        "--out",
        "{out}",
    ],
}


def quick_args(bench: Path) -> list[str]:
    if bench.stem in QUICK:
        return QUICK[bench.stem]
    for node in ast.parse(bench.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "QUICK_ARGS" for t in node.targets):
            return [str(a) for a in ast.literal_eval(node.value)]
    return []


def inputs(tmp: Path) -> dict[str, str]:
    """The LLM and data folders quick mode fills into ``{llm}`` / ``{data}`` (the demo's, else tiny ones)."""
    if (DEMO_LLM / "config.json").exists() and (DEMO_DATA / "items.parquet").exists():
        return {"llm": str(DEMO_LLM), "data": str(DEMO_DATA), "prefix": "<|im_start|>", "what": "the demo's"}
    sys.path.insert(0, str(REPO / "tests"))
    from test_env_fixtures import make_tiny_llm

    from lea.rl.synthetic import successor_dataset

    llm = make_tiny_llm(tmp / "tiny_llm")
    successor_dataset(tmp / "data", n_items=40, n_seq=80, min_len=3, max_len=10, noise=0.5)
    return {
        "llm": str(llm),
        "data": str(tmp / "data"),
        "prefix": "[BOS]",
        "what": "a random-weight tiny Llama and synthetic data (run `make demo` first for SmolLM2)",
    }


def ratios(output: str, result: Path | None = None) -> list[str]:
    """The ratios a benchmark printed: JSON ``speedup`` / ``*_ratio`` keys (of its ``--out`` file when it wrote one,
    which names each section, else of the JSON lines it printed) and ``x <baseline>`` table columns."""
    found: list[str] = []
    from_file = result is not None and result.exists()

    def walk(obj: object, path: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                key = f"{path}.{k}" if path else str(k)
                ratio = k == "speedup" or k.endswith("_ratio") or k.startswith("ratio")
                if isinstance(v, int | float) and not isinstance(v, bool) and ratio:
                    found.append(f"{key} = {v:.2f}")
                else:
                    walk(v, key)

    # a table column "x <baseline>" is right-aligned under its header: a row's value ends where the label ends
    ends: list[tuple[str, int]] = []
    for line in output.splitlines():
        if line.lstrip().startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):  # a line that only starts like JSON
                if not from_file:
                    walk(json.loads(line), "")
            ends = []
            continue
        labels = [(m.group(0), m.end()) for m in re.finditer(r"(?<!\S)x \S+", line)]
        if labels:
            ends = labels
            continue
        cells = line.split()
        if not ends or len(cells) < 3:
            ends = []
            continue
        for label, end in ends:
            before = line[:end].split()
            if before and re.fullmatch(r"[-+0-9.eE]+", before[-1]):
                found.append(f"{' '.join(cells[:2])}: {label} = {before[-1]}")
    if from_file:
        walk(json.loads(result.read_text()), "")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="benchmark names (bench_rec ...); default: all")
    ap.add_argument("--full", action="store_true", help="the benchmarks' own defaults instead of quick mode")
    args = ap.parse_args()
    benches = sorted(HERE.glob("bench_*.py"))
    if args.only:
        benches = [b for b in benches if b.stem in args.only]
        if not benches:
            print(f"no benchmark named {args.only} in {HERE}", file=sys.stderr)
            return 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    summary: list[tuple[str, int, float, list[str]]] = []
    with tempfile.TemporaryDirectory(prefix="lea-bench-") as tmp:
        fill: dict[str, str] | None = None
        for bench in benches:
            extra = [] if args.full else quick_args(bench)
            if any(k in a for a in extra for k in ("{llm}", "{data}", "{prefix}")) and fill is None:
                fill = inputs(Path(tmp))
                print(f"quick mode LLM and data: {fill['what']}", flush=True)
            out = Path(tmp) / f"{bench.stem}.json"
            wrote_out = any("{out}" in a for a in extra)
            extra = [a.format(**(fill or {}), out=out) for a in extra]
            cmd = [sys.executable, str(bench), *extra]
            print(f"\n== {bench.name} {' '.join(extra)}", flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            print(proc.stdout, end="", flush=True)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
            summary.append((bench.name, proc.returncode, wall, ratios(proc.stdout, out if wrote_out else None)))
    print("\n== ratios" + ("" if args.full else " (quick mode: small sizes, a first look, not a measurement)"))
    for name, rc, wall, found in summary:
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        print(f"{name}: {status}, {wall:.0f} s wall")
        for r in found or ["(no ratio printed)"]:
            print(f"  {r}")
    return 1 if any(rc for _, rc, _, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
