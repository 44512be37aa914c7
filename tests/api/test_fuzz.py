"""The OpenAPI document is the API: schemathesis (all its checks) against a running service, with and without
the token; hypothesis properties of the parsers that guard input (filters, zip member names, options)."""

from __future__ import annotations

import string
import time
import zipfile

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from pathatlas.agent.questions import labelled_in_order
from pathatlas.errors import BadInputError
from pathatlas.retrieval.records import KINDS
from pathatlas.retrieval.search import USER_FILTERS
from pathatlas.ui.api.uploads import member_problem
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli import EXAM_LABEL, parse_filters, parse_options
from tests.servers import running_service
from tests.uploads import AUTH, TOKEN, api_settings

SLOWEST_S = 10.0
"""No response may take longer (generous: the machine is shared and index jobs run meanwhile)."""
EXAMPLES = 8
"""Examples per operation and token state (every operation x 2 token states), plus schemathesis's own coverage cases."""
FILE_UPLOADS = {"/search/image", "/ask/image", "/jobs"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A real uvicorn server on loopback with a small indexed PDF, hashing encoder, token configured."""
    root = tmp_path_factory.mktemp("fuzz")
    config = api_settings(root, api_token=TOKEN)
    with running_service(config) as base:
        pdf = make_pdf(root / "book.pdf", 3, "fuzz").read_bytes()
        job = httpx.post(f"{base}/jobs", files={"file": ("book.pdf", pdf)}, headers=AUTH)
        while httpx.get(f"{base}/jobs/{job.json()['id']}").json()["status"] in ("queued", "running"):
            time.sleep(0.1)
        yield base


@pytest.fixture(scope="module")
def api_schema(service):
    return schemathesis.openapi.from_url(f"{service}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def conforms(case, headers: dict[str, str]) -> None:
    """No 5xx, no schema or content-type violation, no undocumented status, no slow response."""
    started = time.perf_counter()
    response = case.call(headers=headers)
    # A file part is "schema-valid" whatever its bytes; the service rightly refuses bytes that are not an
    # image, a PDF or a zip (400), which the positive-data check would count as a rejected valid request. Likewise a
    # text of stop words only ("ÎT &Z", folded "it"): the schema's pattern asks two letters, not which words count.
    files = case.operation.path in FILE_UPLOADS
    stop_words = response.status_code == 422 and "unsearchable_text" in response.text
    refused = [positive_data_acceptance] if files or stop_words else []
    case.validate_response(response, headers=headers, excluded_checks=refused)
    assert time.perf_counter() - started < SLOWEST_S


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms_with_the_token(case):
    conforms(case, AUTH)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms_without_a_token(case):
    conforms(case, {})


# -- properties of the input parsers ------------------------------------------------------------------
values = st.text(st.characters(blacklist_characters=",=", blacklist_categories=("Cs",)), min_size=1).filter(
    lambda v: v.strip() == v and v
)


@given(
    st.dictionaries(st.sampled_from(USER_FILTERS), st.lists(values, min_size=1, max_size=3), max_size=4),
    st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
)
def test_filters_round_trip(wanted, kinds):
    if "kind" in wanted:  # kinds are the records' own; any other is refused (below)
        wanted["kind"] = kinds
    items = [f"{field}={v}" for field, vals in wanted.items() for v in vals]  # a field repeated: alternatives
    parsed = parse_filters(items)
    assert parsed == {f: v if len(v) > 1 else v[0] for f, v in wanted.items()}


@given(st.text(min_size=1).filter(lambda f: f.strip() and "=" not in f and f.strip() not in USER_FILTERS), values)
def test_unknown_filter_fields_are_named_never_ignored(field, value):
    with pytest.raises(BadInputError, match="unknown filter field|use FIELD=VALUE"):
        parse_filters([f"{field}={value}"])


@given(values.filter(lambda v: v not in KINDS))
def test_unknown_kinds_are_named_never_ignored(kind):
    with pytest.raises(BadInputError, match="unknown kind"):
        parse_filters([f"kind={kind}"])


segment = st.text(st.characters(blacklist_characters="/\\\0", blacklist_categories=("Cs",)), min_size=1, max_size=8)


@given(st.lists(segment, min_size=1, max_size=5), st.booleans(), st.booleans())
@example(["A:"], False, False)  # a drive on Windows: found by a CI run
@example(["c:", "windows"], False, True)
def test_zip_member_names_never_leave_the_folder(parts, absolute, backslashes):
    name = ("/" if absolute else "") + ("\\" if backslashes else "/").join(parts)
    problem = member_problem(zipfile.ZipInfo(name))
    drive = len(name) > 1 and name[0] in string.ascii_letters and name[1] == ":"  # "C:..." is rooted on Windows
    escapes = absolute or drive or ".." in parts
    assert (problem is not None) == escapes, (name, problem)


def unlabelled(text: str) -> bool:
    """An option ``parse_options`` keeps as typed: no "=", not blank, and no pasted label once stripped, as it reads
    it (" A) 0" is "0")."""
    return "=" not in text and bool(text.strip()) and not EXAM_LABEL.match(text.strip())


plain_option = st.text(min_size=1, max_size=20).filter(unlabelled)


def test_the_plain_options_drawn_have_no_label_behind_spaces():
    """The filter read the text unstripped, so " A) 0" was drawn and failed the property below by chance."""
    assert not unlabelled(" A) 0") and not unlabelled("\t(B) x") and not unlabelled("C. Melanoma ")
    assert unlabelled(" C. difficile") and unlabelled("0 ") and not unlabelled(" ")


@given(st.lists(plain_option, min_size=1, max_size=6).filter(lambda texts: not labelled_in_order(texts)))
def test_options_keep_their_order_with_or_without_letters(texts):
    letters = "ABCDEFGHIJ"
    assert parse_options(texts) == [t.strip() for t in texts]
    lettered = [f"{letters[i]}={t}" for i, t in reversed(list(enumerate(texts)))]
    assert parse_options(lettered) == [t.strip() for t in texts]
