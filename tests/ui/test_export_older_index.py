"""``pathatlas export`` of an index an older PathAtlas wrote: the copy is written as this version writes an index, and
the index it copies stays as it was."""

from __future__ import annotations

import json

from pathatlas import __version__
from pathatlas.retrieval.index import META_FILE, POINTER_FILE, Index
from pathatlas.retrieval.upgrade import FORMAT_VERSION
from tests.helpers import hashing_settings, run_cli
from tests.retrieval.test_upgrades import as_an_older_version_wrote_it, files, reads_bm25_from_the_store


def test_an_export_of_an_older_index_is_written_in_this_format(tmp_path):
    """The copy kept the older format, BM25 of the older terms version (read again from the server on every open)
    and the older writer, so ``info`` named that version and an older PathAtlas would have read it."""
    settings, _ = as_an_older_version_wrote_it(tmp_path, writer="0.0.9")
    before = files(settings.index_dir)
    out = tmp_path / "exported"
    result = run_cli(
        "export", "--index", settings.index_dir, "--to", tmp_path / "twin", "--out", out, home=settings.home
    )
    assert result.exit_code == 0, result.output
    assert files(settings.index_dir) == before, "an export writes only the copy"

    assert json.loads((out / META_FILE).read_text())["format"] == FORMAT_VERSION
    assert json.loads((out / POINTER_FILE).read_text())["writer"] == __version__
    exported = hashing_settings(tmp_path, index=out)
    assert not reads_bm25_from_the_store(exported), "the copy's BM25 is of this terms version"
    with Index.open(out, exported) as index:
        assert not index.needs_rewrite() and index.store.value_counts("kind")["page"] == 4
