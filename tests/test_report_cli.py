"""`lea report` and `lea summary` end to end on fake run directories (in-process, no Snakemake)."""

from __future__ import annotations

import json

import polars as pl
from report_fakes import write_run

from lea.cli import main as lea


def _rows(tmp_path, variants, xs=None):
    rows = []
    for i, v in enumerate(variants):
        runs = []
        for s in range(2):
            d = tmp_path / "runs" / v / f"seed{s}"
            write_run(d, [1 + (i + s + j) % 25 for j in range(60)])
            runs.append(str(d))
        rows.append(
            {
                "backbone": "sasrec",
                "framework": "sa2c",
                "variant": v,
                "label": v,
                "group": "sasrec/sa2c",
                "x": None if xs is None else xs[i],
                "point": None if xs is None else f"w_ah={xs[i]}",
                "runs": runs,
            }
        )
    return rows


def test_report_table_and_figures(tmp_path):
    spec = {
        "name": "table4",
        "dataset": "demo",
        "paper_dataset": None,
        "dataset_note": "demo data",
        "rows": _rows(tmp_path, ["base", "LER", "LEA", "LEAR"]),
    }
    out = tmp_path / "out"
    rc = lea(
        [
            "report",
            "table",
            "--spec",
            json.dumps(spec),
            "--out-md",
            str(out / "t4.md"),
            "--out-csv",
            str(out / "t4.csv"),
        ]
    )
    assert rc == 0
    csv = pl.read_csv(out / "t4.csv")
    assert csv.height == 4 and {"hr@5_mean", "hr@5_std", "hr@5_paper", "hr@5_diff", "hr@5_mark"} <= set(csv.columns)
    assert "Table 4" in (out / "t4.md").read_text()

    sweep = {
        "name": "fig4a",
        "dataset": "demo",
        "dataset_note": "demo",
        "rows": _rows(tmp_path, ["LEASR_wah0.05", "LEASR", "LEASR_wah0.5"], xs=[0.05, 0.1, 0.5]),
    }
    assert (
        lea(
            [
                "report",
                "figure",
                "--spec",
                json.dumps(sweep),
                "--out-png",
                str(out / "f.png"),
                "--out-md",
                str(out / "f.md"),
                "--out-csv",
                str(out / "f.csv"),
            ]
        )
        == 0
    )
    assert (out / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert "no numbers in the text" in (out / "f.md").read_text()

    bars = {"name": "fig5b", "dataset": "demo", "dataset_note": "demo", "rows": _rows(tmp_path, ["LEASR", "LES"])}
    assert (
        lea(
            [
                "report",
                "figure",
                "--spec",
                json.dumps(bars),
                "--out-png",
                str(out / "b.png"),
                "--out-md",
                str(out / "b.md"),
                "--out-csv",
                str(out / "b.csv"),
            ]
        )
        == 0
    )
    assert (out / "b.png").stat().st_size > 1000


def test_report_missing_run_is_a_clear_error(tmp_path, capsys):
    spec = {
        "name": "table4",
        "dataset": "demo",
        "dataset_note": "",
        "rows": [{"backbone": "sasrec", "framework": "sa2c", "variant": "base", "runs": [str(tmp_path / "gone")]}],
    }
    rc = lea(
        [
            "report",
            "table",
            "--spec",
            json.dumps(spec),
            "--out-md",
            str(tmp_path / "t.md"),
            "--out-csv",
            str(tmp_path / "t.csv"),
        ]
    )
    assert rc == 1
    assert "gone/metrics.json is missing: run the 'train' stage" in capsys.readouterr().err
    assert not (tmp_path / "t.md").exists()


def test_loss_curves_runtimes_and_summary(tmp_path, capsys):
    log = tmp_path / "train_log.csv"
    log.write_text("step,loss,valid_ndcg@10\n0,5.0,\n100,3.0,0.1\n200,2.5,0.12\n")
    spec = {"logs": [{"path": str(log), "label": "run"}, {"path": str(tmp_path / "no.csv"), "optional": True}]}
    assert lea(["report", "loss-curves", "--spec", json.dumps(spec), "--out-png", str(tmp_path / "l.png")]) == 0
    assert (tmp_path / "l.png").exists()

    res = tmp_path / "results"
    for job, secs in (
        ("preprocess/demo", 2.0),
        ("train/demo/sasrec/sa2c/base/seed0", 10.0),
        ("train/demo/sasrec/sa2c/base/seed1", 14.0),
    ):
        p = res / "benchmarks" / f"{job}.tsv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"s\th:m:s\tmax_rss\tmax_vms\n{secs}\t0:00:{int(secs):02d}\t100.5\t200\n")
    assert (
        lea(
            [
                "report",
                "runtimes",
                "--benchmarks",
                str(res / "benchmarks"),
                "--out-md",
                str(tmp_path / "r.md"),
                "--out-csv",
                str(tmp_path / "r.csv"),
            ]
        )
        == 0
    )
    md = (tmp_path / "r.md").read_text()
    assert "| train | 2 | 24.0 | 12.0 | 14.0 | 100 |" in md
    assert "| **all** | 3 | 26.0 |" in md

    (res / "demo" / "tables").mkdir(parents=True)
    (res / "demo" / "tables" / "table2.md").write_text("# Table 2: fake\n")
    capsys.readouterr()
    assert lea(["summary", "--configfile", "config/demo.yaml", "--results-dir", str(res)]) == 0
    printed = capsys.readouterr().out
    assert "# Table 2: fake" in printed and "not built yet" in printed and "| preprocess | 1 | 2.0 |" in printed
