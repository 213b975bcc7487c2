# The recipe ablation (docs/recipe.md, config/recipe_ablation.yaml): the class-to-image students retrained
# under variants of the distillation recipe, against the preset's own students. Only built on request:
#   snakemake --cores all results/recipe.csv


rule recipe_config:
    output:
        "results/c2i/recipe/{variant}/config.yaml",
    params:
        resolved=resolved_config,
        overrides=lambda wildcards: " ".join(f"--set {k}={yaml.safe_dump(v).split(chr(10))[0]}"
                                             for k, v in RECIPE["variants"][wildcards.variant].items()),
    localrule: True
    log:
        "logs/recipe_config/{variant}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.config derive {params.resolved} {params.overrides} --out {output} > {log} 2>&1"


rule recipe_train_student:
    input:
        config="results/c2i/recipe/{variant}/config.yaml",
        teacher="results/c2i/teacher.pt",
        tokenizer="results/c2i/tokenizer.pt",
        real=real_training_data(),
        reference=eval_reference(),
        extractor=extractor_weights(),
        init=recipe_init,
    output:
        weights="results/c2i/recipe/{variant}/{student}/seed{seed}/generator.pt",
        curve="results/c2i/recipe/{variant}/{student}/seed{seed}/curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=1,  # fixed, unlike {threads}: the weights depend on it
        init=lambda wildcards, input: f"--input init={input.init}" if input.init else "",
    threads: 1
    resources:
        **job_resources("train_student"),
    log:
        "logs/recipe_train_student/{variant}_{student}_seed{seed}.log",
    benchmark:
        "benchmarks/recipe_train_student/{variant}_{student}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"python -m softdimo.train --config {{input.config}} "
        f"--stage {C2I_TRACK}.student:{{wildcards.student}}:{{wildcards.seed}} "
        "--input teacher={input.teacher} --input tokenizer={input.tokenizer} "
        f"--input {REAL_DATA_INPUT}={{input.real}} "
        "--input reference={input.reference} --input extractor={input.extractor} {params.init} "
        "--threads {params.train_threads} --out {output.weights} "
        "--workdir results/c2i/checkpoints/recipe/{wildcards.variant}/{wildcards.student}/seed{wildcards.seed} "
        "--curve {output.curve} > {log} 2>&1"


rule recipe_table:
    input:
        curves=list(recipe_curves().values()),
        variants="config/recipe_ablation.yaml",
    output:
        csv="results/recipe.csv",
        figure="results/figures/recipe.png",
    params:
        curves=" ".join(f"{label}={path}" for label, path in recipe_curves().items()),
    localrule: True
    log:
        "logs/recipe_table.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.recipe --curves {params.curves} --variants {input.variants} --out {output.csv} "
        "--figure {output.figure} > {log} 2>&1"
