"""The ``experiments`` config section: which runs each table and figure of the paper needs.

One entry per target (``table1`` .. ``table5``, ``fig4a``, ``fig4b``, ``fig5a``, ``fig5b``)::

    table2: {datasets: null, backbones: [sasrec, gru], frameworks: [normal, snqn, sa2c],
             variants: [base, LEAR, LEAS, LEASR, LEASprimeR]}
    fig4a:  {datasets: [lfm], backbones: [sasrec], frameworks: [sa2c],
             sweep: {variant: LEASR, param: w_ah, values: [0.01, 0.05, 0.1, 0.2, 0.5]}}
    fig5b:  {..., variants: [LEASR, LES],
             ablations: [{label: "-IT", variant: LEASR, le: frac0.1-IT}, {label: "-SM", variant: LES, le: frac0.1-SM}]}

The rows of a table are the product backbones x frameworks x variants, keeping the pairs a variant applies to
(``variants.<v>.frameworks`` and the normal framework's rule), so Table 2's Normal block holds only ``base``.
Sweep points and ablations become *generated variants* (``LEASR_wah0.2``, ``LEASR_frac0.05``, ``LES_frac0.1-SM``)
added to ``config["variants"]`` by :func:`add_generated_variants`; a sweep value equal to the variant's own
setting reuses the variant's runs. ``datasets: null`` means every enabled dataset; a listed dataset that is not
enabled is skipped. ``enabled: false`` drops the target.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from lea.config import (
    default_le_setting,
    le_replicates_used,
    variant_needs,
    variant_settings,
)
from lea.errors import ConfigError, LeaError

TABLES = ("table1", "table2", "table3", "table4", "table5")
FIGURES = ("fig4a", "fig4b", "fig5a", "fig5b")
TARGETS = TABLES + FIGURES
SWEEP_PARAMS = ("w_ah", "w_aq", "le")


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def sweep_variant_name(variant: str, param: str, value: Any) -> str:
    """``LEASR_wah0.2``, ``LEASR_waq0.05``, ``LEASR_frac0.05`` (the LE setting name itself for ``le``)."""
    if param == "le":
        return f"{variant}_{value}"
    return f"{variant}_{param.replace('_', '')}{_fmt(value)}"


def _resolved(config: Mapping[str, Any], variant: str, dataset: str | None = None) -> dict[str, Any]:
    """A variant's sweepable settings; ``le`` is its own or ``dataset``'s default (``default_le_setting``)."""
    if variant not in config.get("variants", {}):
        raise ConfigError("variants", f"no variant named '{variant}' (have: {', '.join(config.get('variants', {}))})")
    v = dict(config["variants"][variant])
    v.setdefault("w_ah", 0.1)
    v.setdefault("w_aq", 0.01)
    v["le"] = v.get("le") or default_le_setting(config, dataset)
    return v


def _le_dataset(config: Mapping[str, Any], name: str, exp: Mapping[str, Any], key: str) -> str | None:
    """The dataset an experiment's LE sweep or ablation resolves its base variant's LE on: the first of the
    experiment's own enabled datasets (``exp['datasets']``, else every enabled one), None if it has none.

    A sweep point equal to the base's LE reuses the base's runs, and an ablation is named by what it changes, so every
    dataset the experiment runs on must share one default LE setting (``datasets.<d>.le_default``, else
    ``le.default``); datasets outside the experiment may differ. ``key`` names the sweep or ablation in the error.
    """
    mine = _own_datasets(config, exp)
    if not mine:
        return None
    first = default_le_setting(config, mine[0])
    other = next((d for d in mine if default_le_setting(config, d) != first), None)
    if other is not None:
        raise ConfigError(
            key,
            f"an LE sweep or ablation needs one default LE setting on every dataset of experiments.{name}: "
            f"'{mine[0]}' reads '{first}', '{other}' reads '{default_le_setting(config, other)}' "
            f"(datasets.<name>.le_default); narrow experiments.{name}.datasets to datasets with the same one",
        )
    return mine[0]


def _check_le(config: Mapping[str, Any], key: str, le: str) -> None:
    settings = config.get("le", {}).get("settings", {})
    if le not in settings:
        raise ConfigError(key, f"'{le}' is not a key of le.settings (have: {', '.join(settings)})")


def _generated(config: Mapping[str, Any], name: str, exp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The points of a sweep or ablation list: {name, label, x, base, overrides} (name is the run's variant)."""
    points: list[dict[str, Any]] = []
    if exp.get("sweep"):
        sw = exp["sweep"]
        dataset = None
        if sw["param"] == "le":  # the point equal to the base's LE reads the base's runs on each dataset
            dataset = _le_dataset(config, name, exp, f"experiments.{name}.sweep.param")
        base = _resolved(config, sw["variant"], dataset)
        for i, value in enumerate(sw["values"]):
            if sw["param"] == "le":
                _check_le(config, f"experiments.{name}.sweep.values.{i}", value)
            same = base[sw["param"]] == value
            vname = sw["variant"] if same else sweep_variant_name(sw["variant"], sw["param"], value)
            x, label = value, f"{sw['param']}={_fmt(value)}"
            if sw["param"] == "le":
                x = config["le"]["settings"][value].get("fraction", 0.1)
                label = f"LE data {_fmt(100 * x)}% ({value})"
            points.append(
                {
                    "name": vname,
                    "base": sw["variant"],
                    "x": x,
                    "value": value,
                    "label": label,
                    "overrides": {} if same else {sw["param"]: value},
                }
            )
    for i, ab in enumerate(exp.get("ablations", []) or []):
        dataset = None
        if ab.get("le") is not None:  # an ablation equal to the base's LE is the base
            dataset = _le_dataset(config, name, exp, f"experiments.{name}.ablations.{i}.le")
        base = _resolved(config, ab["variant"], dataset)
        overrides = {k: ab[k] for k in ("le", "w_ah", "w_aq") if ab.get(k) is not None and ab[k] != base[k]}
        if "le" in overrides:
            _check_le(config, f"experiments.{name}.ablations.{i}.le", overrides["le"])
        suffix = "_".join(_fmt(v) for v in overrides.values())
        vname = ab.get("name") or (f"{ab['variant']}_{suffix}" if overrides else ab["variant"])
        points.append(
            {
                "name": vname,
                "base": ab["variant"],
                "x": None,
                "value": None,
                "label": ab.get("label") or vname,
                "overrides": overrides,
            }
        )
    return points


