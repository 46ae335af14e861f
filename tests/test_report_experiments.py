"""The `experiments` config section: rows of each table, generated sweep/ablation variants, reference errors."""

from __future__ import annotations

import pytest

import lea.report.experiments as ex
from lea.config import load_config, variant_settings
from lea.errors import ConfigError


@pytest.fixture()
def full():
    cfg = load_config(["config/config.yaml"])
    ex.add_generated_variants(cfg)
    return cfg


@pytest.fixture()
def demo():
    cfg = load_config(["config/demo.yaml"])
    ex.add_generated_variants(cfg)
    return cfg


def _keys(cfg, name):
    return [(r["backbone"], r["framework"], r["variant"]) for r in ex.rows(cfg, name)]


def test_table2_rows_follow_the_paper(full):
    rows = _keys(full, "table2")
    assert len(rows) == 20  # per backbone: Normal, SNQN + 3, SA2C + 4 (LEAS'R is SA2C only)
    assert [r for r in rows if r[1] == "normal"] == [("sasrec", "normal", "base"), ("gru", "normal", "base")]
    assert ("sasrec", "snqn", "LEASprimeR") not in rows and ("gru", "sa2c", "LEASprimeR") in rows
    assert ex.datasets(full, "table2") == ["lfm", "industry"]
    assert ex.datasets(full, "table5") == ["lfm"]


def test_table3_rows(full):
    assert _keys(full, "table3") == [
        ("sasrec", "normal", "base"),
        ("sasrec", "normal", "sv"),
        ("sasrec", "sa2c", "base"),
        ("sasrec", "sa2c", "sv"),
        ("sasrec", "sa2c", "q"),
        ("sasrec", "sa2c", "svq"),
    ]


def test_sweeps_generate_variants_and_reuse_the_default_point(full):
    rows = ex.rows(full, "fig4a")
    assert [r["variant"] for r in rows] == [
        "LEASR_wah0.01",
        "LEASR_wah0.05",
        "LEASR",
        "LEASR_wah0.2",
        "LEASR_wah0.5",
        "LEASR_wah1",
    ]
    assert [r["x"] for r in rows] == [0.01, 0.05, 0.1, 0.2, 0.5, 1.0]
    v = variant_settings(full, "LEASR_wah0.2", "sa2c")
    assert v["w_ah"] == 0.2 and v["w_aq"] == 0.01 and v["state"] == "le+h" and v["reward"] == "le"
    fig5a = ex.rows(full, "fig5a")
    assert [r["x"] for r in fig5a] == [0.05, 0.1, 0.2, 0.5, 1.0]
    assert variant_settings(full, "LEASR_frac0.05", "sa2c")["le"] == "frac0.05"
    assert [r["variant"] for r in ex.rows(full, "fig5b")] == [
        "LEASR",
        "LES",
        "LEASR_frac0.1-IT",
        "LES_frac0.1-SM",
        "LEASR_frac0.1-llama2",
    ]
    assert variant_settings(full, "LES_frac0.1-SM", "sa2c")["state"] == "le+h"


def test_demo_enables_every_target_with_fewer_points(demo, full):
    for name in ex.TARGETS:
        assert ex.datasets(demo, name) == ["demo"], name
    assert len(ex.rows(demo, "fig4a")) == 2
    assert len(ex.all_runs(demo)) < len(ex.all_runs(full)) / 2


def test_disabled_target_and_unknown_le_setting():
    cfg = load_config(["config/demo.yaml"], {"experiments": {"fig4a": {"enabled": False}}})
    assert ex.datasets(cfg, "fig4a") == []
    cfg = load_config(["config/demo.yaml"])
    cfg["experiments"]["fig5a"]["sweep"]["values"] = ["frac0.3"]
    with pytest.raises(ConfigError, match=r"experiments.fig5a.sweep.values.0.*'frac0.3' is not a key of le.settings"):
        ex.add_generated_variants(cfg)


def test_schema_rejects_unknown_experiment_keys():
    with pytest.raises(ConfigError, match="experiments"):
        load_config(["config/demo.yaml"], {"experiments": {"table9": {}}})


def test_unknown_variant_or_dataset_names_the_key():
    cfg = load_config(["config/demo.yaml"])
    cfg["experiments"]["table4"]["variants"].append("LEAX")
    with pytest.raises(ConfigError, match=r"experiments.table4.variants.4.*'LEAX' is not a key of variants"):
        ex.add_generated_variants(cfg)
    cfg = load_config(["config/demo.yaml"])
    cfg["experiments"]["table5"]["datasets"] = ["lfm2"]
    with pytest.raises(ConfigError, match=r"experiments.table5.datasets.0"):
        ex.add_generated_variants(cfg)


