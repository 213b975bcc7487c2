# Text-to-image track: constants, wildcard constraints and target lists (the rules are in t2i.smk).

T2I = config["t2i"]
# With a t2i_paper section (the paper preset) results/table2.csv is the MaskGen-L table; the shapes track's
# table then sits under results/t2i/ and still feeds the text-to-image claims.
T2I_TABLE = "results/t2i/table2_shapes" if "t2i_paper" in config else "results/table2"
T2I_STUDENTS = T2I["students"]
T2I_TT = T2I["test_time"]["student"]
T2I_DATA = ["train.npz", "eval_real.npz", "fid_real.npz", "fid_real_alt.npz", "fid_prompts.npz", "prompts.json",
            "evaluation_metadata.jsonl", "data.json"]
T2I_BASE = {
    "tokenizer": "results/t2i/tokenizer.pt",
    "text_bank": "results/t2i/text_bank.pt",
    "prompts": "results/t2i/data/prompts.json",
    "train": "results/t2i/data/train.npz",
}
T2I_JUDGES = {name: f"results/t2i/judges/{name}.pt" for name in ("clip", "reward", "preference", "shapes_cnn")}


wildcard_constraints:
    t2i_student="|".join(T2I_STUDENTS) or "NO_STUDENT",
    judge="clip|reward|preference|shapes_cnn",
    tt="bon_tteo|bon|tteo",


def t2i_inputs(*names):
    """`--input name=path` for the named inputs of a rule (paths from its input section)."""
    return " ".join(f"--input {name}={{input.{name}}}" for name in names)


def t2i_student_init(wildcards):
    init = T2I_STUDENTS[wildcards.t2i_student]["init"]
    return [] if init == "teacher" else [f"results/t2i/students/{init}/seed{wildcards.seed}/generator.pt"]


def table2_metric_files():
    steps = T2I["sampling"]["steps"]
    rows = ["results/t2i/metrics/real_renders/steps0/seed0.json"]
    rows += expand("results/t2i/metrics/teacher/steps{steps}/seed{seed}.json", steps=steps, seed=T2I["eval"]["seeds"])
    rows += expand("results/t2i/metrics/teacher_caption_blind/steps{steps}/seed{seed}.json", steps=max(steps),
                   seed=T2I["eval"]["seeds"])
    for name, student in T2I_STUDENTS.items():
        rows += expand("results/t2i/metrics/{s}/steps1/seed{seed}.json", s=name, seed=student["seeds"])
    rows += expand("results/t2i/metrics/{s}+{tt}/steps1/seed{seed}.json", s=T2I_TT, tt=["tteo", "bon", "bon_tteo"],
                   seed=T2I_STUDENTS[T2I_TT]["seeds"])
    return rows


T2I_SAMPLE_ARGS = (
    "--config {params.resolved} --teacher {input.teacher} --tokenizer {input.tokenizer} "
    "--text-bank {input.text_bank} --prompts {input.prompts} --seed {wildcards.seed} --threads {threads}"
)


T2I_EVAL_INPUTS = dict(
    text_bank=T2I_BASE["text_bank"],
    prompts=T2I_BASE["prompts"],
    clip=T2I_JUDGES["clip"],
    preference=T2I_JUDGES["preference"],
    shapes_cnn=T2I_JUDGES["shapes_cnn"],
    fid_real="results/t2i/data/fid_real.npz",
)
T2I_EVAL_ARGS = t2i_inputs(*T2I_EVAL_INPUTS)
