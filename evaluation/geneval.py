"""GenEval scoring: one code path from detections to the six task scores and the overall score.

The rules follow the official GenEval protocol (djghosh13/geneval, evaluation/evaluate_images.py and
summary_scores.py), re-implemented here (rule 'official', the default of t2i.eval.geneval_rule):
  - the detections of a class are taken in descending confidence; each `include` requirement needs at least
    `count` of them, and only those `count` most confident ones are checked further;
  - with a `color`, all of those `count` detections must have that colour;
  - with a `position` [relation, group], each of them must stand in that relation to each detection kept by
    include group `group` (relation from box centres, ignoring offsets smaller than 10% of the summed box
    sizes, a direction counting when it carries over half of the normalised offset); a group whose colour or
    position check failed keeps nothing, so a later position requirement on it has no target;
  - each `exclude` requirement fails when `count` or more detections of its class are found (all of them).
Rule 'all_detections' is this project's former reading: colour and position are checked on every detection
of the class (at least `count` of them of the colour; every one in the relation to every target).
An image is correct when every requirement holds; a task's score is the mean over its images and the overall
score is the mean of the six task scores. At tiny scale the detections come from softdimo/tracks/shapes/detector.py
(its confidence is the shape-template IoU; no confidence threshold, components below min_area are dropped), at
paper scale the official GenEval code runs itself (evaluation/geneval_official.py).
"""
import numpy as np

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
POSITION_THRESHOLD = 0.1


def relative_position(box_a, box_b) -> set[str]:
    """Relations of box A to box B (x0, y0, x1, y1 in image coordinates, y down)."""
    a, b = np.asarray(box_a, float).reshape(2, 2), np.asarray(box_b, float).reshape(2, 2)
    offset = a.mean(0) - b.mean(0)
    dims = np.abs(a[1] - a[0]) + np.abs(b[1] - b[0])
    revised = np.maximum(np.abs(offset) - POSITION_THRESHOLD * dims, 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    out = set()
    if dx < -0.5:
        out.add("left of")
    if dx > 0.5:
        out.add("right of")
    if dy < -0.5:
        out.add("above")
    if dy > 0.5:
        out.add("below")
    return out


GENEVAL_RULES = ("official", "all_detections")


def score_image(detections: list[dict], meta: dict, rule: str = "official") -> tuple[bool, str]:
    """(correct, reason) of one image; detections are dicts with 'class', 'color', 'box' and, for the official
    rule, 'confidence' (they are ordered by it here, most confident first, ties in the given order)."""
    if rule == "official":
        if any("confidence" not in d for d in detections):
            raise ValueError("the official GenEval rule orders detections by 'confidence'; a detection has none")
        detections = sorted(detections, key=lambda d: -d["confidence"])
    elif rule != "all_detections":
        raise ValueError(f"unknown GenEval rule {rule!r}; one of {GENEVAL_RULES}")
    by_class = {}
    for d in detections:
        by_class.setdefault(d["class"], []).append(d)
    groups, reasons = [], []
    for req in meta["include"]:
        found = by_class.get(req["class"], [])
        if rule == "official":
            found = found[:req["count"]]
        if len(found) < req["count"]:
            reasons.append(f"expected {req['count']} {req['class']}, found {len(found)}")
            groups.append(None)
            continue
        matched = True
        if "color" in req and sum(d["color"] == req["color"] for d in found) < req["count"]:
            reasons.append(f"expected {req['color']} {req['class']}, found {[d['color'] for d in found]}")
            matched = False
        if "position" in req and (matched or rule == "all_detections"):
            relation, target = req["position"]
            if groups[target] is None:
                reasons.append(f"no target for {req['class']} {relation}")
                matched = False
            elif not all(relation in relative_position(d["box"], t["box"]) for d in found for t in groups[target]):
                reasons.append(f"{req['class']} not {relation} target")
                matched = False
        groups.append(found if matched or rule == "all_detections" else None)
    for req in meta.get("exclude", []):
        if len(by_class.get(req["class"], [])) >= req["count"]:
            reasons.append(f"expected fewer than {req['count']} {req['class']}")
    return not reasons, "; ".join(reasons)


def summarize(tags: list[str], correct: list[bool]) -> dict:
    """Per-task mean of correctness and the overall mean of the task scores (GenEval's summary)."""
    tags, correct = np.asarray(tags), np.asarray(correct, float)
    scores = {t: float(correct[tags == t].mean()) for t in TASKS if (tags == t).any()}
    missing = [t for t in TASKS if t not in scores]
    if missing:
        raise ValueError(f"GenEval needs images of all six tasks; none for {missing}")
    return {**scores, "overall": float(np.mean([scores[t] for t in TASKS])), "n_images": int(len(tags))}
