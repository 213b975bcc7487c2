# The recipe ablation's variants (config/recipe_ablation.yaml) and the paths of its curves; rules in recipe.smk.
import yaml

from softdimo.config import derive

RECIPE = yaml.safe_load(open(workflow.source_path("../../config/recipe_ablation.yaml")))
for _variant, _overrides in RECIPE["variants"].items():  # a wrong key stops the workflow before any job
    try:
        derive(config, _overrides)
    except ValueError as error:
        raise WorkflowError(f"config/recipe_ablation.yaml, variant {_variant}: {error}")
for _student in RECIPE["students"]:
    if _student not in STUDENTS:
        raise WorkflowError(f"config/recipe_ablation.yaml: student {_student!r} is not in c2i.students")


def recipe_curves():
    """{label: curve} for the baseline (the preset's students) and every variant."""
    out = {}
    for student in RECIPE["students"]:
        for seed in STUDENTS[student]["seeds"]:
            out[f"official/{student}/{seed}"] = f"results/c2i/students/{student}/seed{seed}/curve.csv"
            for variant in RECIPE["variants"]:
                out[f"{variant}/{student}/{seed}"] = f"results/c2i/recipe/{variant}/{student}/seed{seed}/curve.csv"
    return out


def recipe_init(wildcards):
    init = STUDENTS[wildcards.student]["init"]
    return [] if init == "teacher" else f"results/c2i/recipe/{wildcards.variant}/{init}/seed{wildcards.seed}/generator.pt"
