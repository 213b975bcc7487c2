# Paper-scale class-to-image with the MaskGIT-pytorch teacher (config c2i_maskgit; Table 1's MaskGit rows):
# official transformer, taming VQGAN and released Di[M]O-MaskGit student -> strict conversion -> ImageNet tokens
# (for the GAN) -> Di[M]O / Soft-Di[M]O students by Di[M]O's official recipe -> teacher samples at 4 / 8 / 16 steps
# (MaskGIT-pytorch's sampler) and one-step samples -> ADM's metrics with Di[M]O's FID beside them -> Table 1.
# Downloads are local jobs (a login node with internet); every other job runs offline. docs/maskgit.md.


for _part in MG_FILES:

    rule:
        name:
            f"download_maskgit_{_part}"
        output:
            MG_FILES[_part],
        params:
            resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
            section=maskgit_hub(_part),
            rule_name=f"download_maskgit_{_part}",
        localrule: True
        log:
            f"logs/download_maskgit_{_part}.log",
        conda:
            "../envs/torch.yaml"
        shell:
            fetch_shell(
                "python -m softdimo.pretrained download --repo-id {params.section[repo_id]} "
                "--filename {params.section[filename]} --revision {params.section[revision]} "
                "--sha256 '{params.section[sha256]}' --rule {params.rule_name} --out {output} > {log} 2>&1",
            )

rule download_dimo_fid_stats:
    output:
        DIMO_STATS,
    params:
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
        section=MASKGIT["dimo_fid_stats"],
    localrule: True
    log:
        "logs/download_dimo_fid_stats.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell(
            "python -m softdimo.pretrained download --repo-id {params.section[repo_id]} "
            "--filename {params.section[filename]} --revision {params.section[revision]} "
            "--sha256 '{params.section[sha256]}' --rule download_dimo_fid_stats --out {output} > {log} 2>&1",
        )

rule maskgit_import:
    # the transformer file is 2.1 GB (two thirds optimizer state, memory-mapped and never read)
    input:
        official=lambda wildcards: MG_FILES[wildcards.part],
    output:
        weights=f"{MG}/{{part}}.pt",
        summary=f"{MG}/{{part}}.json",
    wildcard_constraints:
        part="teacher|tokenizer",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=lambda wildcards: MASKGIT[wildcards.part],
    resources:
        **job_resources("maskgit_import"),
    log:
        "logs/maskgit_import/{part}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.maskgit.pipeline convert --kind {wildcards.part} --config {params.resolved} "
        "--official {input.official} --out {output.weights} > {log} 2>&1"

rule maskgit_import_released:
    input:
        official=MG_FILES["released"],
    output:
        weights=f"{MG}/students/{MG_RELEASED}/seed0/generator.pt",
        summary=f"{MG}/students/{MG_RELEASED}/seed0/generator.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=MASKGIT["released_student"],
        teacher=MASKGIT["teacher"]["kwargs"],
    resources:
        **job_resources("maskgit_import_released"),
    log:
        "logs/maskgit_import/released.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.maskgit.pipeline convert --kind released --config {params.resolved} "
        "--official {input.official} --out {output.weights} > {log} 2>&1"

rule maskgit_tokenize_imagenet:
    # the GAN's real data: ImageNet (c2i.data.path, ADM centre crop) in VQGAN tokens, once
    input:
        index="results/c2i/data/imagenet_index.json",
        tokenizer=f"{MG}/tokenizer.pt",
    output:
        tokens=f"{MG}/data/train_tokens.npz",
        summary=f"{MG}/data/train_tokens.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        batch_size=MASKGIT["sampling"]["batch_size"],
    threads: 16
    resources:
        **job_resources("maskgit_tokenize_imagenet"),
    log:
        "logs/maskgit_tokenize_imagenet.log",
    benchmark:
        "benchmarks/maskgit_tokenize_imagenet.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.maskbit.imagenet tokenize --config {params.resolved} --index {input.index} "
        "--tokenizer {input.tokenizer} --batch-size {params.batch_size} --workers {threads} "
        "--out {output.tokens} > {log} 2>&1"

