"""The claims table (lea.report.claims, issue 15): the plan from a config, verdicts from fake run folders in the
train rule's contract (metrics.json + ranks.parquet), Holm's adjustment by hand, and the workflow's report rule."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from report_fakes import write_run
from scipy import stats as sps

from lea.cli import main
from lea.config import load_config
from lea.report import claims
from lea.report.stats import (
    METRICS,
    difference_summary,
    holm,
    margin_test,
    paired_differences,
    paired_p,
    per_case,
    pooled_cases,
    welch_summary,
)

REPO = Path(__file__).resolve().parents[1]
OFF = {"enabled": False}
# Table 4 alone (SASRec SA2C: base, LER, LEA, LEAR) and the environments table with the oracle beside the LLM LE
TABLE4_ONLY = {
    "le": {"settings": {"frac0.1": {"fraction": 0.1}, "oracle": {"env": "oracle"}}},
    "experiments": {
        **{t: OFF for t in ("table2", "table3", "table5", "fig4a", "fig4b", "fig5a", "fig5b")},
        "table4": {"backbones": ["sasrec"], "frameworks": ["sa2c"], "variants": ["base", "LER", "LEA", "LEAR"]},
        "environments": {"backbones": ["sasrec"], "frameworks": ["sa2c"], "variants": ["LER", "LEA", "LEAR"],
                         "envs": ["frac0.1", "oracle"]},
    },
}  # fmt: skip
N = 60


def _config(override: dict | None = None) -> dict:
    return load_config([REPO / "config" / "demo.yaml"], override if override is not None else TABLE4_ONLY)


def quality(path: Path) -> str:
    q = {
        "transitions": 100,
        "train_transitions": 600,
        "reward": {"pairwise_accuracy": 0.61, "auc": 0.6, "chance": 0.5, "p_value_vs_chance": 0.001},
        "state": {"hr@10": 0.05, "chance": 0.0125, "p_value_vs_chance": 0.02},
        "choice": {"accuracy": 0.3, "chance": 0.2, "p_value_vs_chance": 0.04, "rule": "label"},
    }
    path.mkdir(parents=True, exist_ok=True)
    (path / "le_quality.json").write_text(json.dumps(q))
    return str(path / "le_quality.json")


def _good(seed: int) -> list[int]:
    return [1 + (i + seed) % 2 for i in range(N)]  # ranks 1-2: a hit at every k


def _base(seed: int) -> list[int]:
    return [7 if (i + seed) % 2 else 30 for i in range(N)]  # half hit from k = 10, never at 5


def _bad(seed: int) -> list[int]:
    return [30 + (i + seed) % 3 for i in range(N)]  # never a hit


def _spec(tmp_path: Path, config: dict, ranks: Callable[[str, int], list[int]]) -> dict:
    """The plan of ``config`` with a fake run folder for every run key and seed, ranks from ``ranks(variant, seed)``."""
    plan = claims.plan(config)
    runs = {}
    for k in claims.run_keys(plan):
        d, bb, fw, v = claims.split_key(k)
        runs[k] = [[s, str(write_run(tmp_path / d / bb / fw / v / f"seed{s}", ranks(v, s)))] for s in config["seeds"]]
    q = {f"{d}/{le}": quality(tmp_path / "le" / le) for d, le in claims.quality_keys(plan)}
    return {**plan, "runs": runs, "quality": q}


def _ranks(lear: Callable[[int], list[int]], lea: Callable[[int], list[int]]) -> Callable[[str, int], list[int]]:
    table = {"base": _base, "LER": _good, "LEAR": lear, "LEA": lea}
    return lambda v, s: table[v.split("_")[0]](s)


def _row(df: pl.DataFrame, claim: str) -> dict:
    return df.filter(pl.col("claim") == claim).row(0, named=True)


def test_case_metrics_are_the_stats_metrics() -> None:
    assert claims.CASE_METRICS == METRICS


def test_holm_against_a_hand_computation() -> None:
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    # m = 4 tests: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> kept monotone: 0.06
    got = holm(p)
    assert got[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(got[4])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_difference_summary_is_the_paired_t_test() -> None:
    rng = np.random.default_rng(0)
    n = 50

    def frame(ranks: np.ndarray) -> pl.DataFrame:
        return per_case(
            pl.DataFrame({"split": ["test"] * n, "sequence": pl.Series(range(n), dtype=pl.Int32),
                          "position": pl.Series([1] * n, dtype=pl.Int32), "rank": pl.Series(ranks, dtype=pl.Int32)})
        )  # fmt: skip

    a, b = frame(rng.integers(1, 15, n)), frame(rng.integers(1, 30, n))
    d = paired_differences(a, b, "ndcg@10")["diff"].to_numpy()
    s = difference_summary(d)
    assert s["p"] == pytest.approx(paired_p(pooled_cases([a]), pooled_cases([b]), "ndcg@10")[0])
    half = sps.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n)
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert difference_summary(np.zeros(5))["p"] == 1.0 and difference_summary(np.full(5, 0.2))["p"] == 0.0
    w = welch_summary([0.1, 0.2, 0.3, 0.2], [0.0, 0.1, 0.05, 0.0])
    assert w["p"] == pytest.approx(sps.ttest_ind([0.1, 0.2, 0.3, 0.2], [0.0, 0.1, 0.05, 0.0], equal_var=False).pvalue)


def test_margin_test_within_and_outside_the_band() -> None:
    rng = np.random.default_rng(1)
    small = rng.normal(0.0, 0.05, 400)  # mean ~0, se ~0.0025: well inside a band of 0.05
    p, side = margin_test(small, 0.05)
    assert side == "within" and p < 1e-6
    big = rng.normal(0.2, 0.05, 400)
    p, side = margin_test(big, 0.05)
    assert side == "above" and p < 1e-6
    assert margin_test(small, 0.0) == (1.0, "within")  # no band: never "flat"


def test_plan_not_tested_rows_say_why() -> None:
    plan = claims.plan(_config())
    by = {r["claim"]: r for r in plan["rows"]}
    assert [r["claim"] for r in plan["rows"]] == [c.id for c in claims.CLAIMS]  # one row per claim (one dataset)
    assert by["1"]["parts"][0]["status"] == "untested" and "experiments.table2" in by["1"]["parts"][0]["reason"]
    part = by["5"]["parts"]
    assert [p["status"] for p in part] == ["planned"] * 3
    assert [len(p["cids"]) for p in part] == [6, 4, 1]  # 6 metrics; gain@5 vs @10, @20 for HR and NDCG; LEAR > LEA
    comps = {c["cid"]: c for c in plan["comparisons"]}
    c = comps[part[0]["cids"][0]]
    assert c["a"] == "demo/sasrec/sa2c/LER" and c["b"] == "demo/sasrec/sa2c/base"
    assert c["envs"] == {"oracle": {"a": "demo/sasrec/sa2c/LER_oracle", "b": "demo/sasrec/sa2c/base"}}
    assert by["5"]["le"] == ["frac0.1"]
    assert claims.plan(_config({"experiments": {"claims": {"enabled": False}}}))["rows"] == []


def test_a_clearly_better_agrees_and_the_table_has_its_columns(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _config(), _ranks(lear=_good, lea=_bad))
    df, detail, diag = claims.build(spec)
    r = _row(df, "5")
    assert r["verdict"] == "agrees" and not r["partial"]
    assert (r["n_for"], r["n_comparisons"], r["n_against"]) == (11, 11, 0)
    assert r["le_settings"] == "frac0.1" and "reward acc 0.610" in r["le_diagnostics"]
    assert r["seeds"] == 2 and r["n_pairs"] == 2 * N  # paired by (seed, case)
    assert r["oracle:comparisons"] == 11  # the oracle's LER / LEAR / LEA runs stand in for the LLM LE's
    assert _row(df, "1")["verdict"] == "not tested"
    # every sub-comparison of the table is in the detail, with Holm over all of them
    ok = detail.filter(pl.col("status") == "ok")
    assert ok.height == 11
    assert ok["p_holm"].to_list() == pytest.approx(holm(ok["p"].to_list()))
    lear = detail.filter(pl.col("a") == "demo/sasrec/sa2c/LEAR").row(0, named=True)
    # LEAR at rank 1 or 2, LEA never in the top 10: the NDCG@10 gain is 1 or 1/log2(3) per case
    hand = np.mean([1.0 if (i + s) % 2 == 0 else 1 / math.log2(3) for s in (0, 1) for i in range(N)])
    assert lear["effect"] == pytest.approx(hand) and lear["direction"] == "for"
    assert lear["seeds"] == 2 and lear["seed_p"] == 0.0  # both seeds move by the same amount: a certain shift
    assert len(diag) == 2 and {q["le"] for q in diag} == {"frac0.1", "oracle"}


def test_every_le_replicate_has_its_diagnostics(tmp_path: Path) -> None:
    """le.replicates > 1: the spec's quality_replicates add each LLM LE replicate's diagnostics to the rows and to the
    markdown's diagnostics table; the control environment stays one row."""
    spec = _spec(tmp_path, _config(), _ranks(lear=_good, lea=_bad))
    rep1 = tmp_path / "le" / "rep1" / "frac0.1"
    quality(rep1)
    q1 = json.loads((rep1 / "le_quality.json").read_text())
    q1["reward"]["pairwise_accuracy"] = 0.55
    (rep1 / "le_quality.json").write_text(json.dumps(q1))
    spec["quality_replicates"] = {"demo/frac0.1": {"1": str(rep1 / "le_quality.json")}}
    df, _, diag = claims.build(spec)
    assert sorted((q["le"], q["replicate"]) for q in diag) == [("frac0.1", 0), ("frac0.1", 1), ("oracle", 0)]
    text = _row(df, "5")["le_diagnostics"]
    assert "frac0.1 replicate 0: reward acc 0.610" in text and "frac0.1 replicate 1: reward acc 0.550" in text
    md = claims.to_markdown(df, claims.build(spec)[1], diag, spec)
    assert "| demo | frac0.1 | 1 | llm | 0.550" in md and "| demo | oracle | 0 | oracle | 0.610" in md


