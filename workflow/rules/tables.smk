rule make_table1:
    input:
        metrics=table1_metric_files() + maskgit_metric_files() + family_metric_files(),
        reported="config/reported.csv",
        **component_summaries(),
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
        components=lambda wildcards, input: (
            f"--tokenizer-eval {input.tokenizer_eval} --classifier-summary {input.classifier}"
            if "classifier" in input.keys()
            else ""
        ),
    localrule: True
    log:
        "logs/make_table1.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.table1 --metrics {input.metrics} --reported {input.reported} "
        "--preset {params.preset} {params.components} "
        "--figures {input.figures} --out-csv {output.csv} --out-md {output.md} --out-plot {output.plot} "
        "> {log} 2>&1"


rule plot_teacher_samples:
    input:
        teacher_grid_samples(),
    output:
        report("results/figures/samples_teacher.png", category="Samples", caption="../report/samples.rst"),
    params:
        titles=[f"{s} steps" for s in TEACHER_STEPS],
    resources:
        **job_resources("plot_teacher_samples"),
    log:
        "logs/plot_teacher_samples.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.figures grid --samples {input} --titles {params.titles:q} --out {output} > {log} 2>&1"


rule plot_student_samples:
    input:
        student_grid_samples(),
    output:
        report("results/figures/samples_students.png", category="Samples", caption="../report/samples_students.rst"),
    params:
        titles=list(STUDENTS),
    resources:
        **job_resources("plot_student_samples"),
    log:
        "logs/plot_student_samples.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.figures grid --samples {input} --titles {params.titles:q} --out {output} > {log} 2>&1"


rule plot_training_curves:
    input:
        student_curves(),
    output:
        report("results/figures/training_curves.png", category="Figure 4", caption="../report/training_curves.rst"),
    params:
        curves=lambda wildcards, input: [f"{name}={path}" for name, path in zip(STUDENTS, input)],
    resources:
        **job_resources("plot_training_curves"),
    log:
        "logs/plot_training_curves.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.figures curves --curves {params.curves} --out {output} > {log} 2>&1"


rule make_claims:
    input:
        table="results/table1.csv",
        table2=f"{T2I_TABLE}.csv",
        table2_paper=["results/table2.csv"] if "t2i_paper" in config else [],  # MaskGen-L's rows: claims again
        gap=gap_student_meta(),
        family_gaps=list(family_gap_metas().values()),
    output:
        report("results/claims.csv", category="Claims", caption="../report/claims.rst"),
    params:
        preset=config["preset"],
        gap=lambda wildcards, input: f"--gap-from {input.gap}" if input.gap else "",
        families=[f"{name}={path}" for name, path in family_gap_metas().items()],
        t2i_student=T2I_TT,
        paper=lambda wildcards, input: f"--table2-paper {input.table2_paper} --t2i-paper-student "
        f"{config['t2i_paper']['test_time']['student']}" if input.table2_paper else "",
    resources:
        **job_resources("make_claims"),
    log:
        "logs/make_claims.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.claims --table {input.table} --table2 {input.table2} {params.gap} --family {params.families} "
        "--t2i-student {params.t2i_student} {params.paper} --preset {params.preset} --out {output} "
        "> {log} 2>&1"


rule make_table2:
    input:
        metrics=table2_metric_files(),
        reported="config/reported.csv",
        figures=[
            "results/figures/t2i_geneval_vs_n.png",
            "results/figures/t2i_training_curves.png",
            "results/figures/t2i_samples.png",
        ],
        summaries=["results/t2i/tokenizer.json", "results/t2i/teacher.json"]
        + [f"results/t2i/judges/{name}.json" for name in T2I_JUDGES],
    output:
        csv=report(f"{T2I_TABLE}.csv", category="Table 2", caption="../report/table2.rst"),
        md=f"{T2I_TABLE}.md",
    params:
        preset=config["preset"],
    resources:
        **job_resources("make_table2"),
    log:
        "logs/make_table2.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.table2 table --metrics {input.metrics} --reported {input.reported} "
        "--preset {params.preset} --figures {input.figures} --summaries {input.summaries} "
        "--out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule plot_t2i_test_time:
    input:
        expand("results/t2i/test_time/seed{seed}/grid.json", seed=T2I_STUDENTS[T2I_TT]["seeds"]),
    output:
        report("results/figures/t2i_geneval_vs_n.png", category="Table 2", caption="../report/t2i_geneval_vs_n.rst"),
    resources:
        **job_resources("plot_t2i_test_time"),
    log:
        "logs/plot_t2i_test_time.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.table2 bon --grids {input} --out {output} > {log} 2>&1"


rule plot_t2i_training_curves:
    input:
        [f"results/t2i/students/{name}/seed{s['seeds'][0]}/curve.csv" for name, s in T2I_STUDENTS.items()],
    output:
        report("results/figures/t2i_training_curves.png", category="Table 2", caption="../report/t2i_curves.rst"),
    params:
        curves=lambda wildcards, input: [f"{name}={path}" for name, path in zip(T2I_STUDENTS, input)],
    resources:
        **job_resources("plot_t2i_training_curves"),
    log:
        "logs/plot_t2i_training_curves.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.table2 curves --curves {params.curves} --out {output} > {log} 2>&1"


rule plot_t2i_samples:
    input:
        prompts="results/t2i/data/prompts.json",
        samples=["results/t2i/data/eval_real.npz",
                 f"results/t2i/samples/teacher/steps{max(T2I['sampling']['steps'])}/seed{T2I['eval']['seeds'][0]}_eval.npz"]
        + [f"results/t2i/samples/{name}/steps1/seed{s['seeds'][0]}_eval.npz" for name, s in T2I_STUDENTS.items()]
        + [f"results/t2i/test_time/seed{T2I_STUDENTS[T2I_TT]['seeds'][0]}/bon_tteo.npz"],
    output:
        report("results/figures/t2i_samples.png", category="Samples", caption="../report/t2i_samples.rst"),
    params:
        titles=["real renders", "teacher"] + list(T2I_STUDENTS) + [f"{T2I_TT}+bon_tteo"],
    resources:
        **job_resources("plot_t2i_samples"),
    log:
        "logs/plot_t2i_samples.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.table2 grid --samples {input.samples} --titles {params.titles:q} "
        "--prompts {input.prompts} --out {output} > {log} 2>&1"
