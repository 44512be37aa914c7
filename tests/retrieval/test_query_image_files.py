"""Query images as students have them: a phone's turned photo, CMYK, a palette with transparency, an animation, an
iPhone's HEIC, a page saved in place of its picture, a damaged EXIF block. Each is read upright in its colours, or
refused in one line that says what the file is, alike at every door (CLI, REST, Python)."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.images import HEIC_HINT, open_image
from pathatlas.ui.api.app import create_app
from pathatlas.ui.library import Atlas
from tests.helpers import hashing_env, only_error_line, run_cli
from tests.uploads import api_settings

PIXELS = 60_000_000
ORIENTATION = 0x0112


def picture() -> Image.Image:
    """An RGB picture whose every turn, mirror and colour mix reads differently: four coloured quadrants of unequal
    sizes over a gradient."""
    ramp = np.linspace(0, 255, 160, dtype=np.uint8)
    array = np.stack([np.tile(ramp, (120, 1)), np.tile(ramp[::-1], (120, 1)), np.full((120, 160), 90, np.uint8)], -1)
    image = Image.fromarray(array)
    image.paste((200, 30, 60), (0, 0, 50, 40))
    image.paste((20, 160, 40), (120, 80, 160, 120))
    return image


def saved(image: Image.Image, form: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, form, **options)
    return buffer.getvalue()


def turned(orientation: int, form: str) -> bytes:
    """``picture()`` stored sideways, as a phone stores a photo taken upright, its EXIF ``orientation`` (6: turn it
    clockwise, 8: anticlockwise) saying how to show it."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    stored = picture().rotate(90 if orientation == 6 else -90, expand=True)
    return saved(stored, form, exif=exif, **({"lossless": True} if form == "WEBP" else {}))


