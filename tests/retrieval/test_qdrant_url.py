"""``PATHATLAS_QDRANT_URL`` set globally (for another index) no longer takes over an index whose vectors are in its own
embedded Qdrant shard: reads create no collection there, ``index`` keeps the shard, and one warning line says so; a new
index that the URL does not reach (its store is FAISS) says that too; ``info`` says where an index's vectors are. The
"server" is qdrant-client's local copy (a folder), as elsewhere; hashing encoder and small PDFs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import qdrant_client

from pathatlas.errors import IndexBusyError
from pathatlas.retrieval.index import META_FILE
from pathatlas.retrieval.stores import open_store
from pathatlas.retrieval.stores.qdrant_store import REMOTE_FILE, warn_url_ignored
from tests.retrieval.test_index_folder_faults import build, qdrant_index
from tests.retrieval.test_qdrant_index_copies import cli

URL_IGNORED = "PATHATLAS_QDRANT_URL"


@pytest.fixture(autouse=True)
def warned_afresh():
    """Each test's commands warn as a new process would: the warning is said once per process."""
    warn_url_ignored.cache_clear()
    yield
    warn_url_ignored.cache_clear()


def collections(copy: Path) -> set[str]:
    """The collections a local copy holds, from its own list (read without opening it, which locks it)."""
    return set(json.loads((copy / "meta.json").read_text())["collections"])


def warnings(caplog, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and words in r.getMessage()]


def embedded_and_other(root: Path):
    """An embedded Qdrant index at ``root/emb`` (its settings) and another index's local copy (the folder a global
    ``PATHATLAS_QDRANT_URL`` names), holding that index's collection only."""
    settings, _ = build(root / "mine", store="qdrant", index=root / "emb")
    _, copy = qdrant_index(root / "other")
    assert collections(copy) == {"index"}
    return settings, copy


def test_an_embedded_index_keeps_its_shard_when_a_global_url_is_set(tmp_path, caplog):
    settings, copy = embedded_and_other(tmp_path)
    url = {"PATHATLAS_QDRANT_URL": copy}
    shown = cli(settings, "info", "--index", settings.index_dir, **url)
    assert shown.exit_code == 0, shown.output
    assert "store qdrant (embedded, in the index folder)" in shown.output and "records 8 " in shown.output
    (said,) = warnings(caplog, URL_IGNORED)  # one line, though the store opens more than once
    assert f"index {settings.index_dir} keeps its vectors in its embedded Qdrant store" in said
    assert f"pathatlas export --index {settings.index_dir} --to URL" in said
    found = cli(settings, "search", "beta page", "--index", settings.index_dir, "--json", **url)
    assert found.exit_code == 0 and "beta.pdf" in found.stdout, found.output

    again = cli(settings, "index", "--index", settings.index_dir, "--force", **url)
    assert again.exit_code == 0, again.output
    assert collections(copy) == {"index"}  # nothing made on the "server", by reads or the write
    assert not (settings.index_dir / "store" / REMOTE_FILE).exists()
    assert "beta.pdf" in cli(settings, "search", "beta page", "--index", settings.index_dir, "--json").stdout


def test_a_new_index_the_url_does_not_reach_says_so_in_one_line(tmp_path, caplog):
    settings, copy = embedded_and_other(tmp_path)
    book = tmp_path / "mine" / "lib" / "alpha.pdf"
    made = cli(settings, "index", book, "--index", tmp_path / "new", PATHATLAS_QDRANT_URL=copy)
    assert made.exit_code == 0, made.output
    assert json.loads((tmp_path / "new" / META_FILE).read_text())["store"] == "faiss"
    (said,) = warnings(caplog, URL_IGNORED)
    assert "a new index's store is faiss (the default)" in said and "--store qdrant" in said, said
    assert "PATHATLAS_STORE=qdrant" in said

    caplog.clear()
    asked = cli(settings, "index", book, "--index", tmp_path / "q", "--store", "qdrant", PATHATLAS_QDRANT_URL=copy)
    assert asked.exit_code == 0 and not warnings(caplog, URL_IGNORED), asked.output
    assert collections(copy) == {"index", "q"}


def info_lines(settings, index: Path, **env) -> tuple[str, str]:
    """The store's words in ``info`` and in ``info --json``."""
    text = cli(settings, "info", "--index", index, **env)
    as_json = cli(settings, "info", "--index", index, "--json", **env)
    assert text.exit_code == 0 and as_json.exit_code == 0, (text.output, as_json.output)
    (line,) = [line for line in text.output.splitlines() if line.startswith("encoder ")]
    document = json.loads(as_json.stdout)
    assert document["store"] == "qdrant"
    return line, document["store_placement"]


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")  # the "server" is a local copy
def test_info_says_where_the_vectors_are(tmp_path, monkeypatch):
    embedded, _ = build(tmp_path / "embedded", store="qdrant")
    line, placement = info_lines(embedded, embedded.index_dir)
    assert placement == "qdrant (embedded, in the index folder)" and f"store {placement}  dims" in line

    copied, copy = qdrant_index(tmp_path / "copied")
    line, placement = info_lines(copied, copied.index_dir)
    assert placement == f"qdrant local copy {copy.resolve()}, collection index" and placement in line

    local_client = qdrant_client.QdrantClient
    served = tmp_path / "served"
    monkeypatch.setattr(qdrant_client, "QdrantClient", lambda *_, **__: local_client(path=str(served)))
    server, _ = build(tmp_path / "server", store="qdrant", qdrant_url="https://reader:s3cret@qdrant.test:6333/?k=v")
    line, placement = info_lines(server.model_copy(update={"qdrant_url": None}), server.index_dir)
    assert placement == "qdrant server https://qdrant.test:6333/, collection index" and placement in line
    line, placement = info_lines(server, server.index_dir, PATHATLAS_QDRANT_URL="http://qdrant.test:6333")
    assert placement == "qdrant server http://qdrant.test:6333, collection index"


def test_a_busy_local_copy_names_a_way_that_exists(settings, tmp_path):
    copy = settings.model_copy(update={"qdrant_url": str(tmp_path / "copy")})
    first = open_store("qdrant", tmp_path / "store", {"text": 4}, copy)
    try:
        with pytest.raises(IndexBusyError) as refused:
            open_store("qdrant", tmp_path / "other-store", {"text": 4}, copy)
    finally:
        first.close()
    said = str(refused.value)
    assert "(--store qdrant)" not in said  # `search` has no such option
    assert "pathatlas index PATHS --index NEW --store faiss" in said, said
    assert "pathatlas export --to http://host:6333" in said
