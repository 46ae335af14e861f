# Functions of the recommender rules (workflow/rules/rec.smk); included before the rule files.


def train_inputs(wildcards):
    """The data files, plus only the LE precomputes the variant reads (lea.config.variant_needs)."""
    files = {k: v for k, v in data_files(wildcards.dataset).items() if k != "stats"}
    if wildcards.framework != "normal":  # every Q-head framework draws its negatives from the shared pool
        files["negatives"] = negatives_file(wildcards.dataset)
    v = variant_settings(wildcards.variant, wildcards.framework, wildcards.dataset)
    need = leacfg.variant_needs(v)
    r = run_replicate(wildcards.seed, v["le"])  # seed s reads LE replicate s mod R (the setting's le.replicates)
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

