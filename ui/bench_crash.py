"""Crash safety of ``pathatlas index``: kill it at every durable step, then check the index it left.

A trial runs a real ``pathatlas index`` (or ``remove``) in a child process with ``PATHATLAS_CRASH_AT=N``, so
it dies by SIGKILL just before its N-th durable step (``retrieval/durable.py``). Afterwards the index must
open; its store, BM25 and manifest must agree record for record; every committed page must keep its
thumbnail; a search must return only records of committed source versions; and re-running the command must
end with the record ids and counts of a clean build, and no media file of a record it does not hold. Steps
are counted first, so every state between two durable steps is visited, not only the few that a random
``kill -9`` happens to hit.

Each child is a fork of a process that has imported PathAtlas but never opened a store, so a trial costs
milliseconds of start-up instead of seconds of imports, and no store's threads are forked. Tiny PDFs made
here and the hashing encoder (``retrieval/encoders/hashing.py``) keep the model out of the way: crash safety does
not depend on it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.errors import BadInputError
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.stores import store_class
from pathatlas.settings import Settings

WORDS = [
    "granuloma",
    "koilocyte",
    "necrosis",
    "fibrosis",
    "epithelium",
    "gland",
    "alveolus",
    "nucleus",
    "stroma",
    "mitosis",
]


def make_pdf(path: Path, pages: int, tag: str) -> Path:
    """A small text PDF; ``tag`` changes every page's text (a new version of the book)."""
    import pymupdf

    path.parent.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page(width=300, height=300)
        words = " ".join(WORDS[(number + i) % len(WORDS)] for i in range(6))
        page.insert_text((20, 40), f"{tag} page {number + 1}: {words}", fontsize=9)
    doc.save(path)
    doc.close()
    return path


@dataclass
class Scenario:
    """A command run on an index in a known state: ``setup`` makes the state, ``args`` is the command."""

    name: str
    setup: Callable[[Path, Path], None]
    """(library folder, index folder): write the files and build the starting index."""
    args: Callable[[Path, Path], list[str]]


def _index(paths: list[Path], index: Path, store: str, force: bool = False) -> None:
    _cli(["index", *map(str, paths), "--index", str(index), "--store", store, *(["--force"] if force else [])])


@cache
def _command():
    import typer

    from pathatlas.ui.cli import app

    return typer.main.get_command(app)


def _cli(args: list[str]) -> int:
    """Run a ``pathatlas`` command in this process; returns its exit code."""
    try:
        _command().main(args, standalone_mode=False)
    except SystemExit as exc:  # typer.Exit
        return int(exc.code or 0)
    except Exception as exc:  # click.exceptions.Exit and friends
        return int(getattr(exc, "exit_code", 1))
    return 0


def scenarios(store: str) -> list[Scenario]:
    def books(lib: Path, tag: str, count: int = 3) -> list[Path]:
        return [make_pdf(lib / f"book{i}.pdf", 4 + i, f"{tag}{i}") for i in range(count)]

    def fresh(lib: Path, index: Path) -> None:
        books(lib, "v0")

    def changed(lib: Path, index: Path) -> None:
        _index(books(lib, "v0"), index, store)
        books(lib, "v1", 2)  # two of the three books change

    def forced(lib: Path, index: Path) -> None:
        _index(books(lib, "v0"), index, store)

    def removal(lib: Path, index: Path) -> None:
        _index(books(lib, "v0"), index, store)

    every = lambda lib, index: ["index", str(lib), "--index", str(index), "--store", store]  # noqa: E731
    return [
        Scenario("add three books", fresh, every),
        Scenario("replace two changed books", changed, every),
        Scenario("forced re-index", forced, lambda lib, index: [*every(lib, index), "--force"]),
        Scenario(
            "remove a book", removal, lambda lib, index: ["remove", str(lib / "book1.pdf"), "--index", str(index)]
        ),
    ]


def _settings(index: Path) -> Settings:
    return Settings(index=index, encoder=HashingEncoder.name, home=index.parent / "home")


