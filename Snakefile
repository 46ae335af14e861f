# lea-pipeline: LLM as environment for offline RL recommenders (LEA, SIGIR 2024).
# Thin by design: paths and wildcards live in workflow/rules/*.smk, logic in the `lea` package (src/lea).
#   snakemake --cores 2 --configfile config/demo.yaml      # the CPU demo (or: make demo)
#   snakemake --cores N                                     # the full reproduction (config/config.yaml)


conda: "envs/lea.yaml"


include: "workflow/rules/common.smk"
# the functions the rules call, apart from the rules (snakemake --lint: no rules and functions in one file)
include: "workflow/rules/data_helpers.smk"
include: "workflow/rules/le_helpers.smk"
include: "workflow/rules/rec_helpers.smk"
include: "workflow/rules/report_helpers.smk"
include: "workflow/rules/control_helpers.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/le.smk"
include: "workflow/rules/control.smk"
include: "workflow/rules/rec.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets,
