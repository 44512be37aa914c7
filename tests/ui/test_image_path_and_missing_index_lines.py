"""Messages a newcomer meets: an image given as a folder, or as an empty path (which Python reads as the working
folder), is refused saying so, not "cannot read image .: Is a directory"; a missing index names the command that makes
it, its folder too."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.images import open_image
from tests.helpers import one_error_line, run_cli


def test_a_folder_given_as_an_image_is_named_as_one(tmp_path):
    with pytest.raises(BadInputError, match=rf"^{tmp_path} is a folder, not an image: give an image file$"):
        open_image(tmp_path, 10_000_000)


def test_an_empty_image_path_says_it_named_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match=r"\(an empty path names the working folder\)$"):
        open_image(Path(""), 10_000_000)
    one_error_line(run_cli("search", "--image", "", "--index", tmp_path / "idx"), "is a folder, not an image")


def test_a_missing_index_says_the_command_that_makes_it_with_its_folder(tmp_path):
    one_error_line(
        run_cli("search", "granuloma", "--index", tmp_path / "atlas"),
        f"run 'pathatlas index PATH --index {tmp_path / 'atlas'}' first",
    )


def test_an_image_path_too_long_for_the_system_is_refused_in_one_line(tmp_path):
    with pytest.raises(BadInputError, match="cannot read image"):
        open_image(tmp_path / ("x" * 5000), 10_000_000)
