# Paper-scale text-to-image (config t2i_paper; Soft-Di[M]O Table 2, MaskGen-L rows): official files -> prompt
# sets and OpenCLIP text banks -> Di[M]O and reward fine-tuned students -> samples, best-of-N and TTEO ->
# GenEval (the official detector in its own environment), HPS v2.1, COCO FID-30k and CLIP score -> Table 2.
# Downloads are local jobs (a login node with internet); every other job runs offline.

for _hub in P_HUB:

    rule:
        name:
            f"download_t2i_{_hub}"
        output:
            P_FILES[_hub],
        params:
            section=P_HUB[_hub],
            rule_name=f"download_t2i_{_hub}",
            resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
        localrule: True
        log:
            f"logs/download_t2i_{_hub}.log",
        conda:
            "../envs/torch.yaml"
        shell:
            fetch_shell(
                "python -m softdimo.pretrained download --repo-id {params.section[repo_id]} "
                "--filename {params.section[filename]} --revision {params.section[revision]} "
                "--sha256 '{params.section[sha256]}' --rule {params.rule_name} --out {output} > {log} 2>&1",
                STAND_INS,
            )


rule download_hps_prompts:
    output:
        f"{PR}/hps_benchmark/{{style}}.json",
    wildcard_constraints:
        style="|".join(HPS_STYLES),
    params:
        section=P["prompts"]["hps"],
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/download_hps_prompts/{style}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell(
            "python -m softdimo.pretrained download --repo-type dataset --repo-id {params.section[repo_id]} "
            "--filename {params.section[filename]}/{wildcards.style}.json --revision {params.section[revision]} "
            "--rule download_hps_prompts --out {output} > {log} 2>&1",
            STAND_INS,
        )


rule fetch_geneval:
    output:
        commit=f"{GENEVAL_DIR}/FETCHED_COMMIT",
        metadata=f"{GENEVAL_DIR}/prompts/evaluation_metadata.jsonl",
    params:
        commit=P["eval"]["geneval_commit"],
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/fetch_geneval.log",
    conda:
        "../envs/torch.yaml"
    shell:
        # stand-in: the metadata file and a FETCHED_COMMIT saying so (no evaluation code: rule t2i_paper_geneval_detect)
        f"python -m {STAND_INS} --config {{params.resolved}} --out {{output.metadata}} > {{log}} 2>&1"
        if STAND_IN
        else "python -m softdimo.pretrained fetch-git --url https://github.com/djghosh13/geneval "
        f"--commit {{params.commit}} --out {GENEVAL_DIR} > {{log}} 2>&1"


rule download_geneval_detector:
    output:
        GENEVAL_DETECTOR,
    params:
        url="https://download.openmmlab.com/mmdetection/v2.0/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco_20220504_001756-743b7d99.pth",
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/download_geneval_detector.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell("python -m softdimo.pretrained download-url --url {params.url} --out {output} > {log} 2>&1", STAND_INS)


rule warm_geneval_clip:
    # the official detector scores colours with open_clip's ViT-L-14 'openai', fetched into its cache
    output:
        f"{PR}/geneval_models/clip_cache_ready",
    params:
        python=SITE.get("geneval_python", "python"),  # the detector's env (site overlay), as for the detector
    localrule: True
    log:
        "logs/warm_geneval_clip.log",
    conda:
        "../envs/torch.yaml" if STAND_IN else "../envs/geneval.yaml"
    shell:
        "echo 'stand-in (paper_smoke): no GenEval environment, no CLIP cache' > {output} 2> {log}"
        if STAND_IN
        else "({params.python} -c \"import open_clip; open_clip.create_model_and_transforms('ViT-L-14', pretrained='openai')\" "
        "&& touch {output}) > {log} 2>&1"


rule download_coco_reference:
    output:
        f"{PR}/coco/{{name}}",
    wildcard_constraints:
        name="MS-COCO_val2014_30k_captions.csv|MS-COCO_val2014_fid_stats.npz",
    params:
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/download_coco_reference/{name}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell(
            "python -m softdimo.pretrained download-url "
            "--url https://github.com/boomb0om/text2image-benchmark/releases/download/v0.0.1/{wildcards.name} "
            "--out {output} > {log} 2>&1",
            STAND_INS,
        )


