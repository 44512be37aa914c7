"""A sysadmin's walkthrough: ``PATHATLAS_HOME=/proc/x`` (a folder even root cannot make) ended a search in a
traceback where other unusable homes are one line, and ``PATHATLAS_ROOT_PATH=atlas`` was refused as "--root-path",
an option nobody passed."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pathatlas.settings import Settings, os_problem
from tests.helpers import one_error_line, run_cli


# -- a home that cannot be made ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux's /proc")
def test_a_home_in_proc_itself_is_named_unusable_in_one_line():
    """``os.access`` says yes to root of /proc, where its mkdir says ENOENT; the default encoder's cache folder is
    made so (``extracted_minilm``)."""
    home = Path("/proc/pathatlas-home")
    made = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(home))
    assert os_problem(made, Settings(home=home)) == (
        f"PATHATLAS_HOME={home} is not usable: it cannot be made in /proc, a folder this user cannot write; "
        "set it to a folder this user can write"
    )


def test_a_home_that_can_be_made_is_no_fault_and_the_try_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(home))
    assert os_problem(missing, Settings(home=home)) is None, "a bug's ENOENT keeps its traceback"
    assert list(tmp_path.iterdir()) == []


# -- the root path's variable ------------------------------------------------------------------------------------------
def test_a_root_path_from_the_environment_is_refused_naming_its_variable(tmp_path):
    serve = ("serve", "--index", tmp_path / "idx")
    from_env = run_cli(*serve, home=tmp_path / "home", PATHATLAS_ROOT_PATH="atlas")
    one_error_line(from_env, "PATHATLAS_ROOT_PATH='atlas': give the prefix from its first slash, e.g. /atlas")
    from_option = run_cli(*serve, "--root-path", "atlas", home=tmp_path / "home", PATHATLAS_ROOT_PATH="/atlas")
    one_error_line(from_option, "--root-path 'atlas': give the prefix")
