"""The project installs as one ``pathatlas`` package: no top-level ``agent``/``retrieval``/... in site-packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("agent", "corpora", "indexer", "retrieval", "ui")


def test_wheel_installs_one_namespace_and_imports_outside_the_checkout(tmp_path):
    # Build from a copy, so setuptools' build/ folder never lands in the checkout.
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "test-artifacts", ".*"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(tree)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("pathatlas-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith((".dist-info", ".data"))}
    assert top_level == {"pathatlas"}, top_level
    assert "pathatlas/retrieval/encoders/weights/pathatlas-joint-v2.safetensors" in names
    assert "pathatlas/ui/streamlit_app.py" in names

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import pathatlas, pathatlas.retrieval.search, pathatlas.agent.graph, pathatlas.ui.cli;"
        "import pathatlas.indexer.pipeline;"
        "print(pathatlas.retrieval.search.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONNOUSERSITE": "1"}
    # -S skips site-packages (and with it the editable install of this checkout), so only the wheel can answer;
    # the other dependencies come from the interpreter's site-packages appended after the wheel.
    site = [p for p in sys.path if p.endswith("site-packages")]
    code = f"import sys; sys.path[:] = [{str(target)!r}] + sys.path + {site!r}; {probe}"
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(target)
    for layer in LAYERS:
        assert not (target / layer).exists()