def _fork(work: Callable[[], Any], env: dict[str, str] | None = None) -> tuple[int, Any]:
    """Run ``work`` in a forked child; returns (signal that killed it or 0, its JSON result or None)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        try:
            os.environ.update(env or {})
            os.environ.setdefault("PATHATLAS_ENCODER", HashingEncoder.name)
            result = work()
            os.write(write_fd, json.dumps(result).encode())
        except BaseException as exc:  # report, never fall back into the parent's code
            os.write(write_fd, json.dumps({"child_error": f"{type(exc).__name__}: {exc}"}).encode())
            code = 1
        finally:
            os.close(write_fd)
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 1 << 16):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    killed = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    return killed, json.loads(b"".join(chunks)) if chunks else None


def snapshot_of(index_dir: Path) -> dict[str, Any]:
    """Open an index and check that its parts agree; returns its committed records, or the problems found (one that
    does not open, as a store that lost the records its manifest lists, is one problem: its refusal)."""
    from pathatlas.errors import IndexMissingError, PathAtlasError
    from pathatlas.retrieval.index import Index
    from pathatlas.retrieval.lexical import document_text
    from pathatlas.retrieval.records import Payload
    from pathatlas.retrieval.search import Query, Searcher

    settings = _settings(index_dir)
    try:
        index = Index.open(index_dir, settings)
    except IndexMissingError:  # killed before its first commit: no index is the committed state
        return {"problems": [], "records": {}, "raw": 0, "stray_media": 0}
    except PathAtlasError as exc:
        return {"problems": [str(exc)], "records": {}, "raw": 0, "stray_media": 0}
    try:
        problems: list[str] = []
        manifest = index.manifest
        by_source: dict[str, list[str]] = {}
        for rid, stored in index.store.scan():
            record = Payload.from_payload(stored)
            by_source.setdefault(record.source, []).append(rid)
            if manifest.get(record.source, {}).get("fingerprint") != record.fingerprint:
                problems.append(f"store shows {rid} of an uncommitted version of {record.source}")
        for key, entry in manifest.items():
            if len(by_source.get(key, [])) != entry["entries"]:
                problems.append(f"{key}: manifest {entry['entries']}, store {len(by_source.get(key, []))}")
        visible = {rid for rids in by_source.values() for rid in rids}
        if extra := set(by_source) - set(manifest):
            problems.append(f"store holds sources the manifest lacks: {sorted(extra)}")
        lexical = set(index.lexical.ids)
        texted = {rid for rid, p in index.store.scan() if document_text(p)}  # pages leave BM25 to their passages
        if lexical != texted:
            problems.append(f"BM25 has {len(lexical)} ids, the store {len(texted)} searchable text records")
        pages = {rid for rid, _ in index.store.scan({"kind": "page"})}  # these PDFs' pages have thumbnails
        media = {f.name.split(".", 1)[0] for f in index.media_dir.iterdir()} if index.media_dir.is_dir() else set()
        if missing := pages - media:
            problems.append(f"{len(missing)} committed pages lack their thumbnails")
        hits = Searcher(index).search(Query(text="granuloma necrosis gland", k=50, collapse_pages=False))
        if stray := {h.id for h in hits} - visible:
            problems.append(f"search returned {len(stray)} records no committed source lists")
        return {
            "problems": problems,
            "records": {key: sorted(rids) for key, rids in by_source.items()},
            "raw": index.raw_store.count(),
            "stray_media": len(media - visible),
        }
    finally:
        index.close()


@dataclass
class CrashReport:
    store: str
    trials: int = 0
    crashed: int = 0
    inconsistent: int = 0
    rerun_differs: int = 0
    steps: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__


def warm_imports() -> None:
    """Import what a trial runs before forking, without opening any store (no threads to fork)."""
    import pymupdf  # noqa: F401

    import pathatlas.indexer.pipeline  # noqa: F401
    import pathatlas.retrieval.search  # noqa: F401
    import pathatlas.retrieval.stores.faiss_store  # noqa: F401
    import pathatlas.retrieval.stores.qdrant_store  # noqa: F401

    _command()


def run_crash_trials(store: str, trials: int, workdir: Path | None = None, seed: int = 0) -> CrashReport:
    """``trials`` kills spread over every scenario's durable steps; see the module docstring for the checks."""
    if trials < 1:
        raise BadInputError(f"--trials {trials}: give at least 1 kill per store")
    store_class(store)  # an unknown name fails here in one line, not as children that die before any step
    warm_imports()
    report = CrashReport(store)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        plans = []
        work = root / "work"  # one place for every run: record ids derive from source paths
        lib, index = work / "lib", work / "index"
        for n, scenario in enumerate(scenarios(store)):
            _fork(partial(scenario.setup, lib, index))
            start = root / f"start{n}"  # the starting state, copied back for each trial
            shutil.copytree(work, start, symlinks=True)
            log = root / "steps.log"
            _fork(partial(_cli, scenario.args(lib, index)), {"PATHATLAS_CRASH_COUNT": str(log)})
            steps = len(log.read_text().splitlines()) if log.is_file() else 0
            log.unlink(missing_ok=True)
            _, clean = _fork(partial(snapshot_of, index))
            if clean is None or clean.get("child_error") or clean["problems"] or clean["stray_media"]:
                report.failures.append(f"{scenario.name}: the clean run itself is wrong: {clean}")
            report.steps[scenario.name] = steps
            plans.append((scenario, start, steps, clean))
            shutil.rmtree(work)
        points = [(s, start, c, k) for s, start, steps, c in plans for k in range(1, steps + 1)]
        if not points:
            return report
        if trials >= len(points):  # every crash point at least once
            chosen = [points[i % len(points)] for i in range(trials)]
        else:  # spread evenly over every scenario's steps, starting at a random offset
            offset = rng.uniform(0, len(points) / trials)
            chosen = [points[int(offset + i * len(points) / trials)] for i in range(trials)]
        for scenario, start, clean, step in chosen:
            shutil.copytree(start, work, symlinks=True)
            run = partial(_cli, scenario.args(lib, index))
            killed, _ = _fork(run, {"PATHATLAS_CRASH_AT": str(step)})
            report.trials += 1
            report.crashed += killed == signal.SIGKILL
            _, after = _fork(partial(snapshot_of, index))
            label = f"{scenario.name} killed before step {step}"
            if after is None or after.get("child_error") or after["problems"]:
                report.inconsistent += 1
                report.failures.append(f"{label}: {after}")
            _fork(run)
            _, final = _fork(partial(snapshot_of, index))
            bad = final is None or final.get("child_error") or final["problems"] or final["stray_media"]
            if bad or final["records"] != clean["records"]:  # a killed run's media files go with the re-run
                report.rerun_differs += 1
                report.failures.append(f"{label}: re-run differs from a clean run: {final}")
            shutil.rmtree(work)
    return report
