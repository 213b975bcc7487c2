"""Issue 17, classes 1 and 6, at the level of Snakemake itself (the function-level cases are in test_faults.py):
another preset's dry run and a run the lock refuses, both while a run of this preset holds its lock, change
nothing its jobs read; and when Snakemake dies while a training job runs on, the rerun reuses the job's finished
checkpoint instead of training again. Real Snakemake processes and a real training job of the smoke preset. The
processes are paused (SIGSTOP) at the points that matter; the one timing assumption left is that the training
process is paused before it has trained its 20 steps (polled every 50 ms; its import of torch alone takes
seconds). Were it to finish first, the test fails (Snakemake would see a complete job), it does not pass."""
import hashlib
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest
import torch

pytestmark = pytest.mark.slow

TARGET = "results/c2i/tokenizer.pt"
SMOKE = ["--configfile", "config/smoke.yaml"]


def snakemake(args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def weights(path):
    """The tensors only: the file's summary records, by design, how this run got them (steps trained, seconds)."""
    return torch.load(path, weights_only=True)["state_dict"]


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def wait_for(predicate, what, timeout=240):
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def signal_all(procs, sig):
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def test_concurrent_runs_and_interrupted_snakemake(workdir):
    # an undisturbed run: the reference weights
    first = snakemake(["--cores", "1", TARGET, *SMOKE], workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    tokenizer, log = workdir / TARGET, workdir / "logs/train_tokenizer.log"
    undisturbed = weights(tokenizer)
    for path in (tokenizer, workdir / "results/c2i/tokenizer.json", workdir / "results/c2i/curves/tokenizer.csv",
                 log):
        path.unlink()
    shutil.rmtree(workdir / "results/c2i/checkpoints")  # train again from step 0

    def files_the_jobs_read():
        """Every resolved config and data file, with its content hash and mtime: the names too, so a new file
        (another preset's config) counts as a change."""
        paths = sorted((workdir / "results/configs").glob("*")) + sorted((workdir / "results/c2i/data").glob("*"))
        return {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths}

    def training_job():
        found = []
        for proc in snake.children(recursive=True):
            try:
                if "softdimo.train" in " ".join(proc.cmdline()):
                    found.append(proc)
            except psutil.Error:  # a child that ended meanwhile
                pass
        return found

    run = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", TARGET, *SMOKE], cwd=workdir,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    snake, job = psutil.Process(run.pid), []
    try:
        # class 1: the run holds its lock; paused there, another preset's dry run and real run come in between
        wait_for(lambda: any((workdir / ".snakemake/locks").glob("*")), "the smoke run to take its lock")
        signal_all([snake, *snake.children(recursive=True)], signal.SIGSTOP)
        before = files_the_jobs_read()
        assert len([p for p in before if p.parent.name == "configs"]) == 1  # the smoke preset's, from the first run
        dry = snakemake(["-n", "results/table1.csv"], workdir)
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert files_the_jobs_read() == before  # a dry run writes nothing
        refused = snakemake(["--cores", "1", TARGET], workdir)
        # Snakemake checks the paused run's incomplete-output markers before its lock: which refusal comes depends on
        # whether the paused run had started its job (a CI run met the second); either way nothing is written
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0, said[-3000:]
        assert "cannot be locked" in said or "IncompleteFilesException" in said, said[-3000:]
        assert files_the_jobs_read() == before  # nor does a run the lock refuses
        signal_all([snake, *snake.children(recursive=True)], signal.SIGCONT)

        # class 6: Snakemake dies (SIGKILL, as on a lost login node) while its training job runs on and finishes.
        # The training process is paused first, the moment it exists (its import of torch alone takes seconds)
        wait_for(training_job, "the training job to start", timeout=120)
        job = training_job()
        signal_all(job, signal.SIGSTOP)
        job = snake.children(recursive=True)  # the job's shell too
        signal_all(job, signal.SIGSTOP)
        snake.kill()
        run.wait()
        signal_all(job, signal.SIGCONT)
        _, alive = psutil.wait_procs(job, timeout=240)
        assert not alive, "the orphaned training job did not finish"
    finally:
        for proc in [*job, *(snake.children(recursive=True) if snake.is_running() else []), snake]:
            signal_all([proc], signal.SIGKILL)
        run.wait()
    assert tokenizer.exists() and "reusing it" not in log.read_text(), log.read_text()[-2000:]

    # Snakemake knows the job did not finish under its watch: it does not trust the outputs ... (the killed run
    # also left its lock, which --unlock removes, as Snakemake's message says)
    plain = snakemake(["--cores", "1", TARGET, *SMOKE], workdir)
    assert plain.returncode != 0 and "--rerun-incomplete" in plain.stdout + plain.stderr, plain.stderr[-3000:]
    assert snakemake(["--unlock", TARGET, *SMOKE], workdir).returncode == 0
    # ... and the rerun it asks for reuses the finished checkpoint: no step trained again, the same weights
    again = snakemake(["--cores", "1", "--rerun-incomplete", TARGET, *SMOKE], workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing it" in log.read_text(), log.read_text()[-2000:]
    assert same(weights(tokenizer), undisturbed)
    done = snakemake(["-n", TARGET, *SMOKE], workdir)
    assert "Nothing to be done" in done.stdout + done.stderr, done.stdout[-2000:]