rule download_fid_inception:
    output:
        FID_INCEPTION,
    params:
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/download_fid_inception.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell(
            "python -m softdimo.pretrained download-url "
            "--url https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth "
            "--out {output} > {log} 2>&1",
            STAND_INS,
        )


if STAND_IN:

    rule stand_in_t2i_train_prompts:
        # paper_smoke: seeded training prompts at t2i_paper.prompts.train (the paper preset reads the user's file)
        output:
            P["prompts"]["train"],
        params:
            resolved=resolved_config,
        localrule: True
        log:
            "logs/stand_in_t2i_train_prompts.log",
        conda:
            "../envs/torch.yaml"
        shell:
            f"python -m {STAND_INS} --config {{params.resolved}} --out {{output}} > {{log}} 2>&1"


rule t2i_paper_prompts:
    input:
        prompt_source,
    output:
        f"{PT}/prompts/{{pset}}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        source=lambda wildcards, input: {"hps": lambda: os.path.dirname(input[0]), "train": lambda: P["prompts"]["train"]}
        .get(wildcards.pset, lambda: input[0])(),
        n=lambda wildcards: f"--num {P['prompts']['n_train']}" if wildcards.pset == "train" else "",
    localrule: True
    log:
        "logs/t2i_paper_prompts/{pset}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.maskgen.pipeline prompts --set {wildcards.pset} --source {params.source} {params.n} "
        "--out {output} > {log} 2>&1"


rule t2i_paper_text_bank:
    # train: the training prompts plus GenEval's (the curves of the students); train_gan: these and the real
    # pairs' captions, for GAN students only (the others never wait for your pairs); others: one benchmark each
    input:
        encoder=P_FILES["text_encoder"],
        prompts=lambda wildcards: {
            "train": [f"{PT}/prompts/train.json", f"{PT}/prompts/geneval.json"],
            "train_gan": [f"{PT}/prompts/train.json", f"{PT}/prompts/geneval.json", GAN_REAL["captions"]],
        }.get(wildcards.bankset, [f"{PT}/prompts/{wildcards.bankset}.json"]),
    output:
        f"{PT}/text_banks/{{bankset}}.pt",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=P["text_encoder"],
    resources:
        **job_resources("t2i_paper_text_bank"),
    log:
        "logs/t2i_paper_text_bank/{bankset}.log",
    benchmark:
        "benchmarks/t2i_paper_text_bank/{bankset}.tsv",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.maskgen.pipeline text-bank --config {params.resolved} --prompts {input.prompts} "
        "--encoder {input.encoder} --out {output} > {log} 2>&1"


rule t2i_paper_import:
    input:
        official=lambda wildcards: P_FILES[wildcards.part],
    output:
        weights=f"{PT}/{{part}}.pt",
        summary=f"{PT}/{{part}}.json",
    wildcard_constraints:
        part="teacher|tokenizer",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=lambda wildcards: P[wildcards.part],
    resources:
        **job_resources("t2i_paper_import"),
    log:
        "logs/t2i_paper_import/{part}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.maskgen.pipeline convert --kind {wildcards.part} --config {params.resolved} "
        "--official {input.official} --out {output.weights} > {log} 2>&1"


if STAND_IN:

    rule stand_in_t2i_gan_pairs:
        # paper_smoke: seeded noise images with captions at t2i_paper.gan_data.pairs (the paper preset reads yours)
        output:
            P["gan_data"]["pairs"],
        params:
            resolved=resolved_config,
        localrule: True
        log:
            "logs/stand_in_t2i_gan_pairs.log",
        conda:
            "../envs/torch.yaml"
        shell:
            f"python -m {STAND_INS} --config {{params.resolved}} --out {{output}} > {{log}} 2>&1"


rule t2i_paper_gan_real:
    # the GAN students' real data: your image-caption pairs (read by path, as the training prompts), cropped and
    # tokenised once by TA-TiTok; the captions join the training text bank
    input:
        tokenizer=f"{PT}/tokenizer.pt",
        pairs=[P["gan_data"]["pairs"]] if STAND_IN else [],
    output:
        tokens=GAN_REAL["tokens"],
        summary=GAN_REAL["tokens"].replace(".npz", ".json"),
        captions=GAN_REAL["captions"],
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=P["gan_data"],
        pairs=lambda wildcards, input: input.pairs[0] if input.pairs else P["gan_data"]["pairs"],  # paper: by path
    threads: 8
    resources:
        **job_resources("t2i_paper_gan_real"),
    log:
        "logs/t2i_paper_gan_real.log",
    benchmark:
        "benchmarks/t2i_paper_gan_real.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.tracks.maskgen.real_pairs --config {params.resolved} --tokenizer {input.tokenizer} "
        "--pairs {params.pairs:q} --workers {threads} --out {output.tokens} --prompts-out {output.captions} "
        "> {log} 2>&1"


