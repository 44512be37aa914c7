"""Last fixes from a sweep: progress that reaches its total, an empty ``--filter`` value, an empty URL filter in the web
UI, and the size advice for a strip already too thin to compare."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer import pipeline
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli import parse_filters
from tests.api.test_service_uploads_and_other_processes import png_of_size
from tests.helpers import hashing_settings
from tests.ui.test_web_ui_library_and_search_lines import run_app


# -- 1. progress that ends at its total, and reaches it only once committed ------------------------------------------
def progress_of(tmp_path, path) -> list[tuple[int, int, bool]]:
    """Each progress report of indexing ``path``: (done, total, whether the source was committed by then); its
    progress bar is drawn on stderr, as ``pathatlas index`` draws it."""
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    seen: list[tuple[int, int, bool]] = []
    indexer = Indexer(
        index,
        on_progress=lambda key, done, total: seen.append((done, total, key in index.manifest)),
    )
    report = indexer.add([path])
    assert [s.status for s in report.sources] == ["indexed"], report.sources
    return seen


def test_a_pdf_reads_complete_only_once_committed(tmp_path, monkeypatch):
    """A 30-page PDF read "30/30" within 2 s, while its pages were still being encoded; cancelled then, it read
    "cancelled 30/30", and a stopped service logged "30/30 done" of a source it had not committed."""
    monkeypatch.setattr(pipeline, "ENTRY_BATCH", 2)  # several batches, so that reading runs ahead of encoding
    seen = progress_of(tmp_path, make_pdf(tmp_path / "atlas.pdf", 6, "paged"))
    assert seen[-1] == (6, 6, True)
    assert all(committed for done, total, committed in seen if done >= total), seen
    assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)


def test_a_case_folder_ends_at_the_images_it_had_not_the_rows_it_listed(tmp_path, capsys):
    """A folder listing an image twice and one missing ended its progress (and ``pathatlas index``'s bar) at 2 of 4
    (``size_hint``: rows listed), as a zip of case folders ended its job "done 17, total 21"."""
    folder = tmp_path / "dupcase"
    folder.mkdir()
    for n, colour in enumerate(((200, 30, 30), (30, 200, 30))):
        Image.new("RGB", (48, 48), colour).save(folder / f"{n}.png")
    rows = [{"image": name, "case": "A", "diagnosis": "granuloma"} for name in ("0.png", "0.png", "1.png", "gone.png")]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert progress_of(tmp_path, folder)[-1] == (2, 2, True)
    assert capsys.readouterr().err.replace("\r", "\n").split("\n")[-2].startswith("dupcase: 100%|██████████| 2/2 ")


# -- 2. an empty --filter value ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "field"), [("kind=", "kind"), ("organ=", "organ"), ("kind= ", "kind")])
def test_an_empty_cli_filter_value_is_refused_as_every_door_refuses_it(given, field):
    """``--filter kind=`` was told "use FIELD=VALUE, e.g. kind=figure", which it had done."""
    with pytest.raises(BadInputError) as refused:
        parse_filters(["organ=lung", given])
    assert str(refused.value) == f"filter {field!r} is empty: give a value or leave it out"


# -- 4. a strip too thin for any crop -------------------------------------------------------------------------------
def test_a_strip_thinner_than_a_query_needs_is_told_at_once_it_is_too_small():
    """A 1000000x30 strip over a 1000000-pixel limit was told "crop it to at most 33333x30", then refused as too small
    to compare."""
    with pytest.raises(BadInputError) as refused:
        open_image(png_of_size(1_000_000, 30), 1_000_000, name="strip.png")
    assert str(refused.value) == "strip.png is 1000000x30 pixels: too small to compare; give one of at least 32 a side"


# -- 3. an empty URL filter ------------------------------------------------------------------------------------------
EMPTY_URL_FILTER = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.query_params.update({"q": "granuloma", "organ": ""})
app.run()
said({
    "warnings": [w.value for w in app.warning],
    "status": [m.value for m in app.markdown if "class='results-status" in m.value],
    "exceptions": [e.value for e in app.exception],
})
"""


def test_an_empty_url_filter_is_left_out_without_a_word(demo_index):
    """``/?q=granuloma&organ=`` said "filter organ= is not in this library": a blank value filters nothing."""
    seen = run_app(EMPTY_URL_FILTER, demo_index.path, demo_index.settings.home)
    assert seen["exceptions"] == [] and seen["warnings"] == [], seen
    assert re.search(r">\d+ results? (\([^)]*\) )?for", seen["status"][0]), seen
