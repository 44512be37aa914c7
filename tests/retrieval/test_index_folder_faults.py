"""What an IT admin and a lecturer found deploying PathAtlas: an index that cannot be written (read-only, a full disk)
is refused in one line and stays searchable; reading never creates a Qdrant collection; an index's meta and manifest
are read forward-compatibly; a source changed on disk is not served under its old highlights; a path with nothing to
index fails alone. Hashing encoder and small PDFs throughout."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import PathAtlasError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval import index as index_module
from pathatlas.retrieval.index import META_FILE, POINTER_FILE, Index
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.stores import faiss_store
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import media
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_env, hashing_settings, one_error_line, run_cli, two_cases


def run(settings: Settings, *args, **env):
    """The CLI in process, quick on ``settings``' home; ``env`` adds variables."""
    return run_cli(*args, home=settings.home, **env)


def build(root: Path, store: str = "faiss", **extra) -> tuple[Settings, list[Path]]:
    """An index of two 2-page books under ``root``."""
    settings = hashing_settings(root, **extra)
    books = [make_pdf(root / "lib" / f"{name}.pdf", 2, name) for name in ("alpha", "beta")]
    index = Index.open(settings.index_dir, settings, create=True, store=store)
    assert not Indexer(index, show_progress=False).add(books).failed
    index.close()
    return settings, books


def index_files(settings: Settings) -> dict[str, bytes]:
    folder = settings.index_dir
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def sources_found(settings: Settings, text: str = "alpha page") -> set[str]:
    index = Index.open(settings.index_dir, settings)
    try:
        return {Path(h.payload.source).name for h in Searcher(index).search(Query(text=text, k=10))}
    finally:
        index.close()


# -- 1. a read-only index ------------------------------------------------------------------------------------------


class ReadOnlyLock:
    """``FileLock`` on a folder the system refuses to write: opening the lock file fails as it does there."""

    code = errno.EROFS

    def __init__(self, path):
        self.path = str(path)

    def acquire(self, timeout=None):
        error = PermissionError if self.code == errno.EACCES else OSError
        raise error(self.code, os.strerror(self.code), self.path)


@pytest.fixture(params=[errno.EROFS, errno.EACCES], ids=["read-only mount", "no permission"])
def read_only(request, monkeypatch):
    """Makes the index folder refuse writes from then on; gives the system's words for why."""

    def refuse() -> str:
        monkeypatch.setattr(ReadOnlyLock, "code", request.param)
        monkeypatch.setattr(index_module, "FileLock", ReadOnlyLock)
        return os.strerror(request.param)

    return refuse


def test_remove_and_index_on_a_read_only_index_say_one_line_and_it_stays_searchable(tmp_path, read_only):
    settings, books = build(tmp_path)
    before = index_files(settings)
    why = read_only()
    more = make_pdf(tmp_path / "more" / "gamma.pdf", 1, "gamma")
    line = one_error_line(run(settings, "remove", "alpha.pdf", "--index", settings.index_dir), "is read-only")
    assert line.startswith(f"error: index {settings.index_dir} is read-only ({why}: write.lock)"), line
    one_error_line(run(settings, "index", more, "--index", settings.index_dir), "is read-only")
    one_error_line(run(settings, "index", more, "--index", settings.index_dir, "--json"), "is read-only")
    assert index_files(settings) == before
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}  # reads never needed the lock
    assert run(settings, "info", "--index", settings.index_dir).exit_code == 0


