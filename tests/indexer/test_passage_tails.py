"""A page's short last passage (its tail) joins the passage before it, except where it opens with a figure's caption:
the text above a figure does not run on into the caption, the heading after it and the next part's first line (the
A&P book's p. 168 outlined Figure 6.5's caption, "Chapter Review" and a line cut mid-sentence as part of the "bone
marrow" paragraph above them)."""

from __future__ import annotations

import pymupdf
from PIL import Image

from pathatlas.indexer.records import Figure, Passage
from pathatlas.indexer.sources.pdf import PdfSource
from tests.helpers import png_bytes

PARAGRAPH = (
    "Bone also serves as a site for fat storage and blood cell production. The softer connective tissue that fills "
    "the interior of most bone is referred to as bone marrow. There are two types of bone marrow: yellow marrow and "
    "red marrow. Yellow marrow contains adipose tissue; the triglycerides stored in the adipocytes of the tissue can "
    "serve as a source of energy. Red marrow is where hematopoiesis, the production of blood cells, takes place. Red "
    "blood cells, white blood cells, and platelets are all produced in the red marrow."
)
CAPTION = (
    "Figure 6.5. Head of Femur Showing Red and Yellow Marrow: The head of the femur contains both yellow and red "
    "marrow. Yellow marrow stores fat. Red marrow is responsible for hematopoiesis."
)
HEADING = "Chapter Review"
LAST_LINE = "The major functions of the bones are body support, facilitation of movement, protection of internal"
SHORT_PARAGRAPH = (
    "Calcium and phosphorus stored in bone are released into the blood when the body needs them for nerves."
)
PICTURE = pymupdf.Rect(150, 200, 450, 450)


def page_ending_with(path, tail: list[str]):
    """One page: ``PARAGRAPH`` (over ``passage_min_words``, 60), a picture under it, then the ``tail`` blocks under
    the picture, together under 60 words."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(60, 60, 550, 180), PARAGRAPH, fontsize=10)
    page.insert_image(PICTURE, stream=png_bytes(Image.new("RGB", (300, 250), (200, 60, 60))))
    y = 460
    for text in tail:
        page.insert_textbox(pymupdf.Rect(60, y, 550, y + 40), text, fontsize=10)
        y += 50
    doc.save(path)
    return path


def passages_and_figures(path, settings) -> tuple[list[Passage], list[Figure]]:
    records = list(PdfSource(path, settings).records())
    return [r for r in records if isinstance(r, Passage)], [r for r in records if isinstance(r, Figure)]


def test_a_tail_opening_with_a_caption_stands_apart_from_the_text_above_the_figure(tmp_path, settings):
    path = page_ending_with(tmp_path / "bone.pdf", [CAPTION, HEADING, LAST_LINE])
    passages, (figure,) = passages_and_figures(path, settings)
    assert [p.text.split("\n")[0][:20] for p in passages] == [PARAGRAPH[:20], CAPTION[:20]]
    above, tail = passages
    assert "Figure 6.5" not in above.text and HEADING not in above.text
    assert above.bbox[3] < PICTURE.y0, "the paragraph's outline stays above the picture"
    assert HEADING in tail.text and "protection of internal" in tail.text
    assert figure.label == "Figure 6.5" and figure.caption.startswith("Figure 6.5."), (
        "the caption is the figure's as well"
    )


def test_a_short_last_paragraph_under_a_figure_still_joins_the_text_before_it(tmp_path, settings):
    (passage,), _ = passages_and_figures(page_ending_with(tmp_path / "bone.pdf", [SHORT_PARAGRAPH]), settings)
    assert passage.text.startswith(PARAGRAPH[:20]) and "nerves." in passage.text
