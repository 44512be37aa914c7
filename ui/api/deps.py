"""FastAPI dependencies and guards: the process's shared objects (the served index, its writer, upload folder and index
jobs), the write-token check, limits enforced before a body is read, and the documented error responses."""

from __future__ import annotations

import enum
import ipaddress
import json
import logging
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Header, HTTPException, Request, Response, UploadFile, params, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, Headers
from starlette.datastructures import UploadFile as SentFile

from pathatlas.retrieval.search import echoed
from pathatlas.settings import Settings
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.indexing import Jobs
from pathatlas.ui.api.schemas import ErrorOut, LinkKey, Links, too_long
from pathatlas.ui.api.upload_folder import UploadFolder
from pathatlas.ui.api.writer import IndexWriter

log = logging.getLogger(__name__)
JOBS = "/jobs"
WRITE_PREFIXES = ("/jobs/", "/sources/")
SOURCES = "/sources/"
MULTIPART_SLACK = 1 << 20
"""Bytes a multipart body may carry beyond the file itself (boundaries, headers, form fields)."""
BODY_BYTES = 1 << 20
"""Most bytes the body of a request that is no upload may hold: a search or a question is a few kilobytes, and FastAPI
reads a body whole (and parses it) before its route refuses anything."""
OVER_BODY = f"request body over {BODY_BYTES >> 20} MB"
MULTIPART = "multipart/form-data"
FOREIGN_HOST = (
    "without PATHATLAS_API_TOKEN, writes are taken only at localhost, 127.0.0.1, [::1] or the server's own address: "
    "set PATHATLAS_API_TOKEN to write through a host name"
)

