# Data stage: raw logs -> items / interactions / splits Parquet + stats.json (logic: lea.data).
# Raw files named in a dataset's `files` may exist gzipped instead (`name.gz`): the readers open either.


rule preprocess:
    input:
        preprocess_inputs,
    output:
        **data_files("{dataset}"),
    log:
        log("preprocess/{dataset}"),
    benchmark:
        bench("preprocess/{dataset}")
    params:
        settings=lambda w: as_json(data_settings(w.dataset)),
        raw_dir=lambda w: f"{DATA_DIR}/{config['datasets'][w.dataset]['source']}",
        out_dir=lambda w: data_dir(w.dataset),
    shell:
        "lea preprocess --settings {params.settings:q} --raw-dir {params.raw_dir} --out-dir {params.out_dir}"
        " > {log} 2>&1"


rule data:
    input:
        [data_files(d)["stats"] for d in DATASETS],


# Opt-in: the official Amazon Review Data (2018) files of one category (network; never part of `all` or tests).
#   snakemake --cores 1 {data_dir}/amazon2018/Industrial_and_Scientific.json.gz
# then a dataset with reader: amazon2018, source: amazon2018,
#   files: {reviews: Industrial_and_Scientific.json.gz, meta: meta_Industrial_and_Scientific.json.gz}
rule download_amazon2018:
    output:
        reviews=f"{DATA_DIR}/amazon2018/{{category}}.json.gz",
        meta=f"{DATA_DIR}/amazon2018/meta_{{category}}.json.gz",
    wildcard_constraints:
        category="(?!meta_)[A-Za-z_]+",
    log:
        log("download_amazon2018/{category}"),
    params:
        base="https://jmcauley.ucsd.edu/data/amazon_v2",
    shell:
        # each file goes to a temporary name first, so an interrupted download leaves nothing behind
        "(curl -fL --retry 3 -o {output.reviews}.part {params.base}/categoryFiles/{wildcards.category}.json.gz"
        " && curl -fL --retry 3 -o {output.meta}.part {params.base}/metaFiles2/meta_{wildcards.category}.json.gz"
        " && mv {output.reviews}.part {output.reviews} && mv {output.meta}.part {output.meta}) > {log} 2>&1"
