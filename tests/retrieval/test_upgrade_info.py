"""An operator upgrading over an index an older PathAtlas wrote: ``info`` (text and ``--json``) names what is older and
the one command that upgrades it, and that command does; a search says once, in a warning, that it read BM25 again
and where to learn how to stop that. Hashing encoder throughout."""

from __future__ import annotations

import json
import logging
import shlex

from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.index import POINTER_FILE, Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.terms import TERMS_VERSION
from tests.helpers import run_cli
from tests.retrieval.test_upgrades import as_an_older_version_wrote_it, edit

RECORDS_VERSION = PdfSource.records_version
"""The books' reader's records version."""


def older_index(tmp_path):
    """Two books indexed as a PathAtlas of the previous terms and records versions left them (a path with a space, so
    the command must quote it)."""
    settings, books = as_an_older_version_wrote_it(tmp_path / "old server", writer="0.0.9")
    edit(
        settings.index_dir / POINTER_FILE,
        lambda d: [entry.update(records_version=RECORDS_VERSION - 1) for entry in d["sources"].values()],
    )
    return settings, books


def read_again(caplog) -> list[str]:
    """The lines logged that say BM25 was read again from the store."""
    return [r.getMessage() for r in caplog.records if "read again from the store" in r.getMessage()]


def info_json(settings) -> dict:
    shown = run_cli("info", "--index", settings.index_dir, "--json", home=settings.home)
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)


def test_info_names_what_is_older_and_the_one_command_that_upgrades_it(tmp_path):
    settings, books = older_index(tmp_path)
    command = shlex.join(["pathatlas", "index", "--index", str(settings.index_dir)])
    shown = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert shown.exit_code == 0, shown.output
    upgrade = [line for line in shown.output.splitlines() if line.startswith("upgrade ")]
    assert len(upgrade) == 1, shown.output
    assert f"BM25 of terms version {TERMS_VERSION - 1}" in upgrade[0]
    assert f"2 source(s) were read by an older PathAtlas reader (records version {RECORDS_VERSION - 1}; " in upgrade[0]
    assert "keep a copy of the folder" in upgrade[0] and f"run `{command}`" in upgrade[0], upgrade[0]
    assert "PATHS" not in shown.output, "an operator should not have to work out which paths"
    described = info_json(settings)["upgrade"]
    assert described["command"] == command
    assert described["terms_version"] == TERMS_VERSION - 1
    assert described["older_sources"] == {str(book): RECORDS_VERSION - 1 for book in books}

    upgraded = run_cli(*shlex.split(command)[1:], home=settings.home)  # the command as pasted
    assert upgraded.exit_code == 0, upgraded.output
    assert info_json(settings)["upgrade"] is None
    shown = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert "upgrade" not in shown.output and "again" not in shown.output, shown.output


def test_the_command_names_only_the_sources_still_on_disk(tmp_path):
    settings, books = older_index(tmp_path)
    books[1].unlink()
    assert info_json(settings)["upgrade"]["command"] == shlex.join(
        ["pathatlas", "index", str(books[0]), "--index", str(settings.index_dir)]
    )
    books[0].unlink()
    shown = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert "2 source(s) an older reader read are not on disk here" in shown.output
    assert info_json(settings)["upgrade"]["command"] is None


def test_an_index_of_this_version_says_nothing_of_upgrading(tmp_path):
    settings, books = older_index(tmp_path)
    assert run_cli("index", *books, "--index", settings.index_dir, home=settings.home).exit_code == 0
    with Index.open(settings.index_dir, settings) as index:
        assert index.upgrade({"pdf": RECORDS_VERSION}) is None
        assert index.upgrade({"pdf": RECORDS_VERSION + 1}).older_sources == {
            str(book): RECORDS_VERSION for book in books
        }


def test_a_search_of_an_older_index_warns_once_that_it_read_bm25_again_and_where_to_read_more(tmp_path, caplog):
    settings, books = older_index(tmp_path)
    with caplog.at_level(logging.INFO, logger="pathatlas"), Index.open(settings.index_dir, settings) as index:
        for _ in range(2):
            assert Searcher(index).search(Query(text="alpha page", k=3))
    warned = read_again(caplog)
    assert len(warned) == 1, warned
    info = shlex.join(["pathatlas", "info", "--index", str(settings.index_dir)])
    assert f"(terms version {TERMS_VERSION - 1}; this PathAtlas's is {TERMS_VERSION})" in warned[0]
    assert "read again from the store in " in warned[0] and f"`{info}` gives the command" in warned[0], warned[0]

    caplog.clear()
    assert run_cli("index", *books, "--index", settings.index_dir, home=settings.home).exit_code == 0
    with caplog.at_level(logging.INFO, logger="pathatlas"), Index.open(settings.index_dir, settings) as index:
        assert Searcher(index).search(Query(text="alpha page", k=3))
    assert not read_again(caplog), caplog.text
