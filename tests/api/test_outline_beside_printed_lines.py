"""The outline of a passage on its rendered page leaves the lines printed next to it as they are: its white band and
red line covered the lower half of the line just above (a word's box reaches into the line above, and the band was
drawn outside the box), which a reader reads for context. It stays seen on any picture, dark or light."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.retrieval.records import union_box
from pathatlas.ui.api.routes.media import draw_outline, render_page
from pathatlas.ui.present import HALO_RGB
from pathatlas.ui.web_viewer import READING_DPI
from tests.indexer.test_passage_boxes import red

PRINTED = (
    "the line two above keeps its place here",
    "gypsy jumpy quip gypsy jumpy quip gypsy jumpy",  # descenders reaching down towards the passage
    "allow physicians to measure the size of it",
    "scanning lets them see the brain and more",
    "the line below holds tall letters: Bdfhklt",  # ascenders reaching up towards it
)
ABOVE, FIRST, LAST, BELOW = 1, 2, 3, 4
FONT_SIZE, LEADING = 11, 13.2
ZOOM = READING_DPI / 72


def printed_page(path: Path, paragraph_gap: float) -> tuple[Path, tuple[float, ...], list[float]]:
    """A page printing ``PRINTED``, lines ``FIRST`` to ``LAST`` a passage set ``paragraph_gap`` points apart from the
    lines around it (0: one paragraph); the passage's box as the indexer boxes it (its words' boxes) and each line's
    baseline."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=260)
    baselines = [80 + LEADING * n + paragraph_gap * ((n >= FIRST) + (n > LAST)) for n in range(len(PRINTED))]
    for text, baseline in zip(PRINTED, baselines, strict=True):
        page.insert_text((40, baseline), text, fontsize=FONT_SIZE)
    words = [w for w in page.get_text("words") if baselines[FIRST] - LEADING / 2 < w[3] < baselines[LAST] + LEADING]
    doc.save(path)
    return path, union_box([w[:4] for w in words]), baselines


def rendered(path: Path, boxes: tuple) -> np.ndarray:
    png = render_page((str(path), "fingerprint", 1, boxes, READING_DPI), 10**8)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def ink_rows(page: np.ndarray, baseline: float) -> range:
    """The rows of the line printed on ``baseline``: the run of rows holding a pixel that is not white around it."""
    inked = (page < 255).any(axis=(1, 2))
    row = round(baseline * ZOOM) - 1
    assert inked[row]
    top, bottom = row, row
    while inked[top - 1]:
        top -= 1
    while inked[bottom + 1]:
        bottom += 1
    return range(top, bottom + 1)


@pytest.mark.parametrize("paragraph_gap", [0, 4], ids=["mid-paragraph", "paragraphs-apart"])
def test_the_outline_leaves_the_lines_above_and_below_the_passage_as_printed(tmp_path, paragraph_gap):
    path, box, baselines = printed_page(tmp_path / "page.pdf", paragraph_gap)
    plain, outlined = rendered(path, ()), rendered(path, (box,))
    above, first, last, below = (ink_rows(plain, baselines[line]) for line in (ABOVE, FIRST, LAST, BELOW))
    for neighbour in (above, below):
        assert np.array_equal(outlined[neighbour], plain[neighbour]), "the line's letters are as printed"
    stroke = red(Image.fromarray(outlined))
    columns = slice(round(box[0] * ZOOM), round(box[2] * ZOOM))
    assert stroke[above.stop : first.start, columns].all(axis=1).any(), "a red line runs between it and the passage"
    assert stroke[last.stop : below.start, columns].all(axis=1).any(), "and under the passage"
    beside = stroke[first.start : last.stop]
    assert beside[:, : columns.start].any(axis=1).all() and beside[:, columns.stop :].any(axis=1).all(), "and beside"


H_AND_E = (214, 120, 178)


def grey_noise(size: int) -> bytes:
    """A detailed picture no line of which is blank: grey, so that none of it reads as the outline's red."""
    return np.random.default_rng(0).integers(0, 256, (size, size, 1), dtype=np.uint8).repeat(3, axis=2).tobytes()


@pytest.mark.parametrize(
    "ground", [(25, 20, 40), (245, 245, 245), H_AND_E, None], ids=["dark", "light", "h-and-e", "detailed"]
)
def test_the_outline_stays_seen_on_any_picture_red_between_white(ground):
    """Across each side's middle: the red line, white on either side of it."""
    size = 200
    if ground is None:
        pixmap = pymupdf.Pixmap(pymupdf.csRGB, size, size, grey_noise(size), False)
    else:
        pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, size, size), False)
        pixmap.set_rect(pixmap.irect, ground)
    draw_outline(pixmap, pymupdf.Rect(50, 50, 150, 150), 5)
    drawn = np.frombuffer(pixmap.samples, dtype=np.uint8).reshape(size, size, 3)
    for across in (drawn[:, size // 2], drawn[size // 2, :], drawn[::-1, size // 2], drawn[size // 2, ::-1]):
        is_red = red(Image.fromarray(across[np.newaxis]))[0]
        start = int(np.argmax(is_red))
        stop = start + int(np.argmin(is_red[start:]))
        assert is_red[start] and stop - start >= 4, "a red line across the side"
        assert (across[start - 1] == HALO_RGB).all() and (across[stop] == HALO_RGB).all(), "white either side of it"
