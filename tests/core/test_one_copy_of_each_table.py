"""One copy of each thing: the tables and loops that were written twice now have one source, and these hold what the
copies had to agree on: a language's code is the code its stems are written after, a Qdrant scroll reads every page
on either client, and a job's record gives back everything ``GET /jobs/{id}`` answers."""

from __future__ import annotations

import numpy as np
import pytest
import Stemmer

from pathatlas.retrieval.stores import qdrant_store
from pathatlas.retrieval.terms import language
from pathatlas.settings import ENGLISH_STEMMERS, ISO_LANGUAGES, snowball_languages
from pathatlas.ui.api.jobs import Job, JobRecords
from pathatlas.ui.api.schemas import JobOut
from tests.retrieval.test_stores import make_store, records

ACCEPTED = sorted(set(Stemmer.algorithms()) - ENGLISH_STEMMERS)
"""Every language the settings take by its Snowball name."""


@pytest.mark.parametrize("name", ACCEPTED)
def test_a_language_s_stems_are_written_after_a_code_the_settings_read_as_it(name):
    """Given by its name or by its code, a language is the same one, and its stems are written after one of its codes:
    a code the settings read as another language, or stems written after no code of theirs, would search terms the
    index never wrote."""
    assert snowball_languages([name]) == [name]
    code = language(name).prefix.removesuffix(":")
    codes = {coded for coded, named in ISO_LANGUAGES.items() if named == name}
    if codes:
        assert code in codes
    else:  # no code of its own (Porter's Dutch stemmer, beside Dutch's "nl"): its prefix is no other language's code
        assert code not in ISO_LANGUAGES


def test_every_language_writes_its_stems_apart_and_every_code_names_one():
    prefixes = [language(name).prefix for name in ACCEPTED]
    assert len(set(prefixes)) == len(prefixes)  # no two languages' stems meet
    for code, name in ISO_LANGUAGES.items():
        assert snowball_languages([code]) == ([] if name in ENGLISH_STEMMERS else [name])


@pytest.mark.parametrize("kind", ["qdrant-edge", "qdrant-memory"])
def test_a_qdrant_scroll_reads_every_page_once(kind, settings, tmp_path, monkeypatch):
    """The embedded shard and the client page alike (``qdrant_store.scrolled``): pages of 7 here, as of 1024 in use."""
    monkeypatch.setattr(qdrant_store, "SCROLL_PAGE", 7)
    data = records(np.random.default_rng(0), n=30)
    store = make_store(kind, tmp_path / "store", settings)
    store.upsert(data)
    scanned = [rid for rid, _ in store.scan()]
    assert sorted(scanned) == sorted(r.id for r in data)
    assert {rid for rid, _ in store.scan({"kind": "case"})} == {r.id for r in data if r.payload["kind"] == "case"}
    exported = {r.id: r.vectors for batch in store.records(batch=4) for r in batch}
    assert set(exported) == set(scanned)
    np.testing.assert_allclose(exported["r3"]["text"], data[3].vectors["text"], atol=1e-6)
    store.close()


def test_a_job_s_record_gives_back_what_get_jobs_answers(tmp_path):
    """Every field of ``JobOut`` survives a restart: a field REST answers but the record does not keep would read as
    its default after one."""
    job = Job("0123456789ab", "atlas.zip", [], status="failed", done=3, total=10, error="no room", notes=["a note"])
    job.cancel_requested, job.submitted = True, 1_700_000_000.5
    kept = JobRecords(tmp_path / "jobs", tmp_path / "index")
    kept.save(job)
    loaded = kept.load(job.id)
    assert JobOut.model_validate(loaded, from_attributes=True) == JobOut.model_validate(job, from_attributes=True)
