"""The web UI's client of the REST API, and how it says the API's failures: one line a student reads, what the API
answered under Details, and an unreachable service once above the tabs. Every tab asks the API through here, so a
refusal reads the same wherever it happens."""

from __future__ import annotations

import atexit
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import streamlit as st

from pathatlas.settings import Settings, load_settings
from pathatlas.ui.present import (
    PAGE_GONE,
    counted,
    error_message,
    media_path,
    media_problem,
    plain,
    refusal_said,
    served_root,
    timed_out_message,
    unreachable_message,
)

READ_ONLY_POSTS = ("/search", "/ask")  # and /search/image, /search/similar, /ask/image
MEDIA_CACHED = 256  # thumbnails (tens of KB) and rendered pages (about 1 MB) kept for reruns, shared by sessions
CONNECT_SECONDS = 10  # a service that is up accepts a connection at once; the answer may take minutes
FACETS_RECHECK_SECONDS = 1
"""How long the facets are taken as current: a run asks for them several times; after that they are asked for again
with their ETag (``cached_facets``), a 304 while the index is unchanged."""
Reword = Callable[[str], str]
"""How a tab words an API sentence for its page (``refused``)."""


def ui_settings() -> Settings:
    """The settings, read once a session: the API's URL (``api_url``), its token as the server reads it (stripped, so
    the UI sends the token the server compares), whether the Library is read-only."""
    if "settings" not in st.session_state:
        st.session_state.settings = load_settings()
    return st.session_state.settings


@st.cache_resource
def backend():
    """The REST API's client: a running service's (``api_url``), waiting ``ui_timeout_s`` for an answer (an LLM
    answerer's may take minutes; 120 s cut them off as "not reachable"), else the API in process."""
    settings = ui_settings()
    if settings.api_url:
        waits = httpx.Timeout(settings.ui_timeout_s, connect=CONNECT_SECONDS)
        return httpx.Client(base_url=settings.api_url, timeout=waits)
    from fastapi.testclient import TestClient

    from pathatlas.ui.api.app import create_app

    client = TestClient(create_app())
    client.__enter__()  # run the app's lifespan once: models and index load here
    # ...and end it as the process exits: the engine stops its threads before the interpreter tears down the native
    # libraries under them (a warm-up still loading a model aborted the process at exit).
    atexit.register(client.__exit__, None, None, None)
    return client


def headers() -> dict[str, str]:
    """The bearer token the UI was given: the lecturer's (PATHATLAS_API_TOKEN), else the upload token, with which the
    API adds sources and refuses a removal in one line (shown as every refusal is, ``refused``)."""
    settings = ui_settings()
    token = settings.api_token or settings.upload_token
    return {"Authorization": f"Bearer {token}"} if token else {}


class Unreachable(Exception):
    """The REST API did not answer (stopped, or not started): raised where a cached function must not keep a
    failure, shown by ``say_unreachable`` everywhere else."""


class TimedOut(Unreachable):
    """The REST API was reached but its answer took longer than the UI waits (``ui_timeout_s``): said as that, not as
    a service to start (``timed_out_message``)."""


def fetch(method: str, path: str, **kwargs) -> httpx.Response:
    """The API's response, whatever its status; Unreachable where no server answered. A request that changes nothing
    (``read_only``) is sent once more where its connection failed before an answer: the shared client reuses a
    connection the service may close as it goes idle (uvicorn's 5 s keep-alive), and the UI said a healthy service was
    not reachable."""
    try:
        try:
            return backend().request(method, path, **kwargs)
        except (httpx.NetworkError, httpx.RemoteProtocolError):  # not a timeout: waiting twice helps no one
            if not read_only(method, path):
                raise
            return backend().request(method, path, **kwargs)
    except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:  # connected: the service is up, and slow
        raise TimedOut(str(exc)) from exc
    except httpx.TransportError as exc:  # connection refused or reset, or not made in time: no answer at all
        raise Unreachable(str(exc)) from exc


def read_only(method: str, path: str) -> bool:
    """Whether a request only reads, so that sending it twice is harmless: a GET, a search or a question; never an
    upload to index nor a removal."""
    return method in ("GET", "HEAD") or path.startswith(READ_ONLY_POSTS)


def say_unreachable(failure: Unreachable) -> None:
    """Note that the API did not answer (``failure``: unreachable, or ``TimedOut``): ``notice_unreachable`` shows it
    once, above the tabs, at the run's end (a button callback runs before the page is drawn, and every tab asks the
    API)."""
    settings = ui_settings()
    timed_out = isinstance(failure, TimedOut)
    said = timed_out_message(settings.ui_timeout_s) if timed_out else unreachable_message(settings.api_url)
    st.session_state.unreachable = said


