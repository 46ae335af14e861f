# Config loading, validation and the path helpers every rule file uses. No stage logic here.
import json
import shlex
import sys
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # the Snakefile side needs only lea.config (yaml, jsonschema)

from snakemake.utils import validate

import lea.config as leacfg

# The variant table always loads; the full config loads unless the user gave --configfile.
configfile: "config/variants.yaml"


if "datasets" not in config:

    configfile: "config/config.yaml"


leacfg.validate(config)  # clear messages naming the key; fills defaults
validate(config, "../schemas/config.schema.yaml")
import lea.report.experiments as leaexp

leaexp.add_generated_variants(config)  # sweep/ablation variants of Figures 4-5 (config `experiments`)
import lea.report.environments as leaenvs

leaenvs.add_generated_variants(config)  # {variant}_{setting} runs of the table "what the environment adds"
import lea.report.claims as leaclaims  # the claims table (config experiments.claims)

RES = config["results_dir"]
# GPU rules run through this wrapper: it gives each local GPU job its own device (docs/cluster.md)
GPU_SLOT = shlex.quote(str(Path(workflow.basedir) / "workflow" / "profiles" / "gpu_slot.sh"))
DATA_DIR = config["data_dir"]
RESOURCES = config["resources_dir"]
DATASETS = config["datasets_enabled"]
SEEDS = config["seeds"]


wildcard_constraints:
    dataset="[A-Za-z0-9_.-]+",
    backbone="gru|sasrec",
    framework="normal|snqn|sa2c",
    variant="[A-Za-z0-9_.+-]+",
    seed=r"\d+",
    # never a control environment's name: results/{dataset}/le/{idrec|oracle|random}/ is control.smk's
    llm="(?!(?:" + "|".join(leacfg.CONTROL_ENVS) + ")/)[A-Za-z0-9_.-]+",
    le="[A-Za-z0-9_.+-]+",
    shard=r"\d+",
    rep=r"(/rep[1-9]\d*)?",  # the LE replicate's folder: empty for replicate 0 (today's paths), /rep<r> otherwise


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def dataset_settings(dataset):
    return leacfg.dataset_settings(config, dataset)


def data_settings(dataset):
    """What the data stage reads: the dataset section without `rec`, so tuning a recommender never re-triggers it."""
    return {k: v for k, v in dataset_settings(dataset).items() if k != "rec"}


def raw_inputs(wildcards):
    ds = config["datasets"][wildcards.dataset]
    return [f"{DATA_DIR}/{ds['source']}/{name}" for name in ds["files"].values()]


def data_dir(dataset):
    return f"{RES}/{dataset}/data"


def data_files(dataset):
    d = data_dir(dataset)
    return {
        "item_table": f"{d}/items.parquet",
        "interactions": f"{d}/interactions.parquet",
        "splits": f"{d}/splits.parquet",
        "stats": f"{d}/stats.json",
    }


def le_setting(le):
    return leacfg.le_setting(config, le)


def le_llm(le):
    """The LLM key an LE setting uses."""
    return le_setting(le)["llm"]


def llm_settings(llm):
    return config["llms"][llm]


def llm_convert_settings(llm):
    """What the GGUF -> HF conversion depends on: not the dtype, attention or device a stage loads it with."""
    return {k: v for k, v in llm_settings(llm).items() if k not in ("dtype", "attn_implementation", "device")}


REP_PART = "rep"  # replicate r > 0 lives in a sub-folder rep<r> beside replicate 0's files
REP_ROOT = PurePosixPath("/")  # the `rep` wildcard starts with a slash (pathlib: --lint reads quoted /rep as absolute)


def rep_dir(r):
    """The path part of LE replicate r (the `rep` wildcard): '' for replicate 0, else a slash and rep<r>."""
    return "" if int(r) == 0 else str(REP_ROOT / f"{REP_PART}{int(r)}")


def rep_index(rep):
    """The replicate number of a `rep` wildcard value."""
    return int(PurePosixPath(rep).name.removeprefix(REP_PART)) if rep else 0


def le_seed(rep):
    """The seed of the LE replicate of a `rep` wildcard value (lea.config.le_replicate_seed)."""
    return leacfg.le_replicate_seed(config, rep_index(rep))


def run_replicate(seed, le):
    """The replicate of LE setting `le` a recommender run of `seed` reads: seed mod R (R: le.replicates, or the
    setting's own replicates)."""
    return leacfg.le_replicate_of(config, int(seed), le)


def item_tokens_dir(dataset, llm, r=0):
    return f"{RES}/{dataset}/le/{llm}{rep_dir(r)}"


def le_dir(dataset, le, r=0):
    """Outputs of one LE setting (replicate r): adapter, score head, quality, precompute. A control environment's
    are under its name, once (control.smk: it is trained at seeds[0]; replicates apply to the LLM LE)."""
    env = le_setting(le)["env"]
    if env != "llm":
        return f"{RES}/{dataset}/le/{env}/{le}"
    return f"{RES}/{dataset}/le/{le_llm(le)}{rep_dir(r)}/{le}"


def negatives_file(dataset):
    """The LE-free negative pool every variant draws from (lea.rl.negatives); the rewards stage scores it."""
    return f"{data_dir(dataset)}/negatives.parquet"


def le_states_file(dataset, le, r=0):
    return f"{le_dir(dataset, le, r)}/states.parquet"


def le_rewards_file(dataset, le, r=0):
    return f"{le_dir(dataset, le, r)}/rewards.parquet"


def le_augment_file(dataset, le, backbone, r=0):
    return f"{le_dir(dataset, le, r)}/augment_{backbone}.parquet"


def warmup_file(dataset, backbone, seed):
    return f"{RES}/{dataset}/warmup/{backbone}/seed{seed}/top5.parquet"


RUN_VARIANT = {}  # (framework, variant) -> the variant whose run serves it (lea.config.run_variant), resolved once


def run_dir(dataset, backbone, framework, variant, seed):
    """A run's folder; a variant with the same switches as an earlier one (sv+q and LEA) reads that one's runs."""
    key = (framework, variant)
    if key not in RUN_VARIANT:
        RUN_VARIANT[key] = leacfg.run_variant(config, variant, framework)
    return f"{RES}/{dataset}/runs/{backbone}/{framework}/{RUN_VARIANT[key]}/seed{seed}"


def variant_settings(variant, framework, dataset=None):
    """A variant's switches; on ``dataset``, a variant without an ``le`` reads that dataset's default LE setting."""
    return leacfg.variant_settings(config, variant, framework, dataset)


def log(name):
    return f"{RES}/logs/{name}.log"


def bench(name):
    return f"{RES}/benchmarks/{name}.tsv"


def all_targets(wildcards):
    """Everything the config enables (the default target). Grows with the stages."""
    targets = [data_files(d)["stats"] for d in DATASETS]
    targets += base_run_targets()  # rec.smk: backbones x frameworks x base x seeds
    targets += report_targets_if_runs_exist()  # report.smk: tables and figures of config `experiments`
    return targets