rule t2i_paper_train_student:
    input:
        teacher=f"{PT}/teacher.pt",
        tokenizer=f"{PT}/tokenizer.pt",
        text_bank=lambda wildcards: f"{PT}/text_banks/{'train_gan' if wildcards.pstudent in P_GAN_STUDENTS else 'train'}.pt",
        train_prompts=f"{PT}/prompts/train.json",
        eval_prompts=f"{PT}/prompts/geneval.json",
        clip=P_FILES["clip"],
        hps=P_FILES["hps"],
        init=p_student_init,
        real=p_gan_real,
    output:
        weights=f"{PT}/students/{{pstudent}}/seed{{seed}}/generator.pt",
        summary=f"{PT}/students/{{pstudent}}/seed{{seed}}/generator.json",
        curve=f"{PT}/students/{{pstudent}}/seed{{seed}}/curve.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        student=lambda wildcards: P_STUDENTS[wildcards.pstudent],
        distill=P["distill"],
        rewards=P["rewards"],
        init=lambda wildcards, input: f"--input init={input.init}" if input.init else "",
        real=lambda wildcards, input: f"--input real_tokens={input.real[0]} --input real_prompts={input.real[1]}"
        if input.real else "",
    threads: config["torch_threads"]
    resources:
        **job_resources("t2i_paper_train_student"),
    log:
        "logs/t2i_paper_train_student/{pstudent}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_paper_train_student/{pstudent}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"{LAUNCH} -m softdimo.train --config {{params.resolved}} "
        "--stage maskgen.student:{wildcards.pstudent}:{wildcards.seed} "
        "--input teacher={input.teacher} --input tokenizer={input.tokenizer} --input text_bank={input.text_bank} "
        "--input train_prompts={input.train_prompts} --input eval_prompts={input.eval_prompts} "
        "--input clip={input.clip} --input hps={input.hps} {params.init} {params.real} --threads {params.train_threads} "
        f"--out {{output.weights}} --workdir {PT}/checkpoints/{{wildcards.pstudent}}/seed{{wildcards.seed}} "
        "--curve {output.curve} > {log} 2>&1"


rule t2i_paper_sample:
    input:
        teacher=f"{PT}/teacher.pt",
        tokenizer=f"{PT}/tokenizer.pt",
        text_bank=f"{PT}/text_banks/{{pset}}.pt",
        prompts=f"{PT}/prompts/{{pset}}.json",
        student=lambda wildcards: [] if wildcards.pmethod == "teacher"
        else [f"{PT}/students/{wildcards.pmethod}/seed{wildcards.seed}/generator.pt"],
    output:
        samples=f"{PT}/samples/{{pmethod}}/steps{{steps}}/{{pset}}/seed{{seed}}.npz",
        meta=f"{PT}/samples/{{pmethod}}/steps{{steps}}/{{pset}}/seed{{seed}}.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        sampling=P["sampling"],
        per_prompt=lambda wildcards: P_SETS[wildcards.pset],
        how=lambda wildcards, input: f"--student {input.student}" if input.student else f"--steps {wildcards.steps}",
    resources:
        **job_resources("t2i_paper_sample"),
    log:
        "logs/t2i_paper_sample/{pmethod}_steps{steps}_{pset}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_paper_sample/{pmethod}_steps{steps}_{pset}_seed{seed}.tsv",
    conda:
        "../envs/torch.yaml"
    shell:
        f"python -m softdimo.tracks.maskgen.pipeline sample {P_SAMPLE_ARGS} {{params.how}} --per-prompt {{params.per_prompt}} "
        "--method {wildcards.pmethod} --out {output.samples} > {log} 2>&1"


