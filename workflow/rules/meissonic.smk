# Meissonic rows of Table 2 (config meissonic; docs/meissonic.md): official files -> CLIP text banks -> strict
# conversion -> Di[M]O and Soft-Di[M]O students by the official recipe (one GPU, batch 2 x 8 accumulation) ->
# samples of the teacher (its own 32-step sampler), the students and the released Di[M]O student, written where
# t2i_paper's evaluation rules read them (results/t2i_paper/samples/meissonic_<row>/...).
# Downloads are local jobs (a login node with internet); every other job runs offline.

ruleorder: meissonic_sample > t2i_paper_sample


rule download_meissonic:
    output:
        f"{MR}/hub/{{mfile}}",
    params:
        section=M["hub"],
        sha256=lambda wildcards: M_HUB_FILES[wildcards.mfile],
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/download_meissonic/{mfile}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell(
            "python -m softdimo.pretrained download --repo-id {params.section[repo_id]} --filename {wildcards.mfile} "
            "--revision {params.section[revision]} --sha256 '{params.sha256}' --rule download_meissonic "
            "--out {output} > {log} 2>&1",
            "softdimo.tracks.meissonic.stand_ins",
        )


rule download_meissonic_released:
    output:
        f"{MR}/released/{{rfile}}",
    params:
        section=M_REL["files"],
        sha256=lambda wildcards: M_REL_FILES[wildcards.rfile],
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/download_meissonic_released/{rfile}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell(
            "python -m softdimo.pretrained download --repo-id {params.section[repo_id]} --filename {wildcards.rfile} "
            "--revision {params.section[revision]} --sha256 '{params.sha256}' --rule download_meissonic_released "
            "--out {output} > {log} 2>&1",
            "softdimo.tracks.meissonic.stand_ins",
        )


rule meissonic_text_bank:
    # train: the training prompts plus GenEval's (the students' curves); others: one benchmark each
    input:
        encoder=[f"{MR}/hub/{f}" for f in M_HUB_FILES if f.startswith(("text_encoder/", "tokenizer/"))],
        prompts=lambda wildcards: [f"{PT}/prompts/train.json", f"{PT}/prompts/geneval.json"]
        if wildcards.bankset == "train" else [f"{PT}/prompts/{wildcards.bankset}.json"],
    output:
        f"{MT}/text_banks/{{bankset}}.pt",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        negative=M["sampling"]["negative_prompt"],
    resources:
        **job_resources("meissonic_text_bank"),
    log:
        "logs/meissonic_text_bank/{bankset}.log",
    benchmark:
        "benchmarks/meissonic_text_bank/{bankset}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"python -m softdimo.tracks.meissonic.pipeline text-bank --config {{params.resolved}} --hub {MR}/hub "
        "--prompts {input.prompts} --out {output} > {log} 2>&1"


rule meissonic_import:
    input:
        official=lambda wildcards: M_OFFICIAL[wildcards.mpart],
        config=lambda wildcards: f"{MR}/released/{M_REL['subfolder']}/config.json" if wildcards.mpart == "released"
        else f"{MR}/hub/{'vqvae' if wildcards.mpart == 'tokenizer' else 'transformer'}/config.json",
    output:
        weights=f"{MT}/{{mpart}}.pt",
        summary=f"{MT}/{{mpart}}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=lambda wildcards: M["tokenizer"] if wildcards.mpart == "tokenizer" else M["teacher"],
    resources:
        **job_resources("meissonic_import"),
    log:
        "logs/meissonic_import/{mpart}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.meissonic.pipeline convert --kind {wildcards.mpart} --config {params.resolved} "
        "--official {input.official} --out {output.weights} > {log} 2>&1"


rule meissonic_train_student:
    # one GPU, as the official run (per-process batch 2 x 8 accumulation steps)
    input:
        teacher=f"{MT}/teacher.pt",
        tokenizer=f"{MT}/tokenizer.pt",
        text_bank=f"{MT}/text_banks/train.pt",
        train_prompts=f"{PT}/prompts/train.json",
        eval_prompts=f"{PT}/prompts/geneval.json",
        clip=P_FILES["clip"],
        hps=P_FILES["hps"],
        init=m_student_init,
    output:
        weights=f"{MT}/students/{{mstudent}}/seed{{seed}}/generator.pt",
        summary=f"{MT}/students/{{mstudent}}/seed{{seed}}/generator.json",
        curve=f"{MT}/students/{{mstudent}}/seed{{seed}}/curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=config["torch_threads"],
        resolved=resolved_config,
        student=lambda wildcards: M_STUDENTS[wildcards.mstudent],
        distill=M["distill"],
        recipe=M["recipe"],
        rewards=P["rewards"],
        init=lambda wildcards, input: f"--input init={input.init}" if input.init else "",
    threads: config["torch_threads"]
    resources:
        **job_resources("meissonic_train_student"),
    log:
        "logs/meissonic_train_student/{mstudent}_seed{seed}.log",
    benchmark:
        "benchmarks/meissonic_train_student/{mstudent}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.train --config {params.resolved} --stage meissonic.student:{wildcards.mstudent}:{wildcards.seed} "
        "--input teacher={input.teacher} --input tokenizer={input.tokenizer} --input text_bank={input.text_bank} "
        "--input train_prompts={input.train_prompts} --input eval_prompts={input.eval_prompts} "
        "--input clip={input.clip} --input hps={input.hps} {params.init} --threads {params.train_threads} "
        f"--out {{output.weights}} --workdir {MT}/checkpoints/{{wildcards.mstudent}}/seed{{wildcards.seed}} "
        "--curve {output.curve} > {log} 2>&1"


