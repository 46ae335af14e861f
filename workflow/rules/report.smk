# Report stage: the paper's Tables 1-5 and Figures 4-5 (ours beside the paper's), LE quality, loss curves, run
# times. Which runs each target needs is config `experiments` (lea.report.experiments); logic: lea.report.
# Named targets: table1 .. table5, fig4a, fig4b, fig5a, fig5b, le_quality, augment_table, environments_table,
# loss_curves, runtimes, results.
import lea.report.experiments as leaexp

REPORT_TABLES = ["table2", "table3", "table4", "table5"]
REPORT_FIGURES = ["fig4a", "fig4b", "fig5a", "fig5b"]
PAPER_RESULTS = "config/paper_results.yaml"


report: "../report/workflow.rst"


localrules:
    report_table1,
    report_runtimes,


def dataset_note(dataset):
    ds = config["datasets"][dataset]
    where = f"`{dataset}` (reader {ds['reader']}, source {ds['source']})"
    if not ds.get("paper_name"):
        return f"{where} has no counterpart in the paper: the paper columns stay empty."
    return (f"{where} stands in for the paper's {ds['paper_name']} dataset; a different dataset, so only the "
            "trends are comparable, not the numbers.")


def report_rows(name, dataset):
    rows = []
    for r in leaexp.rows(config, name):
        runs = [run_dir(dataset, r["backbone"], r["framework"], r["variant"], s) for s in SEEDS]
        rows.append({**r, "runs": runs})
    return rows


def report_spec(name, dataset):
    return {"name": name, "dataset": dataset, "paper_dataset": config["datasets"][dataset].get("paper_name"),
            "dataset_note": dataset_note(dataset), "rows": report_rows(name, dataset)}


def report_run_files(name, dataset):
    files = []
    for r in report_rows(name, dataset):
        for d in r["runs"]:
            files += [f"{d}/metrics.json", f"{d}/ranks.parquet"]
    return files


def le_settings_used(dataset):
    """LE settings that the enabled experiments' runs on a dataset read."""
    used = []
    for d, _bb, fw, v in sorted(leaexp.all_runs(config)):
        vs = variant_settings(v, fw)
        if d == dataset and any(leacfg.variant_needs(vs).values()) and vs["le"] not in used:
            used.append(vs["le"])
    return used


def le_augment_used(dataset):
    """(LE setting, backbone) pairs whose augment table the enabled experiments' runs on a dataset read."""
    used = []
    for d, bb, fw, v in sorted(leaexp.all_runs(config)):
        vs = variant_settings(v, fw)
        if d == dataset and leacfg.variant_needs(vs)["augment"] and (vs["le"], bb) not in used:
            used.append((vs["le"], bb))
    return used


def augment_entries(dataset):
    """lea.report.augment's entries: each augment table with the warm-up top-5 it chose from (le_augment's input)."""
    inter = data_files(dataset)["interactions"]
    return [{"dataset": dataset, "le": le, "backbone": bb, "augment": le_augment_file(dataset, le, bb),
             "top5": warmup_file(dataset, bb, SEEDS[0]), "interactions": inter}
            for le, bb in le_augment_used(dataset)]


def le_quality_file(dataset, le):
    return f"{le_dir(dataset, le)}/le_quality.json"


def run_label(d):
    """backbone/framework/variant/seedN of a run folder."""
    return "{}/{}/{}/{}".format(*Path(d).parts[-4:])


def loss_curve_runs(dataset):
    """The first seed of the base and the LEASR run of each backbone/framework (where enabled)."""
    runs = sorted(leaexp.all_runs(config))
    keep = [r for r in runs if r[0] == dataset and r[3] in ("base", "LEASR")]
    return [run_dir(d, bb, fw, v, SEEDS[0]) for d, bb, fw, v in keep]


def environments_spec(dataset):
    """lea.report.environments' spec: its rows with the run folders of every seed, and each environment's quality."""
    rows = []
    for r in leaenvs.rows(config):
        b, f = r["backbone"], r["framework"]
        rows.append({**r, "base": [run_dir(dataset, b, f, "base", s) for s in SEEDS],
                     "cells": {le: [run_dir(dataset, b, f, v, s) for s in SEEDS] for le, v in r["cells"].items()}})
    envs = [{"le": le, "env": le_setting(le)["env"], "quality": le_quality_file(dataset, le)}
            for le in leaenvs.section(config)["envs"]]
    return {"dataset": dataset, "envs": envs, "rows": rows}


def environments_inputs(wildcards):
    spec = environments_spec(wildcards.dataset)
    runs = sorted({d for r in spec["rows"] for d in [*r["base"], *sum(r["cells"].values(), [])]})
    return [f"{d}/{f}" for d in runs for f in ("metrics.json", "ranks.parquet")] + [e["quality"] for e in spec["envs"]]


