# Recommender stage: train + evaluate one run (backbone x framework x variant x seed), and the supervised warm-up
# whose top-5 feeds the LE augmentation precompute (logic: lea.rl, lea.rec, lea.eval).


def train_inputs(wildcards):
    """The data files, plus only the LE precomputes the variant reads (lea.config.variant_needs)."""
    files = {k: v for k, v in data_files(wildcards.dataset).items() if k != "stats"}
    if wildcards.framework != "normal":  # every Q-head framework draws its negatives from the shared pool
        files["negatives"] = negatives_file(wildcards.dataset)
    v = variant_settings(wildcards.variant, wildcards.framework)
    need = leacfg.variant_needs(v)
    r = run_replicate(wildcards.seed)  # seed s reads LE replicate s mod le.replicates
    if need["states"]:
        files["le_states"] = le_states_file(wildcards.dataset, v["le"], r)
    if need["rewards"]:
        files["le_rewards"] = le_rewards_file(wildcards.dataset, v["le"], r)
    if need["augment"]:
        files["le_augment"] = le_augment_file(wildcards.dataset, v["le"], wildcards.backbone, r)
    return files


def train_le_args(wildcards, input):
    args = []
    for key, flag in (("negatives", "--negatives"), ("le_states", "--le-states"), ("le_rewards", "--le-rewards"), ("le_augment", "--le-augment")):
        if key in input.keys():
            args.append(f"{flag} {input[key]}")
    return " ".join(args)


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
        variant=lambda w: as_json(variant_settings(w.variant, w.framework)),
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


def base_run_targets():
    """The base variant of every backbone x framework x seed of every enabled dataset."""
    out = []
    for d in DATASETS:
        rec = dataset_settings(d)["rec"]
        for b in rec["backbones"]:
            for f in rec["frameworks"]:
                for s in SEEDS:
                    out.append(f"{run_dir(d, b, f, 'base', s)}/metrics.json")
    return out


rule runs_base:
    input:
        base_run_targets(),