def test_identical_is_inconclusive_and_worse_disagrees(tmp_path: Path) -> None:
    same = claims.build(_spec(tmp_path / "same", _config(), _ranks(lear=_bad, lea=_bad)))[0]
    r = _row(same, "5")
    # a compound claim with one failing sub-comparison: 10 of 11 significant, LEAR = LEA shown as least favourable
    assert r["verdict"] == "inconclusive" and (r["n_for"], r["n_comparisons"]) == (10, 11)
    assert r["comparison"] == "SASRec SA2C LEAR > SASRec SA2C LEA" and r["effect"] == 0.0 and r["p"] == 1.0
    worse = claims.build(_spec(tmp_path / "worse", _config(), _ranks(lear=_bad, lea=_good)))[0]
    r = _row(worse, "5")
    assert r["verdict"] == "disagrees" and r["n_against"] == 1 and r["effect"] < 0 and r["p_holm"] < 0.01


def test_missing_runs_are_not_tested(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _config(), _ranks(lear=_good, lea=_bad))
    for _, d in spec["runs"]["demo/sasrec/sa2c/LEA"]:
        (Path(d) / "metrics.json").unlink()
    r = _row(claims.build(spec)[0], "5")
    # parts a and b still stand; part c has no LEA runs: the row is partly tested, the reason names the file
    assert r["partial"] and "runs missing" in r["reason"] and "LEA/seed0/metrics.json" in r["reason"]
    assert r["n_comparisons"] == 10
    detail = claims.build(spec)[1]
    assert detail.filter(pl.col("p_holm").is_not_null()).height == 10  # LEAR > LEA takes no part in Holm's m
    spec["runs"]["demo/sasrec/sa2c/LER"] = []
    spec["runs"]["demo/sasrec/sa2c/LEAR"] = []
    r = _row(claims.build(spec)[0], "5")
    assert r["verdict"] == "not tested" and r["effect"] is None


