if IMAGENET and STAND_IN:

    rule stand_in_imagenet:
        # paper_smoke: a seeded ImageFolder at c2i.data.path, one folder per class (softdimo/stand_ins.py); the
        # manifest is the output, so Snakemake never deletes a folder it did not make (--forcerun, --delete-all-output)
        output:
            STAND_IN_IMAGENET,
        params:
            resolved=resolved_config,
            path=C2I["data"]["path"],
        localrule: True
        log:
            "logs/stand_in_imagenet.log",
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m softdimo.stand_ins --what imagenet --images 2 --config {params.resolved} --out {params.path} "
            "--manifest {output} > {log} 2>&1"


if IMAGENET:

    rule check_imagenet:
        input:
            STAND_IN_IMAGENET if STAND_IN else [],
        output:
            "results/c2i/data/imagenet_index.json",
        params:
            path=C2I["data"]["path"],
            classes=C2I["teacher"]["num_classes"],
        localrule: True
        log:
            "logs/check_imagenet.log",
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m softdimo.tracks.maskbit.imagenet check --path {params.path} --num-classes {params.classes} "
            "--out {output} > {log} 2>&1"

    rule tokenize_imagenet:
        input:
            index="results/c2i/data/imagenet_index.json",
            tokenizer="results/c2i/tokenizer.pt",
        output:
            tokens="results/c2i/data/train_tokens.npz",
            summary="results/c2i/data/train_tokens.json",
        params:
            numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
            resolved=resolved_config,
            resolution=C2I["data"]["resolution"],
            batch_size=C2I["sampling"]["batch_size"],
        threads: 16
        resources:
            **job_resources("tokenize_imagenet"),
        log:
            "logs/tokenize_imagenet.log",
        benchmark:
            "benchmarks/tokenize_imagenet.tsv"
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m softdimo.tracks.maskbit.imagenet tokenize --config {params.resolved} --index {input.index} "
            "--tokenizer {input.tokenizer} --batch-size {params.batch_size} --workers {threads} "
            "--out {output.tokens} > {log} 2>&1"

else:

    rule prepare_data:
        output:
            train="results/c2i/data/train.npz",
            holdout="results/c2i/data/holdout.npz",
            summary="results/c2i/data/data.json",
        params:
            numerics=NUMERICS,  # device, precision, threads, CPU kernels: a change reruns the job
            resolved=resolved_config,
            section=C2I["data"],
        resources:
            **job_resources("prepare_data"),
        log:
            "logs/prepare_data.log",
        benchmark:
            "benchmarks/prepare_data.tsv"
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m softdimo.tracks.digits.data --config {params.resolved} --out results/c2i/data > {log} 2>&1"
