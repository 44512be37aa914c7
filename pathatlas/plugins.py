"""The ``py:package.module.Class`` escape hatch shared by every registry."""

from __future__ import annotations

import importlib

from pathatlas.errors import MissingExtraError, UnknownNameError


def import_plugin(name: str, base: type, what: str) -> type:
    """Import ``py:module.Class`` and check it subclasses ``base``; ``what`` names the registry in errors."""
    dotted = name.removeprefix("py:")
    module_name, _, class_name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UnknownNameError(f"{what} {name!r}: cannot import {dotted}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise UnknownNameError(f"{what} {name!r}: {dotted} is not a {base.__name__} subclass")
    return cls


def require(module: str, extra: str):
    """Import an optional dependency, or fail with the one line that says which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"{module} is not installed: pip install 'pathatlas[{extra}]'") from exc
