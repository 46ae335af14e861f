from __future__ import annotations

from pathlib import Path

import pytest

from lea.config import dataset_settings, deep_merge, load_config, run_variant, variant_needs, variant_settings
from lea.errors import ConfigError


def test_both_configs_validate_and_fill_defaults(repo):
    demo = load_config([repo / "config/demo.yaml"])
    full = load_config([repo / "config/config.yaml"])
    assert demo["datasets_enabled"] == ["demo"]
    # defaults from the schema reach nested sections
    assert demo["rec"]["gamma"] == 0.5
    assert full["le"]["item_tokens"]["iterations"] == 300
    assert full["datasets"]["industry"]["filter"]["min_seq_len"] == 3


def test_dataset_rec_overrides_merge_over_global(repo):
    full = load_config([repo / "config/config.yaml"])
    ind = dataset_settings(full, "industry")
    lfm = dataset_settings(full, "lfm")
    assert ind["rec"]["lr"] == 0.002 and lfm["rec"]["lr"] == 0.001  # paper 4.5
    assert ind["rec"]["eval_every"] == 500 and lfm["rec"]["eval_every"] == 1000
    assert ind["rec"]["batch_size"] == 100


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"rec": {"lrr": 1}}, "rec"),
        ({"rec": {"gamma": 1.5}}, "rec.gamma"),
        ({"datasets": {"demo": {"rec": {"lr": -1}}}}, "datasets.demo.rec.lr"),
        ({"datasets": {"demo": {"reader": "csv"}}}, "datasets.demo.reader"),
        ({"datasets_enabled": ["nope"]}, "datasets_enabled.0"),
        ({"le": {"llm": "gpt"}}, "le.llm"),
        ({"datasets": {"demo": {"split": {"train": 0.9}}}}, "datasets.demo.split"),
        ({"rec": {"negatives": 4}}, "rec.negatives"),  # more per step than the pool's precompute.negatives = 3
        ({"datasets": {"demo": {"rec": {"negatives": 5}}}}, "datasets.demo.rec.negatives"),
        ({"le": {"replicates": 0}}, "le.replicates"),
        ({"le": {"default": "nope"}}, "le.default"),
    ],
)
def test_bad_config_names_the_key(repo, override, key):
    with pytest.raises(ConfigError) as err:
        load_config([repo / "config/demo.yaml"], override)
    assert err.value.key == key
    assert f"'{key}'" in str(err.value)


def test_variant_table(repo):
    cfg = load_config([repo / "config/demo.yaml"])
    v = variant_settings(cfg, "LEASR", "sa2c")
    assert (v["state"], v["reward"], v["augment"]) == ("le+h", "le", "sv+q")
    assert v["w_ah"] == 0.1 and v["w_aq"] == 0.01  # paper defaults, Eq. 15
    assert variant_needs(v) == {"states": True, "rewards": True, "augment": True}
    assert variant_needs(variant_settings(cfg, "base", "snqn")) == {"states": False, "rewards": False, "augment": False}
    with pytest.raises(ConfigError, match="LEASprimeR"):
        variant_settings(cfg, "LEASprimeR", "snqn")  # SA2C only (paper 4.3)
    with pytest.raises(ConfigError, match="normal framework"):
        variant_settings(cfg, "LES", "normal")
    assert variant_settings(cfg, "sv", "normal")["augment"] == "sv"  # Table 3: Normal + sv


def test_one_configuration_trains_once(repo):
    cfg = load_config([repo / "config/demo.yaml"])
    # Table 3's sv+q is Table 4's LEA (augment sv+q, fixed reward, state h): its rows read LEA's runs
    assert run_variant(cfg, "svq", "sa2c") == "LEA" and run_variant(cfg, "svq", "snqn") == "LEA"
    assert run_variant(cfg, "LEA", "sa2c") == "LEA"
    for v in ("base", "LEAR", "LEASR", "sv", "q"):
        assert run_variant(cfg, v, "sa2c") == v
    assert run_variant(cfg, "sv", "normal") == "sv"
    assert run_variant(cfg, "{variant}", "{framework}") == "{variant}"  # a rule's wildcard pattern passes through
    # any other switch (a weight, the LE) makes it a configuration of its own
    cfg = load_config([repo / "config/demo.yaml"], {"variants": {"svq": {"w_ah": 0.2}}})
    assert run_variant(cfg, "svq", "sa2c") == "svq"


