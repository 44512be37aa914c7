"""The tests' own helpers: the two quick setups agree."""

from __future__ import annotations

from pathatlas.settings import Settings
from tests.helpers import hashing_env, hashing_settings


def test_hashing_settings_are_what_hashing_env_sets(tmp_path, monkeypatch):
    """A test built on ``hashing_settings`` ran case keypoints (SIFT on every case image) that a CLI run on
    ``hashing_env`` skips; about 20 callers turned them off by hand."""
    quick = hashing_env(tmp_path / "home")
    with monkeypatch.context() as env:
        for name, value in quick.items():
            env.setenv(name, value)
        from_env = Settings(index=tmp_path / "index")
    for name in quick:
        monkeypatch.delenv(name, raising=False)
    assert hashing_settings(tmp_path) == from_env
    assert hashing_settings(tmp_path, case_keypoints=True).case_keypoints, "a caller can still turn them on"
