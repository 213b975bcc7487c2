# The text-to-image track (paper Table 2): shapes world -> text features -> VQ tokenizer -> text-conditioned
# teacher and the judges -> Di[M]O and reward fine-tuned students -> samples, best-of-N and TTEO -> metrics.


rule t2i_world:
    output:
        expand("results/t2i/data/{name}", name=T2I_DATA),
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=T2I["world"],
    resources:
        **job_resources("t2i_world"),
    log:
        "logs/t2i_world.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.shapes.world --config {params.resolved} --out results/t2i/data > {log} 2>&1"


rule t2i_text_bank:
    input:
        "results/t2i/data/prompts.json",
    output:
        "results/t2i/text_bank.pt",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        encoder=T2I["text_encoder"],
    resources:
        **job_resources("t2i_text_bank"),
    log:
        "logs/t2i_text_bank.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.shapes.text_encoder --prompts {input} --encoder {params.encoder} --out {output} > {log} 2>&1"


rule t2i_train_tokenizer:
    input:
        train=T2I_BASE["train"],
    output:
        weights="results/t2i/tokenizer.pt",
        summary="results/t2i/tokenizer.json",
        curve="results/t2i/tokenizer_curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        section=T2I["tokenizer"],
    threads: config["torch_threads"]
    resources:
        **job_resources("t2i_train_tokenizer"),
    log:
        "logs/t2i_train_tokenizer.log",
    benchmark:
        "benchmarks/t2i_train_tokenizer.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.train --config {params.resolved} --stage shapes.tokenizer --input train={input.train} "
        "--threads {params.train_threads} --out {output.weights} --workdir results/t2i/checkpoints/tokenizer "
        "--curve {output.curve} > {log} 2>&1"


rule t2i_train_teacher:
    input:
        **T2I_BASE,
    output:
        weights="results/t2i/teacher.pt",
        summary="results/t2i/teacher.json",
        curve="results/t2i/teacher_curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        section=T2I["teacher"],
        sampling=T2I["sampling"],
    threads: config["torch_threads"]
    resources:
        **job_resources("t2i_train_teacher"),
    log:
        "logs/t2i_train_teacher.log",
    benchmark:
        "benchmarks/t2i_train_teacher.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.train --config {params.resolved} --stage shapes.teacher "
        + t2i_inputs(*T2I_BASE)
        + " --threads {params.train_threads} --out {output.weights} --workdir results/t2i/checkpoints/teacher "
        "--curve {output.curve} > {log} 2>&1"


rule t2i_train_judge:
    input:
        train=T2I_BASE["train"],
        text_bank=T2I_BASE["text_bank"],
        prompts=T2I_BASE["prompts"],
    output:
        weights="results/t2i/judges/{judge}.pt",
        summary="results/t2i/judges/{judge}.json",
        curve="results/t2i/judges/{judge}_curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=1,  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        section=lambda wildcards: T2I["judges"][wildcards.judge],
        world=T2I["world"],
    threads: 1
    resources:
        **job_resources("t2i_train_judge"),
    log:
        "logs/t2i_train_judge/{judge}.log",
    benchmark:
        "benchmarks/t2i_train_judge/{judge}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.train --config {params.resolved} --stage shapes.judge:{wildcards.judge} "
        + t2i_inputs("train", "text_bank", "prompts")
        + " --threads {params.train_threads} --out {output.weights} --workdir results/t2i/checkpoints/judges/{wildcards.judge} "
        "--curve {output.curve} > {log} 2>&1"


rule t2i_train_student:
    input:
        **T2I_BASE,
        teacher="results/t2i/teacher.pt",
        reward=T2I_JUDGES["reward"],
        clip=T2I_JUDGES["clip"],
        preference=T2I_JUDGES["preference"],
        init=t2i_student_init,
    output:
        weights="results/t2i/students/{t2i_student}/seed{seed}/generator.pt",
        summary="results/t2i/students/{t2i_student}/seed{seed}/generator.json",
        curve="results/t2i/students/{t2i_student}/seed{seed}/curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=1,  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        student=lambda wildcards: T2I_STUDENTS[wildcards.t2i_student],
        distill=T2I["distill"],
        init=lambda wildcards, input: f"--input init={input.init}" if input.init else "",
    threads: 1
    resources:
        **job_resources("t2i_train_student"),
    log:
        "logs/t2i_train_student/{t2i_student}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_train_student/{t2i_student}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.train --config {params.resolved} --stage shapes.student:{wildcards.t2i_student}:{wildcards.seed} "
        + t2i_inputs(*T2I_BASE, "teacher", "reward", "clip", "preference")
        + " {params.init} --threads {params.train_threads} --out {output.weights} "
        "--workdir results/t2i/checkpoints/students/{wildcards.t2i_student}/seed{wildcards.seed} "
        "--curve {output.curve} > {log} 2>&1"


