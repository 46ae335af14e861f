# Functions of the LLM-environment rules (workflow/rules/le.smk); included before the rule files.


def llm_files(llm):
    """What a stage loading the LLM needs: the converted HF folder for GGUF LLMs, nothing for hub ids / folders."""
    s = llm_settings(llm)
    return [f"{RESOURCES}/llm/{llm}/hf/config.json"] if s.get("gguf_file") else []


def llm_load_settings(llm):
    """The loading options stages get: a GGUF LLM is read from its converted folder (0.35 s instead of ~12 s)."""
    s = dict(llm_settings(llm))
    if s.get("gguf_file"):
        s.update(path=f"{RESOURCES}/llm/{llm}/hf", gguf_file=None)
    return s


def le_domain(dataset):
    return dataset_settings(dataset)["domain"]


def le_stage_settings(dataset, le, precompute=True):
    """Everything `lea fit-le` (precompute=False) / `lea le-precompute` need from the config for one LE setting. The
    fit reads no precompute setting, and its params leave them out: a precompute switch must not make Snakemake
    (rerun trigger params) fit the LE again."""
    s = {k: v for k, v in le_setting(le).items() if k != "replicates"}  # how many copies: not one copy's setting
    out = {
        "llm": llm_load_settings(s["llm"]),
        "le": s,
        "finetune": leacfg.finetune_settings(config, le),
        "history": config["le"]["history"],
        "domain": le_domain(dataset),
    }
    if precompute:
        out["precompute"] = config["precompute"]
    return out


def le_item_tokens(wildcards):
    """Item tokens an LE setting needs, of its replicate (none for the -IT ablation: item titles as text)."""
    if not le_setting(wildcards.le)["item_tokens"]:
        return []
    d = item_tokens_dir(wildcards.dataset, le_llm(wildcards.le), rep_index(wildcards.rep))
    return [f"{d}/item_tokens.safetensors"]


def le_item_tokens_arg(wildcards):
    return " ".join(f"--item-tokens {f}" for f in le_item_tokens(wildcards))


def le_model_files(dataset, le, r=0):
    d = le_dir(dataset, le, r)
    return {"adapter": f"{d}/adapter/adapter_config.json", "score_head": f"{d}/score_head.safetensors"}


def check_le_llm(wildcards):
    if le_llm(wildcards.le) != wildcards.llm:
        raise ValueError(f"LE setting '{wildcards.le}' uses LLM '{le_llm(wildcards.le)}', not '{wildcards.llm}'")
    return []


def precompute_inputs(wildcards):
    files = [data_files(wildcards.dataset)[k] for k in ("item_table", "interactions", "splits")]
    files += le_item_tokens(wildcards) + llm_files(le_llm(wildcards.le))
    files += list(le_model_files(wildcards.dataset, wildcards.le, rep_index(wildcards.rep)).values())
    return files + check_le_llm(wildcards)


def precompute_shell(kind, extra=""):
    return (
        f"{{params.gpu_slot}} {{resources.gpu}} lea le-precompute --kind {kind} --settings {{params.settings:q}} --data-dir {{params.data_dir}} {{params.tokens}}"
        f" --le-dir {{params.le_dir}} --shard {{wildcards.shard}} --shards {{params.shards}}{extra}"
        " --seed {params.seed} --threads {threads} --out {output} > {log} 2>&1"
    )


def shards_of(pattern):
    return lambda w: expand(pattern, shard=range(config["precompute"]["shards"]), **w)

