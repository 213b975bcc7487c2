rule sample_teacher:
    input:
        teacher="results/c2i/teacher.pt",
        tokenizer="results/c2i/tokenizer.pt",
    output:
        samples="results/c2i/samples/teacher/steps{steps}/seed{seed}.npz",
        meta="results/c2i/samples/teacher/steps{steps}/seed{seed}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        sampling=C2I["sampling"],
        n_samples=C2I["eval"]["n_samples"],
    threads: 1
    resources:
        **job_resources("sample_teacher"),
    log:
        "logs/sample_teacher/steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/sample_teacher/steps{steps}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"{LAUNCH} -m softdimo.sample --config"
        " {params.resolved} --teacher {input.teacher} "
        "--tokenizer {input.tokenizer} --steps {wildcards.steps} --seed {wildcards.seed} "
        "--threads {threads} --out {output.samples} > {log} 2>&1"


rule sample_student:
    input:
        teacher="results/c2i/teacher.pt",
        tokenizer="results/c2i/tokenizer.pt",
        student="results/c2i/students/{student}/seed{seed}/generator.pt",
    output:
        samples="results/c2i/samples/{student}/steps1/seed{seed}.npz",
        meta="results/c2i/samples/{student}/steps1/seed{seed}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        sampling=C2I["sampling"],
        n_samples=C2I["eval"]["n_samples"],
    threads: 1
    resources:
        **job_resources("sample_student"),
    log:
        "logs/sample_student/{student}_seed{seed}.log",
    benchmark:
        "benchmarks/sample_student/{student}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"{LAUNCH} -m softdimo.sample --config"
        " {params.resolved} --teacher {input.teacher} "
        "--tokenizer {input.tokenizer} --student {input.student} --seed {wildcards.seed} "
        "--threads {threads} --out {output.samples} > {log} 2>&1"
