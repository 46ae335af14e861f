# Data stage: raw logs -> items / interactions / splits Parquet + stats.json (logic: lea.data).


rule preprocess:
    input:
        raw_inputs,
    output:
        **data_files("{dataset}"),
    log:
        log("preprocess/{dataset}"),
    benchmark:
        bench("preprocess/{dataset}")
    params:
        settings=lambda w: as_json(dataset_settings(w.dataset)),
        raw_dir=lambda w: f"{DATA_DIR}/{config['datasets'][w.dataset]['source']}",
        out_dir=lambda w: data_dir(w.dataset),
    shell:
        "lea preprocess --settings {params.settings:q} --raw-dir {params.raw_dir} --out-dir {params.out_dir}"
        " > {log} 2>&1"


rule data:
    input:
        [data_files(d)["stats"] for d in DATASETS],
