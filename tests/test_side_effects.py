"""Parsing the workflow has no side effects, and files written by the jobs get the user's permissions."""
import os
import stat
import subprocess
import sys



def snakemake(args, cwd, timeout=180):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def snapshot(folder):
    """Every file and folder outside .snakemake (Snakemake's own bookkeeping) with its mtime and size."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != ".snakemake"]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, folder)] = (st.st_mtime_ns, st.st_size)
    return out


# that a dry run and lint of every preset write nothing is checked by tests/test_workflow.py's test_dry_run and
# test_lint (one Snakemake call each instead of two)


def test_resolved_config_is_per_config(workdir):
    """A dry run of another preset never touches the resolved config a running job of this one reads."""
    def resolved(*config):
        run = snakemake(["-n", "-p", "results/c2i/data/train.npz", *config], workdir)
        assert run.returncode == 0, run.stderr[-2000:]
        return next(tok for tok in (run.stdout + run.stderr).split() if tok.startswith("results/configs/"))
    smoke, tiny = resolved("--configfile", "config/smoke.yaml"), resolved("--configfile", "config/config.yaml")
    assert smoke != tiny and smoke.endswith(".yaml")
    # --config KEY=VALUE alone overrides that key of the tiny preset (another resolved config), validated as
    # the preset's own keys are: a wrong value stops the workflow before any job, naming the key
    assert resolved("--config", "dropout_draws=bits16") not in (tiny, smoke)
    wrong = snakemake(["-n", "results/c2i/data/train.npz", "--config", "dropout_draws=philox"], workdir)
    assert wrong.returncode != 0 and "dropout_draws" in wrong.stdout + wrong.stderr, wrong.stderr[-2000:]
    assert not (workdir / "results").exists()
    # a real run writes it when it starts; the resolved config then names the preset
    run = snakemake(["results/c2i/data/train.npz", "--cores", "1", "--configfile", "config/smoke.yaml"], workdir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "preset: smoke" in (workdir / smoke).read_text()
    again = snakemake(["-n", "results/c2i/data/train.npz", "--configfile", "config/smoke.yaml"], workdir)
    assert "Nothing to be done" in again.stdout + again.stderr  # the hash in the name is no params change
    # issue 17 class 7: a setting that changes numerics without being in the rule's section reruns the job
    bf16 = (workdir / "config/smoke.yaml").read_text().replace("precision: fp32", "precision: bf16")
    (workdir / "config/smoke_bf16.yaml").write_text(bf16)
    changed = snakemake(["-n", "results/c2i/data/train.npz", "--configfile", "config/smoke_bf16.yaml"], workdir)
    assert "rule prepare_data" in changed.stdout and "Params have changed" in changed.stdout, changed.stdout[-2000:]


def test_every_torch_rule_reruns_when_numerics_change(root):
    """Every rule that runs a torch command carries params.numerics (device, precision, threads, CPU kernels)."""
    import re

    missing = []
    for path in sorted((root / "workflow/rules").glob("*.smk")):
        blocks = re.split(r"(?m)^\s*rule (?=\w+:)", path.read_text())[1:]
        for block in blocks:
            name = block.split(":")[0]
            # (GenEval's placeholder verdicts, paper_smoke only, hash files: no torch)
            runs_torch = re.search(r"python -m (softdimo\.(train|sample|tracks\.\w+\.(sample|pipeline|world))"
                                   r"|evaluation(?!\.geneval_official placeholder))"
                                   r"|\{LAUNCH\}|train_command\(", block)
            if runs_torch and "numerics=NUMERICS" not in block:
                missing.append(f"{path.name}: {name}")
    assert not missing, f"rules without params.numerics: {missing}"


def test_site_overlay_unknown_key(workdir):
    (workdir / "config" / "site.yaml").write_text("site:\n  slurm_acount: proj\n")
    run = snakemake(["-n", "results/table1.csv", "--configfile", "config/smoke.yaml", "config/site.yaml"], workdir)
    assert run.returncode != 0
    assert "unknown key 'site.slurm_acount'" in run.stderr + run.stdout


def test_site_overlay_example_is_valid_and_changes_no_experiment_setting(workdir):
    ok = snakemake(["-n", "results/table1.csv", "--configfile", "config/paper.yaml", "config/site.example.yaml"],
                   workdir)
    assert ok.returncode == 0, ok.stderr[-2000:]
    (workdir / "config" / "site.yaml").write_text("site:\n  constraints: {no_such_rule: a100}\n")
    bad = snakemake(["-n", "results/table1.csv", "--configfile", "config/smoke.yaml", "config/site.yaml"], workdir)
    assert bad.returncode != 0 and "no rule 'no_such_rule'" in bad.stderr + bad.stdout
    (workdir / "config" / "site.yaml").write_text("site:\n  gpus_per_job: 2\nc2i: {eval: {n_samples: 5}}\n")
    mixed = snakemake(["-n", "results/table1.csv", "--configfile", "config/smoke.yaml", "config/site.yaml"], workdir)
    assert mixed.returncode != 0  # a site file that also changes an experiment key is not a site overlay


def test_written_files_follow_umask(tmp_path):
    from softdimo.io import atomic_write_text

    old = os.umask(0o002)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    assert mode == 0o664, oct(mode)