def test_le_default_is_the_le_of_variants_that_name_none(repo):
    cfg = load_config([repo / "config/demo.yaml"])
    first, *others = cfg["le"]["settings"]
    assert variant_settings(cfg, "LEASR", "sa2c")["le"] == first  # no le.default: the first setting
    cfg = load_config([repo / "config/demo.yaml"], {"le": {"default": others[0]}})
    assert variant_settings(cfg, "LEASR", "sa2c")["le"] == others[0]
    # a variant that names its LE keeps it
    named = {"variants": {"LEASR": {"le": first}}, "le": {"default": others[0]}}
    assert variant_settings(load_config([repo / "config/demo.yaml"], named), "LEASR", "sa2c")["le"] == first


def test_deep_merge_is_recursive_and_pure():
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    out = deep_merge(base, {"a": {"b": 5}, "d": [2]})
    assert out == {"a": {"b": 5, "c": 2}, "d": [2]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1]}


def test_le_recipe_expands_to_switches(repo: Path) -> None:
    """config.yaml is the paper's recipe; a setting may choose another; an explicit le.finetune switch wins."""
    from lea.config import RECIPES, finetune_settings, load_config

    cfg = load_config([repo / "config" / "config.yaml"])
    assert cfg["le"]["recipe"] == "paper"
    ft = finetune_settings(cfg, "frac0.1")
    assert {k: ft[k] for k in RECIPES["paper"]} == RECIPES["paper"] and ft["recipe"] == "paper"
    cfg = load_config(
        [repo / "config" / "config.yaml"],
        {"le": {"finetune": {"reward_anchor": 2.0}, "settings": {"ext": {"fraction": 0.1, "recipe": "extended"}}}},
    )
    ext = finetune_settings(cfg, "ext")
    assert ext["recipe"] == "extended" and ext["augment_task"] and ext["state_scale"] == "inv_sqrt_d"
    assert ext["reward_anchor"] == 2.0 and finetune_settings(cfg, "frac0.1")["reward_anchor"] == 2.0


def test_le_setting_finetune_overrides_apply_to_that_setting_only(repo: Path) -> None:
    """le.settings.<name>.finetune overrides le.finetune for one setting; bad keys and types name the setting."""
    from lea.config import finetune_settings, load_config

    over = {
        "le": {
            "finetune": {"lr": 0.002},
            "settings": {
                "frac0.1": {"fraction": 0.1},
                "clip": {"fraction": 0.1, "finetune": {"max_grad_norm": 1.0, "head_lr": 0.002}},
            },
        }
    }
    cfg = load_config([repo / "config" / "config.yaml"], over)
    clip, plain = finetune_settings(cfg, "clip"), finetune_settings(cfg, "frac0.1")
    assert (clip["max_grad_norm"], clip["head_lr"], clip["lr"]) == (1.0, 0.002, 0.002)
    assert plain["max_grad_norm"] is None and plain["head_lr"] is None
    assert {k: v for k, v in clip.items() if k not in ("max_grad_norm", "head_lr")} == {
        k: v for k, v in plain.items() if k not in ("max_grad_norm", "head_lr")
    }
    for bad, key in (
        ({"max_grad_norm": "one"}, "le.settings.clip.finetune.max_grad_norm"),
        ({"learning_rate": 0.1}, "le.settings.clip.finetune"),
        ({"recipe": "extended"}, "le.settings.clip.finetune"),
    ):
        over["le"]["settings"]["clip"]["finetune"] = bad
        with pytest.raises(ConfigError) as err:
            load_config([repo / "config" / "config.yaml"], over)
        assert err.value.key == key


@pytest.mark.parametrize("key", ["item_token_lr", "item_token_norm"])
def test_an_it_setting_that_trains_item_tokens_is_refused_at_config_time(repo: Path, key: str) -> None:
    """-IT (item_tokens: false) has no item tokens: its own finetune cannot train or rescale them. The same switch
    inherited from le.finetune loads (config.yaml's -IT setting may never run; its LE build refuses it)."""
    own = {"le": {"settings": {"t-IT": {"fraction": 0.1, "item_tokens": False, "finetune": {key: 0.01}}}}}
    with pytest.raises(ConfigError, match="item_tokens: false") as err:
        load_config([repo / "config" / "config.yaml"], own)
    assert err.value.key == f"le.settings.t-IT.finetune.{key}"
    ok = {"le": {"settings": {"t": {"fraction": 0.1, "finetune": {key: 0.01}}}, "finetune": {key: 0.01}}}
    cfg = load_config([repo / "config" / "config.yaml"], ok)
    assert cfg["le"]["settings"]["frac0.1-IT"]["item_tokens"] is False


