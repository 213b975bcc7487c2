# Further teacher families of the digits track (c2i.families, e.g. the MaskGit-style VQ tokenizer and
# embedding-table teacher), one {family} wildcard over the configured families (helpers in families_common.smk).


rule family_train_tokenizer:
    input:
        train="results/c2i/data/train.npz",
        holdout="results/c2i/data/holdout.npz",
    output:
        weights="results/c2i/{family}/tokenizer.pt",
        summary="results/c2i/{family}/tokenizer.json",
        curve="results/c2i/{family}/curves/tokenizer.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
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
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
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
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
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
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
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
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
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