ERROR_TEXT = {
    400: "Bad input (the detail says which)",
    401: "Missing or wrong bearer token",
    403: "The upload token removing or replacing a source (the lecturer's token may); without a configured token: a "
    "cross-origin write, or a write addressed to a host name not this machine's",
    404: "Not found",
    409: "Another process is changing the index: try again when it has finished",
    410: "The source file is no longer readable",
    411: "Content-Length required for uploads",
    413: f"Too large: an upload over the service's limit, any other body over {BODY_BYTES >> 20} MB",
    415: "Unsupported media type: an upload no source reads, a JSON route's body sent as another content type, or an "
    "upload route's body sent as no form (JSON, the file's own bytes)",
    502: "The answerer failed (an LLM server down or answering nonsense, a plug-in answerer raising): the detail "
    "names it",
    422: "A field is missing or invalid: a list of field errors, each naming it (loc), echoing at most 200 characters",
    500: "A fault of the server (a bug): the detail names its kind; the server's log holds the rest",
    507: "No room on the server to store the upload (a full disk or quota, a file over its size limit)",
    429: "Too many index jobs waiting or running (PATHATLAS_MAX_JOBS): try again after Retry-After seconds",
    503: "The service cannot take it now (a full queue: Retry-After; models that could not load; a folder it cannot "
    "write): the detail says which",
}
BODY = (411, 413, 415, 422)
"""What a request with an uploaded file may be refused with: an upload without a Content-Length, a body over its limit
(before it is read), a body that is no form (``form_content``), or a field that is missing or invalid."""
JSON_BODY = (413, 415, 422)
"""What a JSON request may be refused with: a body over ``BODY_BYTES`` (read up to it when sent in chunks), a body sent
as another content type (``JsonOnly``), or a field that is missing or invalid."""


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error codes, all with the ``ErrorOut`` body."""
    return {code: {"model": ErrorOut, "description": ERROR_TEXT[code]} for code in codes}


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_jobs(request: Request) -> Jobs:
    """The index jobs of the served index, with the writer and the upload folder they share (``Jobs.around``)."""
    return request.app.state.jobs


EngineDep = Annotated[Engine, Depends(get_engine)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]


def get_writer(jobs: JobsDep) -> IndexWriter:
    return jobs.writer


def get_uploads(jobs: JobsDep) -> UploadFolder:
    return jobs.uploads


WriterDep = Annotated[IndexWriter, Depends(get_writer)]
UploadsDep = Annotated[UploadFolder, Depends(get_uploads)]


def get_links(request: Request) -> Links:
    """Media URLs under the root path the request came in at (a reverse proxy's prefix; empty when served at /)."""
    return Links(request.scope.get("root_path", "").rstrip("/"))


LinksDep = Annotated[Links, Depends(get_links)]


def token_ok(expected: str | None, authorization: str | None) -> bool:
    if not expected:
        return True
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(token.encode(), expected.encode())


class Role(enum.Enum):
    """Who a write's bearer token says sent it (``writer``)."""

    LECTURER = "lecturer"
    """PATHATLAS_API_TOKEN, or no token where none is configured: every write."""
    UPLOADER = "uploader"
    """PATHATLAS_UPLOAD_TOKEN: uploads and cancels, but no source removed or replaced (``lecturer_only``)."""


def writer(settings: Settings, authorization: str | None) -> Role | None:
    """The role the ``Authorization`` header gives a write; None (401) for neither token. The upload token counts only
    where it is set: with it unset, every write is as it was (``token_ok``)."""
    if settings.upload_token and token_ok(settings.upload_token, authorization):
        return Role.UPLOADER
    return Role.LECTURER if token_ok(settings.api_token, authorization) else None


def lecturer_only(role: Role, method: str, path: str) -> str | None:
    """Why ``role`` may not make the write ``method path`` (a route's path, ``get_route_path``), in one line: the upload
    token removes no source (``DELETE /sources/{id}``). None where it may."""
    if role is Role.UPLOADER and method == "DELETE" and path.startswith(SOURCES):
        return "removing a source needs the lecturer's token (PATHATLAS_API_TOKEN); the upload token only adds"
    return None


def require_token(request: Request, engine: EngineDep, authorization: Annotated[str | None, Header()] = None) -> Role:
    """Write endpoints need ``Authorization: Bearer <token>`` when a token is configured: PATHATLAS_API_TOKEN for every
    write, PATHATLAS_UPLOAD_TOKEN for those ``lecturer_only`` allows it (403 otherwise). The writer's role, which
    ``POST /jobs`` asks before an upload replaces a source (``RoleDep``)."""
    role = writer(engine.settings, authorization)
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    if refusal := lecturer_only(role, request.method, get_route_path(request.scope)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
    return role


RoleDep = Annotated[Role, Depends(require_token)]


def query_image_over(settings: Settings) -> str:
    """The 413 of an image query over PATHATLAS_MAX_QUERY_IMAGE_MB, said alike before and while it is read."""
    return f"image query is over the limit of {settings.max_query_image_mb} MB (PATHATLAS_MAX_QUERY_IMAGE_MB)"


ONCE = {"image": "give one image", "file": "give one file per job"}
"""What a multipart field given more than once is refused with, where more than "give it once" says it."""


FORMS = (MULTIPART, "application/x-www-form-urlencoded")
"""The bodies Starlette reads as a form; any other reads as an empty one."""


def form_content(request: Request, file_field: str) -> None:
    """A multipart route refuses a body that is no form (415), as a JSON route refuses one that is not JSON: an image
    sent as JSON (base64) or as the whole body (``--data-binary @slide.jpg``) was read as an empty form and answered
    422 "image: Field required", which hides that the body's type is what is wrong. A URL-encoded form is let through
    (a form without its file is one: FastAPI's 422 names the missing file), and so is a request with no body."""
    headers = request.headers
    content_type = headers.get("content-type")
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return
    if content_type is not None and content_type.partition(";")[0].strip().lower() in FORMS:
        return
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"send the body as {MULTIPART} with the file as its {file_field!r} field (curl -F {file_field}=@FILE), not "
        f"{echoed(content_type) if content_type else 'a body without a Content-Type'}",
    )


def form_only(form: type[BaseModel]) -> params.Depends:
    """The guard of a route whose body is the multipart ``form`` (a model with ``extra="forbid"``, which the route
    takes as ``Annotated[form, File()]``): a body that is no form is refused (``form_content``), and so is a field
    given more than once (422 naming it), which FastAPI reads as its last value: a second image or file would be taken
    alone and the first dropped. A text field sent as a file (``curl -F options=@opts.json``) is refused at its place
    (422), where FastAPI failed (500) on a field holding JSON. Such a refusal lists the form's other problems too
    (``form_errors``: unknown fields, a field missing, ``k=abc``), so one answer names every problem of the form; any
    other form is refused by FastAPI itself, reading it as ``form``."""
    file_field = next(name for name, field in form.model_fields.items() if field.annotation is UploadFile)

    async def single_fields(request: Request) -> None:
        form_content(request, file_field)
        sent = await request.form()  # the form FastAPI parses for the route (the request keeps it)
        repeated = [
            {
                "type": "repeated_field",
                "loc": ("body", name),
                "msg": f"given {n} times: {ONCE.get(name, 'give it once')}",
            }
            for name in dict.fromkeys(sent.keys())
            if name in form.model_fields and (n := len(sent.getlist(name))) > 1
        ]
        as_files = [name for name, value in sent.multi_items() if name != file_field and isinstance(value, SentFile)]
        if repeated or as_files:  # FastAPI reads a JSON field sent as a file as a list and fails (500)
            raise RequestValidationError([*form_errors(form, sent), *repeated])

    return Depends(single_fields)


def form_errors(form: type[BaseModel], sent: FormData) -> list[dict[str, Any]]:
    """The validation errors of ``sent`` read as ``form``, at their places in the body, as FastAPI refuses them: a
    field's last value is read, and an empty one is no value (its default is taken)."""
    try:
        form.model_validate({name: value for name, value in sent.items() if value != ""})
    except ValidationError as exc:
        return [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
    return []


def unknown_names(names: Iterable[str], taken: Collection[str]) -> list[dict[str, Any]]:
    """A validation error for each of a query's parameters ``names`` that the route does not take, as pydantic refuses
    a JSON body's unknown key (``extra="forbid"``)."""
    return [
        {"type": "extra_forbidden", "loc": ("query", name), "msg": "Extra inputs are not permitted"}
        for name in names
        if name not in taken
    ]


def no_unknown_query_parameters(request: Request) -> None:
    """A route that takes query parameters refuses those it does not take (422 naming each), as JSON bodies refuse
    unknown keys and forms unknown fields: a mistyped ``?dip=300`` was dropped and the page rendered at the default
    dpi. The parameters taken are those the OpenAPI document gives the route (the way every FastAPI version shows
    them, a query model's included). A route taking none but a link's key (``LinkKey``: a thumbnail's, a record's)
    ignores any (a cache-busting ``?v=2`` on an image's URL). Every route depends on it (``create_app``)."""
    route = request.scope["route"]
    operation = request.app.openapi()["paths"].get(route.path_format, {}).get(request.method.lower(), {})
    taken = {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}
    if taken in (set(), set(LinkKey.model_fields)):
        return
    if refused := unknown_names(dict.fromkeys(request.query_params), taken):
        raise RequestValidationError(refused)


QueryOnly = Depends(no_unknown_query_parameters)


def json_content(request: Request) -> None:
    """A JSON route refuses a body declared as another type (415): FastAPI would read it as bytes and answer 422 "Input
    should be a valid dictionary", which hides that the header is what is wrong. A body without a Content-Type is
    let through: FastAPI reads it as JSON, and clients that send JSON without the header (``requests.post(url,
    data=json.dumps(body))``) have always been answered. (The header is read from the request, not declared: it is no
    parameter of the route's schema.)"""
    headers = request.headers
    content_type = headers.get("content-type")
    no_body = headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers
    if content_type is None or no_body:  # no body: FastAPI's 422 names the missing field
        return
    kind, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):  # as FastAPI reads JSON
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the body as JSON with Content-Type: application/json, not {echoed(content_type)}",
        )


