"""Configuration: load, merge and validate against ``workflow/schemas/config.schema.yaml``; resolve per-stage views.

Snakemake validates the same schema with ``snakemake.utils.validate``; this module gives the package and its tests
the same behaviour without Snakemake, and turns the sections into the small dicts the stages take.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lea.errors import ConfigError

CONTROL_ENVS = ("idrec", "oracle", "random")  # le.settings.<name>.env besides "llm" (lea.control)
ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "workflow" / "schemas" / "config.schema.yaml"
VARIANTS_PATH = ROOT / "config" / "variants.yaml"


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict update, as Snakemake merges config files: later files win key by key."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _with_defaults(validator_class: type[jsonschema.protocols.Validator]) -> type[jsonschema.protocols.Validator]:
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def load_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Validate in place (filling defaults) and check cross-references; raise ConfigError naming the key."""
    schema = load_schema()
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    # two passes: defaults first (they can create objects whose own defaults need filling), then errors
    for _ in range(2):
        errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "<top>"
        raise ConfigError(key, _explain(err))
    _check_references(config)
    return config


def _check_overrides(overrides: Mapping[str, Any], schema_path: tuple[str, ...], key: str) -> None:
    """Check a partial override of a schema object (its keys and value types, no defaults filled in)."""
    sub = load_schema()
    for part in schema_path:
        sub = sub["properties"][part]
    props = {k: {kk: vv for kk, vv in v.items() if kk != "default"} for k, v in sub["properties"].items()}
    props.pop("recipe", None)  # a setting's recipe is le.settings.<name>.recipe
    try:
        jsonschema.validate(dict(overrides), {"type": "object", "additionalProperties": False, "properties": props})
    except jsonschema.ValidationError as err:
        raise ConfigError(".".join([key, *map(str, err.absolute_path)]), _explain(err)) from None


