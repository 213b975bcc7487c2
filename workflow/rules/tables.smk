rule make_table1:
    input:
        metrics=table1_metric_files(),
        reported="config/reported.csv",
        tokenizer_eval="results/c2i/tokenizer_eval.json",
        classifier="results/c2i/classifier.json",
        figures=[
            "results/figures/samples_teacher.png",
            "results/figures/samples_students.png",
            "results/figures/training_curves.png",
        ],
    output:
        csv=report("results/table1.csv", category="Table 1", caption="../report/table1.rst"),
        md="results/table1.md",
        plot=report("results/figures/fid_vs_steps.png", category="Table 1", caption="../report/fid_vs_steps.rst"),
    params:
        preset=config["preset"],
    log:
        "logs/make_table1.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.tables --metrics {input.metrics} --reported {input.reported} "
        "--preset {params.preset} --tokenizer-eval {input.tokenizer_eval} --classifier-summary {input.classifier} "
        "--figures {input.figures} --out-csv {output.csv} --out-md {output.md} --out-plot {output.plot} "
        "> {log} 2>&1"


rule plot_teacher_samples:
    input:
        teacher_grid_samples(),
    output:
        report("results/figures/samples_teacher.png", category="Samples", caption="../report/samples.rst"),
    params:
        titles=[f"{s} steps" for s in TEACHER_STEPS],
    log:
        "logs/plot_teacher_samples.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.figures grid --samples {input} --titles {params.titles:q} --out {output} > {log} 2>&1"


rule plot_student_samples:
    input:
        student_grid_samples(),
    output:
        report("results/figures/samples_students.png", category="Samples", caption="../report/samples_students.rst"),
    params:
        titles=list(STUDENTS),
    log:
        "logs/plot_student_samples.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.figures grid --samples {input} --titles {params.titles:q} --out {output} > {log} 2>&1"


rule plot_training_curves:
    input:
        student_curves(),
    output:
        report("results/figures/training_curves.png", category="Figure 4", caption="../report/training_curves.rst"),
    params:
        curves=lambda wildcards, input: [f"{name}={path}" for name, path in zip(STUDENTS, input)],
    log:
        "logs/plot_training_curves.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.figures curves --curves {params.curves} --out {output} > {log} 2>&1"


rule make_claims:
    input:
        table="results/table1.csv",
        gap=gap_student_meta(),
    output:
        report("results/claims.csv", category="Claims", caption="../report/claims.rst"),
    params:
        preset=config["preset"],
        gap=lambda wildcards, input: f"--gap-from {input.gap}" if input.gap else "",
    log:
        "logs/make_claims.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.claims --table {input.table} {params.gap} --preset {params.preset} --out {output} "
        "> {log} 2>&1"
