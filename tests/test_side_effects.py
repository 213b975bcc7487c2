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


def test_dry_run_and_lint_write_nothing(workdir):
    before = snapshot(workdir)
    for args in (["-n", "results/table1.csv", "--configfile", "config/smoke.yaml"],
                 ["-n", "results/table1.csv", "results/table2.csv", "--configfile", "config/paper.yaml"],
                 ["--lint", "--configfile", "config/smoke.yaml"]):
        run = snakemake(args, workdir)
        assert run.returncode == 0, run.stderr[-2000:]
    assert snapshot(workdir) == before


def test_resolved_config_is_per_config(workdir):
    """A dry run of another preset never touches the resolved config a running job of this one reads."""
    def resolved(preset):
        run = snakemake(["-n", "-p", "results/c2i/data/train.npz", "--configfile", f"config/{preset}.yaml"], workdir)
        assert run.returncode == 0, run.stderr[-2000:]
        return next(tok for tok in (run.stdout + run.stderr).split() if tok.startswith("results/configs/"))
    smoke, tiny = resolved("smoke"), resolved("config")
    assert smoke != tiny and smoke.endswith(".yaml")
    assert not (workdir / "results").exists()
    # a real run writes it when it starts; the resolved config then names the preset
    run = snakemake(["results/c2i/data/train.npz", "--cores", "1", "--configfile", "config/smoke.yaml"], workdir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "preset: smoke" in (workdir / smoke).read_text()
    again = snakemake(["-n", "results/c2i/data/train.npz", "--configfile", "config/smoke.yaml"], workdir)
    assert "Nothing to be done" in again.stdout + again.stderr  # the hash in the name is no params change


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
