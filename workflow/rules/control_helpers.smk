# Helpers of control.smk (functions and params only; rules stay in control.smk, as --lint asks).

CONTROL_DIR = f"{RES}/{{dataset}}/le/{{env}}/{{le}}"


def control_stage_settings(le, precompute=True):
    """Everything `lea control-fit` (precompute=False: it reads none, so a precompute switch does not refit it) /
    `lea control-precompute` need from the config for one LE setting."""
    out = {
        "le": le_setting(le),
        "finetune": leacfg.finetune_settings(config, le),
        "control": leacfg.control_settings(config, le),
        "history": config["le"]["history"],
    }
    if precompute:
        out["precompute"] = config["precompute"]
    return out


def check_le_env(wildcards):
    if le_setting(wildcards.le)["env"] != wildcards.env:
        raise ValueError(f"LE setting '{wildcards.le}' has env '{le_setting(wildcards.le)['env']}', not '{wildcards.env}'")
    return []


def control_inputs(wildcards):
    files = [data_files(wildcards.dataset)[k] for k in ("item_table", "interactions", "splits")]
    return files + [f"{le_dir(wildcards.dataset, wildcards.le)}/model.safetensors"] + check_le_env(wildcards)


CONTROL_PARAMS = dict(
    settings=lambda w: as_json(control_stage_settings(w.le)),
    data_dir=lambda w: data_dir(w.dataset),
    model=lambda w: f"{le_dir(w.dataset, w.le)}/model.safetensors",
)


def control_shell(kind, extra=""):
    # rewards score the negative pool (negatives.parquet) that the LLM LE's rewards stage and every variant use
    return (
        f"lea control-precompute --kind {kind} --settings {{params.settings:q}} --data-dir {{params.data_dir}}"
        f" --model {{params.model}}{extra} --threads {{threads}} --out {{output}} > {{log}} 2>&1"
    )