def test_rest_refuses_writes_to_a_read_only_index_with_409_and_the_line(tmp_path, read_only, monkeypatch):
    settings, _ = build(tmp_path)
    read_only()
    access = os.access

    def no_writes_in_the_index(path, mode, *args, **kwargs):  # what the system says of a read-only folder
        inside = Path(path).absolute().is_relative_to(settings.index_dir.absolute())
        return False if inside and mode & os.W_OK else access(path, mode, *args, **kwargs)

    monkeypatch.setattr(index_module.os, "access", no_writes_in_the_index)
    with TestClient(create_app(settings)) as client:
        source_id = client.get("/sources").json()[0]["id"]
        removed = client.delete(f"/sources/{source_id}")
        assert removed.status_code == 409, removed.text
        assert removed.json()["detail"].startswith("index index is read-only"), removed.json()
        sent = client.post("/jobs", files={"file": ("gamma.pdf", make_pdf(tmp_path / "g.pdf", 1, "g").read_bytes())})
        assert sent.status_code == 409 and "is read-only" in sent.json()["detail"], sent.text
        assert client.app.state.jobs.by_id == {}  # refused before a job was made
        assert len(client.get("/sources").json()) == 2


def refusing(how: str, folder: Path) -> list[str]:
    """A command prefix under which the kernel refuses writes to ``folder``: ``permission``, its permission bits (for
    root, without CAP_DAC_OVERRIDE, through setpriv); ``mount``, a read-only bind mount in a private mount namespace
    (root only). Skips the test where this machine cannot do it."""
    if how == "permission":
        if os.geteuid() != 0:
            return []
        drop = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}"]
    else:
        mount = f"mount --bind -o ro '{folder}' '{folder}'"
        prefix = ["unshare", "-m", "sh", "-c", f'{mount} && exec "$0" "$@"']
    if not shutil.which(prefix[0]):
        pytest.skip(f"needs {prefix[0]}")
    probe = subprocess.run([*prefix, "touch", str(folder / ".probe")], capture_output=True, timeout=30)
    if probe.returncode == 0 or b"denied" not in probe.stderr and b"Read-only" not in probe.stderr:
        (folder / ".probe").unlink(missing_ok=True)
        pytest.skip(f"this machine cannot refuse writes by {how}: {probe.stderr.decode(errors='replace').strip()}")
    return prefix