JsonOnly = Depends(json_content)


def within_query_limit(engine: Engine, texts: Mapping[tuple[str | int, ...], str | None]) -> None:
    """422 for each text (by its place in the request) longer than the service's PATHATLAS_MAX_QUERY_CHARS, as a
    schema's ``max_length`` refuses it: the schema documents the default, the service keeps its own setting."""
    if refused := too_long(texts, engine.settings.max_query_chars):
        raise RequestValidationError(refused)


def get_route_path(scope) -> str:
    """The request's path as routes match it: without the root path a reverse proxy serves the API under (the write
    guard must see "/sources/x", not "/atlas/sources/x"). Starlette's own helper is private API."""
    path, root = scope["path"], scope.get("root_path", "")
    if not root or not path.startswith(root) or (path != root and path[len(root)] != "/"):
        return path
    return path[len(root) :]


class RequestGuard:
    """ASGI middleware: refuses before any body byte is read.

    - writes (``/jobs``, ``/sources``) without a token (401); with the upload token, a source's removal (403,
      ``lecturer_only``); without a token where none is set, cross-origin writes and writes whose Host is not loopback
      or the address the connection came in on (403: any web page could otherwise make a visitor's browser upload and
      index files, directly or through a DNS name rebound to this machine);
    - uploads (to the routes that take a file) without a Content-Length (411) or over their limit (413): an upload to
      index over PATHATLAS_MAX_UPLOAD_MB, an image query over PATHATLAS_MAX_QUERY_IMAGE_MB, so nothing big is
      spooled; any other body over ``BODY_BYTES`` (413), read first when it comes without a Content-Length (chunked);
    - an upload to index while PATHATLAS_MAX_JOBS jobs wait or run (429, ``Jobs.job_slot``).
    """

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings
        self.root_path_logged = False
        """Whether the root path requests come in under was logged: once, at the first request (it is uvicorn's, not
        the app's, to know; a proxy that sets it per request would otherwise log it on each change)."""
        self.upload_paths: list[re.Pattern] | None = None
        """The paths of the routes that take a file, read from the application at its first request."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not self.root_path_logged:
            self.root_path_logged = True
            log.info("requests come in under the root path %s", scope.get("root_path", "") or "/ (none)")
        if scope["type"] == "http" and (refusal := self.refusal(scope)):
            await refuse(send, *refusal)
            return
        if scope["type"] == "http" and starts_job(scope):
            await self.within_job_slots(scope, receive, send)
            return
        if scope["type"] == "http" and chunked(scope) and not self.upload(scope):
            if (messages := await read_within(receive, BODY_BYTES)) is None:
                await refuse(send, 413, OVER_BODY, [])
                return
            receive = replay(messages, receive)
        await self.app(scope, receive, send)

    def refusal(self, scope) -> tuple[int, str, list] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], get_route_path(scope)  # behind a proxy's path prefix, as routes match it
        writes = starts_job(scope) or (method == "DELETE" and path.startswith(WRITE_PREFIXES))
        role = writer(self.settings, headers.get("authorization")) if writes else None
        if writes and role is None:
            return 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")]
        if role is not None and (forbidden := lecturer_only(role, method, path)):
            return 403, forbidden, []
        if role is Role.LECTURER and not self.settings.api_token:  # no token: this machine's own pages only
            if not local_host(headers.get("host", ""), scope.get("server")):
                return 403, FOREIGN_HOST, []
            if cross_origin(headers, self.settings.cors_origins):
                return 403, "cross-origin writes need PATHATLAS_API_TOKEN (or list the origin in cors_origins)", []
        if method in ("POST", "PUT", "PATCH"):
            length = headers.get("content-length")
            upload = self.upload(scope)
            if length is None and headers.get("transfer-encoding") and upload:
                return 411, "send a Content-Length header", []
            limit, over = self.body_limit(scope) if upload else (BODY_BYTES, OVER_BODY)
            if length is not None and (not length.isdigit() or int(length) > limit):
                return 413, over, []
        return None

    def body_limit(self, scope) -> tuple[int, str]:
        """The most bytes an upload's body may hold, and the 413 beyond it: a file to index is capped by
        PATHATLAS_MAX_UPLOAD_MB, an image query (read whole into memory) by PATHATLAS_MAX_QUERY_IMAGE_MB."""
        settings = self.settings
        if starts_job(scope):
            megabytes, over = settings.max_upload_mb, f"upload is over the limit of {settings.max_upload_mb} MB"
        else:
            megabytes, over = settings.max_query_image_mb, query_image_over(settings)
        return (megabytes << 20) + MULTIPART_SLACK, over

    async def within_job_slots(self, scope, receive, send) -> None:
        """A ``POST /jobs`` answered while it holds one of the job slots (``Jobs.job_slot``), so that
        uploads sent at once count against PATHATLAS_MAX_JOBS before any is a job; refused (429) before its body is
        read when none is free."""
        jobs: Jobs = scope["app"].state.jobs
        with jobs.job_slot() as taken:
            if not taken:
                retry = [(b"retry-after", str(JOB_RETRY_SECONDS).encode())]
                await refuse(send, 429, jobs_full(jobs.engine.settings), retry)
                return
            await self.app(scope, receive, send)

    def upload(self, scope) -> bool:
        """Whether the request goes to a route that takes a file (``upload_paths``)."""
        if self.upload_paths is None:
            self.upload_paths = upload_paths(scope["app"])
        path = get_route_path(scope)
        return any(pattern.fullmatch(path) for pattern in self.upload_paths)


def starts_job(scope) -> bool:
    """Whether a request is an upload to index (``POST /jobs``)."""
    return scope["method"] == "POST" and get_route_path(scope) == JOBS


JOB_RETRY_SECONDS = 30
"""The Retry-After of a refused upload while the jobs are full: a book's job takes minutes, a small zip's seconds."""


def jobs_full(settings: Settings) -> str:
    return (
        f"{settings.max_jobs} index jobs are waiting or running (PATHATLAS_MAX_JOBS): send it again once one has ended"
    )


def upload_paths(app) -> list[re.Pattern]:
    """The paths (``path_pattern``) of the routes whose body is a multipart form (/jobs, /search/image, /ask/image),
    as the OpenAPI document lists them: the way every FastAPI version shows the routes, routers included."""
    return [
        path_pattern(template)
        for template, operations in app.openapi()["paths"].items()
        if any(MULTIPART in operation.get("requestBody", {}).get("content", {}) for operation in operations.values())
    ]


def path_pattern(template: str) -> re.Pattern:
    """A route's path template ("/sources/{source_id}") as a pattern that matches its paths."""
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))


