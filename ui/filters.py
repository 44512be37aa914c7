"""The filters object every door takes (REST's bodies and forms, the command line's ``--filter``), checked in one place:
which fields and kinds exist, and the one-line error naming what is wrong. Pydantic alone, apart from the REST models
(``ui.api.schemas``), so that a search from the command line does not import FastAPI."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from pathatlas.retrieval.records import KINDS
from pathatlas.retrieval.search import USER_FILTERS, blank, echoed, empty_filter

Kind = Literal[KINDS]
FilterField = Literal[USER_FILTERS]
FilterText = Annotated[str, Field(min_length=1, pattern=r"\S")]  # as check_filters: not blank
Filters = with_config(ConfigDict(extra="forbid"))(
    TypedDict(
        "Filters",
        {
            **{name: FilterText | Annotated[list[FilterText], Field(min_length=1)] for name in FilterField.__args__},
            "kind": Kind | Annotated[list[Kind], Field(min_length=1)],
        },
        total=False,
    )
)
"""A filter names a field the stores index (or ``chapter``) and, for ``kind``, a kind records have, with a value (an
empty one would match nothing); anything else is refused, not matched to nothing (and the OpenAPI schema says so, so
clients and fuzzers know it)."""
FILTERS = TypeAdapter(Filters)


def parse_filters_form(raw: str) -> dict[str, str | list[str]]:
    """The JSON object a multipart form carries as ``filters`` (and ``--filter`` on the command line), checked as the
    JSON bodies' filters are; the error names what is wrong: an unknown field or kind, or a value that is not text."""
    try:
        return FILTERS.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        fields = ", ".join(FilterField.__args__)
        unknown = next((e["loc"][0] for e in errors if e["type"] == "extra_forbidden"), None)
        kind = next((e["input"] for e in errors if e["type"] == "literal_error" and isinstance(e["input"], str)), None)
        empty = next((e["loc"][0] for e in errors if e["loc"] and blank(e["input"])), None)
        if unknown is not None:
            problem = f"unknown filter field {brief(unknown)}; use {fields}"
        elif empty is not None:
            problem = empty_filter(empty)
        elif kind is not None:
            problem = f"unknown kind {brief(kind)}; use {', '.join(KINDS)}"
        elif errors[0]["loc"]:
            problem = f"filter {errors[0]['loc'][0]!r} takes text or a list of texts, not {brief(errors[0]['input'])}"
        else:
            problem = f"filters must be a JSON object of field to value(s); fields: {fields}"
        raise ValueError(problem) from exc


def brief(value: Any) -> str:
    """``value``'s repr as an error reply echoes it (``search.echoed``), so a form's filters of a megabyte are not
    sent back whole."""
    return echoed(repr(value))