rule t2i_paper_test_time:
    input:
        teacher=f"{PT}/teacher.pt",
        tokenizer=f"{PT}/tokenizer.pt",
        text_bank=f"{PT}/text_banks/{{tset}}.pt",
        prompts=f"{PT}/prompts/{{tset}}.json",
        student=f"{PT}/students/{P_TT_STUDENT}/seed{{seed}}/generator.pt",
        clip=P_FILES["clip"],
        hps=P_FILES["hps"],
    output:
        grid=f"{PT}/test_time/{{tset}}/seed{{seed}}/grid.json",
        samples=expand(f"{PT}/test_time/{{{{tset}}}}/seed{{{{seed}}}}/n{{n}}_tteo{{k}}.npz", n=P_TT["best_of_n"],
                       k=P_TT["tteo_iters"]),
        sidecars=expand(f"{PT}/test_time/{{{{tset}}}}/seed{{{{seed}}}}/n{{n}}_tteo{{k}}.json", n=P_TT["best_of_n"],
                        k=P_TT["tteo_iters"]),
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        resolved=resolved_config,
        section=P_TT,
        rewards=P["rewards"],
        per_prompt=lambda wildcards: P_SETS[wildcards.tset],
    resources:
        **job_resources("t2i_paper_test_time"),
    log:
        "logs/t2i_paper_test_time/{tset}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_paper_test_time/{tset}_seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        f"python -m softdimo.tracks.maskgen.pipeline test-time {P_SAMPLE_ARGS} --student {{input.student}} --clip {{input.clip}} "
        f"--hps {{input.hps}} --per-prompt {{params.per_prompt}} --method {P_TT_STUDENT} "
        f"--out-dir {PT}/test_time/{{wildcards.tset}}/seed{{wildcards.seed}} "
        "> {log} 2>&1"


rule t2i_paper_geneval_layout:
    input:
        samples=lambda wildcards: p_samples(wildcards, "geneval"),
        metadata=f"{GENEVAL_DIR}/prompts/evaluation_metadata.jsonl",
    output:
        directory(f"{PT}/eval/{{pmethod}}/steps{{steps}}/seed{{seed}}/geneval_images"),
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        per_prompt=P_SETS["geneval"],
    resources:
        **job_resources("t2i_paper_geneval_layout"),
    log:
        "logs/t2i_paper_geneval_layout/{pmethod}_steps{steps}_seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.geneval_official layout --samples {input.samples} --metadata {input.metadata} "
        f"--images-per-prompt {{params.per_prompt}} {P_EXPECT.format(pset='geneval')} --out {{output}} > {{log}} 2>&1"


rule t2i_paper_geneval_detect:
    # the official evaluate_images.py at the pinned commit, in its own environment (workflow/envs/geneval.yaml)
    input:
        images=f"{PT}/eval/{{pmethod}}/steps{{steps}}/seed{{seed}}/geneval_images",
        code=f"{GENEVAL_DIR}/FETCHED_COMMIT",
        detector=GENEVAL_DETECTOR,
        clip_cache=f"{PR}/geneval_models/clip_cache_ready",
    output:
        f"{PT}/eval/{{pmethod}}/steps{{steps}}/seed{{seed}}/geneval_results.jsonl",
    params:
        # pip's mmdet 2.27 wheel ships the configs inside the package; evaluate_images.py's default looks for a
        # source checkout (mmdet/../configs), so the Mask2Former config is named here
        python=SITE.get("geneval_python", "python"),
        model_config=GENEVAL_MODEL_CONFIG,
    resources:
        **job_resources("t2i_paper_geneval_detect"),
    log:
        "logs/t2i_paper_geneval_detect/{pmethod}_steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_paper_geneval_detect/{pmethod}_steps{steps}_seed{seed}.tsv",
    conda:
        "../envs/torch.yaml" if STAND_IN else "../envs/geneval.yaml"
    shell:
        # paper_smoke: mmdet's detector cannot run offline on stand-ins; placeholder verdicts in the official
        # results.jsonl format, marked as such, let the summary and table rules run (docs/paper-scale.md)
        "python -m evaluation.geneval_official placeholder-results --images {input.images} --out {output} > {log} 2>&1"
        if STAND_IN
        else f"{{params.python}} {GENEVAL_DIR}/evaluation/evaluate_images.py {{input.images}} --outfile {{output}} "
        "--model-config $({params.python} -c 'import mmdet; print(mmdet.__path__[0])')/{params.model_config} "
        f"--model-path {PR}/geneval_models > {{log}} 2>&1"


