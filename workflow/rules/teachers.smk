# Tokenizer, feature extractor and teacher of the class-to-image track. The tiny presets train them here;
# the paper preset downloads the official checkpoints (download_* rules record sha256) and converts them.

rule train_classifier:
    input:
        train="results/c2i/data/train.npz",
        holdout="results/c2i/data/holdout.npz",
    output:
        weights="results/c2i/classifier.pt",
        summary="results/c2i/classifier.json",
        curve="results/c2i/curves/classifier.csv",
    params:
        numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
        train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
        resolved=resolved_config,
        section=C2I["classifier"],
    threads: config["torch_threads"]
    resources:
        **job_resources("train_classifier"),
    log:
        "logs/train_classifier.log",
    benchmark:
        "benchmarks/train_classifier.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        train_command("classifier")


if C2I["tokenizer"]["pretrained"]["repo_id"]:

    rule download_tokenizer:
        output:
            "resources/c2i/tokenizer_official.bin",
        params:
            resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
            section=C2I["tokenizer"]["pretrained"],
        localrule: True
        log:
            "logs/download_tokenizer.log",
        conda:
            "../envs/torch.yaml"
        shell:
            fetch_shell(
                "python -m softdimo.pretrained download --repo-id {params.section[repo_id]} "
                "--filename {params.section[filename]} --revision {params.section[revision]} "
                "--sha256 '{params.section[sha256]}' --rule download_tokenizer --out {output} > {log} 2>&1",
            )

    rule import_tokenizer:
        input:
            official="resources/c2i/tokenizer_official.bin",
            gate=imagenet_gate(),
        output:
            weights="results/c2i/tokenizer.pt",
            summary="results/c2i/tokenizer.json",
        params:
            resolved=resolved_config,
            section=C2I["tokenizer"],
        localrule: True
        log:
            "logs/import_tokenizer.log",
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m softdimo.pretrained convert --kind tokenizer --config {params.resolved} "
            "--official {input.official} --out {output.weights} > {log} 2>&1"

else:

    rule train_tokenizer:
        input:
            train="results/c2i/data/train.npz",
            holdout="results/c2i/data/holdout.npz",
        output:
            weights="results/c2i/tokenizer.pt",
            summary="results/c2i/tokenizer.json",
            curve="results/c2i/curves/tokenizer.csv",
        params:
            numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
            train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
            resolved=resolved_config,
            section=C2I["tokenizer"],
        threads: config["torch_threads"]
        resources:
            **job_resources("train_tokenizer"),
        log:
            "logs/train_tokenizer.log",
        benchmark:
            "benchmarks/train_tokenizer.tsv"
        conda:
            "../envs/torch.yaml"
        shell:
            train_command("tokenizer")


if C2I["teacher"]["pretrained"]["repo_id"]:

    rule download_teacher:
        output:
            "resources/c2i/teacher_official.bin",
        params:
            resolved=resolved_config,  # stand-in mode only (fetch_shell); no params change otherwise
            section=C2I["teacher"]["pretrained"],
        localrule: True
        log:
            "logs/download_teacher.log",
        conda:
            "../envs/torch.yaml"
        shell:
            fetch_shell(
                "python -m softdimo.pretrained download --repo-id {params.section[repo_id]} "
                "--filename {params.section[filename]} --revision {params.section[revision]} "
                "--sha256 '{params.section[sha256]}' --rule download_teacher --out {output} > {log} 2>&1",
            )

    rule import_teacher:
        input:
            official="resources/c2i/teacher_official.bin",
            gate=imagenet_gate(),
        output:
            weights="results/c2i/teacher.pt",
            summary="results/c2i/teacher.json",
        params:
            resolved=resolved_config,
            section=C2I["teacher"],
        localrule: True
        log:
            "logs/import_teacher.log",
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m softdimo.pretrained convert --kind teacher --config {params.resolved} "
            "--official {input.official} --out {output.weights} > {log} 2>&1"

else:

    rule train_teacher:
        input:
            train="results/c2i/data/train.npz",
            holdout="results/c2i/data/holdout.npz",
            tokenizer="results/c2i/tokenizer.pt",
        output:
            weights="results/c2i/teacher.pt",
            summary="results/c2i/teacher.json",
            curve="results/c2i/curves/teacher.csv",
        params:
            numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
            train_threads=config["torch_threads"],  # fixed, unlike {threads} (capped at --cores): the weights depend on it
            resolved=resolved_config,
            section=C2I["teacher"],
            schedule=C2I["sampling"]["schedule"],
        threads: config["torch_threads"]
        resources:
            **job_resources("train_teacher"),
        log:
            "logs/train_teacher.log",
        benchmark:
            "benchmarks/train_teacher.tsv"
        conda:
            "../envs/torch.yaml"
        shell:
            train_command("teacher", "--input tokenizer={input.tokenizer}")