def report_targets():
    """The report files of every enabled table and figure (paths), as all_targets adds them."""
    out = [f"{RES}/{d}/tables/table1.md" for d in leaexp.datasets(config, "table1")]
    out += [f"{RES}/{d}/tables/environments.md" for d in leaenvs.datasets(config)]
    for name in REPORT_TABLES:
        out += [f"{RES}/{d}/tables/{name}.md" for d in leaexp.datasets(config, name)]
    for name in REPORT_FIGURES:
        out += [f"{RES}/{d}/figures/{name}.png" for d in leaexp.datasets(config, name)]
    if leaexp.all_runs(config):
        out += [f"{RES}/{d}/figures/loss_curves.png" for d in DATASETS]
        out += [f"{RES}/{d}/tables/le_quality.md" for d in DATASETS if le_settings_used(d)]
        out += [f"{RES}/{d}/tables/augment.md" for d in DATASETS if le_augment_used(d)]
        out.append(f"{RES}/reports/runtimes.md")
    return out


RUN_PRODUCERS = {"train", "warmup", "fit_le", "le_states", "le_rewards", "le_augment"}


def report_targets_if_runs_exist():
    """all_targets adds the tables and figures once rules make the runs they read (train and the LE rules)."""
    producers = {r.name for r in workflow.rules}
    if RUN_PRODUCERS <= producers:
        return report_targets()
    return [f"{RES}/{d}/tables/table1.md" for d in leaexp.datasets(config, "table1")]


rule report_table1:
    input:
        stats=lambda w: data_files(w.dataset)["stats"],
        paper=PAPER_RESULTS,
    output:
        md=f"{RES}/{{dataset}}/tables/table1.md",
        csv=report(f"{RES}/{{dataset}}/tables/table1.csv", caption="../report/table.rst", category="Tables",
                   subcategory="{dataset}", labels={"dataset": "{dataset}", "table": "table1"}),
    log:
        log("report/{dataset}_table1"),
    benchmark:
        bench("report/{dataset}_table1")
    params:
        spec=lambda w, input: as_json({"entries": [{"dataset": w.dataset, "stats": input.stats,
                                       "paper_dataset": config["datasets"][w.dataset].get("paper_name"),
                                       "dataset_note": dataset_note(w.dataset)}]}),
    shell:
        "lea report table1 --spec {params.spec:q} --paper {input.paper} --out-md {output.md} --out-csv {output.csv}"
        " > {log} 2>&1"


rule report_table:
    input:
        runs=lambda w: report_run_files(w.table, w.dataset),
        paper=PAPER_RESULTS,
    output:
        md=f"{RES}/{{dataset}}/tables/{{table}}.md",
        csv=report(f"{RES}/{{dataset}}/tables/{{table}}.csv", caption="../report/table.rst", category="Tables",
                   subcategory="{dataset}", labels={"dataset": "{dataset}", "table": "{table}"}),
    wildcard_constraints:
        table="table[2-5]",
    log:
        log("report/{dataset}_{table}"),
    benchmark:
        bench("report/{dataset}_{table}")
    params:
        spec=lambda w: as_json(report_spec(w.table, w.dataset)),
    shell:
        "lea report table --spec {params.spec:q} --paper {input.paper} --out-md {output.md} --out-csv {output.csv}"
        " > {log} 2>&1"


rule report_figure:
    input:
        runs=lambda w: report_run_files(w.fig, w.dataset),
        paper=PAPER_RESULTS,
    output:
        png=report(f"{RES}/{{dataset}}/figures/{{fig}}.png", caption="../report/figure.rst", category="Figures",
                   subcategory="{dataset}", labels={"dataset": "{dataset}", "figure": "{fig}"}),
        md=f"{RES}/{{dataset}}/figures/{{fig}}.md",
        csv=f"{RES}/{{dataset}}/figures/{{fig}}.csv",
    wildcard_constraints:
        fig="fig[45][ab]",
    log:
        log("report/{dataset}_{fig}"),
    benchmark:
        bench("report/{dataset}_{fig}")
    params:
        spec=lambda w: as_json(report_spec(w.fig, w.dataset)),
    shell:
        "lea report figure --spec {params.spec:q} --paper {input.paper} --out-png {output.png}"
        " --out-md {output.md} --out-csv {output.csv} > {log} 2>&1"


rule report_le_quality:
    input:
        lambda w: [le_quality_file(w.dataset, le) for le in le_settings_used(w.dataset)],
    output:
        md=f"{RES}/{{dataset}}/tables/le_quality.md",
        csv=report(f"{RES}/{{dataset}}/tables/le_quality.csv", caption="../report/le_quality.rst",
                   category="LE quality", subcategory="{dataset}", labels={"dataset": "{dataset}"}),
    log:
        log("report/{dataset}_le_quality"),
    benchmark:
        bench("report/{dataset}_le_quality")
    params:
        spec=lambda w: as_json({"entries": [{"dataset": w.dataset, "le": le, "path": le_quality_file(w.dataset, le)}
                                            for le in le_settings_used(w.dataset)]}),
    shell:
        "lea report le-quality --spec {params.spec:q} --out-md {output.md} --out-csv {output.csv} > {log} 2>&1"


