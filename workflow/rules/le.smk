# LLM environment: GGUF -> HF folder, item tokens, LE fine-tuning, precompute shards + gather (logic: lea.llm, lea.env).
# GPU hints are resource defaults a profile can override (e.g. --set-resources item_tokens:gpu=1). threads: 1 by
# default: on a shared 2-core machine two torch threads beside another busy process ran ~20x slower (oversubscribed
# OpenMP spinning); a profile can raise it (--set-threads fit_le=8). Threads and memory
# belong in profiles, never config.


rule llm_convert:
    input:
        lambda w: f"{llm_settings(w.llm)['path']}/{llm_settings(w.llm)['gguf_file']}",
    output:
        f"{RESOURCES}/llm/{{llm}}/hf/config.json",
    log:
        log("llm_convert/{llm}"),
    params:
        settings=lambda w: as_json(llm_convert_settings(w.llm)),
        out_dir=lambda w: f"{RESOURCES}/llm/{w.llm}/hf",
    shell:
        "python -c 'import json, sys; from lea.llm.load import convert; convert(json.loads(sys.argv[1]), sys.argv[2])'"
        " {params.settings:q} {params.out_dir} > {log} 2>&1"


rule item_tokens:
    input:
        item_table=f"{RES}/{{dataset}}/data/items.parquet",
        llm=lambda w: llm_files(w.llm),
    output:
        tokens=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/item_tokens.safetensors",
        table=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/item_tokens.parquet",
        diag=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/item_tokens.json",
        plot=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/item_tokens_loss.png",
    log:
        log("item_tokens/{dataset}/{llm}{rep}"),
    benchmark:
        bench("item_tokens/{dataset}/{llm}{rep}")
    threads: 1
    resources:
        gpu=0,
    params:
        settings=lambda w: as_json({"llm": llm_load_settings(w.llm), "item_tokens": leacfg.item_tokens_settings(config, w.dataset)}),
        out_dir=lambda w: item_tokens_dir(w.dataset, w.llm, rep_index(w.rep)),
        seed=lambda w: le_seed(w.rep),
        gpu_slot=GPU_SLOT,
    shell:
        "{params.gpu_slot} {resources.gpu} lea item-tokens --settings {params.settings:q} --items {input.item_table} --out-dir {params.out_dir}"
        " --seed {params.seed} --threads {threads} > {log} 2>&1"


rule fit_le:
    input:
        data=lambda w: [data_files(w.dataset)[k] for k in ("item_table", "interactions", "splits")],
        tokens=le_item_tokens,
        llm=lambda w: llm_files(le_llm(w.le)),
        check=check_le_llm,
    output:
        adapter=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/adapter/adapter_config.json",
        score_head=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/score_head.safetensors",
        quality=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/le_quality.json",
        train_log=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/train_log.csv",
        curve=f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/learning_curve.csv",
    log:
        log("fit_le/{dataset}/{llm}{rep}/{le}"),
    benchmark:
        bench("fit_le/{dataset}/{llm}{rep}/{le}")
    threads: 1
    resources:
        gpu=0,
    params:
        settings=lambda w: as_json(le_stage_settings(w.dataset, w.le, precompute=False)),
        data_dir=lambda w: data_dir(w.dataset),
        tokens=le_item_tokens_arg,
        out_dir=lambda w: le_dir(w.dataset, w.le, rep_index(w.rep)),
        seed=lambda w: le_seed(w.rep),
        gpu_slot=GPU_SLOT,
    shell:
        "{params.gpu_slot} {resources.gpu} lea fit-le --settings {params.settings:q} --data-dir {params.data_dir} {params.tokens}"
        " --out-dir {params.out_dir} --seed {params.seed} --threads {threads} > {log} 2>&1"


PRECOMPUTE_PARAMS = dict(
    settings=lambda w: as_json(le_stage_settings(w.dataset, w.le)),
    data_dir=lambda w: data_dir(w.dataset),
    tokens=le_item_tokens_arg,
    le_dir=lambda w: le_dir(w.dataset, w.le, rep_index(w.rep)),
    shards=config["precompute"]["shards"],
    gpu_slot=GPU_SLOT,
    seed=lambda w: le_seed(w.rep),
)


rule le_states:
    input:
        precompute_inputs,
    output:
        f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/states/{{shard}}.parquet",
    log:
        log("le_states/{dataset}/{llm}{rep}/{le}/{shard}"),
    benchmark:
        bench("le_states/{dataset}/{llm}{rep}/{le}/{shard}")
    threads: 1
    resources:
        gpu=0,
    params:
        **PRECOMPUTE_PARAMS,
    shell:
        precompute_shell("states")


rule le_rewards:
    input:
        precompute_inputs,
        negatives=lambda w: negatives_file(w.dataset),
    output:
        f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/rewards/{{shard}}.parquet",
    log:
        log("le_rewards/{dataset}/{llm}{rep}/{le}/{shard}"),
    benchmark:
        bench("le_rewards/{dataset}/{llm}{rep}/{le}/{shard}")
    threads: 1
    resources:
        gpu=0,
    params:
        **PRECOMPUTE_PARAMS,
    shell:
        precompute_shell("rewards", " --negatives {input.negatives}")


rule le_augment:
    input:
        precompute_inputs,
        top5=lambda w: warmup_file(w.dataset, w.backbone, le_seed(w.rep)),  # the replicate's warm-up model
    output:
        f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/augment/{{backbone}}/{{shard}}.parquet",
    log:
        log("le_augment/{dataset}/{llm}{rep}/{le}/{backbone}/{shard}"),
    benchmark:
        bench("le_augment/{dataset}/{llm}{rep}/{le}/{backbone}/{shard}")
    threads: 1
    resources:
        gpu=0,
    params:
        **PRECOMPUTE_PARAMS,
    shell:
        precompute_shell("augment", " --top5 {input.top5}")


rule le_gather_states:
    input:
        shards_of(f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/states/{{shard}}.parquet"),
    output:
        f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/states.parquet",
    log:
        log("le_gather/{dataset}/{llm}{rep}/{le}/states"),
    shell:
        "lea gather --out {output} {input} > {log} 2>&1"


rule le_gather_rewards:
    input:
        shards_of(f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/rewards/{{shard}}.parquet"),
    output:
        f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/rewards.parquet",
    log:
        log("le_gather/{dataset}/{llm}{rep}/{le}/rewards"),
    shell:
        "lea gather --out {output} {input} > {log} 2>&1"


rule le_gather_augment:
    input:
        shards_of(f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/augment/{{backbone}}/{{shard}}.parquet"),
    output:
        f"{RES}/{{dataset}}/le/{{llm}}{{rep}}/{{le}}/augment_{{backbone}}.parquet",
    log:
        log("le_gather/{dataset}/{llm}{rep}/{le}/augment_{backbone}"),
    shell:
        "lea gather --out {output} {input} > {log} 2>&1"


rule le:
    """All LE settings of all enabled datasets, every replicate: item tokens, fine-tuned LE, quality."""
    input:
        [
            f"{le_dir(d, le, r)}/le_quality.json"
            for d in DATASETS
            for le in config["le"]["settings"]
            for r in range(leacfg.le_replicates(config, le))
        ],