def generated_variants(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The variant entries every enabled experiment's sweeps and ablations need (not yet in ``variants``)."""
    out: dict[str, dict[str, Any]] = {}
    for name, exp in (config.get("experiments") or {}).items():
        if not exp.get("enabled", True):
            continue
        for p in _generated(config, name, exp):
            if not p["overrides"]:
                continue
            entry = copy.deepcopy(config["variants"][p["base"]])
            entry.update(p["overrides"])
            entry["label"] = f"{entry.get('label') or p['base']} ({p['label']})"
            existing = config.get("variants", {}).get(p["name"])
            if existing is not None and existing != entry and p["name"] not in out:
                continue  # a hand-written variant of that name wins
            out[p["name"]] = entry
    return out


def check(config: Mapping[str, Any]) -> None:
    """Every variant and dataset an experiment names exists; raise ConfigError naming the key otherwise."""
    variants = config.get("variants", {})
    for name, exp in (config.get("experiments") or {}).items():
        refs = [(f"experiments.{name}.variants.{i}", v) for i, v in enumerate(exp.get("variants") or [])]
        if exp.get("sweep"):
            refs.append((f"experiments.{name}.sweep.variant", exp["sweep"]["variant"]))
        refs += [
            (f"experiments.{name}.ablations.{i}.variant", a["variant"])
            for i, a in enumerate(exp.get("ablations") or [])
        ]
        for key, v in refs:
            if v not in variants:
                raise ConfigError(key, f"'{v}' is not a key of variants (have: {', '.join(variants)})")
        for i, d in enumerate(exp.get("datasets") or []):
            if d not in config.get("datasets", {}):
                raise ConfigError(f"experiments.{name}.datasets.{i}", f"'{d}' is not a key of datasets")


def add_generated_variants(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Check the section, add the generated variants to ``config['variants']`` in place (idempotent); return them."""
    check(config)
    gen = generated_variants(config)
    for k, v in gen.items():
        config["variants"].setdefault(k, v)
    return gen


def experiment(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    exps = config.get("experiments") or {}
    if name not in exps:
        raise ConfigError(f"experiments.{name}", f"not configured (have: {', '.join(exps) or 'none'})")
    return exps[name]


def enabled(config: Mapping[str, Any], name: str) -> bool:
    exps = config.get("experiments") or {}
    return name in exps and exps[name].get("enabled", True)


def datasets(config: Mapping[str, Any], name: str) -> list[str]:
    """The enabled datasets a target is built for."""
    return _own_datasets(config, experiment(config, name)) if enabled(config, name) else []


def _own_datasets(config: Mapping[str, Any], exp: Mapping[str, Any]) -> list[str]:
    """The enabled datasets of an experiment entry: its ``datasets``, else every enabled one."""
    wanted = exp.get("datasets")
    on = list(config["datasets_enabled"])
    return on if wanted is None else [d for d in on if d in wanted]


def _applies(config: Mapping[str, Any], variant: str, framework: str) -> bool:
    try:
        variant_settings(config, variant, framework)
    except ConfigError:
        return False
    return True


def row_le_replicates(config: Mapping[str, Any], variant: str, framework: str, dataset: str | None = None) -> int:
    """How many LE replicates a row's runs over ``seeds`` read: 0 for a variant without the LE, else the number of
    distinct ``seed mod R`` of its LE setting on ``dataset`` (what the row's ± covers besides the recommender
    seeds)."""
    v = variant_settings(config, variant, framework, dataset)
    if not any(variant_needs(v).values()):
        return 0
    return le_replicates_used(config, config.get("seeds", [0]), v["le"])


def rows(config: Mapping[str, Any], name: str, dataset: str | None = None) -> list[dict[str, Any]]:
    """The runs of one table or figure, in display order: {backbone, framework, variant, label, group, x, point,
    le_replicates} (``le_replicates``: see :func:`row_le_replicates`, on ``dataset``; the runs themselves are the
    same on every dataset).

    Requires the generated variants to be in ``config['variants']`` (see :func:`add_generated_variants`).
    """
    exp = experiment(config, name)
    points = _generated(config, name, exp)
    variants = list(exp.get("variants", []) or [])
    out: list[dict[str, Any]] = []
    for backbone in exp.get("backbones", []):
        for framework in exp.get("frameworks", []):
            entries = [{"name": v, "x": None, "point": None} for v in variants]
            entries += [{"name": p["name"], "x": p["x"], "point": p["label"]} for p in points]
            seen: set[str] = set()
            for e in entries:
                if e["name"] in seen and e["x"] is None:
                    continue
                if e["name"] not in config.get("variants", {}):
                    raise LeaError(
                        f"experiments.{name}: variant '{e['name']}' is not defined (call add_generated_variants first)"
                    )
                if not _applies(config, e["name"], framework):
                    continue
                seen.add(e["name"])
                label = config["variants"][e["name"]].get("label") or ""
                out.append(
                    {
                        "backbone": backbone,
                        "framework": framework,
                        "variant": e["name"],
                        "label": label,
                        "group": f"{backbone}/{framework}",
                        "x": e["x"],
                        "point": e["point"],
                        "le_replicates": row_le_replicates(config, e["name"], framework, dataset),
                    }
                )
    return out


def all_runs(config: Mapping[str, Any]) -> set[tuple[str, str, str, str]]:
    """(dataset, backbone, framework, variant) of every run the enabled tables and figures need."""
    runs: set[tuple[str, str, str, str]] = set()
    for name in TARGETS:
        if name == "table1" or not enabled(config, name):
            continue
        for d in datasets(config, name):
            runs |= {(d, r["backbone"], r["framework"], r["variant"]) for r in rows(config, name)}
    return runs
