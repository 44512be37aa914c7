"""OS errors the machine must fix are one line naming the file (``os_problem``); a bug's error is left to its
traceback."""

from __future__ import annotations

import errno
import os

import pytest

from pathatlas.settings import Settings, os_problem


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS])
def test_no_room_or_no_write_is_one_line_naming_the_file(tmp_path, code):
    exc = OSError(code, os.strerror(code), str(tmp_path / "index" / "text.faiss"))
    assert os_problem(exc) == f"{tmp_path / 'index' / 'text.faiss'}: {os.strerror(code)}"
    assert os_problem(exc, paths=False) == f"a server file: {os.strerror(code)} ({errno.errorcode[code]})"


def test_in_the_home_it_names_the_setting(tmp_path):
    exc = OSError(errno.EFBIG, os.strerror(errno.EFBIG), str(tmp_path / "uploads" / "a.pdf"))
    line = os_problem(exc, Settings(home=tmp_path), paths=False)
    assert (
        line
        == f"PATHATLAS_HOME is not usable: {os.strerror(errno.EFBIG)} (EFBIG); set it to a folder this user can write"
    )  # noqa: E501


def test_other_errors_keep_their_traceback():
    assert os_problem(OSError(errno.ENOENT, "No such file or directory", "x")) is None
    assert os_problem(ValueError("a bug")) is None


def test_an_index_over_a_file_size_limit_says_so_not_that_the_disk_is_full(tmp_path):
    from pathatlas.retrieval.index import unwritable

    exc = OSError(errno.EFBIG, os.strerror(errno.EFBIG), str(tmp_path / "text.faiss"))
    line = str(unwritable(tmp_path, exc))
    assert "a file size limit is reached (File too large: text.faiss)" in line and "disk is full" not in line
