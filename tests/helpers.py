"""What many test files share: settings and CLI runs with the hashing encoder (no model to load, so no wait), a case
folder's search checked end to end, the check of a one-line CLI error, notes files and their slides, and images as PNG
bytes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from click.testing import Result
from PIL import Image
from typer.testing import CliRunner

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Page
from pathatlas.indexer.sources.notes import NotesSource
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.settings import Settings
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli import app


def hashing_settings(root: Path, **extra) -> Settings:
    """Home and index under ``root``, quick as ``hashing_env``: the hashing encoder and no keypoints of case images;
    ``extra`` adds or overrides settings."""
    quick = {"encoder": HashingEncoder.name, "case_keypoints": False}
    return Settings(**{"home": root / "home", "index": root / "index", **quick, **extra})


def hashing_env(home: Path) -> dict[str, str]:
    """The variables that make a CLI run quick on ``home``: the hashing encoder and no keypoints of case images."""
    return {"PATHATLAS_HOME": str(home), "PATHATLAS_ENCODER": HashingEncoder.name, "PATHATLAS_CASE_KEYPOINTS": "0"}


def run_cli(*args, home: Path | None = None, **env) -> Result:
    """``pathatlas *args`` in process, 200 columns wide; with ``home``, quick on that home (``hashing_env``). ``env``
    adds or overrides variables; arguments and values may be paths or numbers."""
    variables = {"COLUMNS": "200", **(hashing_env(home) if home else {}), **env}
    return CliRunner().invoke(app, [str(a) for a in args], env={k: str(v) for k, v in variables.items()})


def indexed_lecture(root: Path, name: str, text: str) -> Path:
    """``root`` holding ``name`` (a one-page PDF of ``text``) indexed quickly (``hashing_env``) into ``root/idx`` on the
    home ``root/home``; returns ``root``."""
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(40, 40, 560, 400), text, fontsize=11)
    doc.save(root / name)
    result = run_cli("index", root / name, "--index", root / "idx", home=root / "home")
    assert result.exit_code == 0, result.output
    return root


def indexed_book(root: Path) -> Path:
    """``root`` holding a three-page book (``make_pdf``'s, at ``root/lib/book.pdf``) indexed quickly (``hashing_env``)
    into ``root/idx`` on the home ``root/home``; returns ``root``."""
    pdf = make_pdf(root / "lib" / "book.pdf", 3, "v1")
    assert run_cli("index", pdf, "--index", root / "idx", home=root / "home").exit_code == 0
    return root


def index_new(settings: Settings, *sources: Path) -> None:
    """``sources`` indexed into a new index at ``settings.index_dir``, none failing, and the index closed: the service
    or command a test runs next opens it."""
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add(list(sources)).failed
    index.close()


def note(folder: Path, name: str, text: str | bytes) -> Path:
    """``folder/name`` (its folders made) holding ``text``, UTF-8 where it is a string; returns it."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def slides_of(source: NotesSource) -> list[tuple[int, str]]:
    """Each slide's number and section, as the deck's pages give them."""
    return [(r.page, r.section) for r in source.records() if isinstance(r, Page)]


def words_of(source: NotesSource) -> str:
    """Every slide's text, one after another."""
    return "\n".join(r.text for r in source.records() if isinstance(r, Page))


def two_cases(folder: Path) -> Path:
    """``folder`` made a case folder of two plain images listed in labels.csv: c0.png (case C-1, granuloma) and c1.png
    (case C-2, fibrosis); returns it."""
    folder.mkdir(parents=True)
    for n, colour in enumerate(("red", "blue")):
        Image.new("RGB", (48, 48), colour).save(folder / f"c{n}.png")
    (folder / "labels.csv").write_text("image,case,diagnosis\nc0.png,C-1,granuloma\nc1.png,C-2,fibrosis\n")
    return folder


def ranked(pages: dict[str, str], query: str) -> list[str]:
    """The ids of the ``pages`` (id: text) that BM25 alone finds for ``query``, best first."""
    index = LexicalIndex.build((rid, {"source": rid, "text": text}) for rid, text in pages.items())
    (hits,) = index.search([query], len(pages))
    return [rid for rid, _ in hits]


def assert_cases_found(folder: Path, rows: list[dict], expected: dict[str, str]) -> list[Result]:
    """``rows`` indexed quickly as a case folder at ``folder`` (images a.jpg and b.jpg), its home and index beside it;
    asserts that each query of ``expected``, searched with ``--json``, finds first the case it names, first by BM25
    too. Returns the searches' results, for what a test checks besides."""
    from tests.indexer.test_case_folders import folder_with, jsonl  # a test module: imported when a test calls this

    home, index = folder.parent / "home", folder.parent / "index"
    assert run_cli("index", folder_with(folder, "cases.jsonl", jsonl(rows)), "--index", index, home=home).exit_code == 0
    results = []
    for query, case in expected.items():
        result = run_cli("search", query, "--index", index, "--json", "--k", "1", home=home)
        assert result.exit_code == 0, result.output
        top = json.loads(result.stdout)[0]
        assert (top["citation"]["case"], top["matched_by"].get("bm25")) == (case, 1), query
        results.append(result)
    return results


def one_error_line(result: Result, *words: str) -> str:
    """The command failed as a user's mistake should: exit status 1 by ``SystemExit``, no traceback, and one
    ``error:`` line holding ``words``, which it returns."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert all(word in errors[0] for word in words), errors[0]
    return errors[0]


def only_error_line(result: Result, *words: str) -> str:
    """``one_error_line``, and the command printed nothing else: no progress, table or JSON."""
    line = one_error_line(result, *words)
    assert [text for text in result.output.splitlines() if text.strip()] == [line], result.output
    return line


def png_bytes(image: Image.Image) -> bytes:
    """``image`` as a PNG file's bytes."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def calls_to(monkeypatch, name: str, *modules) -> list[tuple]:
    """Every call of the function ``name`` (as the first of ``modules`` defines it) made through any of ``modules``,
    recorded by its arguments while it still runs: how a test counts work done ("folded once", "found once")."""
    calls: list[tuple] = []
    real = getattr(modules[0], name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, name, counted)
    return calls


def quick(root: Path, **extra) -> dict:
    """Settings by name for an ``Atlas`` under ``root``: the hashing encoder, no keypoints (no model to load)."""
    return {"home": root / "home", "encoder": HashingEncoder.name, "case_keypoints": False, **extra}


def demo_atlas(root: Path, demo_corpus: Path) -> Path:
    """``root`` with the demo primer and cases indexed into ``root/index`` by ``Atlas`` (``quick``); returns it."""
    from pathatlas.ui.library import Atlas

    with Atlas(root / "index", **quick(root)) as atlas:
        assert [r["status"] for r in atlas.add(demo_corpus / "primer", demo_corpus / "cases")] == ["indexed"] * 2
    return root


AST_RACE = "AST constructor recursion depth mismatch"
"""CPython 3.11 before 3.11.8 raises this SystemError now and then when two threads build ASTs at once (gh-106905), as
Streamlit's AppTest does, parsing the app beside its script thread: the flaky web UI tests' failures said it."""


def app_test_said(command: list[str], env: dict[str, str], timeout: int = 600) -> Any:
    """The JSON an AppTest script run in a process of its own (``command``) printed last, the process succeeding; on
    a CPython with the AST race (``AST_RACE``) a run failed by that race, not by the app, is run once more."""
    for _ in range(2 if sys.version_info < (3, 11, 8) else 1):
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        if run.returncode == 0 or AST_RACE not in run.stderr:
            break
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """``body`` as a JSON reply of ``status`` from a fake server's ``handler`` (an ``http.server`` request handler)."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def imported_after(script: str) -> list[str]:
    """The lines ``script`` prints, run in a fresh interpreter (a module imported once stays in ``sys.modules``)."""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, timeout=300)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.splitlines()


def on_event_loop() -> bool:
    """Whether the calling thread runs an event loop (an async route's code, which holds up every other request); a
    worker thread does not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