def call(method: str, path: str, *, reword: Reword | None = None, **kwargs) -> httpx.Response | None:
    """The API's answer; None where it refused (shown, ``reword``-ed) or did not answer (``reached``)."""
    response = reached(method, path, **kwargs)
    if response is None or response.status_code < 400:
        return response
    refused(method, path, response, reword=reword)
    return None


def reached(method: str, path: str, **kwargs) -> httpx.Response | None:
    """The API's response, whatever its status; None where no server answered (``say_unreachable``)."""
    try:
        return fetch(method, path, **kwargs)
    except Unreachable as failure:
        say_unreachable(failure)
        return None


def refused(method: str, path: str, response: httpx.Response, *, reword: Reword | None = None) -> str:
    """Show an API refusal as its one line, as written (it may name a file or zip member of an upload) or as the tab
    words it for the page (``reword``: an API call it names is a control there), with the status and body as sent
    under Details (for a bug report); the line is returned for a live region to say."""
    line = error_message(detail_of(response))
    line = reword(line) if reword else line
    st.error(plain(line))
    details(answered(method, path, response))
    return line


def answered(method: str, path: str, response: httpx.Response) -> str:
    """A refused request and the API's answer as sent, its status and body, for a bug report (``details``)."""
    return f"{method} {path}: {response.status_code}\n{response.text}"


def details(said: str) -> None:
    """``said`` (``answered``) under a closed Details expander, below the line a student reads."""
    with st.expander("Details"):
        st.code(said, language=None, wrap_lines=True)


def detail_of(response: httpx.Response) -> Any:
    """An API error's ``detail`` (a sentence, or FastAPI's 422 list), a sentence without the service's settings
    (``without_settings``); where the body holds none (a proxy's or a server's own), what ``refusal_said`` says for
    it. What the API answered stays as sent under Details (``answered``)."""
    if (detail := api_detail(response)) is not None:
        return without_settings(detail) if isinstance(detail, str) else detail
    headers = response.headers
    status, content_type = response.status_code, headers.get("content-type", "")
    return refusal_said(status, response.text, content_type, headers.get("X-Request-ID"))


SETTING_NAMES = sorted((f"PATHATLAS_{name.upper()}" for name in Settings.model_fields), key=len, reverse=True)
SETTING = rf"\b(?:{'|'.join(SETTING_NAMES)})\b"
"""A setting of the service by its variable's name: those alone, not a file named "PATHATLAS_NOTES.pdf"."""
PIXEL_LIMIT = re.compile(r"(?<![\d,])(\d[\d,]{0,15}) \(PATHATLAS_MAX_IMAGE_PIXELS\)")
SETTING_ASIDE = re.compile(rf" ?\([^()]{{0,80}}{SETTING}[^()]{{0,80}}\)")
SETTING_NUMBER = re.compile(rf"{SETTING}=(\d[\d,.]{{0,20}})")
"""Bounded repeats: a refusal echoing a long name (a zip member of 40,000 digits) took unbounded ones seconds, the
interpreter's lock held and every session of the UI stopped meanwhile."""
NOT_SET_UP = "The PathAtlas service is not set up to do this: tell whoever runs it."
"""A refusal naming a setting the service's operator must change ("the llm answerer needs PATHATLAS_LLM_BASE_URL"),
as a student reads it (``without_settings``)."""


def without_settings(sentence: str) -> str:
    """An API sentence as a student reads it: the settings it names are whoever runs the service's, of no use to a
    student ("over the limit of 60,000,000 (PATHATLAS_MAX_IMAGE_PIXELS)"). A setting named beside what it sets is left
    out, a limit of pixels said in megapixels ("over the limit of 60 megapixels"), a setting's number said as that
    number ("within 60 s"); a sentence still naming one tells whoever runs the service what to set, and is said as
    ``NOT_SET_UP``."""
    sentence = PIXEL_LIMIT.sub(lambda limit: pixels_said(int(limit[1].replace(",", ""))), sentence)
    sentence = SETTING_NUMBER.sub(r"\1", SETTING_ASIDE.sub("", sentence))
    return NOT_SET_UP if re.search(SETTING, sentence) else sentence


def pixels_said(pixels: int) -> str:
    """A number of pixels as a camera counts them: "60 megapixels", "2.5 megapixels"; under a million, in pixels."""
    if pixels < 1_000_000:
        return f"{pixels:,} pixels"
    millions = f"{pixels / 1_000_000:,.1f}".removesuffix(".0")
    return f"{millions} megapixel{'' if millions == '1' else 's'}"


