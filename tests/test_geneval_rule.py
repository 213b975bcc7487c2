"""The GenEval detector rule names the Mask2Former config where pip's mmdet 2.27.0 wheel keeps it."""
import os
import re
import shutil
import subprocess
import sys
import zipfile

# inside the mmdet-2.27.0 wheel (checked against the wheel from the package index; set MMDET_WHEEL to a
# downloaded mmdet-2.27.0-py3-none-any.whl to check it again here)
WHEEL_PATH = "mmdet/.mim/configs/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py"


def test_detect_command_points_at_the_packaged_config(root, tmp_path):
    for name in ("Snakefile", "config", "workflow", "profiles"):
        src = root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "results/table2.csv", "--configfile",
                          "config/paper.yaml"], capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    commands = [line for line in (run.stdout + run.stderr).splitlines() if "evaluate_images.py" in line]
    assert commands
    for command in commands:
        m = re.search(r"--model-config \$\((\S+) -c 'import mmdet; print\(mmdet.__path__\[0\]\)'\)/(\S+)", command)
        assert m, command
        assert "mmdet/" + m.group(2) == WHEEL_PATH
    wheel = os.environ.get("MMDET_WHEEL")
    if wheel:
        assert WHEEL_PATH in zipfile.ZipFile(wheel).namelist()
