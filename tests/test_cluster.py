"""The smoke preset's Table 1 and Table 2 through a real SLURM cluster (make test-cluster).

Needs a running cluster (workflow/cluster/local_slurm.sh up; two placeholder GPUs). The workflow runs through
the shipped profiles/slurm plus the CI site overlay (.ci/slurm-profile: status command and polling;
.ci/slurm-site.yaml: partition, account) with the real executor plugin, next to a local run of the same
targets. Checks: every job ran as a SLURM job, GPU rules got GPUs, one training job cancelled with scancel
right after its first checkpoint is retried (the profile's retries) and resumes from that checkpoint, and
every artefact is identical to the local run's (reports/fingerprint.py, timing fields aside).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import torch
import yaml

pytestmark = pytest.mark.cluster

TARGETS = ["results/table1.csv", "results/table2.csv"]
SMOKE = ["--configfile", "config/smoke.yaml"]
# training jobs with a checkpoint before their last step (smoke: steps > ckpt_every), in DAG order:
# rule, wildcards as the executor writes them, checkpoint folder, log, final output, steps of the job
CANDIDATES = [
    ("train_classifier", "", "results/c2i/checkpoints/classifier", "logs/train_classifier.log",
     "results/c2i/classifier.pt", 40),
    ("train_tokenizer", "", "results/c2i/checkpoints/tokenizer", "logs/train_tokenizer.log",
     "results/c2i/tokenizer.pt", 20),
    ("train_teacher", "", "results/c2i/checkpoints/teacher", "logs/train_teacher.log", "results/c2i/teacher.pt", 20),
] + [
    ("train_student", f"{s}_{seed}", f"results/c2i/checkpoints/students/{s}/seed{seed}",
     f"logs/train_student/{s}_seed{seed}.log", f"results/c2i/students/{s}/seed{seed}/generator.pt", 6)
    for s, seed in (("dimo", 0), ("dimo", 1), ("soft_dimo", 0), ("soft_dimo_gumbel", 0))
] + [
    ("t2i_train_student", "dimo_0", "results/t2i/checkpoints/students/dimo/seed0",
     "logs/t2i_train_student/dimo_seed0.log", "results/t2i/students/dimo/seed0/generator.pt", 6),
]


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def copy_workflow(root, dest):
    dest.mkdir()
    for name in ("Snakefile", "config", "workflow", "profiles", ".ci"):
        src = root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


def squeue_jobs():
    """{comment: jobid} of this user's jobs that SLURM runs now (the executor's comment: rule_<r>_wildcards_<w>)."""
    out = run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"]).stdout
    return {line.split("|", 1)[1]: line.split("|", 1)[0] for line in out.splitlines() if "|" in line}


class JobRecorder:
    """scontrol's record of every job while SLURM still knows it (finished jobs vanish after MinJobAge)."""

    def __init__(self):
        self.shown = {}
        self.last = 0.0

    def poll(self):
        if time.time() - self.last < 1.0:
            return
        self.last = time.time()
        for jobid in run(["squeue", "-h", "-o", "%i"]).stdout.split():
            if jobid not in self.shown:
                self.shown[jobid] = run(["scontrol", "show", "job", "-o", jobid]).stdout