def api_detail(response: httpx.Response) -> str | list | None:
    """The ``detail`` of a JSON error body (a sentence, or FastAPI's 422 list); None where there is none: another body,
    JSON of other fields, or a JSON content type over text that is none (a proxy's)."""
    body = json_object(response)
    detail = body.get("detail") if body is not None else None
    return detail if isinstance(detail, str | list) else None


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The response's body where it is a JSON object sent as JSON; None for any other body (a PDF's bytes, a proxy's
    page, a JSON content type over text that is none)."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except ValueError:  # UnicodeDecodeError included
        return None
    return body if isinstance(body, dict) else None


def api_has_none(response: httpx.Response) -> bool:
    """Whether the API itself answered that what was asked for is not there (its 404, with its sentence), not a
    proxy's 404 page for a wrong address, nor any other refusal."""
    return response.status_code == 404 and api_detail(response) is not None


class MediaRefused(Exception):
    """The API refused an image: its path, the API's detail, its answer as sent (``answered``) and its status where the
    API itself refused (None for a proxy's page, ``api_detail``). Raised where a cached function must not keep a
    failure (a busy or restarted service serves it next run), shown by ``notice_media``."""


@st.cache_data(ttl=600, show_spinner=False)
def cached_root() -> str:
    """The path prefix the API is served under (``served_root``), "" where its OpenAPI document is not served (404).
    Any other refusal raises Unreachable, which is not cached: a proxy's 502 while the service restarts would otherwise
    leave every image unfound for ten minutes, in every session."""
    response = fetch("GET", "/openapi.json")
    if response.status_code == 404:
        return ""
    if response.status_code >= 400:
        raise Unreachable(f"GET /openapi.json: {response.status_code}")
    return served_root(response.json()) if "json" in response.headers.get("content-type", "") else ""


@st.cache_data(ttl=600, max_entries=MEDIA_CACHED, show_spinner=False)
def cached_media(path: str) -> bytes:
    """Raises Unreachable and MediaRefused, which are not cached: the image comes once the server serves it."""
    response = fetch("GET", path)
    if response.status_code >= 400:
        said, sent = error_message(detail_of(response)), answered("GET", path, response)
        raise MediaRefused(path, said, sent, response.status_code if api_detail(response) is not None else None)
    return response.content


def media(url: str) -> bytes | None:
    """The image at a media URL the API gave (``media_path``); None where it could not be had, which the run's end
    says in one line (``notice_media``) instead of leaving the card blank."""
    try:
        return cached_media(media_path(url, cached_root()))
    except Unreachable as failure:
        say_unreachable(failure)
    except MediaRefused as exc:
        st.session_state.setdefault("media_refused", []).append(exc.args)
    return None


@st.cache_data(ttl=600, show_spinner=False)
def cached_upload_mb(limit: str) -> int | None:
    """The API's limit ``limit`` (/health's ``limits``: ``max_upload_mb``, ``max_query_image_mb``), in MB; None where it
    does not say. Raises Unreachable, which is not cached."""
    response = fetch("GET", "/health")  # 503 while the index cannot search: its limits still stand
    told = "json" in response.headers.get("content-type", "")
    return (response.json().get("limits") or {}).get(limit) if told else None


def upload_limit(limit: str = "max_upload_mb") -> dict[str, int]:
    """An uploader's limit: the API's (``limit``: PATHATLAS_MAX_UPLOAD_MB where it runs, for an image query
    PATHATLAS_MAX_QUERY_IMAGE_MB), not above what Streamlit itself takes (``server.maxUploadSize``, which ``pathatlas
    ui`` sets to this machine's upload setting), so that an uploader says the size that is refused instead of
    Streamlit's "200MB per file"; Streamlit's own where the API does not say."""
    try:
        megabytes = cached_upload_mb(limit)
    except Unreachable:  # the page's other requests say so
        return {}
    return {"max_upload_size": min(megabytes, st.get_option("server.maxUploadSize"))} if megabytes else {}


NO_FACETS: dict[str, Any] = {"fields": {}, "by_source": {}}


class FacetsRefused(Exception):
    """The API refused the facets (a busy service's 503): raised where a cached function must not keep the refusal."""


@dataclass(frozen=True)
class TaggedFacets:
    """The facets as /facets answered them, with the ETag it sent them with (the generation of the index counted)."""

    etag: str
    facets: dict[str, Any]


@dataclass
class FacetsKept:
    """The facets last answered with an ETag, for every session (``cached_facets``); replaced whole, never half."""

    latest: TaggedFacets | None = None


@st.cache_resource
def facets_kept() -> FacetsKept:
    return FacetsKept()


