"""The house's shape: four parts whose imports point one way, and no import cycle.

library  (softdimo/, tracks excluded)  imports only the library
metrics  (evaluation/)                 imports metrics and the library
tracks   (softdimo/tracks/<track>/)     import their own track, the library and metrics; never another track
reports  (reports/)                     import reports, the library and metrics; never a track
Lazy imports inside functions count: they are imports all the same.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("softdimo", "evaluation", "reports")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path}: relative import; write the absolute module path")
        else:
            continue
        for c in candidates:
            while c and c not in known:
                c = c.rpartition(".")[0]
            if c and c != name:
                out.add(c)
    return out


def part(module: str) -> tuple[str, str]:
    """(part, track) of a module."""
    if module.startswith("softdimo.tracks."):
        return "tracks", module.split(".")[2]
    if module == "softdimo.tracks":
        return "tracks", ""
    return {"softdimo": "library", "evaluation": "metrics", "reports": "reports"}[module.split(".")[0]], ""


ALLOWED = {"library": {"library"}, "metrics": {"library", "metrics"}, "tracks": {"library", "metrics", "tracks"},
           "reports": {"library", "metrics", "reports"}}


def direction_violations(graph: dict) -> list[str]:
    wrong = []
    for name, deps in graph.items():
        mine, my_track = part(name)
        for dep in deps:
            theirs, their_track = part(dep)
            if theirs not in ALLOWED[mine] or (mine == theirs == "tracks" and their_track not in ("", my_track)):
                wrong.append(f"{name} ({mine} {my_track}) imports {dep} ({theirs} {their_track})")
    return sorted(wrong)


def cycles(graph: dict) -> list[str]:
    state, found = {}, []

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep.startswith(node + "."):  # a package importing its own submodule is not a cycle
                continue
            if state.get(dep) == "open":
                found.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


@pytest.fixture(scope="module")
def graph():
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_imports_point_one_way(graph):
    wrong = direction_violations(graph)
    assert not wrong, "imports against the house's direction:\n" + "\n".join(wrong)


def test_no_import_cycle(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_checks_catch_what_they_forbid():
    bad = {"softdimo.sampling": {"softdimo.tracks.digits.stages"},
           "softdimo.tracks.digits.stages": {"softdimo.sampling", "softdimo.tracks.shapes.world"},
           "evaluation.fid": {"reports.table1"}, "reports.table1": {"softdimo.tracks.digits.data"}}
    assert direction_violations(bad) == [
        "evaluation.fid (metrics ) imports reports.table1 (reports )",
        "reports.table1 (reports ) imports softdimo.tracks.digits.data (tracks digits)",
        "softdimo.sampling (library ) imports softdimo.tracks.digits.stages (tracks digits)",
        "softdimo.tracks.digits.stages (tracks digits) imports softdimo.tracks.shapes.world (tracks shapes)"]
    assert cycles(bad) == ["softdimo.sampling -> softdimo.tracks.digits.stages -> softdimo.sampling"]


def test_every_track_is_a_folder():
    tracks = sorted(p.name for p in (ROOT / "softdimo" / "tracks").iterdir() if (p / "__init__.py").exists())
    assert tracks == ["digits", "maskbit", "maskgen", "maskgit", "meissonic", "shapes"]
    flat = [p.name for p in (ROOT / "softdimo").glob("*.py") if p.stem.startswith(("t2i_", "c2i_", "paper_"))]
    assert not flat, f"track-prefixed modules in the library: {flat}"


def test_every_part_is_installed(tmp_path):
    """Rules run `python -m <part>...` from a work folder outside the repository: each part must come
    from the installed package, not from the current directory (a CI run failed on `reports` this way)."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import importlib; [importlib.import_module(p) for p in %r]" % (PACKAGES,)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
