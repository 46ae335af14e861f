# Functions of the report rules (workflow/rules/report.smk); included before the rule files.


REPORT_TABLES = ["table2", "table3", "table4", "table5"]
REPORT_FIGURES = ["fig4a", "fig4b", "fig5a", "fig5b"]
PAPER_RESULTS = "config/paper_results.yaml"


def dataset_note(dataset):
    ds = config["datasets"][dataset]
    where = f"`{dataset}` (reader {ds['reader']}, source {ds['source']})"
    if not ds.get("paper_name"):
        return f"{where} has no counterpart in the paper: the paper columns stay empty."
    return (f"{where} stands in for the paper's {ds['paper_name']} dataset; a different dataset, so only the "
            "trends are comparable, not the numbers.")


def report_rows(name, dataset):
    rows = []
    for r in leaexp.rows(config, name, dataset):
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
        if d != dataset:
            continue
        vs = variant_settings(v, fw, d)
        if any(leacfg.variant_needs(vs).values()) and vs["le"] not in used:
            used.append(vs["le"])
    return used


def le_augment_used(dataset):
    """(LE setting, backbone) pairs whose augment table the enabled experiments' runs on a dataset read."""
    used = []
    for d, bb, fw, v in sorted(leaexp.all_runs(config)):
        if d != dataset:
            continue
        vs = variant_settings(v, fw, d)
        if leacfg.variant_needs(vs)["augment"] and (vs["le"], bb) not in used:
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


def le_curve_settings(dataset, settings=None):
    """LLM LE settings (of ``settings``, default: those the enabled runs read) whose fit writes a learning curve."""
    names = le_settings_used(dataset) if settings is None else settings
    return [le for le in names
            if le_setting(le)["env"] == "llm" and leacfg.finetune_settings(config, le)["curve_every"] > 0]


def le_curve_png(dataset, le):
    return f"{RES}/{dataset}/figures/le_curve_{le}.png"


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
    for r in leaenvs.rows(config, dataset):
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


CLAIMS_SPEC = {}  # the claims table's spec, resolved once (the input function and the params both need it)


def claims_spec():
    """lea.report.claims' spec: its plan (rows, sub-comparisons as run keys), the run folders of every seed of each
    run key, and the le_quality.json of each LE setting the rows name: replicate 0 in ``quality``, the LLM LEs' other
    replicates that the seeds read (le.replicates > 1) in ``quality_replicates``."""
    if not CLAIMS_SPEC:
        plan = leaclaims.plan(config)
        runs = {k: [[s, run_dir(*leaclaims.split_key(k), s)] for s in SEEDS] for k in leaclaims.run_keys(plan)}
        keys = leaclaims.quality_keys(plan)
        quality = {f"{d}/{le}": le_quality_file(d, le) for d, le in keys}
        reps = {le: sorted({run_replicate(s, le) for s in SEEDS} - {0}) for _, le in keys}
        replicates = {f"{d}/{le}": {str(r): f"{le_dir(d, le, r)}/le_quality.json" for r in reps[le]}
                      for d, le in keys if reps[le] and le_setting(le)["env"] == "llm"}
        CLAIMS_SPEC.update({**plan, "runs": runs, "quality": quality, "quality_replicates": replicates})
    return CLAIMS_SPEC


def claims_spec_json():
    """The spec without spaces: the rule's shell line is one argument, under the kernel's 128 KiB limit on one."""
    return json.dumps(claims_spec(), sort_keys=True, separators=(",", ":"))


def claims_inputs(wildcards):
    spec = claims_spec()
    runs = sorted({d for seeds in spec["runs"].values() for _, d in seeds})
    quality = set(spec["quality"].values()) | {p for reps in spec["quality_replicates"].values() for p in reps.values()}
    return [f"{d}/{f}" for d in runs for f in ("metrics.json", "ranks.parquet")] + sorted(quality)


def claims_targets():
    """The claims table, once the config enables it and some experiment has runs."""
    return [f"{RES}/tables/claims.md"] if leaclaims.datasets(config) and leaexp.all_runs(config) else []


def report_targets():
    """The report files of every enabled table and figure (paths), as all_targets adds them."""
    out = claims_targets()
    out += [f"{RES}/{d}/tables/table1.md" for d in leaexp.datasets(config, "table1")]
    out += [f"{RES}/{d}/tables/environments.md" for d in leaenvs.datasets(config)]
    for name in REPORT_TABLES:
        out += [f"{RES}/{d}/tables/{name}.md" for d in leaexp.datasets(config, name)]
    for name in REPORT_FIGURES:
        out += [f"{RES}/{d}/figures/{name}.png" for d in leaexp.datasets(config, name)]
    if leaexp.all_runs(config):
        out += [f"{RES}/{d}/figures/loss_curves.png" for d in DATASETS]
        out += [f"{RES}/{d}/tables/le_quality.md" for d in DATASETS if le_settings_used(d)]
        out += [le_curve_png(d, le) for d in DATASETS for le in le_curve_settings(d)]
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

