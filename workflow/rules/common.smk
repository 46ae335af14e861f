# Config loading, validation and the path helpers every rule file uses. No stage logic here.
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # the Snakefile side needs only lea.config (yaml, jsonschema)

from snakemake.utils import validate

import lea.config as leacfg

# The variant table always loads; the full config loads unless the user gave --configfile.
configfile: "config/variants.yaml"


if "datasets" not in config:

    configfile: "config/config.yaml"


leacfg.validate(config)  # clear messages naming the key; fills defaults
validate(config, "../schemas/config.schema.yaml")

RES = config["results_dir"]
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
    llm="[A-Za-z0-9_.-]+",
    le="[A-Za-z0-9_.+-]+",
    shard=r"\d+",


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def dataset_settings(dataset):
    return leacfg.dataset_settings(config, dataset)


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


def log(name):
    return f"{RES}/logs/{name}.log"


def bench(name):
    return f"{RES}/benchmarks/{name}.tsv"


def all_targets(wildcards):
    """Everything the config enables (the default target). Grows with the stages."""
    targets = [data_files(d)["stats"] for d in DATASETS]
    return targets