def test_rows_record_the_le_replicates_their_seeds_read():
    cfg = load_config(["config/demo.yaml"], {"seeds": [0, 1, 2], "le": {"replicates": 2}})
    ex.add_generated_variants(cfg)
    reps = {(r["framework"], r["variant"]): r["le_replicates"] for r in ex.rows(cfg, "table2")}
    assert reps[("sa2c", "base")] == 0 and reps[("normal", "base")] == 0  # no LE: seeds only
    assert reps[("sa2c", "LEASR")] == 2  # seeds 0, 1, 2 read replicates 0, 1, 0
    one = load_config(["config/demo.yaml"])
    ex.add_generated_variants(one)
    assert {r["le_replicates"] for r in ex.rows(one, "table2") if r["variant"] != "base"} == {1}
    with pytest.raises(ConfigError, match="replicates"):
        load_config(["config/demo.yaml"], {"le": {"settings": {"rep1": {"fraction": 0.1}}}})
    # an LE setting with its own replicates: 1 (the -SM ablation here): its rows' runs read that one replicate
    own = load_config(["config/demo.yaml"], {"seeds": [0, 1, 2], "le": {"replicates": 2, "settings": {
        "frac0.1-SM": {"fraction": 0.1, "state_loss": False, "replicates": 1}}}})  # fmt: skip
    ex.add_generated_variants(own)
    reps = {r["variant"]: r["le_replicates"] for r in ex.rows(own, "fig5b", "demo")}
    assert reps == {"LEASR": 2, "LES": 2, "LEASR_frac0.1-IT": 2, "LES_frac0.1-SM": 1}


def test_an_le_sweep_or_ablation_needs_one_default_le_on_its_own_datasets(repo):
    """Figure 5a's LE sweep and 5b's ablations are built around their datasets' default LE: a point equal to it reads
    the base variant's runs. With two datasets of different defaults (datasets.<name>.le_default) in one experiment
    the points would mix LEs, so the config is refused, naming the key. Narrowed to one dataset (experiments.<x>.
    datasets) it is accepted, around that dataset's own default, whatever the other enabled datasets read."""
    demo = load_config([repo / "config/demo.yaml"])["datasets"]["demo"]
    over = {"datasets": {"demo2": {**demo, "le_default": "frac0.05"}}, "datasets_enabled": ["demo", "demo2"]}
    cfg = load_config([repo / "config/demo.yaml"], over)
    with pytest.raises(ConfigError, match=r"experiments\.fig5a\.sweep\.param.*'demo' reads 'frac0\.1', 'demo2'"):
        ex.add_generated_variants(cfg)
    cfg = load_config([repo / "config/demo.yaml"], {**over, "experiments": {"fig5a": {"enabled": False}}})
    with pytest.raises(ConfigError, match=r"experiments\.fig5b\.ablations\.0\.le"):
        ex.add_generated_variants(cfg)
    # fig4a's w_ah sweep names no LE: the datasets' defaults may differ
    assert ex._generated(cfg, "fig4a", cfg["experiments"]["fig4a"])[0]["name"] == "LEASR"

    on_demo2 = {"fig5a": {"datasets": ["demo2"]}, "fig5b": {"datasets": ["demo2"]}}
    cfg = load_config([repo / "config/demo.yaml"], {**over, "experiments": on_demo2})
    gen = ex.add_generated_variants(cfg)
    # demo2's default is frac0.05: that point is LEASR's own runs, frac0.1 a generated variant
    pts = {p["value"]: p for p in ex._generated(cfg, "fig5a", cfg["experiments"]["fig5a"])}
    assert pts["frac0.05"]["name"] == "LEASR" and pts["frac0.05"]["overrides"] == {}
    assert pts["frac0.1"]["name"] == "LEASR_frac0.1" and gen["LEASR_frac0.1"]["le"] == "frac0.1"
    assert variant_settings(cfg, "LEASR", "sa2c", "demo2")["le"] == "frac0.05"
    assert gen["LES_frac0.1-SM"]["le"] == "frac0.1-SM" and gen["LEASR_frac0.1-IT"]["le"] == "frac0.1-IT"
    runs = ex.all_runs(cfg)
    assert ("demo2", "sasrec", "sa2c", "LEASR_frac0.1") in runs
    assert not any(d == "demo" and v.startswith(("LEASR_frac", "LES_frac")) for d, _, _, v in runs)
    # a dataset of the experiment that is not enabled does not count
    cfg = load_config([repo / "config/demo.yaml"], {**over, "datasets_enabled": ["demo2"]})
    assert "LEASR_frac0.1" in ex.add_generated_variants(cfg)
