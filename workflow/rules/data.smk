rule prepare_data:
    output:
        train="results/c2i/data/train.npz",
        holdout="results/c2i/data/holdout.npz",
        summary="results/c2i/data/data.json",
    params:
        resolved=RESOLVED_CONFIG,
        section=C2I["data"],
    log:
        "logs/prepare_data.log",
    benchmark:
        "benchmarks/prepare_data.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m softdimo.data --config {params.resolved} --out results/c2i/data > {log} 2>&1"
