# FID / IS / precision-recall through torch-fidelity with the configured feature extractor.


rule download_inception:
    output:
        "resources/eval/inception_v3_torch_fidelity.pth",
    params:
        resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
    localrule: True
    log:
        "logs/download_inception.log",
    conda:
        "../envs/torch.yaml"
    shell:
        fetch_shell("python -m softdimo.pretrained download-inception --out {output} > {log} 2>&1")


if ADM_REFERENCE:

    rule download_adm_reference:
        output:
            "resources/eval/VIRTUAL_imagenet256_labeled.npz",
        params:
            resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
            url="https://openaipublic.blob.core.windows.net/diffusion/jul-2021/ref_batches/imagenet/256/VIRTUAL_imagenet256_labeled.npz",
        localrule: True
        log:
            "logs/download_adm_reference.log",
        conda:
            "../envs/torch.yaml"
        shell:
            fetch_shell(
                "python -m softdimo.pretrained download-url --url {params.url} --out {output} > {log} 2>&1"
            )

    rule download_cleanfid_inception:
        output:
            "resources/eval/inception-2015-12-05.pt",
        params:
            resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
        localrule: True
        log:
            "logs/download_cleanfid_inception.log",
        conda:
            "../envs/torch.yaml"
        shell:
            fetch_shell(
                "python -m softdimo.pretrained download-cleanfid-inception --out {output} > {log} 2>&1",
            )

    rule adm_reference_features:
        input:
            ref_batch="resources/eval/VIRTUAL_imagenet256_labeled.npz",
            extractor=extractor_weights(),
            gate=imagenet_gate(),
        output:
            "results/c2i/eval/adm_reference.npz",
        params:
            numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
            batch_size=C2I["eval"]["batch_size"],
        resources:
            **job_resources("adm_reference_features"),
        log:
            "logs/adm_reference_features.log",
        benchmark:
            "benchmarks/adm_reference_features.tsv",
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m evaluation.adm reference --ref-batch {input.ref_batch} --extractor {input.extractor} "
            "--batch-size {params.batch_size} --out {output} > {log} 2>&1"

    rule evaluate_samples:
        input:
            samples="results/c2i/samples/{method}/steps{steps}/seed{seed}.npz",
            reference="results/c2i/eval/adm_reference.npz",
            extractor=extractor_weights(),
            cleanfid=(["resources/eval/inception-2015-12-05.pt"] if C2I["eval"]["cleanfid_crosscheck"] else []),
        output:
            "results/c2i/metrics/{method}/steps{steps}/seed{seed}.json",
        params:
            numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
            section=C2I["eval"],
            expect=sample_expectations,
            crosscheck=lambda wildcards, input: f"--cleanfid-inception-dir resources/eval" if input.cleanfid else "",
        threads: 8
        resources:
            **job_resources("evaluate_samples"),
        log:
            "logs/evaluate_samples/{method}_steps{steps}_seed{seed}.log",
        benchmark:
            "benchmarks/evaluate_samples/{method}_steps{steps}_seed{seed}.tsv"
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m evaluation.adm calc --samples {input.samples} --ref {input.reference} "
            "--extractor {input.extractor} --num {params.section[n_samples]} "
            "--prc-neighborhood {params.section[prc_neighborhood]} --batch-size {params.section[batch_size]} "
            "--is-convention {params.section[is_convention]} --prc-arithmetic {params.section[prc_arithmetic]} "
            "--frechet-sqrt {params.section[frechet_sqrt]} {params.crosscheck} {params.expect} --out {output} > {log} 2>&1"

else:

    rule evaluate_samples:
        input:
            samples="results/c2i/samples/{method}/steps{steps}/seed{seed}.npz",
            reference="results/c2i/data/holdout.npz",
            extractor=extractor_weights(),
        output:
            "results/c2i/metrics/{method}/steps{steps}/seed{seed}.json",
        params:
            numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
            section=C2I["eval"],
            expect=sample_expectations,
        threads: 1
        resources:
            **job_resources("evaluate_samples"),
        log:
            "logs/evaluate_samples/{method}_steps{steps}_seed{seed}.log",
        benchmark:
            "benchmarks/evaluate_samples/{method}_steps{steps}_seed{seed}.tsv"
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m evaluation.fid calc --samples {input.samples} --ref {input.reference} "
            "--num {params.section[n_samples]} --prc-neighborhood {params.section[prc_neighborhood]} "
            f"{EVAL_ARGS} {{params.expect}} --out {{output}} > {{log}} 2>&1"


rule evaluate_tokenizer:
    input:
        tokenizer="results/c2i/tokenizer.pt",
        reference="results/c2i/data/holdout.npz",
        extractor=extractor_weights(),
    output:
        report(
            "results/c2i/tokenizer_eval.json",
            category="Tokenizer",
            caption="../report/tokenizer.rst",
        ),
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        section=C2I["eval"],
    threads: 1
    resources:
        **job_resources("evaluate_tokenizer"),
    log:
        "logs/evaluate_tokenizer.log",
    benchmark:
        "benchmarks/evaluate_tokenizer.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.reconstruction --tokenizer {input.tokenizer} --ref {input.reference} "
        f"{EVAL_ARGS} --prc-neighborhood {{params.section[prc_neighborhood]}} --out {{output}} > {{log}} 2>&1"


rule evaluate_real_images:
    input:
        samples="results/c2i/data/train.npz",
        reference="results/c2i/data/holdout.npz",
        extractor=extractor_weights(),
    output:
        "results/c2i/metrics/real_train_images/steps0/seed0.json",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        section=C2I["eval"],
    threads: 1
    resources:
        **job_resources("evaluate_real_images"),
    log:
        "logs/evaluate_real_images.log",
    benchmark:
        "benchmarks/evaluate_real_images.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m evaluation.fid calc --real --samples {input.samples} --ref {input.reference} "
        "--num {params.section[n_samples]} --prc-neighborhood {params.section[prc_neighborhood]} "
        f"{EVAL_ARGS} --out {{output}} > {{log}} 2>&1"
