"""benchmarks/run_all.py (`make bench`): finds every bench_*.py, gives each its quick arguments, and reads the
ratios out of what the benchmarks print (tables with an "x <baseline>" column, JSON ``speedup`` keys)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import run_all

TABLE = """data: /tmp/x  items=5814 train transitions=56927
backbone framework   trans/s x gru/normal  epoch s
gru      normal          468         1.00    121.7
sasrec   sa2c            194         0.41    293.9  (target < 60 s)
backbone eval        cases/s    x argsort   test s
gru      full-rank      3061         5.90     2.27  (target < 10 s)
"""


def test_table_columns_and_json_speedups(tmp_path):
    assert run_all.ratios(TABLE) == [
        "gru normal: x gru/normal = 1.00",
        "sasrec sa2c: x gru/normal = 0.41",
        "gru full-rank: x argsort = 5.90",
    ]
    lines = '{"items": 8, "iterations": 2, "speedup": 10.7}\n{"rows": 51, "speedup": 8.59, "kv_ratio": 2.0}\n'
    assert run_all.ratios(lines) == ["speedup = 10.70", "speedup = 8.59", "kv_ratio = 2.00"]
    out = tmp_path / "res.json"  # the --out file names each section; it replaces the printed lines
    out.write_text(json.dumps({"device": "cpu", "item_tokens": {"speedup": 10.7}, "states": {"speedup": 8.59}}))
    assert run_all.ratios(lines, out) == ["item_tokens.speedup = 10.70", "states.speedup = 8.59"]


def test_every_benchmark_is_found_with_quick_arguments(tmp_path):
    benches = sorted(run_all.HERE.glob("bench_*.py"))
    assert {b.stem for b in benches} >= {"bench_le", "bench_rec"}
    assert "--steps" in run_all.quick_args(run_all.HERE / "bench_rec.py")
    new = tmp_path / "bench_new.py"  # a benchmark run_all does not know declares its own quick mode
    new.write_text('QUICK_ARGS = ["--n", 3]\n')
    assert run_all.quick_args(new) == ["--n", "3"]
    (tmp_path / "bench_plain.py").write_text("print(1)\n")
    assert run_all.quick_args(tmp_path / "bench_plain.py") == []
