# One-step students: Di[M]O distillation, GAN refinement (Soft-Di[M]O) and their ablations, one job per
# (student, seed); a student whose init is another student continues that student's same-seed weights.


rule train_student:
    input:
        teacher="results/c2i/teacher.pt",
        tokenizer="results/c2i/tokenizer.pt",
        real=real_training_data(),
        reference=eval_reference(),
        extractor=extractor_weights(),
        init=student_init,
    output:
        weights="results/c2i/students/{student}/seed{seed}/generator.pt",
        summary="results/c2i/students/{student}/seed{seed}/generator.json",
        curve="results/c2i/students/{student}/seed{seed}/curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=1,  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        student=lambda wildcards: STUDENTS[wildcards.student],
        distill=C2I["distill"],
        gan=C2I["gan"],
        init=lambda wildcards, input: f"--input init={input.init}" if input.init else "",
    threads: 1
    resources:
        **job_resources("train_student"),
    log:
        "logs/train_student/{student}_seed{seed}.log",
    benchmark:
        "benchmarks/train_student/{student}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"{LAUNCH} -m softdimo.train --config"
        f" {{params.resolved}} --stage {C2I_TRACK}.student:{{wildcards.student}}:{{wildcards.seed}} "
        "--input teacher={input.teacher} --input tokenizer={input.tokenizer} "
        f"--input {REAL_DATA_INPUT}={{input.real}} "
        "--input reference={input.reference} --input extractor={input.extractor} {params.init} --threads {params.train_threads} "
        "--out {output.weights} --workdir results/c2i/checkpoints/students/{wildcards.student}/seed{wildcards.seed} "
        "--curve {output.curve} > {log} 2>&1"