rule t2i_sample_teacher:
    input:
        **T2I_BASE,
        teacher="results/t2i/teacher.pt",
        fid_prompts="results/t2i/data/fid_prompts.npz",
    output:
        eval="results/t2i/samples/{blind}/steps{steps}/seed{seed}_eval.npz",
        fid="results/t2i/samples/{blind}/steps{steps}/seed{seed}_fid.npz",
    wildcard_constraints:
        blind="teacher|teacher_caption_blind",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=T2I["sampling"],
        blind=lambda wildcards: "--caption-blind" if wildcards.blind == "teacher_caption_blind" else "",
    threads: 1
    resources:
        **job_resources("t2i_sample_teacher"),
    log:
        "logs/t2i_sample/{blind}_steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_sample/{blind}_steps{steps}_seed{seed}.tsv",
    conda:
        "../envs/torch.yaml"
    shell:
        f"python -m softdimo.tracks.shapes.sample sample {T2I_SAMPLE_ARGS} --steps {{wildcards.steps}} {{params.blind}} "
        "--fid-prompts {input.fid_prompts} --out-eval {output.eval} --out-fid {output.fid} > {log} 2>&1"


rule t2i_sample_student:
    input:
        **T2I_BASE,
        teacher="results/t2i/teacher.pt",
        student="results/t2i/students/{t2i_student}/seed{seed}/generator.pt",
        fid_prompts="results/t2i/data/fid_prompts.npz",
    output:
        eval="results/t2i/samples/{t2i_student}/steps1/seed{seed}_eval.npz",
        fid="results/t2i/samples/{t2i_student}/steps1/seed{seed}_fid.npz",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=T2I["sampling"],
    threads: 1
    resources:
        **job_resources("t2i_sample_student"),
    log:
        "logs/t2i_sample/{t2i_student}_seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        f"python -m softdimo.tracks.shapes.sample sample {T2I_SAMPLE_ARGS} --student {{input.student}} "
        "--fid-prompts {input.fid_prompts} --out-eval {output.eval} --out-fid {output.fid} > {log} 2>&1"


rule t2i_test_time:
    input:
        **T2I_BASE,
        teacher="results/t2i/teacher.pt",
        student=f"results/t2i/students/{T2I_TT}/seed{{seed}}/generator.pt",
        reward=T2I_JUDGES["reward"],
        clip=T2I_JUDGES["clip"],
        preference=T2I_JUDGES["preference"],
    output:
        grid="results/t2i/test_time/seed{seed}/grid.json",
        samples=expand("results/t2i/test_time/seed{{seed}}/{tt}.npz", tt=["tteo", "bon", "bon_tteo"]),
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=T2I["test_time"],
    threads: 1
    resources:
        **job_resources("t2i_test_time"),
    log:
        "logs/t2i_test_time/seed{seed}.log",
    benchmark:
        "benchmarks/t2i_test_time/seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"python -m softdimo.tracks.shapes.sample test-time {T2I_SAMPLE_ARGS} --student {{input.student}} "
        "--reward {input.reward} --clip {input.clip} --preference {input.preference} "
        "--out-dir results/t2i/test_time/seed{wildcards.seed} > {log} 2>&1"


rule t2i_evaluate:
    input:
        **T2I_EVAL_INPUTS,
        samples="results/t2i/samples/{method}/steps{steps}/seed{seed}_eval.npz",
        fid_samples="results/t2i/samples/{method}/steps{steps}/seed{seed}_fid.npz",
    output:
        "results/t2i/metrics/{method}/steps{steps}/seed{seed}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=T2I["eval"],
    threads: 1
    resources:
        **job_resources("t2i_evaluate"),
    log:
        "logs/t2i_evaluate/{method}_steps{steps}_seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.shapes.metrics --config {params.resolved} --samples {input.samples} "
        f"--fid-samples {{input.fid_samples}} {T2I_EVAL_ARGS} --method {{wildcards.method}} --steps {{wildcards.steps}} "
        "--seed {wildcards.seed} --expect method={wildcards.method} --expect steps={wildcards.steps} "
        "--expect eval_seed={wildcards.seed} --out {output} > {log} 2>&1"


rule t2i_evaluate_test_time:
    input:
        **T2I_EVAL_INPUTS,
        samples="results/t2i/test_time/seed{seed}/{tt}.npz",
    output:
        f"results/t2i/metrics/{T2I_TT}+{{tt}}/steps1/seed{{seed}}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=T2I["eval"],
    threads: 1
    resources:
        **job_resources("t2i_evaluate_test_time"),
    log:
        "logs/t2i_evaluate/test_time_{tt}_seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.shapes.metrics --config {params.resolved} --samples {input.samples} "
        f"{T2I_EVAL_ARGS} --method {T2I_TT}+{{wildcards.tt}} --steps 1 --seed {{wildcards.seed}} "
        f"--expect method={T2I_TT}+{{wildcards.tt}} --expect steps=1 --expect eval_seed={{wildcards.seed}} "
        "--out {output} > {log} 2>&1"


rule t2i_evaluate_real:
    input:
        **T2I_EVAL_INPUTS,
        samples="results/t2i/data/eval_real.npz",
        fid_samples="results/t2i/data/fid_real_alt.npz",
    output:
        "results/t2i/metrics/real_renders/steps0/seed0.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=T2I["eval"],
    threads: 1
    resources:
        **job_resources("t2i_evaluate_real"),
    log:
        "logs/t2i_evaluate/real_renders.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.shapes.metrics --config {params.resolved} --samples {input.samples} "
        f"--fid-samples {{input.fid_samples}} {T2I_EVAL_ARGS} --method real_renders --steps 0 --seed 0 "
        "--out {output} > {log} 2>&1"
