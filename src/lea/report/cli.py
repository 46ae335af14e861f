"""``lea report``: build one table, figure or report panel from a JSON spec the Snakemake rule resolves.

    lea report table     --spec JSON --out-md F.md --out-csv F.csv [--test ttest|wilcoxon]   (tables 2-5)
    lea report table1    --spec JSON --out-md F.md --out-csv F.csv
    lea report figure    --spec JSON --out-png F.png --out-md F.md --out-csv F.csv              (fig4a/4b/5a/5b)
    lea report le-quality  --spec JSON --out-md F.md --out-csv F.csv
    lea report augment   --spec JSON --out-md F.md --out-csv F.csv                          (lea.report.augment)
    lea report loss-curves --spec JSON --out-png F.png
    lea report runtimes  --benchmarks results/benchmarks --out-md F.md --out-csv F.csv

``--spec`` is JSON or the path of a JSON/YAML file; see lea.report.tables for its fields.
"""

from __future__ import annotations

import argparse

from lea.errors import LeaError
from lea.io import atomic_path, write_text

KINDS = ("table", "table1", "figure", "le-quality", "augment", "loss-curves", "runtimes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--spec", help="JSON spec (or a JSON/YAML file)")
    parser.add_argument("--paper", help="the paper's numbers (default: config/paper_results.yaml)")
    parser.add_argument("--test", choices=("ttest", "wilcoxon"), default="ttest", help="paired significance test")
    parser.add_argument("--benchmarks", help="folder of benchmark TSVs (runtimes)")
    parser.add_argument("--out-md")
    parser.add_argument("--out-csv")
    parser.add_argument("--out-png")


def _write_csv(df, path) -> None:  # type: ignore[no-untyped-def]
    with atomic_path(path) as tmp:
        df.write_csv(tmp)


def _need(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is None]
    if missing:
        raise LeaError(f"report {args.kind} needs {', '.join(missing)}")


def main(args: argparse.Namespace) -> int:
    from lea.cli import parse_settings

    if args.kind == "runtimes":
        from lea.report.summary import benchmark_jobs, stage_markdown, stage_times

        _need(args, "benchmarks", "out_md", "out_csv")
        jobs = benchmark_jobs(args.benchmarks)
        _write_csv(jobs, args.out_csv)
        body = stage_markdown(stage_times(jobs)) if jobs.height else "no benchmark files yet\n"
        write_text(
            f"# Run time of each stage\n\nFrom the `benchmark:` files under {args.benchmarks} "
            "(wall seconds of each job, summed per rule).\n\n" + body,
            args.out_md,
        )
        return 0
    _need(args, "spec")
    spec = parse_settings(args.spec)
    from lea.report import tables
    from lea.report.paper import load_paper

    if args.kind == "table":
        _need(args, "out_md", "out_csv")
        df = tables.build(spec, load_paper(args.paper), args.test)
        _write_csv(df, args.out_csv)
        write_text(tables.to_markdown(df, spec, args.test), args.out_md)
    elif args.kind == "figure":
        from lea.report import figures

        _need(args, "out_md", "out_csv", "out_png")
        paper = load_paper(args.paper)
        df = tables.build(spec, None, args.test)
        _write_csv(df, args.out_csv)
        note = f"The paper: {paper.figure_note(spec['name'])}"
        write_text(tables.to_markdown(df, spec, args.test, paper_note=note), args.out_md)
        short = f"dataset: {spec['dataset']}"
        if spec.get("paper_dataset"):
            short += f" (stand-in for the paper's {spec['paper_dataset']})"
        if spec["name"] == "fig5b":
            figures.bars(df, spec["name"], args.out_png, short)
        else:
            figures.sweep(df, spec["name"], args.out_png, short)
    elif args.kind == "table1":
        _need(args, "out_md", "out_csv")
        df = tables.table1(spec["entries"], load_paper(args.paper))
        _write_csv(df, args.out_csv)
        write_text(tables.table1_markdown(df, [e.get("dataset_note", "") for e in spec["entries"]]), args.out_md)
    elif args.kind == "le-quality":
        _need(args, "out_md", "out_csv")
        df = tables.le_quality(spec["entries"])
        _write_csv(df, args.out_csv)
        write_text(
            tables.simple_markdown(df, "LE quality diagnostics (le_quality.json of each LE setting)"), args.out_md
        )
    elif args.kind == "augment":
        from lea.report.augment import augment_markdown, augment_table

        _need(args, "out_md", "out_csv")
        df = augment_table(spec["entries"])
        _write_csv(df, args.out_csv)
        write_text(augment_markdown(df), args.out_md)
    elif args.kind == "loss-curves":
        from lea.report import figures

        _need(args, "out_png")
        figures.loss_curves(spec["logs"], args.out_png, spec.get("title", "Loss curves"))
    return 0