rule t2i_paper_geneval_summary:
    input:
        f"{PT}/eval/{{pmethod}}/steps{{steps}}/seed{{seed}}/geneval_results.jsonl",
    output:
        f"{PT}/eval/{{pmethod}}/steps{{steps}}/seed{{seed}}/geneval.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
    resources:
        **job_resources("t2i_paper_geneval_summary"),
    log:
        "logs/t2i_paper_geneval_summary/{pmethod}_steps{steps}_seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.geneval_official summary --results {input} --out {output} > {log} 2>&1"


rule t2i_paper_hps:
    input:
        samples=lambda wildcards: p_samples(wildcards, "hps"),
        prompts=f"{PT}/prompts/hps.json",
        weights=P_FILES["hps"],
    output:
        f"{PT}/eval/{{pmethod}}/steps{{steps}}/seed{{seed}}/hps.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        batch_size=P["eval"]["batch_size"],
        arch=P["scorers"]["hps_arch"],
    resources:
        **job_resources("t2i_paper_hps"),
    log:
        "logs/t2i_paper_hps/{pmethod}_steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_paper_hps/{pmethod}_steps{steps}_seed{seed}.tsv",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.hps_benchmark --samples {input.samples} --prompts {input.prompts} "
        f"--weights {{input.weights}} --arch {{params.arch}} --batch-size {{params.batch_size}} {P_EXPECT.format(pset='hps')} "
        "--out {output} > {log} 2>&1"


rule t2i_paper_coco:
    input:
        samples=lambda wildcards: p_samples(wildcards, "coco"),
        captions=COCO["captions"],
        stats=COCO["stats"],
        inception=FID_INCEPTION,
        clip=P_FILES["clip_eval"],
    output:
        f"{PT}/eval/{{pmethod}}/steps{{steps}}/seed{{seed}}/coco.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        batch_size=P["eval"]["batch_size"],
        clip=P["eval"]["clip_score"],
        clip_quick_gelu=str(P["eval"]["clip_score"]["quick_gelu"]).lower(),
        n_captions=P["eval"]["coco_captions"],
        frechet_sqrt=P["eval"]["frechet_sqrt"],
    resources:
        **job_resources("t2i_paper_coco"),
    log:
        "logs/t2i_paper_coco/{pmethod}_steps{steps}_seed{seed}.log",
    benchmark:
        "benchmarks/t2i_paper_coco/{pmethod}_steps{steps}_seed{seed}.tsv",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.coco --samples {input.samples} --captions {input.captions} --stats {input.stats} "
        "--inception {input.inception} --clip {input.clip} --clip-arch {params.clip[arch]} "
        "--clip-quick-gelu {params.clip_quick_gelu} --clip-images {params.clip[images]} "
        "--n-captions {params.n_captions} --frechet-sqrt {params.frechet_sqrt} --batch-size {params.batch_size} "
        f"{P_EXPECT.format(pset='coco')} --out {{output}} > {{log}} 2>&1"


rule t2i_paper_metrics:
    input:
        unpack(p_row_parts),
    output:
        f"{PT}/metrics/{{pmethod}}/steps{{steps}}/seed{{seed}}.json",
    params:
        parts=lambda wildcards, input: " ".join(f"{k}={v}" for k, v in input.items()),
    localrule: True
    log:
        "logs/t2i_paper_metrics/{pmethod}_steps{steps}_seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.table2_paper merge --method {wildcards.pmethod} --steps {wildcards.steps} "
        "--seed {wildcards.seed} --parts {params.parts} --out {output} > {log} 2>&1"


rule make_table2_paper:
    input:
        metrics=p_metric_files() + T2I_EXTRA_METRICS,
        reported="config/reported.csv",
        curves=[f"{PT}/students/{name}/seed{s['seeds'][0]}/curve.csv" for name, s in P_STUDENTS.items()],
    output:
        csv=report("results/table2.csv", category="Table 2", caption="../report/table2.rst"),
        md="results/table2.md",
        bon="results/figures/t2i_paper_geneval_vs_n.png",
        curves="results/figures/t2i_paper_training_curves.png",
    params:
        preset=config["preset"],
        tt=f"--tt-student {P_TT_STUDENT} --table-n {P_TT['table_n']} --table-tteo {P_TT['table_tteo_iters']}",
    localrule: True
    log:
        "logs/make_table2_paper.log",
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m reports.table2_paper table --metrics {input.metrics} --reported {input.reported} "
        "--preset {params.preset} {params.tt} --curves {input.curves} --out-csv {output.csv} --out-md {output.md} "
        "--out-bon {output.bon} --out-curves {output.curves} > {log} 2>&1"
