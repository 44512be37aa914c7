"""An operator upgrading an index yesterday's PathAtlas wrote (older records version, BM25 and format): ``info`` and the
service's start-up warning name the plain ``pathatlas index --index FOLDER`` where every source is on disk, a source
that is gone is not named again once the rest is upgraded, and a copy is advised only where an earlier version would
refuse the upgraded index. Hashing encoder throughout."""

from __future__ import annotations

import json
import shlex

from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.index import META_FILE, POINTER_FILE, Index
from tests.core.test_deploy_compose_and_start_up import start_up_warnings
from tests.helpers import make_pdf, run_cli
from tests.retrieval.test_upgrades import as_an_older_version_wrote_it, build, edit

RECORDS_VERSION = PdfSource.records_version
"""The books' reader's records version."""


def read_by_an_older_reader(settings) -> None:
    """Each source of the index as the previous records version's reader left it (its fingerprint, which hashes that
    version, then differs: ``index`` reads it again)."""

    def older(document: dict) -> None:
        for entry in document["sources"].values():
            entry.update(records_version=RECORDS_VERSION - 1, fingerprint=f"older-{entry['fingerprint']}")

    edit(settings.index_dir / POINTER_FILE, older)


def older_index(tmp_path):
    """Two books indexed as an older PathAtlas left them: BM25 of the previous terms version, format 1, and read by the
    previous records version's reader."""
    settings, books = as_an_older_version_wrote_it(tmp_path / "old server", writer="0.0.9")
    read_by_an_older_reader(settings)
    return settings, books


def info(settings) -> tuple[str, dict | None]:
    """``info``'s upgrade line (text) and its ``--json`` ``upgrade``, checking that ``--json`` prints JSON only."""
    shown = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if line.startswith("upgrade ")]
    as_json = run_cli("info", "--index", settings.index_dir, "--json", home=settings.home)
    assert as_json.exit_code == 0, as_json.output
    return "\n".join(lines), json.loads(as_json.stdout)["upgrade"]


def pasted(command: str, settings):
    """``command`` as an operator pastes it."""
    return run_cli(*shlex.split(command)[1:], home=settings.home)


def test_every_source_on_disk_gets_the_plain_index_command_and_a_second_run_leaves_nothing(tmp_path, caplog):
    settings, books = older_index(tmp_path)
    plain = shlex.join(["pathatlas", "index", "--index", str(settings.index_dir)])
    line, described = info(settings)
    assert described["command"] == plain and described["gone"] == []
    assert f"run `{plain}`" in line, line
    (warning,) = start_up_warnings(settings, caplog)
    assert f"run `{plain}`" in warning, warning

    upgraded = pasted(plain, settings)
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.count(" indexed ") == 2, upgraded.output  # read again: their reader was older
    assert info(settings) == ("", None)
    again = pasted(plain, settings)
    assert again.exit_code == 0 and again.output.count(" unchanged ") == 2, again.output
    assert info(settings) == ("", None) and start_up_warnings(settings, caplog) == []


def test_a_gone_source_is_named_with_its_remedy_and_not_the_command_again_once_the_rest_is_upgraded(tmp_path):
    settings, books = older_index(tmp_path)
    books[1].unlink()
    named = shlex.join(["pathatlas", "index", str(books[0]), "--index", str(settings.index_dir)])
    line, described = info(settings)
    assert described["command"] == named and described["gone"] == [str(books[1])], described
    assert f"run `{named}`" in line and f"not on disk here ({books[1]})" in line, line

    upgraded = pasted(named, settings)
    assert upgraded.exit_code == 0, upgraded.output
    line, described = info(settings)
    assert described["command"] is None and described["gone"] == [str(books[1])], described
    assert "run `" not in line and "then `pathatlas remove` the old one" in line, line
    assert "cannot be upgraded" not in line, "the sources on disk were"

    assert run_cli("remove", books[1].name, "--index", settings.index_dir, home=settings.home).exit_code == 0
    assert info(settings) == ("", None)


def test_a_copy_is_advised_only_where_the_format_changes(tmp_path):
    """Yesterday's index was of this format: an earlier version reads it upgraded, so no copy is needed to go back."""
    settings, _ = build(tmp_path)
    read_by_an_older_reader(settings)
    line, described = info(settings)
    assert described["format"] is None and "run `pathatlas index --index" in line, line
    assert "keep a copy" not in line, line
    edit(settings.index_dir / META_FILE, lambda d: d.update(format=1))
    line, _ = info(settings)
    assert "keep a copy of the folder (earlier versions cannot read it once upgraded)" in line, line


def test_only_a_gone_source_older_gives_no_command(tmp_path):
    """Every source on disk is of this reader: the command would leave the gone one as it is."""
    settings, books = build(tmp_path)
    edit(
        settings.index_dir / POINTER_FILE,
        lambda d: d["sources"][str(books[1])].update(records_version=RECORDS_VERSION - 1),
    )
    books[1].unlink()
    with Index.open(settings.index_dir, settings) as index:
        upgrade = index.upgrade({"pdf": RECORDS_VERSION})
    assert upgrade.command is None and upgrade.gone == [str(books[1])]
    assert upgrade.advice().startswith("1 source(s) an older reader read are not on disk here"), upgrade.advice()


def test_bm25_of_other_languages_names_the_index_run_that_saves_it_in_these(tmp_path):
    """Not "`pathatlas index PATHS`": the plain run over the index's own sources saves its BM25 as searched here."""
    home, index = tmp_path / "home", tmp_path / "index"
    book = make_pdf(tmp_path / "lib" / "livro.pdf", 2, "livro")
    assert run_cli("index", book, "--index", index, home=home, PATHATLAS_LANGUAGES='["portuguese"]').exit_code == 0
    shown = run_cli("info", "--index", index, home=home)
    (line,) = [line for line in shown.output.splitlines() if line.startswith("bm25 ")]
    plain = shlex.join(["pathatlas", "index", "--index", str(index)])
    assert f"or run `{plain}` to save it so" in line, line

    assert run_cli(*shlex.split(plain)[1:], home=home).exit_code == 0
    as_json = run_cli("info", "--index", index, "--json", home=home)
    assert json.loads(as_json.stdout)["bm25"]["read_again"] is False