def _explain(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return f"unknown key ({err.message})"
    return err.message


def _check_references(config: Mapping[str, Any]) -> None:
    for i, name in enumerate(config["datasets_enabled"]):
        if name not in config["datasets"]:
            raise ConfigError(
                f"datasets_enabled.{i}", f"'{name}' is not a key of datasets ({', '.join(config['datasets'])})"
            )
    llms = config.get("llms", {})
    le = config.get("le", {})
    if llms and le.get("llm") not in llms:
        raise ConfigError("le.llm", f"'{le.get('llm')}' is not a key of llms ({', '.join(llms)})")
    for sname, setting in le.get("settings", {}).items():
        if re.fullmatch(r"rep\d+", sname):
            raise ConfigError(f"le.settings.{sname}", "names rep<N> are the LE replicates' folders; rename it")
        if setting.get("replicates") is not None and setting.get("env", "llm") != "llm":
            raise ConfigError(
                f"le.settings.{sname}.replicates", "a control environment is trained once: replicates apply to LLM LEs"
            )
        if setting.get("llm") is not None and setting["llm"] not in llms:
            raise ConfigError(f"le.settings.{sname}.llm", f"'{setting['llm']}' is not a key of llms")
        if setting.get("finetune"):
            _check_overrides(setting["finetune"], ("le", "finetune"), f"le.settings.{sname}.finetune")
            # -IT (titles as text) has no item tokens to train or rescale: a setting that asks for both is refused
            # here, before anything is planned. One that inherits le.finetune's is refused when its LE is built
            # (lea.env.cli), since the -IT setting in config.yaml may never run.
            for key in ("item_token_lr", "item_token_norm"):
                if setting.get("item_tokens") is False and setting["finetune"].get(key) is not None:
                    raise ConfigError(
                        f"le.settings.{sname}.finetune.{key}",
                        "this setting has item_tokens: false (the -IT ablation: titles as text), so it has no item "
                        "tokens to train or rescale",
                    )
    for name in llms:
        if name in CONTROL_ENVS:  # results/{dataset}/le/{llm or env}/{setting}: an LLM of that name would share paths
            raise ConfigError(f"llms.{name}", f"'{name}' names a control environment; rename the LLM")
    env_exp = (config.get("experiments") or {}).get("environments") or {}
    for i, name in enumerate(env_exp.get("envs") or []):
        if name not in le.get("settings", {}):
            raise ConfigError(f"experiments.environments.envs.{i}", f"'{name}' is not a key of le.settings")
    if le.get("default") is not None and le["default"] not in le.get("settings", {}):
        raise ConfigError("le.default", f"'{le['default']}' is not a key of le.settings")
    for vname, variant in config.get("variants", {}).items():
        if variant.get("le") is not None and variant["le"] not in le.get("settings", {}):
            raise ConfigError(f"variants.{vname}.le", f"'{variant['le']}' is not a key of le.settings")
    schema: dict[str, Any] | None = None
    for dname, ds in config["datasets"].items():
        split = ds.get("split", {})
        total = split.get("train", 0.8) + split.get("valid", 0.1) + split.get("test", 0.1)
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"datasets.{dname}.split", f"train + valid + test must be 1, got {total:g}")
        if ("rec" in ds or "item_tokens" in ds) and schema is None:
            schema = load_schema()  # once, and only for a dataset with overrides (validate runs at every start)
        if "rec" in ds:
            _validate_overrides(ds["rec"], schema["$defs"]["rec"], f"datasets.{dname}.rec")
        if ds.get("le_default") is not None and ds["le_default"] not in le.get("settings", {}):
            raise ConfigError(f"datasets.{dname}.le_default", f"'{ds['le_default']}' is not a key of le.settings")
        if "item_tokens" in ds:
            it_schema = schema["properties"]["le"]["properties"]["item_tokens"]
            _validate_overrides(ds["item_tokens"], it_schema, f"datasets.{dname}.item_tokens")
        k_pool = config.get("precompute", {}).get("negatives", 1)
        k_step = {**config.get("rec", {}), **ds.get("rec", {})}.get("negatives", 1)
        if k_step > k_pool:
            raise ConfigError(
                f"datasets.{dname}.rec.negatives" if "negatives" in ds.get("rec", {}) else "rec.negatives",
                f"{k_step} negatives per step need a pool of at least {k_step} "
                f"per transition (precompute.negatives is {k_pool})",
            )


def _validate_overrides(value: Any, schema: Mapping[str, Any], where: str) -> None:
    """A dataset's overrides of a global section, against that section's schema without its defaults (an override
    names only what it changes); the error names the key under ``where``."""
    bare = {
        **schema,
        "properties": {k: {kk: vv for kk, vv in v.items() if kk != "default"} for k, v in schema["properties"].items()},
    }
    try:
        jsonschema.validate(value, bare)
    except jsonschema.ValidationError as err:
        raise ConfigError(".".join([where, *map(str, err.absolute_path)]), _explain(err)) from None