def test_cli_writes_the_three_files(tmp_path: Path) -> None:
    spec = _spec(tmp_path, _config(), _ranks(lear=_good, lea=_bad))
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = {k: tmp_path / "tables" / f for k, f in (("md", "claims.md"), ("csv", "claims.csv"),
                                                   ("detail", "claims_detail.csv"))}  # fmt: skip
    argv = ["report-claims", "--spec", str(tmp_path / "spec.json"), "--out-md", str(out["md"]),
            "--out-csv", str(out["csv"]), "--out-detail-csv", str(out["detail"])]  # fmt: skip
    assert main(argv) == 0
    text = out["md"].read_text()
    assert "Holm–Bonferroni over all 11 sub-comparisons" in text and "1 agrees" in text
    assert "| 5 | Table 4: LER beats SA2C" in text and "oracle effect (p)" in text
    assert pl.read_csv(out["csv"]).height == len(claims.CLAIMS)
    assert pl.read_csv(out["detail"]).height == 11


def test_report_rule_is_the_first_report_category() -> None:
    """The Snakemake report lists its categories sorted by name (localeCompare): the claims' must come first."""
    text = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    cats = sorted(set(re.findall(r'report\([^)]*?category="([^"]+)"', text, re.S)), key=str.casefold)
    assert cats[0] == "Claims of the paper", cats
    assert "rule report_claims:" in text and "lea report-claims" in text


def test_full_config_plans_every_claim_on_its_paper_datasets() -> None:
    """config/config.yaml: LFM rows test every claim, Industry's those the paper makes there (3's smaller gains)."""
    plan = claims.plan(load_config([REPO / "config" / "config.yaml"]))
    status = {(r["claim"], r["dataset"]): [p["status"] for p in r["parts"]] for r in plan["rows"]}
    assert status[("3", "lfm")] == ["planned", "n/a"] and status[("3", "industry")] == ["n/a", "planned"]
    assert status[("10", "lfm")] == ["planned"] and status[("6", "industry")] == ["n/a", "n/a"]
    assert all("untested" not in s for (c, d), s in status.items() if d == "lfm")