class Canceller:
    """Cancels one training job right after its first checkpoint, while its last step is still to come.

    The job is frozen (scontrol suspend) as soon as a checkpoint file appears, the checkpoint's step is read,
    and the job is cancelled only when that step is before the last one (and the final output is absent);
    otherwise it is resumed and the next candidate is watched."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.pending = list(CANDIDATES)
        self.cancelled = None
        self.notes = []

    def poll(self):
        if self.cancelled or not self.pending:
            return
        running = None
        for cand in list(self.pending):
            rule, wildcards, ckpt_dir, _, final, steps = cand
            comment = f"rule_{rule}" + (f"_wildcards_{wildcards}" if wildcards else "")
            ckpts = list((self.workdir / ckpt_dir).glob("*.pt")) if (self.workdir / ckpt_dir).exists() else []
            if (self.workdir / final).exists():
                self.pending.remove(cand)
                continue
            if not ckpts:
                continue
            running = running if running is not None else squeue_jobs()
            jobid = running.get(comment)
            if jobid is None:
                continue
            run(["scontrol", "suspend", jobid])
            step = self.checkpoint_step(ckpts[0])
            if step is not None and step < steps and not (self.workdir / final).exists():
                run(["scancel", jobid])
                self.cancelled = (cand, jobid, step)
                return
            run(["scontrol", "resume", jobid])
            self.notes.append(f"{rule} {wildcards}: checkpoint at step {step} of {steps}, too late")
            self.pending.remove(cand)

    @staticmethod
    def checkpoint_step(path):
        try:
            return torch.load(path, map_location="cpu", weights_only=False)["step"]
        except Exception:  # noqa: BLE001 - unreadable: treat as too late (the job is resumed, the next one tried)
            return None


def test_smoke_through_slurm(root, tmp_path):
    assert shutil.which("sbatch") and shutil.which("squeue"), "no SLURM client: run workflow/cluster/local_slurm.sh up"
    state = run(["sinfo", "-h", "-o", "%t"]).stdout.split()
    assert state and state[0] in ("idle", "mix", "alloc"), f"the SLURM node is not up: {state}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    local = copy_workflow(root, tmp_path / "local")
    slurm = copy_workflow(root, tmp_path / "slurm")
    snakemake = [sys.executable, "-m", "snakemake"]
    t0 = time.time()
    # the local reference and the SLURM run side by side (the cluster's two cores are this machine's)
    with open(tmp_path / "local.log", "w") as local_log, open(tmp_path / "slurm.log", "w") as slurm_log:
        local_run = subprocess.Popen([*snakemake, *TARGETS, "--cores", "2", *SMOKE], cwd=local, env=env,
                                     stdout=local_log, stderr=subprocess.STDOUT)
        slurm_run = subprocess.Popen(
            [*snakemake, *TARGETS, "--profile", "profiles/slurm", "--profile", ".ci/slurm-profile", "--verbose",
             "--configfile", "config/smoke.yaml", ".ci/slurm-site.yaml"],
            cwd=slurm, env=env, stdout=slurm_log, stderr=subprocess.STDOUT)
        canceller, recorder = Canceller(slurm), JobRecorder()
        while slurm_run.poll() is None:
            canceller.poll()
            recorder.poll()
            time.sleep(0.02)
        local_rc = local_run.wait()
    slurm_seconds = time.time() - t0
    slurm_text = (tmp_path / "slurm.log").read_text()
    local_text = (tmp_path / "local.log").read_text()
    assert local_rc == 0, local_text[-3000:]
    assert slurm_run.returncode == 0, slurm_text[-5000:]
    print(f"local and SLURM runs side by side: {slurm_seconds:.0f} s")

    # every job ran as a SLURM job: one sbatch per job, a SLURM log per job, GPUs for the GPU rules
    jobs = job_counts(local_text)
    sbatch = re.findall(r"sbatch call: (sbatch .*?) --wrap", slurm_text)
    submitted = {}
    for call in sbatch:
        rule = re.search(r"--comment '?rule_(.+?)(_wildcards_\S+?)?'? ", call).group(1)
        submitted.setdefault(rule, []).append(call)
    cancelled_rule = canceller.cancelled[0][0] if canceller.cancelled else None
    for rule, count in jobs.items():
        if rule in ("make_table1",):  # a local rule: runs on the submitting host
            continue
        n = len(submitted.get(rule, []))
        assert n == count + (rule == cancelled_rule), f"{rule}: {n} sbatch calls for {count} jobs"
        logs = list((slurm / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob("*.log"))
        assert len(logs) >= count, f"{rule}: {len(logs)} SLURM logs for {count} jobs"
    assert "make_table1" not in submitted
    for rule in ("train_student", "sample_teacher", "sample_student", "t2i_train_teacher", "t2i_test_time"):
        assert all("--gpus=1" in c and "--cpus-per-gpu=" in c and "--cpus-per-task" not in c
                   for c in submitted[rule]), submitted[rule]
    assert all("--nodes=1" in c for c in submitted["train_student"])
    assert all("-p debug" in c for calls in submitted.values() for c in calls)
    ids = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", slurm_text)
    assert len(ids) == len(sbatch), (len(ids), len(sbatch))
    missing = [i for i in ids if i not in recorder.shown]
    assert not missing, f"SLURM jobs never seen by squeue/scontrol: {missing}"
    gpu_rules = yaml.safe_load((root / "workflow" / "resources.yaml").read_text())["gpu_rules"]
    seen_rules = set()
    for jobid in ids:
        shown = recorder.shown[jobid]
        assert f"JobId={jobid} " in shown and "Partition=debug" in shown, shown
        rule = re.search(r"Comment=rule_(.+?)(_wildcards_\S*)?\s", shown).group(1)
        seen_rules.add(rule)
        if rule in gpu_rules:  # SLURM itself holds the job's GPU request
            assert "TresPerJob=gres:gpu:1" in shown, shown
        else:
            assert "gres:gpu" not in shown, shown
    assert seen_rules == set(submitted), seen_rules ^ set(submitted)

    # the cancelled job: retried by the profile (retries: 1) and resumed from its checkpoint
    assert canceller.cancelled, "no training job could be cancelled between two checkpoints: " + "; ".join(canceller.notes)
    (rule, wildcards, _, log, _, _), jobid, step = canceller.cancelled
    text = (slurm / log).read_text()
    assert re.search(rf"resuming .* at step {step}\b", text), f"{rule} {wildcards} (SLURM job {jobid}): {text[-2000:]}"
    print(f"cancelled {rule} {wildcards} (SLURM job {jobid}) after its checkpoint at step {step}; resumed")

    # identical artefacts: weights, samples, metrics, tables (timing and commit fields aside)
    for folder in (local, slurm):
        made = run([sys.executable, "-m", "reports.fingerprint", "make", "results", "--out", "fingerprint.json"],
                   cwd=folder, env=env)
        assert made.returncode == 0, made.stderr
    same = run([sys.executable, "-m", "reports.fingerprint", "compare", str(local / "fingerprint.json"),
                str(slurm / "fingerprint.json")], env=env)
    assert same.returncode == 0, same.stdout + same.stderr
    n = len(json.loads((local / "fingerprint.json").read_text()))
    print(f"{n} artefacts identical to the local run's")


def job_counts(text):
    """The 'Job stats' table Snakemake prints at the start of a run: {rule: count}."""
    block = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {}
    for line in block.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts
