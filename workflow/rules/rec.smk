# Recommender stage: train + evaluate one run (backbone x framework x variant x seed), and the supervised warm-up
# whose top-5 feeds the LE augmentation precompute (logic: lea.rl, lea.rec, lea.eval).


RUN = run_dir("{dataset}", "{backbone}", "{framework}", "{variant}", "{seed}")


rule train:
    input:
        unpack(train_inputs),
    output:
        model=f"{RUN}/model.safetensors",
        metrics=f"{RUN}/metrics.json",
        ranks=f"{RUN}/ranks.parquet",
        train_log=f"{RUN}/train_log.csv",
        plot=f"{RUN}/train_log.png",
    log:
        log("train/{dataset}/{backbone}/{framework}/{variant}/seed{seed}"),
    benchmark:
        bench("train/{dataset}/{backbone}/{framework}/{variant}/seed{seed}")
    params:
        settings=lambda w: as_json(dataset_settings(w.dataset)),
        variant=lambda w: as_json(variant_settings(w.variant, w.framework, w.dataset)),
        data_dir=lambda w: data_dir(w.dataset),
        le_args=train_le_args,
        out_dir=RUN,
    shell:
        "lea train --settings {params.settings:q} --variant {params.variant:q} --backbone {wildcards.backbone}"
        " --framework {wildcards.framework} --seed {wildcards.seed} --data-dir {params.data_dir}"
        " {params.le_args} --out-dir {params.out_dir} > {log} 2>&1"


rule negatives:
    """The negative pool (precompute.negatives items per training transition), drawn once, without the LE."""
    input:
        **{k: v for k, v in data_files("{dataset}").items() if k != "stats"},
    output:
        negatives_file("{dataset}"),
    log:
        log("negatives/{dataset}"),
    benchmark:
        bench("negatives/{dataset}")
    params:
        k=config["precompute"]["negatives"],
        seed=config["precompute"]["negatives_seed"],
        data_dir=lambda w: data_dir(w.dataset),
    shell:
        "lea negatives --data-dir {params.data_dir} --k {params.k} --seed {params.seed} --out {output} > {log} 2>&1"


rule warmup:
    input:
        **{k: v for k, v in data_files("{dataset}").items() if k != "stats"},
    output:
        warmup_file("{dataset}", "{backbone}", "{seed}"),
    log:
        log("warmup/{dataset}/{backbone}/seed{seed}"),
    benchmark:
        bench("warmup/{dataset}/{backbone}/seed{seed}")
    params:
        settings=lambda w: as_json(dataset_settings(w.dataset)),
        steps=config["precompute"]["warmup_steps"],
        data_dir=lambda w: data_dir(w.dataset),
    shell:
        "lea warmup --settings {params.settings:q} --steps {params.steps} --backbone {wildcards.backbone}"
        " --seed {wildcards.seed} --data-dir {params.data_dir} --out {output} > {log} 2>&1"


rule runs_base:
    input:
        base_run_targets(),