def with_transparent_border(form: str) -> bytes:
    """``picture()`` inside a 20 px transparent border: RGBA, or a palette whose last index is transparent."""
    canvas = Image.new("RGBA", (200, 160), (0, 0, 0, 0))
    canvas.paste(picture(), (20, 20))
    if form == "RGBA":
        return saved(canvas, "PNG")
    palette = Image.new("P", canvas.size, 255)  # the border: the one index no colour of the picture took
    quantized = picture().quantize(255)
    palette.putpalette(quantized.getpalette() + [0, 0, 0] * (256 - len(quantized.getpalette()) // 3))
    palette.paste(quantized, (20, 20))
    return saved(palette, "PNG", transparency=255)


def animated() -> bytes:
    """A GIF whose first frame is ``picture()``, then a black and a turned frame."""
    return saved(picture(), "GIF", save_all=True, append_images=[Image.new("RGB", (160, 120)), picture().rotate(180)])


STUDENT_IMAGES = {
    "a phone photo turned clockwise (EXIF 6)": lambda: turned(6, "JPEG"),
    "a phone photo turned anticlockwise (EXIF 8)": lambda: turned(8, "JPEG"),
    "a PNG with EXIF 6": lambda: turned(6, "PNG"),
    "a WebP with EXIF 8": lambda: turned(8, "WEBP"),
    "a TIFF with EXIF 6": lambda: turned(6, "TIFF"),
    "a CMYK JPEG": lambda: saved(picture().convert("CMYK"), "JPEG", quality=95),
    "a progressive JPEG": lambda: saved(picture(), "JPEG", quality=95, progressive=True),
    "an animated GIF (its first frame)": animated,
    "PNG bytes named .jpg": lambda: saved(picture(), "PNG"),
}


@pytest.mark.parametrize("make", STUDENT_IMAGES.values(), ids=list(STUDENT_IMAGES))
def test_student_images_are_read_upright_in_their_colours(make):
    read = np.asarray(open_image(make(), PIXELS, query=True), dtype=float)
    plain = np.asarray(picture(), dtype=float)
    assert read.shape == plain.shape
    assert np.abs(read - plain).mean() < 4, "turned, mirrored or its colours mixed up"


@pytest.mark.parametrize("form", ["RGBA", "palette"])
def test_a_transparent_border_reads_white_like_a_viewer_shows_it(form):
    read = open_image(with_transparent_border(form), PIXELS, query=True)
    white = Image.new("RGB", (200, 160), "white")
    white.paste(picture(), (20, 20))
    assert np.abs(np.asarray(read, dtype=float) - np.asarray(white, dtype=float)).mean() < 4


HEIC = struct.pack(">I", 24) + b"ftypheic" + bytes(4) + b"mif1heic" + bytes(64)
"""The opening of an iPhone's HEIC photo (an ISO base media ``ftyp`` box of brand heic)."""
SVG = b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>\n'
PAGE = b"<!DOCTYPE html>\n<html><head><title>Histology atlas</title></head><body><img src=a.jpg></body></html>"
SAVE_IT = "not an image: save or export the picture itself as JPEG or PNG"
NOT_IMAGES = {
    "IMG_2041.jpg": (HEIC, f": {HEIC_HINT}"),
    "slide.svg": (SVG, f" is an SVG drawing, {SAVE_IT}"),
    "figure.png": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", f" is a PDF, {SAVE_IT}"),
    "micrograph.jpg": (PAGE, f" is a web page (HTML), {SAVE_IT}"),
    "download.png": (b"", " is empty (0 bytes): copy or download the image again"),
}
"""Files a student gives as an image that are none, by name: their bytes and what every door says after its name
(a HEIC photo named .jpg is told by its content; a browser's "Save page as" gives HTML under the picture's name)."""


@pytest.fixture(scope="module")
def rest(tmp_path_factory):
    with TestClient(create_app(api_settings(tmp_path_factory.mktemp("rest")))) as client:
        yield client


@pytest.mark.parametrize("name", NOT_IMAGES)
def test_files_that_are_no_image_are_named_for_what_they_are_at_every_door(name, tmp_path, rest):
    data, told = NOT_IMAGES[name]
    path = tmp_path / name
    path.write_bytes(data)
    assert only_error_line(run_cli("search", "--image", path, home=tmp_path / "home")) == f"error: {path}{told}"
    atlas = Atlas(tmp_path / "index", home=tmp_path / "home", encoder=HashingEncoder.name)
    with pytest.raises(BadInputError) as refused:
        atlas.search(image=path)
    assert str(refused.value) == f"{path}{told}"
    response = rest.post("/search/image", files={"image": (name, data)})
    assert response.status_code == 400 and response.json()["detail"] == f"{name}{told}", response.text  # its file name


def test_bytes_of_no_known_kind_are_still_no_readable_image():
    with pytest.raises(BadInputError, match=r"^x\.png is not a readable image \(JPEG, PNG, TIFF, \.\.\.\)$"):
        open_image(b"<p>not an svg, not a page</p>", PIXELS, name="x.png")


def damaged_exif(jpeg: bytes) -> bytes:
    """``jpeg`` with an EXIF block (APP1) whose orientation entry points past its end, as a bad editor writes it."""
    ifd = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHI", ORIENTATION, 3, 1) + b"\x00\x06"
    block = b"Exif\x00\x00" + ifd
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block + jpeg[2:]


def test_a_damaged_exif_block_reads_the_image_without_pillows_warning_lines():
    """Pillow warned "Corrupt EXIF data" in two lines naming its own source file, on stderr beside the CLI's results
    (``pathatlas search --image`` a photo a bad editor wrote); the picture itself was read, as it is now."""
    jpeg = saved(picture(), "JPEG", quality=95)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = open_image(damaged_exif(jpeg), PIXELS, query=True)
    assert [str(w.message) for w in caught] == []
    assert np.array_equal(np.asarray(read), np.asarray(open_image(jpeg, PIXELS, query=True)))


def test_the_cli_reads_a_damaged_exif_block_in_silence(tmp_path):
    """As a student runs it, in a process of its own: Python shows a warning once per process, and the test
    runner's process may have shown this one already."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(damaged_exif(saved(picture(), "JPEG")))
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "search", "--image", str(photo)]
    env = {**os.environ, **hashing_env(tmp_path / "home"), "PATHATLAS_INDEX": str(tmp_path / "none")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.stderr.startswith("error: no PathAtlas index"), result.stderr  # the photo read, the index lacks
    assert "EXIF" not in result.stderr and "Warning" not in result.stderr, result.stderr


def test_an_image_too_small_to_compare_is_refused_naming_its_file_at_every_door(tmp_path):
    """The CLI said "the image is 10x10 pixels" of the file it was given, where every other refusal names it."""
    told = "is 10x20 pixels: too small to compare; give one of at least 32 a side"
    path = tmp_path / "icon.png"
    path.write_bytes(saved(Image.new("RGB", (10, 20), "white"), "PNG"))
    assert only_error_line(run_cli("search", "--image", path, home=tmp_path / "home")) == f"error: {path} {told}"
    atlas = Atlas(tmp_path / "index", home=tmp_path / "home", encoder=HashingEncoder.name)
    with pytest.raises(BadInputError) as refused:
        atlas.search(image=path)
    assert str(refused.value) == f"{path} {told}"
    with pytest.raises(BadInputError) as refused:
        open_image(path.read_bytes(), PIXELS, query=True)
    assert str(refused.value) == f"the image given {told}", "bytes without a name, as the Python API names them"
    assert open_image(path, PIXELS).size == (10, 20), "an indexed image's own limits are its source's"
