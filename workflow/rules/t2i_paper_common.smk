# Paper-scale text-to-image: constants, wildcard constraints, input functions and target lists (the rules
# are in t2i_paper.smk).


P = config["t2i_paper"]
PT = "results/t2i_paper"
PR = "resources/t2i"
P_STUDENTS = P["students"]
P_TT = P["test_time"]
P_TT_STUDENT = P_TT["student"]
P_GAN_STUDENTS = [name for name, s in P_STUDENTS.items() if s["w_gan"] > 0]
GAN_REAL = {"tokens": f"{PT}/gan_real/tokens.npz", "captions": f"{PT}/gan_real/captions.json"}
P_SETS = {"geneval": P["eval"]["geneval_images_per_prompt"], "hps": 1, "coco": 1}  # images per prompt
HPS_STYLES = ["anime", "concept-art", "paintings", "photo"]
STAND_INS = "softdimo.tracks.maskgen.stand_ins"  # paper_smoke: this track's stand-in files
GENEVAL_DIR = f"{PR}/geneval"
GENEVAL_DETECTOR = f"{PR}/geneval_models/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.pth"
# the detector's config inside the installed mmdet 2.27.0 package (pip wheel: mmdet/.mim/configs/...)
GENEVAL_MODEL_CONFIG = ".mim/configs/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py"
COCO = {"captions": f"{PR}/coco/MS-COCO_val2014_30k_captions.csv", "stats": f"{PR}/coco/MS-COCO_val2014_fid_stats.npz"}
FID_INCEPTION = "resources/eval/pt_inception-2015-12-05-6726825d.pth"
P_FILES = {
    "teacher": f"{PR}/teacher_official{os.path.splitext(P['teacher']['pretrained']['filename'])[1]}",
    "tokenizer": f"{PR}/tokenizer_official{os.path.splitext(P['tokenizer']['pretrained']['filename'])[1]}",
    "text_encoder": f"{PR}/open_clip_vit_l_14_336.bin",
    "clip": f"{PR}/clip_vit_b_32.bin",
    "hps": f"{PR}/HPS_v2.1_compressed.pt",
    "clip_eval": f"{PR}/clip_score_eval.bin",  # Table 2's CLIP-score model (t2i_paper.eval.clip_score)
}
P_HUB = {"teacher": P["teacher"]["pretrained"], "tokenizer": P["tokenizer"]["pretrained"],
         "text_encoder": P["text_encoder"]["pretrained"], "clip": P["scorers"]["clip"], "hps": P["scorers"]["hps"],
         "clip_eval": P["eval"]["clip_score"]["weights"]}


def tt_name(n, k):
    return f"{P_TT_STUDENT}+n{n}_tteo{k}"


# the three test-time rows of the table; the whole grid feeds the GenEval-vs-N figure
P_TT_ROWS = {"tteo": (1, P_TT["table_tteo_iters"]), "bon": (P_TT["table_n"], 0),
             "bon_tteo": (P_TT["table_n"], P_TT["table_tteo_iters"])}


P_METHOD_RE = r"teacher|" + "|".join(P_STUDENTS) + rf"|{P_TT_STUDENT}\+n\d+_tteo\d+"
T2I_EXTRA_METRICS = []  # metric files of Table 2 rows of other teachers (meissonic_common.smk), same protocol


wildcard_constraints:
    pset="geneval|hps|coco|train",
    bankset="train|train_gan|geneval|hps|coco",
    tset="geneval|hps",
    pstudent="|".join(P_STUDENTS),
    pmethod=P_METHOD_RE,


def p_samples(wildcards, pset=None):
    """The sample file of a row: a teacher step count, a one-step student, or one test-time setting."""
    pset = pset or wildcards.pset
    if "+" in wildcards.pmethod:
        student, setting = wildcards.pmethod.split("+")
        folder = "test_time" if student == P_TT_STUDENT else f"test_time_{student}"  # another teacher's student
        return f"{PT}/{folder}/{pset}/seed{wildcards.seed}/{setting}.npz"
    return f"{PT}/samples/{wildcards.pmethod}/steps{wildcards.steps}/{pset}/seed{wildcards.seed}.npz"


def p_metric_files():
    """One merged metrics file per Table 2 row and seed, plus GenEval of every test-time grid point."""
    rows = expand(f"{PT}/metrics/teacher/steps{{steps}}/seed{{seed}}.json", steps=P["sampling"]["steps"],
                  seed=P["eval"]["seeds"])
    for name, s in P_STUDENTS.items():
        rows += expand(f"{PT}/metrics/{name}/steps1/seed{{seed}}.json", seed=s["seeds"])
    seeds = P_STUDENTS[P_TT_STUDENT]["seeds"]
    grid = [tt_name(n, k) for n in P_TT["best_of_n"] for k in P_TT["tteo_iters"]]
    rows += expand(f"{PT}/metrics/{{m}}/steps1/seed{{seed}}.json", m=grid, seed=seeds)
    return rows


def prompt_source(wildcards):
    """The benchmark files; the training prompts are the user's file, read by path (like the ImageNet folder),
    so a missing one fails in this local job, before any GPU job (paper_smoke: a stand-in rule writes them)."""
    return {"geneval": f"{GENEVAL_DIR}/prompts/evaluation_metadata.jsonl",
            "hps": expand(f"{PR}/hps_benchmark/{{style}}.json", style=HPS_STYLES),
            "coco": COCO["captions"], "train": [P["prompts"]["train"]] if STAND_IN else []}[wildcards.pset]


def p_gan_real(wildcards):
    """A GAN student's real data: TA-TiTok tokens of the pairs and their captions (in this order)."""
    return [GAN_REAL["tokens"], GAN_REAL["captions"]] if wildcards.pstudent in P_GAN_STUDENTS else []


def p_student_init(wildcards):
    init = P_STUDENTS[wildcards.pstudent]["init"]
    return [] if init == "teacher" else [f"{PT}/students/{init}/seed{wildcards.seed}/generator.pt"]


# What each evaluator checks in the samples' sidecar (issue 17): the row, prompt set, seed and steps its path
# names, so a file copied from another row or seed is refused instead of scored ({pset} filled per rule)
P_EXPECT = ("--expect method={{wildcards.pmethod}} --expect prompt_set={pset} --expect seed={{wildcards.seed}} "
            "--expect steps={{wildcards.steps}}")

P_SAMPLE_ARGS = (
    "--config {params.resolved} --teacher {input.teacher} --tokenizer {input.tokenizer} "
    "--text-bank {input.text_bank} --prompts {input.prompts} --seed {wildcards.seed}"
)


def p_row_parts(wildcards):
    """GenEval for every row; HPS for the table's rows; COCO FID / CLIP score for teacher and students."""
    base = f"{PT}/eval/{wildcards.pmethod}/steps{wildcards.steps}/seed{wildcards.seed}"
    parts = {"geneval": f"{base}/geneval.json"}
    grid_point = "+" in wildcards.pmethod
    if not grid_point or wildcards.pmethod.split("+")[1] in [f"n{n}_tteo{k}" for n, k in P_TT_ROWS.values()]:
        parts["hps"] = f"{base}/hps.json"
    if not grid_point:
        parts["coco"] = f"{base}/coco.json"
        parts["sampling"] = p_samples(wildcards, "coco").replace(".npz", ".json")
    return parts
