# Control environments (issue 13): idrec, oracle, random write the LLM LE's contracts (le_quality.json, states,
# rewards, augment_{backbone}) for LE settings with `env` other than llm, under results/{dataset}/le/{env}/{le}/
# (le_dir in common.smk), so every variant reads them unchanged. Logic: lea.control. The `llm` wildcard never
# matches a control environment's name, so these rules alone make these files.


rule control_fit:
    input:
        data=lambda w: [data_files(w.dataset)[k] for k in ("item_table", "interactions", "splits")],
        check=check_le_env,
    output:
        model=f"{CONTROL_DIR}/model.safetensors",
        quality=f"{CONTROL_DIR}/le_quality.json",
        train_log=f"{CONTROL_DIR}/train_log.csv",
    wildcard_constraints:
        env="|".join(leacfg.CONTROL_ENVS),
    log:
        log("control_fit/{dataset}/{env}/{le}"),
    benchmark:
        bench("control_fit/{dataset}/{env}/{le}")
    threads: 1
    params:
        settings=lambda w: as_json(control_stage_settings(w.le, precompute=False)),
        data_dir=lambda w: data_dir(w.dataset),
        out_dir=lambda w: le_dir(w.dataset, w.le),
        seed=SEEDS[0],
    shell:
        "lea control-fit --settings {params.settings:q} --data-dir {params.data_dir} --out-dir {params.out_dir}"
        " --seed {params.seed} --threads {threads} > {log} 2>&1"


rule control_states:
    input:
        control_inputs,
    output:
        f"{CONTROL_DIR}/states.parquet",
    wildcard_constraints:
        env="|".join(leacfg.CONTROL_ENVS),
    log:
        log("control_states/{dataset}/{env}/{le}"),
    benchmark:
        bench("control_states/{dataset}/{env}/{le}")
    threads: 1
    params:
        **CONTROL_PARAMS,
    shell:
        control_shell("states")


rule control_rewards:
    input:
        control_inputs,
        negatives=lambda w: negatives_file(w.dataset),
    output:
        f"{CONTROL_DIR}/rewards.parquet",
    wildcard_constraints:
        env="|".join(leacfg.CONTROL_ENVS),
    log:
        log("control_rewards/{dataset}/{env}/{le}"),
    benchmark:
        bench("control_rewards/{dataset}/{env}/{le}")
    threads: 1
    params:
        **CONTROL_PARAMS,
    shell:
        control_shell("rewards", " --negatives {input.negatives}")


rule control_augment:
    input:
        control_inputs,
        top5=lambda w: warmup_file(w.dataset, w.backbone, SEEDS[0]),
    output:
        f"{CONTROL_DIR}/augment_{{backbone}}.parquet",
    wildcard_constraints:
        env="|".join(leacfg.CONTROL_ENVS),
    log:
        log("control_augment/{dataset}/{env}/{le}/{backbone}"),
    benchmark:
        bench("control_augment/{dataset}/{env}/{le}/{backbone}")
    threads: 1
    params:
        **CONTROL_PARAMS,
    shell:
        control_shell("augment", " --top5 {input.top5}")