@st.cache_data(ttl=FACETS_RECHECK_SECONDS, show_spinner=False)
def cached_facets() -> dict[str, Any]:
    """The index's facets, kept by the ETag /facets sent them with: asked for again with it (If-None-Match), a 304
    keeps them, and an index changed anywhere (a job, another user's upload, ``pathatlas index``) shows at the next
    check. Kept by /health's generation, they could be another worker's older count, kept as the newer generation's;
    a service that sends no ETag is asked anew at each check. Raises Unreachable and FacetsRefused, which are not
    cached: the filters come back with the server."""
    kept = facets_kept()
    latest = kept.latest
    response = fetch("GET", "/facets", headers={"If-None-Match": latest.etag} if latest else {})
    if response.status_code == 304 and latest is not None:
        return latest.facets
    if response.status_code != 200:
        raise FacetsRefused(response.status_code)
    found, etag = response.json(), response.headers.get("ETag")
    kept.latest = TaggedFacets(etag, found) if etag else None
    return found


def facets() -> dict[str, Any]:
    """The index's facets (``cached_facets``); none where the API refused them or did not answer (said at the run's
    end, ``say_unreachable``)."""
    try:
        return cached_facets()
    except Unreachable as failure:
        say_unreachable(failure)
        return NO_FACETS
    except FacetsRefused:  # as before: the filters left empty, the page's other requests saying what is wrong
        return NO_FACETS


def unless_unreachable(cached: Callable[..., Any], default: Any, *args: Any) -> Any:
    """``cached(*args)`` (a cached function asking the API); ``default`` where the API did not answer, which the run's
    end says (``say_unreachable``): the cached function raises Unreachable so as not to keep the failure."""
    try:
        return cached(*args)
    except Unreachable as failure:
        say_unreachable(failure)
        return default


def notice_unreachable(notice) -> None:
    """The unreachable API's one sentence in ``notice`` (a placeholder above the tabs), once per run."""
    if message := st.session_state.pop("unreachable", None):
        notice.error(message)


def notice_media(notice) -> None:
    """The images the API refused this run as one line in ``notice`` (a placeholder above the tabs): those of records
    gone or changed since the search as a student acts on it (``gone_said``; it read "/media/thumbnails/...: no such
    record", a server path), any other refusal in the service's words, what it answered under Details (a proxy's error
    page had been the line's reason, markup and all)."""
    if refused := st.session_state.pop("media_refused", None):
        gone = Counter(status for *_, status in refused if status in GONE_NOUN)
        failed = [(path, said, sent) for path, said, sent, status in refused if status not in GONE_NOUN]
        lines = [gone_said(each(count, GONE_NOUN[status]), status) for status, count in sorted(gone.items())]
        if failed:
            lines.append(media_problem([(path, said) for path, said, _ in failed]))  # the service's words
        with notice.container():
            st.error(plain(" ".join(lines)))
            if failed:
                details("\n\n".join(dict.fromkeys(sent for *_, sent in failed)))


GONE_NOUN = {404: "result", 410: "image"}
"""The API's own refusals of an image that say its record is gone since the search (404: a thumbnail's), or its file
changed on disk (410: a case image's), by what the line calls the images refused so (``notice_media``)."""
IMAGE_CHANGED = "can no longer be shown: its file moved or changed on disk since it was indexed."
"""What a 410 says of an image (``gone_said``): the viewer's words for a page's (``PAGE_GONE``) name its PDF, and a
case image has none."""


def gone_said(subject: str, status: int) -> str:
    """One plain sentence on ``subject`` ("This result", "Each of 3 results": ``each``), whose record the API no longer
    has (404), or whose file it can no longer show (410): for a 404 the viewer's words for a page gone (``PAGE_GONE``),
    and what to do."""
    return f"{subject} {PAGE_GONE[404]} Search again." if status == 404 else f"{subject} {IMAGE_CHANGED}"


def each(count: int, noun: str) -> str:
    """``count`` of ``noun`` as the subject of a sentence in the singular: "1 result", "Each of 3 results"."""
    return counted(count, noun) if count == 1 else f"Each of {counted(count, noun)}"


def nothing_indexed() -> str:
    """Where the library holds nothing, the line saying so and how to add sources ("No results ...: try other words"
    blamed the query); "" where it holds something, or its contents are unknown (the API unreachable)."""
    fields = facets()["fields"]
    if not fields or fields.get("kind"):
        return ""
    health = reached("GET", "/health")
    told = health is not None and "json" in health.headers.get("content-type", "")
    name = (health.json().get("index") if told else None) or "this index"
    where = "on the server ('pathatlas index')" if read_only_library() else "in the Library tab (or 'pathatlas index')"
    return f"Nothing is indexed at {name} yet: add sources {where}."


def read_only_library() -> bool:
    """Whether sources are added and removed on the server alone (``pathatlas ui --host`` beyond loopback,
    cli.READ_ONLY_ENV)."""
    return ui_settings().ui_read_only