rule report_augment:
    input:
        lambda w: sorted({e[k] for e in augment_entries(w.dataset) for k in ("augment", "top5", "interactions")}),
    output:
        md=f"{RES}/{{dataset}}/tables/augment.md",
        csv=report(f"{RES}/{{dataset}}/tables/augment.csv", caption="../report/augment.rst",
                   category="LE augmentation", subcategory="{dataset}", labels={"dataset": "{dataset}"}),
    log:
        log("report/{dataset}_augment"),
    benchmark:
        bench("report/{dataset}_augment")
    params:
        spec=lambda w: as_json({"entries": augment_entries(w.dataset)}),
    shell:
        "lea report augment --spec {params.spec:q} --out-md {output.md} --out-csv {output.csv} > {log} 2>&1"


rule report_environments:
    input:
        environments_inputs,
    output:
        md=f"{RES}/{{dataset}}/tables/environments.md",
        csv=report(f"{RES}/{{dataset}}/tables/environments.csv", caption="../report/environments.rst",
                   category="Environments", subcategory="{dataset}", labels={"dataset": "{dataset}"}),
        diagnostics=f"{RES}/{{dataset}}/tables/environments_diagnostics.csv",
    log:
        log("report/{dataset}_environments"),
    benchmark:
        bench("report/{dataset}_environments")
    params:
        spec=lambda w: as_json(environments_spec(w.dataset)),
    shell:
        "lea report-envs --spec {params.spec:q} --out-md {output.md} --out-csv {output.csv}"
        " --out-diagnostics-csv {output.diagnostics} > {log} 2>&1"


rule report_loss_curves:
    input:
        runs=lambda w: [f"{d}/metrics.json" for d in loss_curve_runs(w.dataset)],
        le=lambda w: [le_quality_file(w.dataset, le) for le in le_settings_used(w.dataset)],
    output:
        report(f"{RES}/{{dataset}}/figures/loss_curves.png", caption="../report/loss_curves.rst",
               category="Loss curves", subcategory="{dataset}", labels={"dataset": "{dataset}"}),
    log:
        log("report/{dataset}_loss_curves"),
    benchmark:
        bench("report/{dataset}_loss_curves")
    params:
        spec=lambda w: as_json({
            "title": f"Training curves on {w.dataset} (seed {SEEDS[0]})",
            "logs": [{"path": f"{d}/train_log.csv", "label": run_label(d), "stage": "train",
                      "optional": True} for d in loss_curve_runs(w.dataset)]
            + [{"path": f"{le_dir(w.dataset, le)}/train_log.csv", "label": f"LE fine-tuning {le}",
                "stage": "fit_le", "optional": True} for le in le_settings_used(w.dataset)]}),
    shell:
        "lea report loss-curves --spec {params.spec:q} --out-png {output} > {log} 2>&1"


rule report_runtimes:
    input:
        lambda w: [t for t in report_targets() if not t.endswith("runtimes.md")],
    output:
        md=f"{RES}/reports/runtimes.md",
        csv=report(f"{RES}/reports/runtimes.csv", caption="../report/runtimes.rst", category="Run times"),
    log:
        log("report/runtimes"),
    params:
        bench_dir=f"{RES}/benchmarks",
    shell:
        "lea report runtimes --benchmarks {params.bench_dir} --out-md {output.md} --out-csv {output.csv} > {log} 2>&1"


# Named targets: one table or figure for every dataset it is enabled on, e.g. `snakemake --cores 2 table2`.
for _name in ["table1", *REPORT_TABLES]:

    rule:
        name:
            _name
        input:
            [f"{RES}/{d}/tables/{_name}.md" for d in leaexp.datasets(config, _name)],

for _name in REPORT_FIGURES:

    rule:
        name:
            _name
        input:
            [f"{RES}/{d}/figures/{_name}.png" for d in leaexp.datasets(config, _name)],


rule results:
    input:
        lambda w: report_targets(),


rule le_quality:
    input:
        lambda w: [f"{RES}/{d}/tables/le_quality.md" for d in DATASETS if le_settings_used(d)],


rule augment_table:
    input:
        lambda w: [f"{RES}/{d}/tables/augment.md" for d in DATASETS if le_augment_used(d)],


rule environments_table:
    """The table "what the environment adds" (config experiments.environments) of every dataset it is enabled on."""
    input:
        [f"{RES}/{d}/tables/environments.md" for d in leaenvs.datasets(config)],


rule loss_curves:
    input:
        [f"{RES}/{d}/figures/loss_curves.png" for d in DATASETS],


rule runtimes:
    input:
        f"{RES}/reports/runtimes.md",
