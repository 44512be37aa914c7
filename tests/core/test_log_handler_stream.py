"""The ``pathatlas`` logger's own handler (``Settings.configure_logging``) writes to stderr as it is when a line is
logged: a host that lends the process a stderr and closes it (Typer's CliRunner in a test, then the REST app in the
same process) had every later line fail ("--- Logging error ---")."""

from __future__ import annotations

import io
import logging
import sys

from pathatlas.settings import Settings


def test_lines_logged_after_a_lent_stderr_closes_reach_the_stderr_of_the_moment(monkeypatch, request):
    logger = logging.getLogger("pathatlas")
    request.addfinalizer(lambda level=logger.level: logger.setLevel(level))
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", False)  # no root handler: configure_logging adds its own
    lent, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", lent)
    Settings(log_level="INFO").configure_logging()
    logging.getLogger("pathatlas.x").info("while lent")
    lent.close()
    monkeypatch.setattr(sys, "stderr", later)
    logging.getLogger("pathatlas.x").info("after it closed")
    assert later.getvalue().endswith("after it closed\n") and "Logging error" not in later.getvalue(), later.getvalue()
    (handler,) = logger.handlers
    assert handler.setStream(io.StringIO()) is None, "no stream replaced: it writes to the stderr of the moment"
