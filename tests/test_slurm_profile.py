"""The SLURM profile as shipped: the sbatch line of every paper-preset job, built by the executor plugin's own code.

Snakemake parses the command line exactly as a user's (profiles/slurm, the paper preset, the example site
overlay) and builds the paper DAG; for every job that would be submitted, snakemake-executor-plugin-slurm's
get_submit_command and set_gres_string (what SlurmExecutor.run_job calls) write the sbatch options.
"""
import re
import shlex

import pytest
import yaml

pytest.importorskip("snakemake_executor_plugin_slurm")

TARGETS = ["results/table1.csv", "results/table2.csv", "results/claims.csv"]


def sbatch_lines(workdir, argv, monkeypatch):
    """{jobid: (job, sbatch options)} for every non-local job of the DAG that argv builds (a dry run)."""
    from snakemake import cli
    from snakemake.workflow import Workflow
    from snakemake_executor_plugin_slurm import ExecutorSettings
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    captured = {}
    build = Workflow._build_dag

    def build_and_capture(self):
        build(self)
        settings = ExecutorSettings(status_command="squeue")
        for job in self.dag.jobs:
            # what SLURM would run (a dry run executes nothing remotely, so ask the rule, not the job)
            if job.rule.name in self._localrules or job.rule.norun:
                continue
            params = {
                "run_uuid": "test", "slurm_logfile": "log", "comment_str": f"rule_{job.name}",
                "account": f" -A {job.resources['slurm_account']}" if job.resources.get("slurm_account") else "",
                "partition": f" -p {job.resources['slurm_partition']}" if job.resources.get("slurm_partition") else "",
                "workdir": str(workdir),
            }
            call = get_submit_command(job, params, settings=settings) + set_gres_string(job)
            captured[job.jobid] = (job.name, job.threads, job.format_wildcards(job.shellcmd or ""), call)

    monkeypatch.setattr(Workflow, "_build_dag", build_and_capture)
    monkeypatch.chdir(workdir)
    # a dry run caps threads at --cores (1 unless given); a SLURM run does not cap them
    parser, args = cli.parse_args([*argv, "--cores", "1024"])
    assert cli.args_to_api(args, parser), "snakemake failed"
    return captured


def option(call, name):
    values = [tok.split("=", 1)[1] if "=" in tok else None for tok in shlex.split(call) if tok.startswith(name + "=")]
    if not values:
        toks = shlex.split(call)
        values = [toks[i + 1] for i, tok in enumerate(toks) if tok == name]
    return values


def test_profile_has_no_cpus_per_task(root):
    profile = yaml.safe_load((root / "profiles" / "slurm" / "config.yaml").read_text())
    assert "cpus_per_task" not in profile.get("default-resources", {})
    assert "set-resources" not in profile  # per-rule numbers depend on the preset: workflow/resources.yaml
    assert profile["slurm-status-command"] in ("squeue", "sacct")
    assert "software-deployment-method" not in profile  # one choice for every table: none


def test_paper_sbatch_lines(workdir, root, monkeypatch):
    site = workdir / "config" / "site.yaml"
    site.write_text("site:\n  slurm_account: proj\n  slurm_partition: gpu\n"
                    "  constraints: {t2i_paper_geneval_detect: a100}\n")
    calls = sbatch_lines(workdir, ["-n", *TARGETS, "--profile", "profiles/slurm", "--configfile",
                                   "config/paper.yaml", "config/site.yaml"], monkeypatch)
    table = yaml.safe_load((root / "workflow" / "resources.yaml").read_text())
    gpu_rules, scale = table["gpu_rules"], table["scales"]["paper"]
    gpus_per_job = yaml.safe_load((root / "config" / "paper.yaml").read_text())["gpus_per_job"]
    seen = set()
    for name, threads, shell, call in calls.values():
        seen.add(name)
        expected = {**scale["default"], **scale["rules"].get(name, {})}
        assert option(call, "-t") == [str(expected["runtime"])], (name, call)
        assert option(call, "--mem") == [str(expected["mem_mb"])], (name, call)
        assert option(call, "-A") == ["proj"] and option(call, "-p") == ["gpu"], call
        kind = gpu_rules.get(name)
        if kind is None:  # a CPU job: one task with the rule's threads
            assert option(call, "--cpus-per-task") == [str(threads)] and option(call, "--ntasks") == ["1"], call
            assert not option(call, "--gpus") and not option(call, "--cpus-per-gpu"), call
            continue
        gpus = gpus_per_job if kind == "job" else 1
        assert option(call, "--gpus") == [str(gpus)], (name, call)
        assert not option(call, "--cpus-per-task"), call
        cpus = int(option(call, "--cpus-per-gpu")[0]) * gpus
        ranks = gpus if f"torchrun --standalone --nproc_per_node {gpus}" in shell else 1
        assert cpus >= ranks * threads and cpus >= expected.get("cpus_per_gpu", 1) * gpus, (name, call)
        if kind == "job":
            assert option(call, "--nodes") == ["1"] and ranks == gpus_per_job, (name, shell, call)
        else:
            assert "torchrun" not in shell and not option(call, "--nodes"), (name, call)
        if name == "t2i_paper_geneval_detect":
            assert option(call, "-C") == ["a100"], call
    assert {"train_student", "sample_teacher", "evaluate_samples", "tokenize_imagenet", "t2i_paper_train_student",
            "t2i_paper_geneval_detect", "t2i_paper_coco", "make_table2"} <= seen
    assert {"meissonic_train_student", "meissonic_sample", "meissonic_text_bank", "meissonic_import",
            "meissonic_test_time"} <= seen
    # every job that asks for GPUs is a listed GPU rule, and every listed rule of the DAG asked for them
    assert {n for n, _, _, c in calls.values() if option(c, "--gpus")} == set(gpu_rules) & seen


def test_smoke_gpu_rules_ask_for_one_gpu(workdir, monkeypatch):
    """The smoke preset through the same profile: GPU rules ask for a GPU (and run their CPU path), all small."""
    calls = sbatch_lines(workdir, ["-n", "results/table1.csv", "--profile", "profiles/slurm", "--configfile",
                                   "config/smoke.yaml"], monkeypatch)
    by_rule = {name: call for name, _, _, call in calls.values()}
    assert option(by_rule["train_student"], "--gpus") == ["1"] and option(by_rule["train_student"], "--nodes") == ["1"]
    assert option(by_rule["sample_teacher"], "--cpus-per-gpu") == ["1"]
    assert option(by_rule["train_teacher"], "--cpus-per-task") == ["2"] and not option(by_rule["train_teacher"], "--gpus")
    assert all(int(option(c, "--mem")[0]) <= 4000 for c in by_rule.values())
    assert not any(re.search(r"\s-A\s", c) for c in by_rule.values())
