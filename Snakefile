# softdimo: every table and figure of Soft-Di[M]O, tiny preset by default.
#   snakemake --cores all results/table1.csv                                   (tiny, CPU, minutes)
#   snakemake --cores all results/table2.csv                                   (tiny text-to-image track)
#   snakemake --cores all --configfile=config/smoke.yaml results/table1.csv     (CI, seconds per rule)
#   snakemake --profile profiles/slurm results/table1.csv results/table2.csv --configfile config/paper.yaml config/site.yaml
# (--configfile takes several files: put the targets before it, or write --configfile=FILE for one file; else
# a target is read as another config file)
from snakemake.utils import min_version

min_version("9.0")


# The tiny preset unless a preset is given with --configfile: presets are complete files and are never
# merged with each other (a merge would silently mix, e.g., the tiny students into the smoke preset). A site
# overlay (only the key `site`, config/site.example.yaml) may come alone or after a preset, and top-level keys
# given with --config (e.g. dropout_draws=bits16) override the preset's, validated like the file's own.
if "preset" not in config:

    configfile: "config/config.yaml"


# CPU presets compute the same numbers on every x86-64 machine with AVX2 (docs/reproducibility.md): torch,
# oneDNN and MKL are held at their AVX2 kernels. Exported here, before any job starts, because each library
# reads its variable once; a value already in the environment wins (SOFTDIMO_CPU_KERNELS=native: each
# library's fastest kernels for this processor, numbers that differ between machines). The thread count
# changes the numbers too: with fewer --cores than torch_threads Snakemake gives jobs fewer threads.
if config.get("device") == "cpu":
    import os

    from snakemake.logging import logger

    from softdimo.runtime import CPU_KERNEL_ENV

    _level = os.environ.setdefault("SOFTDIMO_CPU_KERNELS", "avx2")
    for _name, _value in CPU_KERNEL_ENV[_level].items():
        os.environ.setdefault(_name, _value)
    _cores = workflow.resource_settings.cores
    if _cores is not None and _cores < config["torch_threads"]:
        logger.warning(
            f"--cores {_cores} < torch_threads {config['torch_threads']}: jobs run "
            "with fewer threads and their numbers differ from the README's and the smoke fingerprint"
        )


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/families_common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/families.smk"
include: "workflow/rules/t2i_common.smk"
include: "workflow/rules/t2i.smk"
include: "workflow/rules/evaluate.smk"


if "t2i_paper" in config:

    include: "workflow/rules/t2i_paper_common.smk"

    if "meissonic" in config:

        include: "workflow/rules/meissonic_common.smk"

    include: "workflow/rules/t2i_paper.smk"

    if "meissonic" in config:

        include: "workflow/rules/meissonic.smk"


include: "workflow/rules/maskgit_common.smk"


if "c2i_maskgit" in config:  # the MaskGit rows of Table 1 (paper preset)

    include: "workflow/rules/maskgit.smk"


include: "workflow/rules/tables.smk"
include: "workflow/rules/recipe_common.smk"
include: "workflow/rules/recipe.smk"


check_site_rules()


rule all:
    default_target: True
    input:
        "results/table1.csv",
        "results/table1.md",
        "results/figures/fid_vs_steps.png",
        "results/figures/samples_teacher.png",
        list(component_summaries().values()),
        "results/table2.csv",
        "results/table2.md",
        f"{T2I_TABLE}.csv",
        "results/claims.csv",
