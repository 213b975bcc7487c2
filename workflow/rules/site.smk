# The site overlay and what each job asks a batch scheduler for.
#
# A site overlay is a config file with one top-level key, `site`, given after the preset:
#   snakemake --profile profiles/slurm --configfile config/paper.yaml config/site.yaml results/table1.csv
# It holds where things are and how jobs are submitted on this site, never an experiment setting
# (config/site.example.yaml lists every key). It is taken out of the config before the preset is validated,
# so the tracked presets are never edited by users.
import yaml

SITE_KEYS = {
    "slurm_account": (str, "sbatch -A for every job; empty: the SLURM executor's own choice"),
    "slurm_partition": (str, "sbatch -p for every job; empty: the cluster's default partition"),
    "gpus_per_job": (int, "GPUs of one torchrun job (training, sampling), on one node; default: the preset's"),
    "imagenet_train": (str, "your ImageNet-1k train folder (class sub-folders); the paper preset's c2i.data.path"),
    "constraints": (dict, "rule name -> sbatch --constraint, e.g. a GPU type its CUDA build supports"),
    "geneval_python": (str, "the python of an env built from workflow/envs/geneval.yaml (GenEval's detector)"),
}


def _site_error(message):
    raise WorkflowError(f"invalid site overlay: {message} (see config/site.example.yaml)")


def validate_site(raw, rule_names=None):
    """The `site` mapping, checked key by key: an unknown key or a wrong type is an error that names it."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        _site_error(f"'site' must be a mapping of keys {sorted(SITE_KEYS)}, got {type(raw).__name__}")
    for key, value in raw.items():
        if key not in SITE_KEYS:
            _site_error(f"unknown key 'site.{key}'; known keys: {', '.join(sorted(SITE_KEYS))}")
        kind = SITE_KEYS[key][0]
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            _site_error(f"'site.{key}' must be {kind.__name__}, got {value!r}")
    if raw.get("gpus_per_job") is not None and raw["gpus_per_job"] < 0:
        _site_error(f"'site.gpus_per_job' must be >= 0, got {raw['gpus_per_job']}")
    for rule_name, constraint in (raw.get("constraints") or {}).items():
        if not isinstance(constraint, str) or not constraint:
            _site_error(f"'site.constraints.{rule_name}' must be a non-empty string, got {constraint!r}")
    return {key: value for key, value in raw.items() if value is not None}


def apply_site(config, site):
    """Site values that the config carries (paths, GPUs per job); the experiment's keys are left alone."""
    if "gpus_per_job" in site:
        config["gpus_per_job"] = site["gpus_per_job"]
    if "imagenet_train" in site:
        if config.get("downloads") == "stand_in":  # paper_smoke writes its own stand-in folder at c2i.data.path
            _site_error("'site.imagenet_train' is set but this preset (downloads: stand_in) writes a stand-in ImageNet")
        if config["c2i"]["data"]["source"] != "imagenet":
            _site_error("'site.imagenet_train' is set but this preset does not read ImageNet (c2i.data.source)")
        config["c2i"]["data"]["path"] = site["imagenet_train"]


def check_site_files():
    """A config file that holds `site` holds nothing else: a site overlay never changes an experiment setting."""
    for path in workflow.configfiles:
        with open(path) as f:
            keys = set(yaml.safe_load(f) or {})
        if "site" in keys and keys != {"site"}:
            _site_error(f"{path} has keys besides 'site' ({', '.join(sorted(keys - {'site'}))}); experiment "
                        "settings belong in the preset")


check_site_files()
SITE = validate_site(config.pop("site", None))
apply_site(config, SITE)

with open(workflow.source_path("../resources.yaml")) as _f:
    _JOB_RESOURCES = yaml.safe_load(_f)
GPU_RULES = _JOB_RESOURCES["gpu_rules"]
_SCALE = _JOB_RESOURCES["scales"]["paper" if config["preset"] == "paper" else "tiny"]


def _cpus_per_gpu(floor):
    # one process per GPU, each with the rule's threads
    return lambda wildcards, threads: max(floor, threads)


def job_resources(rule_name):
    """Resources of one rule's jobs: scale numbers (workflow/resources.yaml), GPUs, and the site's account,
    partition and constraint. Local runs ignore all but threads; the SLURM executor turns them into sbatch
    options (gpu -> --gpus, cpus_per_gpu -> --cpus-per-gpu, otherwise --cpus-per-task = threads)."""
    res = dict(_SCALE["default"])
    res.update(_SCALE["rules"].get(rule_name, {}))
    kind = GPU_RULES.get(rule_name)
    floor = res.pop("cpus_per_gpu", 1)
    if kind is not None:
        res["gpu"] = max(config["gpus_per_job"], 1) if kind == "job" else int(kind)
        res["cpus_per_gpu"] = _cpus_per_gpu(floor)
        if kind == "job":  # torchrun --standalone: every process on one node, started by one task
            res.update(nodes=1, tasks_per_gpu=0)
    for key in ("slurm_account", "slurm_partition"):
        if SITE.get(key):
            res[key] = SITE[key]
    if rule_name in SITE.get("constraints", {}):
        res["constraint"] = SITE["constraints"][rule_name]
    return res


def check_site_rules():
    """Once all rules exist, a constraint naming a rule this workflow does not have is a typo."""
    names = {r.name for r in workflow.rules}
    for rule_name in SITE.get("constraints", {}):
        if rule_name not in names:
            _site_error(f"'site.constraints.{rule_name}': this preset's workflow has no rule '{rule_name}'")
