"""``lea summary``: print the claims table, the results tables of a config and the wall time of each pipeline stage.

Stage times come from the ``benchmark:`` TSVs Snakemake writes under ``results/benchmarks/<rule>/...tsv``
(column ``s``: wall-clock seconds of the job); a stage is the first folder under ``benchmarks/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from lea.errors import InputError


def _of_datasets(rel: Path, datasets: set[str] | None) -> bool:
    """Whether a benchmark file (``<stage>/<dataset>[/...|_name].tsv``) belongs to one of ``datasets``."""
    if datasets is None or len(rel.parts) < 2:
        return True
    head = Path(rel.parts[1]).stem if len(rel.parts) == 2 else rel.parts[1]
    return any(head == d or head.startswith(f"{d}_") for d in datasets)


def benchmark_jobs(bench_dir: str | Path, datasets: set[str] | None = None) -> pl.DataFrame:
    """One row per benchmark TSV: stage, job (the file's path under the stage), seconds, max_rss (MB).

    ``datasets`` keeps only the jobs of those datasets (the fetch rules, which belong to none, are always kept).
    """
    root = Path(bench_dir)
    rows = []
    for path in sorted(root.rglob("*.tsv")) if root.is_dir() else []:
        rel = path.relative_to(root)
        if not _of_datasets(rel, datasets):
            continue
        stage = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        job = str(rel.with_suffix(""))
        try:
            df = pl.read_csv(path, separator="\t", infer_schema_length=None, null_values=["NA", "-"])
        except Exception as exc:
            raise InputError(path, f"not a readable benchmark TSV ({exc.__class__.__name__}: {exc})") from None
        if "s" not in df.columns or df.height == 0:
            raise InputError(path, "column 's' (wall seconds) is missing or the file is empty")
        rss = df["max_rss"].cast(pl.Float64, strict=False).max() if "max_rss" in df.columns else None
        rows.append({"stage": stage, "job": job, "seconds": float(df["s"].cast(pl.Float64).mean()), "max_rss_mb": rss})
    schema = {"stage": pl.Utf8, "job": pl.Utf8, "seconds": pl.Float64, "max_rss_mb": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def stage_times(jobs: pl.DataFrame) -> pl.DataFrame:
    """Per stage: jobs, total / mean / max seconds, in order of total time."""
    return (
        jobs.group_by("stage")
        .agg(
            pl.len().alias("jobs"),
            pl.col("seconds").sum().alias("total_s"),
            pl.col("seconds").mean().alias("mean_s"),
            pl.col("seconds").max().alias("max_s"),
            pl.col("max_rss_mb").max().alias("max_rss_mb"),
        )
        .sort("total_s", descending=True)
    )


def stage_markdown(stages: pl.DataFrame) -> str:
    lines = ["| stage | jobs | total (s) | mean (s) | max (s) | max RSS (MB) |", "|---|---|---|---|---|---|"]
    for r in stages.iter_rows(named=True):
        rss = "–" if r["max_rss_mb"] is None else f"{r['max_rss_mb']:.0f}"
        times = f"{r['total_s']:.1f} | {r['mean_s']:.1f} | {r['max_s']:.1f}"
        lines.append(f"| {r['stage']} | {r['jobs']} | {times} | {rss} |")
    total = stages["total_s"].sum() if stages.height else 0.0
    lines.append(f"| **all** | {stages['jobs'].sum() if stages.height else 0} | {total:.1f} | | | |")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configfile",
        action="append",
        default=[],
        help="config file(s), as given to snakemake (default: config/config.yaml)",
    )
    parser.add_argument("--results-dir", help="override the config's results_dir")


def main(args: argparse.Namespace) -> int:
    from lea.config import load_config
    from lea.report.experiments import TARGETS, datasets, enabled

    config = load_config(args.configfile or ["config/config.yaml"])
    res = Path(args.results_dir or config["results_dir"])
    missing = []
    from lea.report.claims import datasets as claims_datasets

    claims_md = res / "tables" / "claims.md"
    if claims_md.exists():  # the verdict first: the tables it rests on follow
        print(claims_md.read_text())
    elif claims_datasets(config):
        missing.append(str(claims_md))
    for name in TARGETS:
        if not enabled(config, name):
            continue
        ds_list = config["datasets_enabled"] if name == "table1" else datasets(config, name)
        for d in ds_list:
            folder = "tables" if name.startswith("table") else "figures"
            md = res / d / folder / f"{name}.md"
            if not md.exists():
                missing.append(str(md))
                continue
            print(md.read_text())
            if folder == "figures":
                print(f"(plot: {md.with_suffix('.png')})\n")
    for d in config["datasets_enabled"]:
        for q in (res / d / "tables" / "le_quality.md", res / d / "tables" / "augment.md"):
            if q.exists():
                print(q.read_text())
    if missing:
        print("not built yet: " + ", ".join(missing) + "\n")
    jobs = benchmark_jobs(res / "benchmarks", set(config["datasets_enabled"]))
    print(f"# Wall time per stage of {', '.join(config['datasets_enabled'])} (from {res / 'benchmarks'})\n")
    if jobs.height == 0:
        print("no benchmark files yet (they appear once the workflow has run)")
    else:
        print(stage_markdown(stage_times(jobs)))
    return 0