rule meissonic_sample:
    input:
        unpack(m_sample_model),
        tokenizer=f"{MT}/tokenizer.pt",
        text_bank=f"{MT}/text_banks/{{pset}}.pt",
        prompts=f"{PT}/prompts/{{pset}}.json",
    output:
        samples=f"{PT}/samples/{{pmethod}}/steps{{steps}}/{{pset}}/seed{{seed}}.npz",
        meta=f"{PT}/samples/{{pmethod}}/steps{{steps}}/{{pset}}/seed{{seed}}.json",
    wildcard_constraints:
        pmethod="|".join(M_METHODS),
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        sampling=M["sampling"],
        per_prompt=lambda wildcards: P_SETS[wildcards.pset],
        how=lambda wildcards, input: f"--student {input.student}" if "student" in input.keys()
        else f"--teacher {input.teacher} --steps {wildcards.steps}",
        store=lambda wildcards: f"--store-size {M['sampling']['coco_store_size']}" if wildcards.pset == "coco" else "",
    resources:
        **job_resources("meissonic_sample"),
    log:
        "logs/meissonic_sample/{pmethod}_steps{steps}_{pset}_seed{seed}.log",
    benchmark:
        "benchmarks/meissonic_sample/{pmethod}_steps{steps}_{pset}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.meissonic.pipeline sample --config {params.resolved} --tokenizer {input.tokenizer} "
        "--text-bank {input.text_bank} --prompts {input.prompts} --seed {wildcards.seed} {params.how} "
        "--per-prompt {params.per_prompt} {params.store} --method {wildcards.pmethod} --out {output.samples} "
        "> {log} 2>&1"


rule meissonic_test_time:
    # best-of-N x TTEO with t2i_paper's composite reward; sample files where p_samples finds them
    input:
        tokenizer=f"{MT}/tokenizer.pt",
        text_bank=f"{MT}/text_banks/{{tset}}.pt",
        prompts=f"{PT}/prompts/{{tset}}.json",
        student=f"{MT}/students/{M_TT['student']}/seed{{seed}}/generator.pt",
        clip=P_FILES["clip"],
        hps=P_FILES["hps"],
    output:
        grid=f"{PT}/test_time_{M_TT_STUDENT}/{{tset}}/seed{{seed}}/grid.json",
        samples=expand(f"{PT}/test_time_{M_TT_STUDENT}/{{{{tset}}}}/seed{{{{seed}}}}/n{{n}}_tteo{{k}}.npz",
                       n=M_TT["best_of_n"], k=M_TT["tteo_iters"]),
        sidecars=expand(f"{PT}/test_time_{M_TT_STUDENT}/{{{{tset}}}}/seed{{{{seed}}}}/n{{n}}_tteo{{k}}.json",
                        n=M_TT["best_of_n"], k=M_TT["tteo_iters"]),
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=M_TT,
        rewards=P["rewards"],
        per_prompt=lambda wildcards: P_SETS[wildcards.tset],
    resources:
        **job_resources("meissonic_test_time"),
    log:
        "logs/meissonic_test_time/{tset}_seed{seed}.log",
    benchmark:
        "benchmarks/meissonic_test_time/{tset}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.meissonic.pipeline test-time --config {params.resolved} --tokenizer {input.tokenizer} "
        "--text-bank {input.text_bank} --prompts {input.prompts} --student {input.student} --clip {input.clip} "
        f"--hps {{input.hps}} --per-prompt {{params.per_prompt}} --seed {{wildcards.seed}} --method {M_TT_STUDENT} "
        f"--out-dir {PT}/test_time_{M_TT_STUDENT}/{{wildcards.tset}}/seed{{wildcards.seed}} > {{log}} 2>&1"