@pytest.mark.parametrize("how", ["permission", "mount"])
def test_a_real_read_only_folder_is_one_line(tmp_path, how):
    """The kernel's own refusal, not a pretend one: a folder without write permission for a user the permission bits
    bind, or a read-only mount."""
    settings, _ = build(tmp_path)
    folders = [settings.index_dir, *(p for p in settings.index_dir.rglob("*") if p.is_dir())]
    if how == "permission":
        for path in [settings.index_dir, *settings.index_dir.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        prefix = refusing(how, settings.index_dir)
        env = {**os.environ, **hashing_env(settings.home), "COLUMNS": "250"}
        command = "import sys; from pathatlas.ui.cli import app; sys.argv[0] = 'pathatlas'; app()"
        done = subprocess.run(
            [*prefix, sys.executable, "-c", command, "remove", "alpha.pdf", "--index", str(settings.index_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        for path in folders:
            path.chmod(path.stat().st_mode | 0o200)
    why = "Permission denied" if how == "permission" else "Read-only file system"
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"error: index {settings.index_dir} is read-only ({why}: write.lock)"), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}


# -- 2. reading never creates a Qdrant collection -------------------------------------------------------------------


def qdrant_index(root: Path) -> tuple[Settings, Path]:
    """An index whose vectors are in a qdrant-client twin folder (the local stand-in for a server), closed (a twin's
    client locks its folder for the process)."""
    twin = root / "twin"
    settings = hashing_settings(root, store="qdrant", qdrant_url=str(twin))
    index = Index.open(settings.index_dir, settings, create=True, store="qdrant")
    try:
        assert not Indexer(index, show_progress=False).add([make_pdf(root / "lib" / "alpha.pdf", 2, "alpha")]).failed
    finally:
        index.close()
    recorded = json.loads((settings.index_dir / "store" / "remote.json").read_text())
    assert recorded == {"url": str(twin.resolve()), "collection": "index"}
    return settings.model_copy(update={"qdrant_url": None}), twin


def moved_together(settings: Settings, twin: Path, root: Path) -> Path:
    """``qdrant_index``'s folder and its twin moved side by side into ``root/moved``, as an operator moves both;
    returns that folder (the index is ``moved/index``, the twin ``moved/twin``)."""
    moved = root / "moved"
    moved.mkdir()
    shutil.move(settings.index_dir, moved / "index")
    shutil.move(twin, moved / "twin")
    return moved


def test_searching_a_moved_qdrant_index_says_its_collection_is_missing_and_creates_nothing(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    moved = moved_together(settings, twin, tmp_path)
    for command in (["search", "alpha page"], ["info"], ["remove", "alpha.pdf"]):
        line = one_error_line(run(settings, *command, "--index", moved / "index"))
        assert f"the Qdrant collection 'index' at {twin.resolve()} does not exist" in line, line
    assert not twin.exists()  # the recorded folder was not made again, empty


def test_a_missing_collection_on_the_recorded_twin_is_not_created(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(twin))
    client.delete_collection("index")
    client.close()
    line = one_error_line(run(settings, "search", "alpha page", "--index", settings.index_dir))
    assert "the Qdrant collection 'index'" in line and "does not exist" in line, line
    client = QdrantClient(path=str(twin))
    try:
        assert not client.collection_exists("index")
    finally:
        client.close()


def test_the_url_alone_overridden_keeps_the_recorded_collection(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    (tmp_path / "renamed").mkdir()
    folder = tmp_path / "renamed" / "library"  # a folder name that is not the collection's
    shutil.move(settings.index_dir, folder)
    shutil.move(twin, tmp_path / "elsewhere")
    moved = settings.model_copy(update={"index": folder, "qdrant_url": str(tmp_path / "elsewhere")})
    index = Index.open(folder, moved)
    try:
        assert {Path(h.payload.source).name for h in Searcher(index).search(Query(text="alpha page"))} == {"alpha.pdf"}
    finally:
        index.close()
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(tmp_path / "elsewhere"))
    try:
        assert [c.name for c in client.get_collections().collections] == ["index"]  # no "library" made beside it
    finally:
        client.close()


# -- 3. forward-compatible meta and manifest --------------------------------------------------------------------------


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_unknown_meta_fields_are_read_and_a_string_format_is_the_same(tmp_path):
    settings, _ = build(tmp_path)
    edit(settings.index_dir / META_FILE, lambda d: d.update(shard_hint="x", format="1"))
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}
    assert run(settings, "info", "--index", settings.index_dir).exit_code == 0


def test_another_format_names_the_version_that_wrote_it(tmp_path):
    settings, _ = build(tmp_path)
    edit(settings.index_dir / META_FILE, lambda d: d.update(format=3))
    # a writer named: tests/retrieval/test_upgrades.py
    edit(settings.index_dir / POINTER_FILE, lambda d: d.pop("writer"))
    line = one_error_line(run(settings, "info", "--index", settings.index_dir))
    assert "was written by another PathAtlas version (format 3); this one reads formats 1, 2" in line, line
    assert "re-create" not in line


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda d: d.pop("sources"), "lacks 'sources'"),
        (lambda d: d.pop("generation"), "lacks 'generation'"),
        (lambda d: d.pop("lexical"), "lacks 'lexical'"),
        (lambda d: next(iter(d["sources"].values())).pop("fingerprint"), "lacks 'fingerprint'"),
        (lambda d: d.update(sources=[]), "'sources' has the wrong type"),
    ],
    ids=["sources", "generation", "lexical", "a source's fingerprint", "sources a list"],
)
def test_a_malformed_manifest_is_one_line_naming_the_file_and_the_field(tmp_path, change, named):
    settings, _ = build(tmp_path)
    edit(settings.index_dir / POINTER_FILE, change)
    for command in (["info"], ["search", "alpha page"]):
        line = one_error_line(run(settings, *command, "--index", settings.index_dir))
        assert str(settings.index_dir / POINTER_FILE) in line and named in line, line


def test_unknown_manifest_fields_are_ignored(tmp_path):
    settings, _ = build(tmp_path)
    edit(settings.index_dir / POINTER_FILE, lambda d: d.update(written_by="pathatlas 9"))
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}


