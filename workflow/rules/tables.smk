rule make_table1:
    input:
        metrics=teacher_metric_files(),
        reported="config/reported.csv",
        tokenizer_eval="results/c2i/tokenizer_eval.json",
        classifier="results/c2i/classifier.json",
        grid="results/figures/samples_teacher.png",
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
        "--sample-grid {input.grid} --out-csv {output.csv} --out-md {output.md} --out-plot {output.plot} "
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