# the configs each CPU overlay stacks on (its header's command)
OVERLAY_BASES = {
    "ml100k_le_cpu.yaml": ["demo.yaml"],
    "industry_control_cpu.yaml": ["config.yaml", "industry_le_slice_cpu.yaml"],
    "industry_le_recipes_cpu.yaml": ["config.yaml", "industry_le_slice_cpu.yaml"],
    "industry_le_ext_cpu.yaml": ["config.yaml", "industry_le_cpu.yaml"],
    "industry_le_clip_cpu.yaml": ["config.yaml", "industry_le_cpu.yaml"],
    "industry_full_envs_cpu.yaml": ["config.yaml", "industry_le_cpu.yaml", "industry_le_ext_cpu.yaml"],
}


@pytest.mark.parametrize(
    "overlay", sorted(p.name for p in (Path(__file__).parent.parent / "config").glob("*_cpu.yaml")), ids=str
)
def test_cpu_overlays_validate_on_their_bases(repo, overlay: str) -> None:
    bases = OVERLAY_BASES.get(overlay, ["config.yaml"])
    cfg = load_config([repo / "config" / b for b in [*bases, overlay]])
    assert cfg["datasets_enabled"] and all(d in cfg["datasets"] for d in cfg["datasets_enabled"])


def test_industry_le_cpu_is_the_full_stand_in_in_both_recipes(repo) -> None:
    cfg = load_config([repo / "config/config.yaml", repo / "config/industry_le_cpu.yaml"])
    ind = dataset_settings(cfg, "industry")
    assert ind.get("keep_top_items") is None and ind.get("max_sequences") is None  # every product and sequence
    ft = cfg["le"]["finetune"]
    assert ft["epochs"] == 10 and ft["batch_size"] == 20 and ft["max_transitions"] is None  # the paper's schedule
    assert cfg["le"]["recipe"] == "paper"
    paper, ext = cfg["le"]["settings"]["frac0.1"], cfg["le"]["settings"]["ext0.1"]
    assert paper["fraction"] == ext["fraction"] == 0.1
    assert paper["recipe"] is None and ext["recipe"] == "extended"  # None: le.recipe


def test_industry_le_ext_overlay_changes_only_the_epochs_the_curve_and_the_rows(repo) -> None:
    base = load_config([repo / "config/config.yaml", repo / "config/industry_le_cpu.yaml"])
    ext = load_config(
        [repo / "config/config.yaml", repo / "config/industry_le_cpu.yaml", repo / "config/industry_le_ext_cpu.yaml"]
    )
    fb, fe = base["le"]["finetune"], ext["le"]["finetune"]
    assert fe["epochs"] == 4 and fe["curve_every"] == 116 and fe["row_tokens"] == 256  # row_tokens: exact
    changed = ("epochs", "curve_every", "row_tokens")
    assert {k: v for k, v in fb.items() if k not in changed} == {k: v for k, v in fe.items() if k not in changed}
    assert ext["le"]["settings"]["ext0.1"] == base["le"]["settings"]["ext0.1"]
    from lea.config import finetune_settings

    full, top6 = finetune_settings(ext, "ext0.1"), finetune_settings(ext, "ext0.1top6")
    assert top6["lora_top_layers"] == 6 and {**top6, "lora_top_layers": None} == full  # the approximation only
    assert ext["le"]["item_tokens"] == base["le"]["item_tokens"] and ext["results_dir"] == base["results_dir"]


def test_industry_le_clip_overlay_is_the_paper_le_with_clipping_only(repo) -> None:
    from lea.config import finetune_settings

    files = [repo / "config/config.yaml", repo / "config/industry_le_cpu.yaml"]
    base, clip = load_config(files), load_config([*files, repo / "config/industry_le_clip_cpu.yaml"])
    paper, clipped = finetune_settings(base, "frac0.1"), finetune_settings(clip, "clip0.1")
    assert paper["max_grad_norm"] is None and clipped["max_grad_norm"] == 1.0
    assert paper["row_tokens"] == 512 and clipped["row_tokens"] == 256  # an exact speed switch (same function)
    assert paper["micro_batch"] is None and clipped["micro_batch"] == 10  # exact too (memory)
    # same recipe, schedule, lr and switches otherwise
    assert {**clipped, "max_grad_norm": None, "row_tokens": 512, "micro_batch": None} == paper
    assert finetune_settings(clip, "frac0.1") == paper  # the overlay leaves the unclipped LE as it was