def bm25_hits(settings: Settings) -> list[tuple[str, float]]:
    """Ids and scores of a search that BM25 finds."""
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index).search(Query(text="alpha", k=3))
    assert Path(hits[0].payload.source).name == "alpha.pdf" and "bm25" in hits[0].matched_by
    return [(hit.id, hit.score) for hit in hits]


@pytest.mark.parametrize("damage", ["manifest gone", "segment gone", "segment damaged"])
def test_missing_or_damaged_bm25_files_are_read_again_from_the_store_and_saved(tmp_path, damage):
    settings, books = build(tmp_path)
    found = bm25_hits(settings)
    lexical = settings.index_dir / "lexical"
    generation = json.loads((settings.index_dir / POINTER_FILE).read_text())["lexical"]
    segment = next((lexical / "segments").iterdir())
    if damage == "manifest gone":
        (lexical / f"{generation}.json").unlink()
    elif damage == "segment gone":
        segment.unlink()
    else:
        segment.write_bytes(b"not a segment")
    damaged = index_files(settings)
    assert bm25_hits(settings) == found
    assert index_files(settings) == damaged, "a search never writes the index"
    with Index.open(settings.index_dir, settings) as index:
        assert {s.status for s in Indexer(index, show_progress=False).add(books).sources} == {"unchanged"}
        named = f"{index.generation.lexical}.json"
        assert LexicalIndex.load(lexical, named).segments.keys() == {str(p) for p in index.manifest}
    assert bm25_hits(settings) == found


# -- 4. a full disk ---------------------------------------------------------------------------------------------------


def test_remove_and_index_on_a_full_disk_say_one_line_and_keep_the_index(tmp_path, monkeypatch):
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file a descriptor is")
    settings, books = build(tmp_path)
    before = index_files(settings)
    fsync, folder = os.fsync, str(settings.index_dir.resolve())

    def full(fd):  # a full disk as a delayed allocation shows it: the data's fsync fails, naming no file
        if stat.S_ISREG(os.fstat(fd).st_mode) and os.readlink(f"/proc/self/fd/{fd}").startswith(folder):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    line = one_error_line(run(settings, "remove", "alpha.pdf", "--index", settings.index_dir), "the disk is full")
    assert f"index {settings.index_dir} cannot be written" in line and "No space left on device: store/" in line
    more = [make_pdf(tmp_path / "more" / f"{n}.pdf", 1, n) for n in ("gamma", "delta")]
    result = run(settings, "index", *more, "--index", settings.index_dir, "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert [s["status"] for s in report] == ["failed", "failed"]
    assert all(s["problems"][0].startswith(f"index {settings.index_dir} cannot be written") for s in report), report
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}
    assert index_files(settings) == before, "a failed commit's half-written base or delta is deleted at once"


def test_a_failed_faiss_index_write_is_the_os_error_it_is(tmp_path, monkeypatch):
    def failing(index, name):
        raise RuntimeError(f"Error in faiss::write_index: write error in {name}: 10 != 20 (No space left on device)")

    monkeypatch.setattr(faiss_store.faiss, "write_index", failing)
    with pytest.raises(OSError) as raised:
        faiss_store._write_index(None, tmp_path / "text.faiss")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "text.faiss")


# -- 5. a source changed on disk --------------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "SOURCE_CHECK_SECONDS", 0.0)  # each request looks at the disk again
    settings, books = build(tmp_path)
    cases = two_cases(tmp_path / "lib" / "cases")
    index = Index.open(settings.index_dir, settings)
    assert not Indexer(index, show_progress=False).add([cases]).failed
    page = next(rid for rid, _ in index.store.scan({"kind": "page", "source": str(books[0].resolve())}))
    case = next(rid for rid, p in index.store.scan({"kind": "case"}) if p.get("image") == "c0.png")
    index.close()
    with TestClient(create_app(settings)) as client:
        yield client, settings, books[0], cases, page, case


