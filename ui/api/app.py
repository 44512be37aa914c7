"""The FastAPI application: ``create_app(settings)``; ``pathatlas serve`` runs it with uvicorn."""

from __future__ import annotations

import errno
import json
import logging
import tempfile
import unicodedata
from collections.abc import Mapping
from contextlib import asynccontextmanager
from importlib.resources import files
from inspect import signature
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile as SentFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from pathatlas import __version__
from pathatlas.agent.answerers.base import AnswerError
from pathatlas.errors import EncoderError, IndexBusyError, IndexMissingError, PathAtlasError, UnknownSourceError
from pathatlas.indexer.sources.fingerprints import reader_versions
from pathatlas.retrieval.index import IndexUnwritableError
from pathatlas.retrieval.search import ECHO_CHARS, echoed
from pathatlas.settings import Settings, load_settings, os_problem
from pathatlas.ui.api.deps import (
    JOB_RETRY_SECONDS,
    REQUEST_ID,
    REQUEST_ID_HEADER,
    HeadAsGet,
    QueryOnly,
    RequestGuard,
    RequestIds,
    SafetyHeaders,
    errors,
    get_route_path,
    path_pattern,
)
from pathatlas.ui.api.duplicates import HeldElsewhereError
from pathatlas.ui.api.engine import Engine, NotReadyError
from pathatlas.ui.api.indexing import Jobs
from pathatlas.ui.api.lanes import LaneClosedError, LaneFullError
from pathatlas.ui.api.routes import ask, library, media, records, search, service
from pathatlas.ui.api.uploads import NO_ROOM, NoRoomError, UnusableZipError, UploadRefusedError, UploadTooLargeError
from pathatlas.ui.serving import BodyTimeout

DOCS_ASSETS = "/docs/assets"
DOCS_JS, DOCS_CSS, DOCS_FAVICON = "swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"
DOCS_FILES = frozenset({DOCS_JS, DOCS_CSS, DOCS_FAVICON})
"""The files of ``swagger_ui/static`` the /docs page loads: the only ones served."""
UNTYPED_JSON = {"strict_content_type": False} if "strict_content_type" in signature(FastAPI).parameters else {}
"""A JSON body sent without a Content-Type is read as JSON, as FastAPI did before 0.132 made that opt-in (clients
posting ``data=json.dumps(body)`` are answered). Its CSRF guard adds nothing here: the JSON routes only read, a page can
already post multipart forms to the image routes without a preflight, and writes have their own guard."""
ERRORS_LISTED = 20
"""Most validation errors one 422 lists, the rest counted (``unlisted``): a 1 MB body of 100,000 unknown keys was
answered with 10 MB, one error each."""
EXPOSED_HEADERS = ["ETag", "Retry-After", "Content-Disposition", REQUEST_ID_HEADER]
"""The response headers a page on a CORS origin may read, beyond the few a browser always shows it: a conditional
GET's tag, when a full lane frees up, an export's file name, and the id tying an answer to the server's log lines."""
UPLOAD_REFUSALS = {UploadTooLargeError: 413, UnusableZipError: 400, HeldElsewhereError: 409, NoRoomError: 507}
"""The status of each kind of upload refusal (``UploadRefusedError``)."""
log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, body_timeout: float | None = None
) -> FastAPI:
    """``engine``: one already opened on ``settings`` (``pathatlas serve`` opens it before it listens, so an index that
    cannot be opened is refused in one line); None opens it when the application starts. ``body_timeout``: seconds a
    request's body may pause before it is answered 408 (``BodyTimeout``; ``pathatlas serve --body-timeout``)."""
    settings = settings or load_settings()
    settings.configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        serving = engine or Engine(settings)  # the index opens once per process
        jobs = Jobs.around(serving)
        await run_in_threadpool(jobs.sweep_uploads)  # before any upload of this process
        await run_in_threadpool(jobs.records.forget_old)
        log.info("%s", serving_line(serving))
        if notice := upgrade_notice(serving):
            log.warning("%s", notice)
        app.openapi()  # its document is read by every request (``QueryOnly``): built once before any, not by the first
        # The models load in the background: the service answers at once, and /health says when it is ready.
        serving.start_warm_up()
        app.state.engine, app.state.jobs = serving, jobs
        yield
        # Each waits for threads (up to CLOSE_WAIT): off the event loop, which goes on serving meanwhile, jobs first.
        await run_in_threadpool(jobs.abandon)
        await run_in_threadpool(serving.close)

    app = FastAPI(
        title="PathAtlas",
        version=__version__,
        lifespan=lifespan,
        description="Cross-modal search and agentic RAG over pathology textbooks and cases.",
        docs_url=None,  # FastAPI's pages load Swagger UI and ReDoc from a CDN: /docs is served from the package instead
        redoc_url=None,
        dependencies=[QueryOnly],  # a mistyped query parameter is refused, not ignored, on every route taking any
        **UNTYPED_JSON,
    )
    add_docs(app)

    app.add_middleware(RequestGuard, settings=settings)  # refuses before any body is read
    if body_timeout:  # inside the id, its access line and the safety headers: a 408 has them as any refusal
        app.add_middleware(BodyTimeout, seconds=body_timeout)
    if settings.cors_origins:  # outside the guard: an allowed page can read its refusals (401, 403, 411, 413) too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
        )
    app.add_middleware(HeadAsGet)
    app.add_middleware(SafetyHeaders)  # outside the guard: refusals carry its headers too
    app.add_middleware(RequestIds)  # outermost: refusals have an id and an access line too

    add_error_handlers(app, settings)
    app.include_router(service.router)
    for module in (search, records, ask, library, media):
        app.include_router(module.router, responses=errors(400, 500))
    return app