def load_config(paths: Iterable[str | Path], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Load the variant table, then each YAML file in order, then overrides; validate; return the config."""
    config: dict[str, Any] = yaml.safe_load(VARIANTS_PATH.read_text())
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise ConfigError("<configfile>", f"{path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError("<configfile>", f"{path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError("<configfile>", f"{path} must hold a mapping at top level")
        config = deep_merge(config, loaded)
    if overrides:
        config = deep_merge(config, overrides)
    return validate(config)


def dataset_settings(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The dataset's section with its ``rec`` merged over the global ``rec`` defaults."""
    if dataset not in config["datasets"]:
        raise ConfigError("datasets", f"no dataset named '{dataset}' (have: {', '.join(config['datasets'])})")
    ds = copy.deepcopy(config["datasets"][dataset])
    ds["rec"] = deep_merge(config.get("rec", {}), ds.get("rec", {}))
    ds["name"] = dataset
    return ds


# The LE recipes (le.recipe, or le.settings.<name>.recipe), expanded into le.finetune's individual switches; a switch
# set explicitly in le.finetune wins over its recipe. ``paper`` is section 3.2-3.4 as written: L_rm (Eq. 1) + L_sm
# (Eq. 2 with raw dot products, every batch action j, 1/B), r^e as the score head gives it, and the augmentation item
# read as "the item with the highest label score" (section 3.4). ``extended`` adds our switches (docs/departures.md).
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {
        "augment_task": False,
        "choice_rotations": False,
        "choice_reward_prior": False,
        "label_calibration": False,
        "reward_anchor": None,
        "state_scale": "none",
        "state_same_item": "keep",
        "state_negatives": "batch",
    },
    "extended": {
        "augment_task": True,
        "choice_rotations": True,
        "choice_reward_prior": True,
        "label_calibration": True,
        "reward_anchor": 1.0,
        "state_scale": "inv_sqrt_d",
        "state_same_item": "drop",
        "state_negatives": "batch",
    },
}


def with_recipe(finetune: Mapping[str, Any], recipe: str = "paper") -> dict[str, Any]:
    """le.finetune with the recipe's switches filled in where it does not set them itself."""
    if recipe not in RECIPES:
        raise ConfigError("le.recipe", f"unknown recipe '{recipe}' (have: {', '.join(RECIPES)})")
    return {**RECIPES[recipe], **dict(finetune), "recipe": recipe}


def finetune_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The resolved fine-tuning switches of LE setting ``name``: le.finetune, then the setting's own ``finetune``
    overrides, with its recipe (else le.recipe) filling in the recipe switches neither sets."""
    s = le_setting(config, name)
    ft = {k: v for k, v in config["le"].get("finetune", {}).items() if k != "recipe"}
    return with_recipe({**ft, **(s.get("finetune") or {})}, s["recipe"])


def control_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``le.control`` with LE setting ``name``'s own ``control`` overrides (a control environment's recipe)."""
    settings = config["le"]["settings"]
    if name not in settings:
        raise ConfigError("le.settings", f"no LE setting named '{name}' (have: {', '.join(settings)})")
    return {**config["le"].get("control", {}), **(settings[name].get("control") or {})}


