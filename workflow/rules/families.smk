# Further teacher families of the digits track (c2i.families, e.g. the MaskGit-style VQ tokenizer and
# embedding-table teacher): one set of rules with a {family} wildcard. Each family trains its own tokenizer,
# teacher and students under results/c2i/<family>/ with the same training loop and stages
# (digits.family_*), samples into results/c2i/samples/<family>/... and is scored by evaluate_samples, so its
# rows join Table 1 labelled by family. The bit teacher's rules and paths stay as they are.

FAMILIES = C2I["families"]
FAMILY_STUDENTS = sorted({name for f in FAMILIES.values() for name in f["students"]})


wildcard_constraints:
    family="|".join(FAMILIES) or "NO_FAMILY",
    fstudent="|".join(FAMILY_STUDENTS) or "NO_STUDENT",


def family_metric_files():
    """The Table 1 rows of every family: its teacher per step count and evaluation seed, its students per seed."""
    rows = []
    for fam, f in FAMILIES.items():
        rows += expand(f"results/c2i/metrics/{fam}/teacher/steps{{steps}}/seed{{seed}}.json",
                       steps=f["sampling"]["steps"], seed=EVAL_SEEDS)
        for name, student in f["students"].items():
            rows += expand(f"results/c2i/metrics/{fam}/{name}/steps1/seed{{seed}}.json", seed=student["seeds"])
    return rows


def family_student_init(wildcards):
    init = FAMILIES[wildcards.family]["students"][wildcards.fstudent]["init"]
    return [] if init == "teacher" else [f"results/c2i/{wildcards.family}/students/{init}/seed{wildcards.seed}/generator.pt"]


def family_train_command(stage):
    return (
        f"python -m softdimo.train --config {{params.resolved}} --stage digits.family_{stage}:{{wildcards.family}} "
        f"{TRAIN_INPUTS} {{params.extra}} --threads {{params.train_threads}} --out {{output.weights}} "
        f"--workdir results/c2i/{{wildcards.family}}/checkpoints/{stage} --curve {{output.curve}} > {{log}} 2>&1"
    )


rule family_train_tokenizer:
    input:
        train="results/c2i/data/train.npz",
        holdout="results/c2i/data/holdout.npz",
    output:
        weights="results/c2i/{family}/tokenizer.pt",
        summary="results/c2i/{family}/tokenizer.json",
        curve="results/c2i/{family}/curves/tokenizer.csv",
    params:
        train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        section=lambda wildcards: FAMILIES[wildcards.family]["tokenizer"],
        extra="",
    threads: config["torch_threads"]
    resources:
        **job_resources("family_train_tokenizer"),
    log:
        "logs/{family}/train_tokenizer.log",
    benchmark:
        "benchmarks/{family}/train_tokenizer.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        family_train_command("tokenizer")


rule family_train_teacher:
    input:
        train="results/c2i/data/train.npz",
        holdout="results/c2i/data/holdout.npz",
        tokenizer="results/c2i/{family}/tokenizer.pt",
    output:
        weights="results/c2i/{family}/teacher.pt",
        summary="results/c2i/{family}/teacher.json",
        curve="results/c2i/{family}/curves/teacher.csv",
    params:
        train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        section=lambda wildcards: FAMILIES[wildcards.family]["teacher"],
        schedule=lambda wildcards: FAMILIES[wildcards.family]["sampling"]["schedule"],
        extra=lambda wildcards, input: f"--input tokenizer={input.tokenizer}",
    threads: config["torch_threads"]
    resources:
        **job_resources("family_train_teacher"),
    log:
        "logs/{family}/train_teacher.log",
    benchmark:
        "benchmarks/{family}/train_teacher.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        family_train_command("teacher")


rule family_train_student:
    input:
        teacher="results/c2i/{family}/teacher.pt",
        tokenizer="results/c2i/{family}/tokenizer.pt",
        train="results/c2i/data/train.npz",
        reference="results/c2i/data/holdout.npz",
        extractor=extractor_weights(),
        init=family_student_init,
    output:
        weights="results/c2i/{family}/students/{fstudent}/seed{seed}/generator.pt",
        summary="results/c2i/{family}/students/{fstudent}/seed{seed}/generator.json",
        curve="results/c2i/{family}/students/{fstudent}/seed{seed}/curve.csv",
    params:
        train_threads=1,  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        student=lambda wildcards: FAMILIES[wildcards.family]["students"][wildcards.fstudent],
        distill=lambda wildcards: FAMILIES[wildcards.family]["distill"],
        gan=lambda wildcards: FAMILIES[wildcards.family]["gan"],
        init=lambda wildcards, input: f"--input init={input.init}" if input.init else "",
    threads: 1
    resources:
        **job_resources("family_train_student"),
    log:
        "logs/{family}/train_student/{fstudent}_seed{seed}.log",
    benchmark:
        "benchmarks/{family}/train_student/{fstudent}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.train --config {params.resolved} "
        "--stage digits.family_student:{wildcards.family}:{wildcards.fstudent}:{wildcards.seed} "
        "--input teacher={input.teacher} --input tokenizer={input.tokenizer} --input train={input.train} "
        "--input reference={input.reference} --input extractor={input.extractor} {params.init} "
        "--threads {params.train_threads} --out {output.weights} "
        "--workdir results/c2i/{wildcards.family}/checkpoints/students/{wildcards.fstudent}/seed{wildcards.seed} "
        "--curve {output.curve} > {log} 2>&1"


rule family_sample_teacher:
    input:
        teacher="results/c2i/{family}/teacher.pt",
        tokenizer="results/c2i/{family}/tokenizer.pt",
    output:
        samples="results/c2i/samples/{family}/teacher/steps{steps}/seed{seed}.npz",
        meta="results/c2i/samples/{family}/teacher/steps{steps}/seed{seed}.json",
    params:
        resolved=resolved_config,
        sampling=lambda wildcards: FAMILIES[wildcards.family]["sampling"],
        n_samples=C2I["eval"]["n_samples"],
    threads: 1
    resources:
        **job_resources("family_sample_teacher"),
    log:
        "logs/{family}/sample_teacher/steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/{family}/sample_teacher/steps{steps}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.sample --config {params.resolved} --family {wildcards.family} "
        "--teacher {input.teacher} --tokenizer {input.tokenizer} --steps {wildcards.steps} --seed {wildcards.seed} "
        "--threads {threads} --out {output.samples} > {log} 2>&1"


rule family_sample_student:
    input:
        teacher="results/c2i/{family}/teacher.pt",
        tokenizer="results/c2i/{family}/tokenizer.pt",
        student="results/c2i/{family}/students/{fstudent}/seed{seed}/generator.pt",
    output:
        samples="results/c2i/samples/{family}/{fstudent}/steps1/seed{seed}.npz",
        meta="results/c2i/samples/{family}/{fstudent}/steps1/seed{seed}.json",
    params:
        resolved=resolved_config,
        sampling=lambda wildcards: FAMILIES[wildcards.family]["sampling"],
        distill=lambda wildcards: FAMILIES[wildcards.family]["distill"],
        n_samples=C2I["eval"]["n_samples"],
    threads: 1
    resources:
        **job_resources("family_sample_student"),
    log:
        "logs/{family}/sample_student/{fstudent}_seed{seed}.log",
    benchmark:
        "benchmarks/{family}/sample_student/{fstudent}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.sample --config {params.resolved} --family {wildcards.family} "
        "--teacher {input.teacher} --tokenizer {input.tokenizer} --student {input.student} --seed {wildcards.seed} "
        "--threads {threads} --out {output.samples} > {log} 2>&1"