def add_error_handlers(app: FastAPI, settings: Settings) -> None:
    """The JSON answers to requests that fail: a PathAtlasError by what went wrong (404, 400, 409, 502, 500), an upload
    refused by its kind (``UPLOAD_REFUSALS``), a brief 422, a 405 with every allowed method, a full lane or a service
    still loading 503, and a server file it cannot write 507 or 503 (``machine_reply``)."""

    @app.exception_handler(PathAtlasError)
    async def user_error(request: Request, exc: PathAtlasError) -> JSONResponse:
        code = 404 if isinstance(exc, IndexMissingError | UnknownSourceError) else 400
        if isinstance(exc, IndexBusyError):  # another process writes the index: try again, not a bad request
            code = 409
        if isinstance(exc, AnswerError):  # the answerer (or its model server) failed, not the request
            code = 502
        if isinstance(exc, EncoderError):  # the index's encoder failed: the server's model, not the request
            code = 500
        detail = {"detail": request.app.state.engine.client_message(exc)}
        return JSONResponse(detail, status_code=code, headers=retry_after(exc))

    @app.exception_handler(UploadRefusedError)
    async def upload_refused(_: Request, exc: UploadRefusedError) -> JSONResponse:
        """Its line as it is: it names the upload and its members as sent, never a server path."""
        code = next(code for kind, code in UPLOAD_REFUSALS.items() if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        """FastAPI's 422 body, written as ASCII JSON (the input it echoes may hold lone surrogates), brief: long inputs
        and names cut short (a 5,000-character query, a key of a megabyte, are not sent back whole), and at most
        ``ERRORS_LISTED`` errors listed."""
        errors = exc.errors()
        listed = [brief_error(jsonable_encoder(files_named(error))) for error in errors[:ERRORS_LISTED]]
        body = json.dumps({"detail": listed + unlisted(len(errors))}, ensure_ascii=True, default=str)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(cause := exc.__cause__, OSError):
            # FastAPI's "error parsing the body": Starlette spools a multipart file over 1 MB to TMPDIR before the
            # route runs, and that write failed (a full disk, ``ulimit -f``)
            spooled = f" (spooling the request body to {tempfile.gettempdir()}: TMPDIR)"
            if (reply := machine_reply(request, cause, spooled)) is not None:
                return reply
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            headers["Allow"] = ", ".join(sorted(allowed_methods(app, request.scope)))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(LaneFullError)
    async def busy(_: Request, exc: LaneFullError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(NotReadyError)
    @app.exception_handler(LaneClosedError)  # the service stops: another replica, or this one restarted, answers
    async def not_ready(_: Request, exc: NotReadyError | LaneClosedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        """Anything else (a bug): a 500 whose body is JSON, as every other error's is and as the OpenAPI document says,
        not Starlette's plain text; its traceback goes to the log (the server middleware raises it on), never to the
        client. Starlette answers it outside the middlewares: its id header is set here (``RequestIds`` set the id)."""
        detail = f"internal error ({type(exc).__name__}); the server logged it"
        return JSONResponse({"detail": detail}, status_code=500, headers={REQUEST_ID_HEADER: REQUEST_ID.get()})

    @app.exception_handler(OSError)
    async def machine_error(request: Request, exc: OSError) -> JSONResponse:
        """An OS error ``machine_reply`` knows; any other stays a 500 with its traceback."""
        if (reply := machine_reply(request, exc)) is None:
            raise exc
        return reply

    def machine_reply(request: Request, exc: OSError, where: str = "") -> JSONResponse | None:
        """A server file it cannot write: 507 when the machine has no room for it (``NO_ROOM``), 503 for a folder it
        cannot write (a read-only PATHATLAS_HOME or index); one line without its paths, logged with them and with
        ``where``. None for other OS errors."""
        if (line := os_problem(exc, settings, paths=False) or no_room(exc)) is None:
            return None
        log.error("%s %s: %s%s", request.method, request.url.path, os_problem(exc, settings) or exc, where)
        return JSONResponse({"detail": line}, status_code=507 if exc.errno in NO_ROOM else 503)


def retry_after(exc: PathAtlasError) -> dict[str, str] | None:
    """The Retry-After of a 409 for an index another process is changing, as a removal refused while a job of this
    service writes has it; none for an index that cannot be written (read-only, a full disk), which waiting does not
    mend."""
    busy = isinstance(exc, IndexBusyError) and not isinstance(exc, IndexUnwritableError)
    return {"Retry-After": str(JOB_RETRY_SECONDS)} if busy else None


def no_room(exc: OSError) -> str | None:
    """The one line for a ``NO_ROOM`` error that ``os_problem`` does not name: a write's own error carries no path,
    and EFBIG is not in its table."""
    if exc.errno not in NO_ROOM:
        return None
    return f"the server has no room to store this: {exc.strerror} ({errno.errorcode[exc.errno]}); tell its admin"


def serving_line(engine: Engine) -> str:
    """The start-up log line: what is served, where its vectors are (``VectorStore.placement``: a server's URL without
    its credentials) and how it is guarded. The root path comes with the requests (uvicorn's --root-path): the first
    one logs it."""
    index, settings = engine.index, engine.settings
    writes = "need the bearer token" if settings.api_token else "no token, taken from this machine only"
    origins = ", ".join(settings.cors_origins) or "none"
    return (
        f"serving index {index.path.name} ({index.store.placement}, {index.store.count()} records); writes {writes}; "
        f"CORS origins: {origins}"
    )


def upgrade_notice(engine: Engine) -> str | None:
    """The start-up warning for an index an older PathAtlas wrote (``Index.upgrade``), as ``pathatlas info`` says it,
    with the one command that upgrades it: the service searches it as it is, so without this line an operator learns
    neither that each start reads its BM25 again nor what upgrades it. None for an index of this version."""
    upgrade = engine.index.upgrade(reader_versions(engine.settings))
    if upgrade is None:
        return None
    reasons = "; ".join(upgrade.reasons())
    older = f"index {engine.index.path} was written by an older PathAtlas: {reasons}"
    return f"{older}; it is searched as it is; {upgrade.advice()}"


def add_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the files the ``swagger-ui-py`` package ships (Apache-2.0), so it works offline. Only
    ``DOCS_FILES`` are served (not the package's editor bundles, OAuth2 redirect page or demo initializer). Without the
    package the service starts without /docs, saying so once."""
    try:
        static = files("swagger_ui") / "static"
    except ImportError:
        log.warning("no /docs: the swagger-ui-py package is not installed (pip install 'pathatlas[ui]')")
        return

    @app.get(f"{DOCS_ASSETS}/{{name}}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        if name not in DOCS_FILES:
            raise StarletteHTTPException(404, "Not Found")
        return FileResponse(static / name)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = root + DOCS_ASSETS
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/{DOCS_JS}",
            swagger_css_url=f"{assets}/{DOCS_CSS}",
            swagger_favicon_url=f"{assets}/{DOCS_FAVICON}",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        )


def brief_error(error: dict) -> dict:
    """A validation error as a 422 lists it: its input brief (``brief_input``), a too-long text's length told
    (``length_told``), and each name in its ``loc`` cut as ``echoed`` cuts a text, still a string, so that clients and
    the web UI read the place as before: a body's, form's or query's unknown key of a megabyte was sent back whole."""
    loc = [echoed(part) if isinstance(part, str) else part for part in error["loc"]]
    return brief_input(length_told({**error, "loc": loc}))


def length_told(error: dict) -> dict:
    """A text's ``string_too_long`` error with the text's length in characters in its ``ctx`` (``actual_length``, as
    pydantic's ``too_long`` gives a list's): its input is echoed cut (``brief_input``), and a client read the length
    back out of that display string."""
    value = error.get("input")
    if error["type"] != "string_too_long" or not isinstance(value, str):
        return error
    return {**error, "ctx": {**error.get("ctx", {}), "actual_length": len(value)}}


def files_named(error: dict) -> dict:
    """A validation error whose input names each uploaded file it holds (itself, or a form's field) by its file name:
    FastAPI echoed a file's private fields (its headers, ``_max_mem_size``), and a form missing its file the whole
    form with them."""

    def named(value: Any) -> Any:
        if isinstance(value, SentFile):
            return f"(a file: {value.filename})"
        return {key: named(item) for key, item in value.items()} if isinstance(value, Mapping) else value

    return {**error, "input": named(error["input"])} if "input" in error else error


def unlisted(count: int) -> list[dict]:
    """The entry closing a 422 of ``count`` errors that lists only ``ERRORS_LISTED``: how many it leaves out;
    nothing when it lists them all."""
    if count <= ERRORS_LISTED:
        return []
    left = count - ERRORS_LISTED
    said = f"{left:,} more error{'s' if left > 1 else ''} not listed: correct these and send the request again"
    return [{"type": "more_errors", "loc": [], "msg": said}]


def brief_input(error: dict) -> dict:
    """A validation error whose ``input`` is at most ``ECHO_CHARS`` long: a long text is cut (and says so), a file's
    bytes sent as a text field (an image without a file name) are not echoed but counted, and anything else that long
    (an object, a list) is left out."""
    value = error.get("input")
    if isinstance(value, str) and binary(value[:ECHO_CHARS]):  # what would be echoed
        return {**error, "input": f"({len(value):,} characters of binary data, not shown)"}
    if isinstance(value, str) and len(value) > ECHO_CHARS:
        return {**error, "input": echoed(value)}
    if not isinstance(value, str) and len(json.dumps(value, default=str)) > ECHO_CHARS:
        return {key: item for key, item in error.items() if key != "input"}
    return error


def binary(text: str) -> bool:
    """Whether a text holds control characters other than tab, newline and carriage return: a file's bytes (a PNG
    opens with one, a JPEG holds NULs), nothing a user typed."""
    return any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in text)


def allowed_methods(app: FastAPI, scope) -> set[str]:
    """Every method the OpenAPI document gives this path (several routers may serve one path)."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        if path_pattern(template).fullmatch(get_route_path(scope)):
            methods |= {method.upper() for method in operations}
    return methods