def test_an_le_setting_may_have_its_own_replicates(repo):
    """le.settings.<s>.replicates (ours): that setting's R instead of le.replicates; seed s reads replicate s mod R.
    A control environment is trained once: R is 1, and a replicates key on one is refused."""
    from lea.config import le_replicate_of, le_replicates, le_replicates_used

    sm = {"fraction": 0.1, "state_loss": False, "replicates": 1}
    over = {"seeds": [0, 1, 2], "le": {"replicates": 3, "settings": {"frac0.1-SM": sm, "oracle": {"env": "oracle"}}}}
    cfg = load_config([repo / "config/demo.yaml"], over)
    assert le_replicates(cfg) == 3 and le_replicates(cfg, "frac0.1") == 3 and le_replicates(cfg, "frac0.1-SM") == 1
    assert [le_replicate_of(cfg, s, "frac0.1") for s in (0, 1, 2, 4)] == [0, 1, 2, 1]
    assert [le_replicate_of(cfg, s, "frac0.1-SM") for s in (0, 1, 2)] == [0, 0, 0]
    assert le_replicates(cfg, "oracle") == 1 and le_replicates_used(cfg, [0, 1, 2], "oracle") == 1
    assert le_replicates_used(cfg, [0, 1, 2], "frac0.1") == 3
    bad = deep_merge(over, {"le": {"settings": {"oracle": {"env": "oracle", "replicates": 2}}}})
    with pytest.raises(ConfigError, match=r"le\.settings\.oracle\.replicates"):
        load_config([repo / "config/demo.yaml"], bad)
    zero = deep_merge(over, {"le": {"settings": {"frac0.1-SM": {"replicates": 0}}}})
    with pytest.raises(ConfigError, match=r"le\.settings\.frac0\.1-SM\.replicates"):
        load_config([repo / "config/demo.yaml"], zero)


def test_a_dataset_may_name_its_own_default_le_and_item_tokens(repo):
    """datasets.<name>.le_default: the LE of that dataset's variants without an le (an LE that learns on one stand-in
    may not on another); datasets.<name>.item_tokens: that catalogue's own item-token recipe. Bad values name the
    key."""
    from lea.config import default_le_setting, item_tokens_settings

    demo = load_config([repo / "config/demo.yaml"])["datasets"]["demo"]
    over = {"datasets": {"demo2": {**demo, "le_default": "frac0.05", "item_tokens": {"iterations": 3}}},
            "datasets_enabled": ["demo", "demo2"]}  # fmt: skip
    cfg = load_config([repo / "config/demo.yaml"], over)
    assert variant_settings(cfg, "LEASR", "sa2c", "demo2")["le"] == "frac0.05"
    assert variant_settings(cfg, "LEASR", "sa2c", "demo")["le"] == "frac0.1"
    assert variant_settings(cfg, "LEASR", "sa2c")["le"] == "frac0.1"  # no dataset: le.default's
    assert default_le_setting(cfg, "demo2") == "frac0.05" and default_le_setting(cfg, "demo") == "frac0.1"
    named = deep_merge(over, {"variants": {"LEASR": {"le": "frac0.1-SM"}}})  # a variant's own le wins everywhere
    cfg_named = load_config([repo / "config/demo.yaml"], named)
    assert variant_settings(cfg_named, "LEASR", "sa2c", "demo2")["le"] == "frac0.1-SM"
    it, it2 = item_tokens_settings(cfg, "demo"), item_tokens_settings(cfg, "demo2")
    assert it["iterations"] == 8 and it2["iterations"] == 3 and {**it, "iterations": 3} == it2
    for bad, key in (({"le_default": "nope"}, r"datasets\.demo2\.le_default"),
                     ({"item_tokens": {"iterations": 0}}, r"datasets\.demo2\.item_tokens\.iterations"),
                     ({"item_tokens": {"itr": 3}}, r"datasets\.demo2\.item_tokens")):  # fmt: skip
        with pytest.raises(ConfigError, match=key):
            load_config([repo / "config/demo.yaml"], deep_merge(over, {"datasets": {"demo2": bad}}))
