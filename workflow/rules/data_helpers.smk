# Functions of the data stage's rules (workflow/rules/data.smk); included before the rule files.


def preprocess_inputs(wildcards):
    """The dataset's raw files; a name whose plain file is absent but whose .gz twin exists means the twin."""
    paths = []
    for name in raw_inputs(wildcards):
        twin = name[:-3] if name.endswith(".gz") else f"{name}.gz"
        paths.append(twin if not Path(name).exists() and Path(twin).exists() else name)
    return paths