rule maskgit_train_student:
    input:
        teacher=f"{MG}/teacher.pt",
        tokenizer=f"{MG}/tokenizer.pt",
        real=f"{MG}/data/train_tokens.npz",
        reference="results/c2i/eval/adm_reference.npz",
        extractor="resources/eval/inception_v3_torch_fidelity.pth",
        init=maskgit_init,
    output:
        weights=f"{MG}/students/{{mstudent}}/seed{{seed}}/generator.pt",
        summary=f"{MG}/students/{{mstudent}}/seed{{seed}}/generator.json",
        curve=f"{MG}/students/{{mstudent}}/seed{{seed}}/curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        student=lambda wildcards: MG_STUDENTS[wildcards.mstudent],
        distill=MASKGIT["distill"],
        gan=MASKGIT["gan"],
        init=lambda wildcards, input: f"--input init={input.init}" if input.init else "",
    threads: config["torch_threads"]
    resources:
        **job_resources("maskgit_train_student"),
    log:
        "logs/maskgit_train_student/{mstudent}_seed{seed}.log",
    benchmark:
        "benchmarks/maskgit_train_student/{mstudent}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"{LAUNCH} -m softdimo.train --config {{params.resolved}} "
        "--stage maskgit.student:{wildcards.mstudent}:{wildcards.seed} "
        "--input teacher={input.teacher} --input tokenizer={input.tokenizer} --input real_tokens={input.real} "
        "--input reference={input.reference} --input extractor={input.extractor} {params.init} "
        f"--threads {{params.train_threads}} --out {{output.weights}} "
        f"--workdir {MG}/checkpoints/{{wildcards.mstudent}}/seed{{wildcards.seed}} --curve {{output.curve}} "
        "> {log} 2>&1"

rule maskgit_sample:
    input:
        teacher=f"{MG}/teacher.pt",
        tokenizer=f"{MG}/tokenizer.pt",
        student=maskgit_student_file,
    output:
        samples=f"{MG}/samples/{{mmethod}}/steps{{steps}}/seed{{seed}}.npz",
        meta=f"{MG}/samples/{{mmethod}}/steps{{steps}}/seed{{seed}}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        sampling=MASKGIT["sampling"],
        n_samples=MASKGIT["eval"]["n_samples"],
        how=lambda wildcards, input: f"--student {input.student}" if input.student else f"--steps {wildcards.steps}",
    threads: 1
    resources:
        **job_resources("maskgit_sample"),
    log:
        "logs/maskgit_sample/{mmethod}_steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/maskgit_sample/{mmethod}_steps{steps}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"{LAUNCH} -m softdimo.tracks.maskgit.pipeline sample --config {{params.resolved}} "
        "--teacher {input.teacher} --tokenizer {input.tokenizer} {params.how} --seed {wildcards.seed} "
        "--threads {threads} --out {output.samples} > {log} 2>&1"

rule maskgit_evaluate:
    # ADM's protocol (as MaskBit's rows) and Di[M]O's: clean-fid legacy_tensorflow against its own statistics
    input:
        samples=f"{MG}/samples/{{mmethod}}/steps{{steps}}/seed{{seed}}.npz",
        reference="results/c2i/eval/adm_reference.npz",
        extractor="resources/eval/inception_v3_torch_fidelity.pth",
        cleanfid="resources/eval/inception-2015-12-05.pt",
        dimo_stats=DIMO_STATS,
    output:
        f"{MG}/metrics/{{mmethod}}/steps{{steps}}/seed{{seed}}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        section=MASKGIT["eval"],
    threads: 8
    resources:
        **job_resources("maskgit_evaluate"),
    log:
        "logs/maskgit_evaluate/{mmethod}_steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/maskgit_evaluate/{mmethod}_steps{steps}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.adm calc --samples {input.samples} --ref {input.reference} "
        "--extractor {input.extractor} --num {params.section[n_samples]} "
        "--prc-neighborhood {params.section[prc_neighborhood]} --batch-size {params.section[batch_size]} "
        "--is-convention {params.section[is_convention]} --prc-arithmetic {params.section[prc_arithmetic]} "
        "--frechet-sqrt {params.section[frechet_sqrt]} --cleanfid-inception-dir resources/eval --dimo-stats {input.dimo_stats} --expect method={wildcards.mmethod} "
        "--expect steps={wildcards.steps} --expect eval_seed={wildcards.seed} --out {output} > {log} 2>&1"
