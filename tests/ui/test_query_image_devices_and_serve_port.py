"""A new user's first hour: mistakes met following the README, each one line before any work, and a home path.

A query image given as ``~/slide.png`` to ``Atlas`` (read as the index's ``~/atlas`` is); a query image that is no
regular file (``--image /dev/zero``: a device read until memory ran out, a named pipe until a writer came); and
``serve --port`` out of range (uvicorn's OverflowError traceback, once the index had opened)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import uvicorn
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.ui.library import Atlas, image_of
from tests.helpers import indexed_book, one_error_line, png_bytes, quick, run_cli

DEVICE = Path(os.devnull)
"""A device that ends at once, so the test cannot hang or fill memory: read, it was "empty (0 bytes)"."""


@pytest.mark.parametrize(
    "command",
    [("search", "bone", "--image", DEVICE), ("ask", "Which tissue is this?", "--image", DEVICE)],
    ids=["search", "ask"],
)
def test_a_device_given_as_the_query_image_is_refused_unread(tmp_path, command):
    root = indexed_book(tmp_path)
    result = run_cli(*command, "--index", root / "idx", home=root / "home")
    one_error_line(result, f"{DEVICE} is not a regular file (a device or a pipe)")


def test_atlas_refuses_a_device_as_an_image_path(tmp_path):
    root = indexed_book(tmp_path)
    with Atlas(root / "idx", **quick(root)) as atlas, pytest.raises(BadInputError, match="not a regular file"):
        atlas.search(image=str(DEVICE))


def test_an_image_path_from_the_home_folder_is_read_as_the_index_path_is(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    Image.new("RGB", (64, 48), "red").save(tmp_path / "slide.png")
    assert image_of("~/slide.png", 10_000).size == (64, 48)  # it was "cannot read image ~/slide.png"


def test_a_named_pipe_given_as_the_query_image_is_refused_not_waited_on(tmp_path):
    root = indexed_book(tmp_path)
    pipe = tmp_path / "slide.png"
    os.mkfifo(pipe)
    writer = threading.Thread(target=write_when_read, args=(pipe, png_bytes(Image.new("RGB", (64, 64), "red"))))
    writer.start()  # read, the pipe gives an image: without the refusal the search would succeed
    try:
        result = run_cli("search", "--image", pipe, "--index", root / "idx", home=root / "home")
        one_error_line(result, f"{pipe} is not a regular file (a device or a pipe)")
    finally:
        os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))  # lets a writer still waiting to be read finish
        writer.join(timeout=10)


def write_when_read(pipe: Path, data: bytes) -> None:
    """``data`` written into ``pipe`` once a reader opens it; a reader that leaves at once is no error."""
    try:
        with open(pipe, "wb") as stream:
            stream.write(data)
    except BrokenPipeError:
        pass


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_refuses_a_port_out_of_range_before_opening_the_index(tmp_path, monkeypatch, port):
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: pytest.fail(f"serve listened on port {port}"))
    root = indexed_book(tmp_path)
    result = run_cli("serve", "--index", root / "idx", "--port", port, home=root / "home")
    one_error_line(result, f"--port {port}: give a port of 1-65535")
