"""A tester's findings: a PDF page holding an image over MuPDF's limit lost the whole PDF, in MuPDF's words, and image
bytes given from Python were called an upload."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Figure, Page
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.ui.library import Atlas
from tests.helpers import hashing_settings, png_bytes, run_cli

BOMB_TEXT = "Bomb page granuloma pdfbombtest"


def bomb_pdf(path: Path, width: int = 40000, height: int = 40000, *, indirect: bool = False) -> Path:
    """A page of text, a 300x200 micrograph and a Flate image declared ``width`` x ``height`` (the reviewer's
    mkpdfbomb.py: 40000x40000, over MuPDF's limit of about a billion pixels). Its stream holds four rows, which MuPDF
    pads: a few hundred bytes on disk, refused for the size it declares, and the page renders at once instead of
    inflating 1.6 GB. ``indirect`` states its width through a reference, as a PDF may."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), BOMB_TEXT)
    micrograph = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    page.insert_image(pymupdf.Rect(100, 600, 400, 800), stream=png_bytes(Image.fromarray(micrograph)))
    bomb = doc.get_new_xref()
    doc.update_object(bomb, "<< /Type /XObject /Subtype /Image /BitsPerComponent 8 >>")
    doc.update_stream(bomb, bytes(width * 4))  # Flate-compressed
    doc.xref_set_key(bomb, "ColorSpace", "/DeviceGray")
    doc.xref_set_key(bomb, "Height", str(height))
    if indirect:
        stated = doc.get_new_xref()
        doc.update_object(stated, str(width))
        doc.xref_set_key(bomb, "Width", f"{stated} 0 R")
    else:
        doc.xref_set_key(bomb, "Width", str(width))
    page.insert_image(pymupdf.Rect(100, 150, 500, 550), xref=bomb)
    doc.save(path)
    return path


@pytest.mark.parametrize(
    ("indirect", "max_image_pixels", "why"),
    [
        (False, 60_000_000, "over the limit of 60,000,000 (PATHATLAS_MAX_IMAGE_PIXELS)"),
        (True, 60_000_000, "over the limit of 60,000,000 (PATHATLAS_MAX_IMAGE_PIXELS)"),
        (False, 2_000_000_000, "more than MuPDF will decode"),  # a limit raised past MuPDF's own
    ],
)
def test_an_image_over_mupdfs_limit_is_a_skipped_figure_and_its_page_stays(tmp_path, indirect, max_image_pixels, why):
    """The whole PDF failed with ``FzErrorLimit: code=5: Overly large image``: placing the page's images decoded each
    whole. The page's text and its other figure are indexed, and the image is one problem naming page and limit."""
    pdf = bomb_pdf(tmp_path / "bomb.pdf", indirect=indirect)
    source = PdfSource(pdf, hashing_settings(tmp_path, figure_ocr=False, max_image_pixels=max_image_pixels))
    records = list(source.records())
    assert [r.text for r in records if isinstance(r, Page)] == [BOMB_TEXT]
    assert [r.image.size for r in records if isinstance(r, Figure)] == [(300, 200)], "the micrograph, by its own xref"
    label = f"{pdf} p.1 image is 40000x40000 pixels, "
    assert len(source.problems) == 1 and source.problems[0].startswith(f"{pdf} page 1: skipped an image ({label}{why}")


def test_indexing_a_pdf_with_an_image_over_mupdfs_limit_succeeds(tmp_path):
    """The CLI run (and a REST job, which reads the PDF alike) failed, showing MuPDF's message only."""
    pdf = bomb_pdf(tmp_path / "bomb.pdf")
    result = run_cli("index", pdf, "--index", tmp_path / "idx", home=tmp_path / "home", PATHATLAS_FIGURE_OCR=0)
    assert result.exit_code == 0, result.output
    assert "page 1: skipped an image" in result.output and "FzErrorLimit" not in result.output
    found = run_cli("search", "pdfbombtest", "--index", tmp_path / "idx", home=tmp_path / "home")
    assert found.exit_code == 0 and "bomb.pdf, p. 1" in found.output


def test_raising_the_image_limit_reads_the_pdf_again(tmp_path):
    """The skipped figure's problem names PATHATLAS_MAX_IMAGE_PIXELS, but raising it left the PDF "unchanged" on the
    next ``index``, its figure still missing; a PDF indexed with the default keeps its fingerprint."""
    pdf = bomb_pdf(tmp_path / "bomb.pdf")

    def fingerprint(**extra) -> str:
        return PdfSource(pdf, hashing_settings(tmp_path, **extra)).fingerprint()

    assert fingerprint(max_image_pixels=2_000_000_000) != fingerprint() == fingerprint(max_image_pixels=60_000_000)


MEASURE = """
import resource, sys
from pathlib import Path
from pathatlas.indexer.sources.pdf import PdfSource
from tests.helpers import hashing_settings

source = PdfSource(Path(sys.argv[1]), hashing_settings(Path(sys.argv[2]), figure_ocr=False))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
records = list(source.records())
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, len(source.problems))
"""


def test_an_image_over_the_limit_is_never_decoded(tmp_path):
    """An image of 20000x20000, over PATHATLAS_MAX_IMAGE_PIXELS but within MuPDF's limit, was decoded whole to find
    its xref and again into a PNG before the limit refused it: the peak grew by 800 MB, in 13 s. Measured in a process
    of its own, whose peak no other test has raised."""
    pdf = bomb_pdf(tmp_path / "big.pdf", 20000, 20000)
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, str(pdf), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    grown_mb, problems = map(int, measured.stdout.split())
    assert problems == 1 and grown_mb < 200, f"peak memory grew by {grown_mb} MB"


def test_image_bytes_given_from_python_are_not_called_an_upload(tmp_path):
    """``Atlas.search(image=b"...")`` said "the uploaded image is not a readable image": nothing was uploaded."""
    atlas = Atlas(tmp_path / "index", home=tmp_path / "home", encoder=HashingEncoder.name)
    with pytest.raises(BadInputError, match=r"^the image given is not a readable image \(JPEG, PNG, TIFF, \.\.\.\)$"):
        atlas.search(image=b"not an image at all")