def newer(path: Path, write) -> None:
    """Rewrite ``path`` so its modification time surely moves (coarse file system clocks)."""
    time.sleep(0.01)
    write()
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_pages_and_the_pdf_of_a_changed_source_are_gone_with_410(served):
    client, settings, book, _, page, _ = served
    assert client.get(f"/media/pages/{page}").status_code == 200
    assert client.get(f"/records/{page}/pdf").status_code == 200
    newer(book, lambda: make_pdf(book, 2, "omega"))
    for url in (f"/media/pages/{page}", f"/records/{page}/pdf"):
        gone = client.get(url)
        assert gone.status_code == 410, (url, gone.status_code)
        assert gone.json()["detail"] == "the source changed since it was indexed; re-index it"


def test_a_case_image_changed_on_disk_is_gone_with_410(served):
    client, _, _, cases, _, case = served
    assert client.get(f"/media/cases/{case}").status_code == 200
    newer(cases / "c0.png", lambda: Image.new("RGB", (48, 48), "green").save(cases / "c0.png"))
    gone = client.get(f"/media/cases/{case}")
    assert gone.status_code == 410 and "changed since it was indexed" in gone.json()["detail"]


def test_info_flags_sources_changed_or_missing_and_a_touched_one_stays_served(served):
    client, settings, book, cases, page, _ = served
    newer(book, lambda: book.write_bytes(book.read_bytes()))  # same bytes, touched: re-indexing finds it unchanged
    other = book.with_name("beta.pdf")
    newer(other, lambda: make_pdf(other, 2, "omega"))
    shutil.rmtree(cases)
    result = run(settings, "info", "--json", "--index", settings.index_dir)
    states = {Path(k).name: s["on_disk"] for k, s in json.loads(result.stdout)["sources"].items()}
    assert states == {"alpha.pdf": "ok", "beta.pdf": "changed", "cases": "missing"}
    table = run(settings, "info", "--index", settings.index_dir).output
    assert "1 source(s) changed on disk" in table and "1 source(s) missing on disk" in table
    assert client.get(f"/media/pages/{page}").status_code == 200, "what it holds is what was indexed"
    rerun = run(settings, "index", book, "--json", "--index", settings.index_dir)
    assert [s["status"] for s in json.loads(rerun.stdout)] == ["unchanged"]


# -- 6. a path with nothing to index fails alone ----------------------------------------------------------------------


def test_a_path_with_nothing_to_index_fails_alone_and_the_others_are_indexed(tmp_path):
    settings = hashing_settings(tmp_path)
    book = make_pdf(tmp_path / "lib" / "alpha.pdf", 2, "alpha")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("Goblet cells secrete mucus.")
    result = run(settings, "index", book, notes, tmp_path / "nosuch.pdf", "--json", "--index", settings.index_dir)
    assert result.exit_code == 1 and "Traceback" not in result.output
    report = {Path(s["source"]).name: s for s in json.loads(result.stdout)}
    assert report["alpha.pdf"]["status"] == "indexed"
    assert report["notes"]["status"] == "failed"
    assert report["notes"]["problems"] == [
        f"no PDFs, lecture notes or case folders found in {notes} (a case folder needs cases.jsonl or labels.csv; "
        "its .txt files are read by no loaded source: PATHATLAS_SOURCES adds plug-in ones)"
    ]
    assert report["nosuch.pdf"]["problems"] == [f"no such file or folder: {tmp_path / 'nosuch.pdf'}"]
    assert sources_found(settings) == {"alpha.pdf"}


def test_a_run_whose_every_path_fails_makes_no_index_and_reports_each(tmp_path):
    settings = hashing_settings(tmp_path)
    result = run(settings, "index", tmp_path / "a.pdf", tmp_path / "b.pdf", "--json", "--index", settings.index_dir)
    assert result.exit_code == 1
    assert [s["status"] for s in json.loads(result.stdout)] == ["failed", "failed"]
    assert not settings.index_dir.exists()


def test_discover_alone_still_raises_when_nothing_is_found(tmp_path):
    from pathatlas.indexer.sources import discover

    with pytest.raises(PathAtlasError, match="no such file or folder"):
        discover([tmp_path / "nosuch.pdf"], hashing_settings(tmp_path))