def test_fig5_on_a_dataset_with_its_own_default_le(tmp_path: Path) -> None:
    """Claims 8-9 on one dataset whose default LE (datasets.<name>.le_default) is not le.default, beside a dataset that
    reads le.default: experiments.fig5a/fig5b narrowed to it compare its default LE's LEASR / LES runs with the
    ablation and subset LEs made from that default (as the LFM stand-in's itlr beside Industry's LE)."""
    demo = load_config([REPO / "config" / "demo.yaml"])["datasets"]["demo"]
    alt = {"fraction": 0.1, "recipe": "extended"}
    over = {
        "datasets": {"demo2": {**demo, "le_default": "alt"}},
        "datasets_enabled": ["demo", "demo2"],
        "le": {"replicates": 2,  # the ablation LEs made once (their own replicates: 1)
               "settings": {"alt": alt, "alt0.05": {**alt, "fraction": 0.05},
                            "alt-IT": {**alt, "item_tokens": False, "replicates": 1},
                            "alt-SM": {**alt, "state_loss": False, "replicates": 1}}},
        "experiments": {
            **{t: OFF for t in ("table2", "table3", "table4", "table5", "fig4a", "fig4b")},
            "fig5a": {"datasets": ["demo2"], "backbones": ["sasrec"], "frameworks": ["sa2c"],
                      "sweep": {"variant": "LEASR", "param": "le", "values": ["alt0.05", "alt"]}},
            "fig5b": {"datasets": ["demo2"], "backbones": ["sasrec"], "frameworks": ["sa2c"],
                      "variants": ["LEASR", "LES"],
                      "ablations": [{"label": "-IT", "variant": "LEASR", "le": "alt-IT"},
                                    {"label": "-SM", "variant": "LES", "le": "alt-SM"}]},
        },
    }  # fmt: skip
    config = _config(over)
    good = {"LEASR", "LES"}  # the default LE's rows; the smaller subset and the ablations never hit
    spec = _spec(tmp_path, config, lambda v, s: _good(s) if v in good else _bad(s))
    keys = set(spec["runs"])
    assert {"demo2/sasrec/sa2c/LEASR_alt-IT", "demo2/sasrec/sa2c/LES_alt-SM", "demo2/sasrec/sa2c/LEASR_alt0.05"} <= keys
    assert not any(k.startswith("demo/") for k in keys)  # fig5 is demo2's alone
    df = claims.build(spec)[0]
    r9 = df.filter((pl.col("claim") == "9") & (pl.col("dataset") == "demo2")).row(0, named=True)
    assert r9["verdict"] == "agrees" and r9["n_for"] == r9["n_comparisons"] == 2
    assert "alt" in r9["le_settings"] and r9["n_le_replicates"] == 1  # the fewest of its LEs' replicates
    r8 = df.filter((pl.col("claim") == "8") & (pl.col("dataset") == "demo2")).row(0, named=True)
    assert r8["partial"] and r8["n_for"] == 1  # 10% > 5% tested; no subset above 10%: the flat part is not
    assert r8["n_le_replicates"] == 2  # seeds 0 and 1 read both replicates of alt and alt0.05
    assert df.filter((pl.col("claim") == "9") & (pl.col("dataset") == "demo")).row(0, named=True)["verdict"] == (
        "not tested"
    )


def test_workflow_builds_the_claims_table_from_existing_runs(repo: Path, tmp_path: Path, capsys) -> None:
    """The demo config's claims_table target runs report_claims (Snakemake, real shell line) over fake runs, and
    `lea summary` prints the table first."""
    import os
    import random
    import subprocess
    import sys

    cfg = load_config([repo / "config" / "demo.yaml"])
    plan = claims.plan(cfg)
    res = tmp_path / "results"
    rng = random.Random(0)
    for k in claims.run_keys(plan):
        d, bb, fw, v = claims.split_key(k)
        for s in cfg["seeds"]:
            write_run(res / d / "runs" / bb / fw / v / f"seed{s}", [rng.randint(1, 30) for _ in range(20)])
    for d, le in claims.quality_keys(plan):
        env = cfg["le"]["settings"][le].get("env", "llm")
        folder = res / d / "le" / (cfg["le"]["llm"] if env == "llm" else env) / le
        quality(folder)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    cmd = [
        str(bindir / "snakemake"),
        "--nolock",
        "--cores",
        "1",
        "--configfile",
        "config/demo.yaml",
        "--config",
        f"results_dir={res}",
        "--allowed-rules",
        "report_claims",
        "claims_table",
        "--",
        "claims_table",
    ]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    df = pl.read_csv(res / "tables" / "claims.csv")
    assert df.height == len(claims.CLAIMS) and set(df["verdict"]) <= set(claims.VERDICTS)
    assert pl.read_csv(res / "tables" / "claims_detail.csv").height == len(plan["comparisons"])
    assert main(["summary", "--configfile", "config/demo.yaml", "--results-dir", str(res)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"# {claims.TITLE}")
