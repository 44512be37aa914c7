"""Every package folder ships: ``pyproject.toml`` lists packages by hand (the top-level folders map into one
``pathatlas`` namespace), and a package it misses is absent from the wheel while an editable install, which the suite
runs on, still finds it (``agent/bench/`` was one)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_for_the_wheel():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set()
    for dotted, folder in tool["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in parts:
                found.add(".".join([dotted, *parts]))
    assert found <= set(tool["packages"]), sorted(found - set(tool["packages"]))