def le_setting(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An LE setting with its LLM and its recipe resolved (name and loading options)."""
    settings = config["le"]["settings"]
    if name not in settings:
        raise ConfigError("le.settings", f"no LE setting named '{name}' (have: {', '.join(settings)})")
    s = copy.deepcopy(settings[name])
    s.setdefault("fraction", 0.1)
    s.setdefault("state_loss", True)
    s.setdefault("item_tokens", True)
    s.setdefault("env", "llm")
    llm_name = s.get("llm") or config["le"]["llm"]
    s["llm"] = llm_name
    s["recipe"] = s.get("recipe") or config["le"].get("recipe", "paper")
    s["name"] = name
    return s


def le_replicates(config: Mapping[str, Any], le: str | None = None) -> int:
    """R: how many times the LE chain of setting ``le`` runs, each with its own seed: the setting's own
    ``replicates`` (ours, e.g. one replicate for an ablation LE, for cost), else ``le.replicates``; 1 for a control
    environment."""
    setting = (config.get("le", {}).get("settings", {}).get(le) or {}) if le is not None else {}
    if setting.get("env", "llm") != "llm":
        return 1  # a control environment is trained once (control.smk), at seeds[0]
    own = setting.get("replicates")
    return int(own if own is not None else config.get("le", {}).get("replicates", 1))


def le_replicate_of(config: Mapping[str, Any], seed: int, le: str | None = None) -> int:
    """The replicate of LE setting ``le`` a recommender run of ``seed`` reads: seed mod R (``le_replicates``)."""
    return int(seed) % le_replicates(config, le)


def le_replicate_seed(config: Mapping[str, Any], replicate: int) -> int:
    """The seed of LE replicate r (item tokens, LE fit, precompute, warm-up): seeds[0] + r (replicate 0: seeds[0])."""
    return int(config["seeds"][0]) + int(replicate)


def le_replicates_used(config: Mapping[str, Any], seeds: Iterable[int], le: str | None = None) -> int:
    """How many distinct replicates of LE setting ``le`` the runs of ``seeds`` read (what a table's ± over them
    covers)."""
    return len({le_replicate_of(config, s, le) for s in seeds})


def default_le_setting(config: Mapping[str, Any], dataset: str | None = None) -> str:
    """The LE setting of a variant that names none: the dataset's ``le_default`` (on ``dataset``), else
    ``le.default``, else the first of ``le.settings``."""
    if dataset is not None:
        own = (config["datasets"].get(dataset) or {}).get("le_default")
        if own:
            return str(own)
    return config["le"].get("default") or next(iter(config["le"]["settings"]))


def item_tokens_settings(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """``le.item_tokens`` with the dataset's own ``item_tokens`` overrides (each catalogue its own recipe)."""
    own = (config["datasets"].get(dataset) or {}).get("item_tokens") or {}
    return {**config["le"]["item_tokens"], **own}


def variant_settings(
    config: Mapping[str, Any], variant: str, framework: str, dataset: str | None = None
) -> dict[str, Any]:
    """A variant's switches for one framework; raises ConfigError if the variant does not apply to it. A variant
    without an ``le`` of its own reads ``dataset``'s default LE setting (``default_le_setting``); without a dataset,
    ``le.default``."""
    variants = config.get("variants", {})
    if variant not in variants:
        raise ConfigError("variants", f"no variant named '{variant}' (have: {', '.join(variants)})")
    v = copy.deepcopy(variants[variant])
    allowed = v.pop("frameworks", None)
    if allowed is not None and framework not in allowed:
        raise ConfigError(
            f"variants.{variant}.frameworks", f"variant '{variant}' is defined for {allowed}, not '{framework}'"
        )
    v.setdefault("state", "h")
    v.setdefault("reward", "fixed")
    v.setdefault("augment", "none")
    v.setdefault("w_ah", 0.1)
    v.setdefault("w_aq", 0.01)
    v["le"] = v.get("le") or default_le_setting(config, dataset)
    v.setdefault("label", variant)
    if framework == "normal" and (v["state"] != "h" or v["reward"] != "fixed" or v["augment"] in ("q", "sv+q")):
        raise ConfigError(f"variants.{variant}", "the normal framework has no Q-head: only augment 'sv' applies")
    v["name"] = variant
    v["framework"] = framework
    return v


def run_variant(config: Mapping[str, Any], variant: str, framework: str) -> str:
    """The variant whose run folder serves ``variant`` under ``framework``: the first variant of ``variants`` with the
    same switches (``variant_settings`` less its name and label), so that one configuration trains once. Table 4's LEA
    and Table 3's sv+q are the same configuration (augment sv+q, fixed reward, state h): one run serves both rows.
    A name that is not a variant (a wildcard pattern) comes back unchanged."""
    variants = config.get("variants", {})
    if variant not in variants:
        return variant

    def switches(name: str) -> dict[str, Any] | None:
        try:
            v = variant_settings(config, name, framework)
        except ConfigError:
            return None
        return {k: x for k, x in v.items() if k not in ("name", "label")}

    want = switches(variant)
    for name in variants:
        if name == variant or switches(name) == want:
            return name
    return variant


def variant_needs(v: Mapping[str, Any]) -> dict[str, bool]:
    """Which LE precomputes a variant reads: states, rewards, augmentation."""
    return {
        "states": v["state"] in ("le+h", "le"),
        "rewards": v["reward"] == "le",
        "augment": v["augment"] != "none",
    }


def config_hash(obj: Any) -> str:
    """A short stable hash of a JSON-able object (recorded next to every result)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]
