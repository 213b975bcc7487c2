# Meissonic rows of Table 2 (config meissonic; docs/meissonic.md): constants, wildcard constraints and the metric
# files of its rows. Included after t2i_paper_common.smk: the rows reuse t2i_paper's prompt sets, evaluation
# rules (GenEval, HPS v2.1, COCO FID-30k / CLIP score) and table, under method names meissonic_<row>.


import re


M = config["meissonic"]
MT = "results/meissonic"
MR = "resources/meissonic"
M_STUDENTS = M["students"]
M_HUB_FILES = M["hub"]["files"]
M_REL = M["released"]
M_REL_FILES = M_REL["files"]["files"]
M_METHODS = ["meissonic_teacher", "meissonic_dimo_released"] + [f"meissonic_{s}" for s in M_STUDENTS]
M_TT = M["test_time"]
M_TT_STUDENT = f"meissonic_{M_TT['student']}"
# Table 2 names the test-time rows of both teachers with t2i_paper's settings (reports/table2_paper.py)
if (M_TT["student"], M_TT["table_n"], M_TT["table_tteo_iters"]) != (P_TT_STUDENT, P_TT["table_n"], P_TT["table_tteo_iters"]):
    raise WorkflowError("meissonic.test_time: student, table_n and table_tteo_iters must equal t2i_paper.test_time's")
M_OFFICIAL = {
    "teacher": f"{MR}/hub/transformer/diffusion_pytorch_model.safetensors",
    "tokenizer": f"{MR}/hub/vqvae/diffusion_pytorch_model.safetensors",
    "released": f"{MR}/released/{M_REL['subfolder']}/diffusion_pytorch_model.safetensors",
}


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    pmethod="|".join([P_METHOD_RE, *M_METHODS, rf"{M_TT_STUDENT}\+n\d+_tteo\d+"]),
    mstudent="|".join(M_STUDENTS),
    mpart="teacher|tokenizer|released",
    mfile=_alternatives(M_HUB_FILES),
    rfile=_alternatives(M_REL_FILES),


def m_metric_files():
    """One merged metrics file per Meissonic row and seed (the same merge as t2i_paper's rows)."""
    rows = expand(f"{PT}/metrics/meissonic_teacher/steps{{steps}}/seed{{seed}}.json",
                  steps=M["sampling"]["steps"], seed=P["eval"]["seeds"])
    rows += expand(f"{PT}/metrics/meissonic_dimo_released/steps1/seed{{seed}}.json", seed=P["eval"]["seeds"])
    for name, s in M_STUDENTS.items():
        rows += expand(f"{PT}/metrics/meissonic_{name}/steps1/seed{{seed}}.json", seed=s["seeds"])
    grid = [f"{M_TT_STUDENT}+n{n}_tteo{k}" for n in M_TT["best_of_n"] for k in M_TT["tteo_iters"]]
    rows += expand(f"{PT}/metrics/{{m}}/steps1/seed{{seed}}.json", m=grid, seed=M_STUDENTS[M_TT["student"]]["seeds"])
    return rows


T2I_EXTRA_METRICS += m_metric_files()


def m_student_init(wildcards):
    init = M_STUDENTS[wildcards.mstudent]["init"]
    return [] if init == "teacher" else [f"{MT}/students/{init}/seed{wildcards.seed}/generator.pt"]


def m_sample_model(wildcards):
    """--teacher for the teacher row, --student for the one-step rows (the released one included)."""
    name = wildcards.pmethod[len("meissonic_"):]
    if name == "teacher":
        return {"teacher": f"{MT}/teacher.pt"}
    if name == "dimo_released":
        return {"student": f"{MT}/released.pt"}
    return {"student": f"{MT}/students/{name}/seed{wildcards.seed}/generator.pt"}
