# The MaskGit track's constants, wildcard constraints, input functions and Table 1 rows (the rules are in
# maskgit.smk, included with a c2i_maskgit section); maskgit_metric_files() is [] in the other presets.

MG = "results/c2i_maskgit"
MGR = "resources/c2i_maskgit"
MASKGIT = config.get("c2i_maskgit")
MG_RELEASED = "dimo_released"
MG_STUDENTS = (MASKGIT or {}).get("students", {})
MG_FILES = {"teacher": f"{MGR}/MaskGIT_ImageNet_256.pth", "tokenizer": f"{MGR}/vqgan_last.ckpt",
            "released": f"{MGR}/dimo_released_maskgit.bin"}
DIMO_STATS = "resources/eval/fid_stats_imagenet256_guided_diffusion.npz"


if MASKGIT is not None:

    wildcard_constraints:
        mstudent="|".join(MG_STUDENTS),
        mmethod="|".join(["teacher", MG_RELEASED, *MG_STUDENTS]),


def maskgit_metric_files():
    """Table 1's MaskGit rows: the teacher per step count and seed, every student per seed, the released student."""
    if MASKGIT is None:
        return []
    rows = expand(f"{MG}/metrics/teacher/steps{{steps}}/seed{{seed}}.json", steps=MASKGIT["sampling"]["steps"],
                  seed=MASKGIT["eval"]["seeds"])
    for name, student in MG_STUDENTS.items():
        rows += expand(f"{MG}/metrics/{name}/steps1/seed{{seed}}.json", seed=student["seeds"])
    return rows + [f"{MG}/metrics/{MG_RELEASED}/steps1/seed0.json"]


def maskgit_hub(part):
    return MASKGIT["released_student"]["pretrained"] if part == "released" else MASKGIT[part]["pretrained"]


def maskgit_init(wildcards):
    """A student continues the same-seed weights of its `init` student, or starts from the teacher."""
    init = MG_STUDENTS[wildcards.mstudent]["init"]
    return [] if init == "teacher" else [f"{MG}/students/{init}/seed{wildcards.seed}/generator.pt"]


def maskgit_student_file(wildcards):
    if wildcards.mmethod == "teacher":
        return []
    return [f"{MG}/students/{wildcards.mmethod}/seed{wildcards.seed}/generator.pt"]
