"""A source read again under the fingerprint it was committed with (its records missing from the store: lost since, or
committed by a version before the commit's count of them; or a forced run) is counted at its commit as a new version
is: a store that loses those writes again fails it in one line, where every run said "indexed" holding none."""

from __future__ import annotations

import pytest

from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.library import Atlas
from tests.helpers import quick
from tests.indexer.test_plugin_failures_once_and_lost_writes import LosesWrites

STORE = f"py:{LosesWrites.__module__}.LosesWrites"


@pytest.fixture
def sound(monkeypatch):
    """``LosesWrites`` keeping its writes until the test says otherwise (``monkeypatch``)."""
    monkeypatch.setattr(LosesWrites, "losing", False)
    return monkeypatch


def test_a_version_read_again_whose_writes_the_store_loses_is_refused(tmp_path, sound):
    pdf = make_pdf(tmp_path / "primer.pdf", 2, "primer")
    with Atlas(tmp_path / "index", **quick(tmp_path), store=STORE) as atlas:
        assert [report["status"] for report in atlas.add(pdf)] == ["indexed"]
        atlas.index.raw_store.delete({"source": str(pdf)})  # its records lost behind the manifest's back
        atlas.index.commit()
        sound.setattr(LosesWrites, "losing", True)
        (report,) = atlas.add(pdf)
        assert report["status"] == "failed", "read again under its fingerprint, none of its records held"
        assert f"lost 4 of the 4 records written for {pdf} (it holds 0 once committed)" in report["problems"][0]
        sound.setattr(LosesWrites, "losing", False)
        assert [report["status"] for report in atlas.add(pdf)] == ["indexed"]
        assert atlas.index.record_counts()[atlas.index.manifest[str(pdf)]["fingerprint"]] == 4


def test_a_forced_run_on_a_sound_store_is_counted_and_not_refused(tmp_path, sound):
    pdf = make_pdf(tmp_path / "primer.pdf", 2, "primer")
    with Atlas(tmp_path / "index", **quick(tmp_path), store=STORE) as atlas:
        atlas.add(pdf)
        assert [report["status"] for report in atlas.add(pdf, force=True)] == ["indexed"]
        assert atlas.index.record_counts()[atlas.index.manifest[str(pdf)]["fingerprint"]] == 4
