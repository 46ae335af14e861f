# Report stage: the paper's Tables 1-5 and Figures 4-5 (ours beside the paper's), LE quality, loss curves, run
# times. Which runs each target needs is config `experiments` (lea.report.experiments); logic: lea.report.
# Named targets: claims_table, table1 .. table5, fig4a, fig4b, fig5a, fig5b, le_quality, le_curves, augment_table,
# environments_table, loss_curves, runtimes, results.
import lea.report.experiments as leaexp

report: "../report/workflow.rst"


localrules:
    report_table1,
    report_runtimes,


rule report_claims:
    input:
        claims_inputs,
    output:
        md=f"{RES}/tables/claims.md",
        # category "Claims ..." sorts first among the report's categories (the report sorts them by name)
        csv=report(f"{RES}/tables/claims.csv", caption="../report/claims.rst", category="Claims of the paper",
                   labels={"table": "claims"}),
        detail=f"{RES}/tables/claims_detail.csv",
    log:
        log("report/claims"),
    benchmark:
        bench("report/claims")
    params:
        spec=lambda w: claims_spec_json(),
    shell:
        "lea report-claims --spec {params.spec:q} --out-md {output.md} --out-csv {output.csv}"
        " --out-detail-csv {output.detail} > {log} 2>&1"


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


rule report_le_curve:
    input:
        lambda w: f"{le_dir(w.dataset, w.le)}/learning_curve.csv",
    output:
        report(f"{RES}/{{dataset}}/figures/le_curve_{{le}}.png", caption="../report/le_curve.rst",
               category="LE quality", subcategory="{dataset}",
               labels={"dataset": "{dataset}", "le": "{le}", "figure": "learning curve"}),
    log:
        log("report/{dataset}_le_curve_{le}"),
    benchmark:
        bench("report/{dataset}_le_curve_{le}")
    params:
        title=lambda w: f"LE learning curve: {w.le} on {w.dataset}",
    shell:
        "lea report-le-curve --csv {input} --out-png {output} --title {params.title:q} > {log} 2>&1"


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


rule le_curves:
    """The learning curve of every LLM LE setting of every enabled dataset (replicate 0), runs or not."""
    input:
        [le_curve_png(d, le) for d in DATASETS for le in le_curve_settings(d, list(config["le"]["settings"]))],


rule augment_table:
    input:
        lambda w: [f"{RES}/{d}/tables/augment.md" for d in DATASETS if le_augment_used(d)],


rule loss_curves:
    input:
        [f"{RES}/{d}/figures/loss_curves.png" for d in DATASETS],


rule runtimes:
    input:
        f"{RES}/reports/runtimes.md",


rule claims_table:
    """The claims table over every dataset config experiments.claims enables."""
    input:
        claims_targets(),


rule environments_table:
    """The table "what the environment adds" (config experiments.environments) of every dataset it is enabled on."""
    input:
        [f"{RES}/{d}/tables/environments.md" for d in leaenvs.datasets(config)],