def chunked(scope) -> bool:
    """Whether a request's body comes without a Content-Length, in chunks."""
    names = {name.lower() for name, _ in scope["headers"]}
    return b"transfer-encoding" in names and b"content-length" not in names


async def read_within(receive, limit: int) -> list[dict] | None:
    """A request's body as the messages that brought it, up to its last or the client's going away; None once they
    hold over ``limit`` bytes (the rest is not read)."""
    messages, size = [], 0
    while True:
        messages.append(message := await receive())
        if message["type"] != "http.request":  # a disconnect: replayed too, so the route meets it as it came
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def replay(messages: list[dict], receive):
    """A ``receive`` that gives ``messages`` again, then whatever the connection sends next."""
    pending = deque(messages)

    async def replayed():
        return pending.popleft() if pending else await receive()

    return replayed


async def refuse(send, code: int, detail: str, headers: list) -> None:
    """Answer a refusal with its JSON detail, before the application sees the request."""
    body = json.dumps({"detail": detail}).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": code, "headers": start})
    await send({"type": "http.response.body", "body": body})


def local_host(host: str, server: tuple[str, int | None] | None) -> bool:
    """Whether a request's Host names this machine: a loopback name or address, or the address the connection came in
    on (``scope["server"]``). A DNS name rebound to 127.0.0.1 passes the Origin check (Origin and Host agree) but
    not this one: a browser sends an address as Host only to a page served from that address."""
    name = (host[1:].partition("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0]).lower()  # port off
    if name == "localhost" or (server is not None and name == server[0].lower()):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class SafetyHeaders:
    """ASGI middleware: every response carries ``X-Content-Type-Options: nosniff``, so a browser takes what it is sent
    as the declared type (an uploaded image stays an image, never a page that runs scripts); HTML pages (/docs) also
    ``NO_FRAMING``, so no other site can show them in a frame and trick a click on them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_guarded(message):
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                guards = [(b"x-content-type-options", b"nosniff"), *(NO_FRAMING if html else [])]
                message = {**message, "headers": [*headers, *guards]}
            await send(message)

        await self.app(scope, receive, send_guarded)


NO_FRAMING = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]
"""Headers forbidding any page to frame this one (clickjacking): the old header for old browsers, CSP's for new ones."""


HEAD_ASKED = "head_asked"
"""The request state's mark of a HEAD that ``HeadAsGet`` routes as its GET (``is_head``)."""


class HeadAsGet:
    """ASGI middleware: a HEAD request is answered as its GET, without the body, on every GET route (FastAPI routes
    answer only the methods they declare; link checkers, proxies and browsers ask HEAD before they fetch). The GET's
    request state is marked (``HEAD_ASKED``), so a route whose body costs work answers with its headers alone
    (``is_head``, ``headers_only``)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message):
            if message["type"] in ("http.response.body", "http.response.pathsend"):
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        state = {**scope.get("state", {}), HEAD_ASKED: True}  # a copy: the server's state is shared by requests
        await self.app({**scope, "method": "GET", "state": state}, receive, send_headers_only)


def is_head(request: Request) -> bool:
    """Whether the request came as a HEAD (``HeadAsGet``): a link checker walking a reading list asked HEAD of each
    page's URL, and each was rendered (0.2-1 s) for its PNG to be thrown away."""
    return getattr(request.state, HEAD_ASKED, False)


HeadDep = Annotated[bool, Depends(is_head)]


def headers_only(headers: Mapping[str, str]) -> Response:
    """A HEAD's answer: the GET's ``headers`` (a ``FileResponse``'s, or those a body to be made would have), without
    making, reading or sending the body. A Content-Length among them is kept; none is added (Starlette's would be the
    empty body's 0, where a HEAD's must be the GET's or none)."""
    response = Response()
    response.raw_headers = Headers(headers=dict(headers)).raw
    return response


REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request being answered (``RequestIds``); None outside a request."""
REQUEST_ID_HEADER = "X-Request-ID"
ID_NAME = REQUEST_ID_HEADER.lower().encode()
"""The header's name as ASGI gives it (lower-case bytes)."""
SENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""A client's (or its proxy's) X-Request-ID that is kept: 1-64 ASCII letters, digits, dots, dashes and underscores (a
UUID, a hex digest, nginx's $request_id). Anything else (a space, a quote, a control character: a forged log line) is
replaced, never echoed."""
PATH_CHARS = "/%:@!$&'()*+,;=-._~"
"""Characters a logged path keeps (RFC 3986's, and the % of its escapes); any other, a quote or a control character, is
percent-encoded."""
ACCESS_LINE = '%(client)s - "%(method)s %(path)s" %(status)d in %(duration_ms).1f ms, request %(request_id)s'
"""An access line as text; its facts are also the record's fields (``access_fields``), each a field of a JSON line."""
access_log = logging.getLogger("pathatlas.access")


def request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """A request's id: the X-Request-ID it came with when ``SENT_ID`` fits it, else a new one (a uuid4's hex)."""
    sent = next((value.decode("latin-1") for name, value in headers if name.lower() == ID_NAME), "")
    return sent if SENT_ID.fullmatch(sent) else uuid.uuid4().hex


def access_fields(scope, status: int, seconds: float, identity: str) -> dict[str, Any]:
    """The facts of one request's access line. The path is the one sent, percent-encoded, without its query string: a
    query may hold what a student typed (a client sending its question as ``?text=``, refused, is still logged). The
    client's address is percent-encoded too."""
    host, port = scope.get("client") or ("-", None)
    host = quote(str(host), safe=".:[]-")  # behind a proxy, what X-Forwarded-For said: no quote forges a field
    return {
        "method": scope["method"],
        "path": quote(scope.get("raw_path") or scope["path"].encode(), safe=PATH_CHARS),  # ASGI's: no query
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "request_id": identity,
        "client": host if port is None else f"{host}:{port}",
    }


class RequestIds:
    """ASGI middleware: each request gets an id (``request_id``), sent back as ``X-Request-ID`` and set in
    ``REQUEST_ID`` while it runs, so the log lines it causes carry it (``RequestIdLogs``), and ends in one access line
    (``pathatlas.access``, ``ACCESS_LINE``) with the same id."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identity = request_id(scope["headers"])
        # Not reset at the end: Starlette's 500 for an exception (``unexpected``) and the server's traceback line come
        # after this returns, in the request's own task, whose context ends with it.
        REQUEST_ID.set(identity)
        started, status = time.perf_counter(), 500  # no response started: an exception, which Starlette answers 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (ID_NAME, identity.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields = access_fields(scope, status, time.perf_counter() - started, identity)
            access_log.info(ACCESS_LINE, fields, extra=fields)


class RequestIdLogs(logging.Filter):
    """On a handler: each record logged while a request runs gets that request's id as ``request_id``, which JSON
    lines write as a field and ``RequestTagged`` at the line's end, so an error line is tied to its access line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (identity := REQUEST_ID.get()) is not None:
            record.request_id = identity
        return True


class RequestTagged(logging.Formatter):
    """A text log line ending with ``[request ID]`` when it was logged while a request ran (``RequestIdLogs``); the
    traceback, if any, follows. On the line itself: uvicorn's "Exception in ASGI application" ends with a newline."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        identity = getattr(record, "request_id", None)
        return line if identity is None else f"{line.rstrip()} [request {identity}]"


def cross_origin(headers: dict[str, str], allowed: list[str]) -> bool:
    """A browser request from another site (Origin or Sec-Fetch-Site say so) not listed in ``allowed``."""
    origin = headers.get("origin")
    if headers.get("sec-fetch-site") == "cross-site" and origin not in allowed:
        return True
    if not origin or origin in allowed:
        return False
    host = headers.get("host", "")
    return origin.split("://", 1)[-1] != host
