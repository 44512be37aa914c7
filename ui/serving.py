"""What ``pathatlas serve`` adds around the application against clients that stall: a deadline for each request's line
and headers and one on each chunk of its body (uvicorn waits for either forever), the process's open-file limit raised
as far as the system allows, and the errors a flood of connections repeats (asyncio's "accept failed", uvicorn's "over
the concurrency limit") logged once a minute."""

from __future__ import annotations

import asyncio
import logging
import math
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    import resource
except ImportError:  # Windows: no limit on open files to raise
    resource = None

from pathatlas.ui.api.deps import refuse

STALLED = "the request body stopped arriving: send the request again"
ACCEPT_FAILED = "socket.accept() out of system resource"
"""How asyncio's error begins when a new connection finds no file descriptor (EMFILE) or memory."""
OVER_CONCURRENCY = "Exceeded concurrency limit."
"""uvicorn's warning as it answers a request 503 over ``limit_concurrency``."""
log = logging.getLogger(__name__)


class BodyTimeout:
    """ASGI middleware: a request whose next body chunk does not come within ``seconds`` is answered 408 and its
    connection closed; the application is told the client left (``http.disconnect``) and what it answers then is
    dropped. An upload that keeps sending, however slowly, is not cut; nor is a download once the body is read (a
    ``FileResponse`` waits on ``receive`` for a disconnect while it sends: a 200 MB book to a slow reader would be cut
    at the timeout). Without it a client that sends its headers and then nothing would hold a connection, a file
    descriptor and a task for as long as it likes.

    A response sent before the body was read to its end (a refusal such as 413) closes the connection too: uvicorn
    would otherwise read, and throw away, the rest for as long as the client trickled it.

    It lies inside ``RequestIds`` (``create_app``): the 408 has the request's id and its own access line, which would
    give the 400 the application answers the disconnect with were this to wrap the whole application."""

    def __init__(self, app, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_left, answered, stalled = has_body(scope), False, False

        async def receive_in_time():
            nonlocal body_left, stalled
            if not body_left:  # the body is read: a response streaming a file waits here for a disconnect, untimed
                return await receive()
            try:
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                if not answered:
                    await refuse(send, 408, STALLED, [(b"connection", b"close")])  # its unread body is no request
                stalled = True
                return {"type": "http.disconnect"}
            body_left = body_left and message["type"] == "http.request" and message.get("more_body", False)
            return message

        async def send_unless_stalled(message):
            nonlocal answered
            if stalled:
                return
            if message["type"] == "http.response.start":
                answered = True
                if body_left:
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive_in_time, send_unless_stalled)


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers: a connection that has not sent them
    whole within ``header_timeout`` seconds of opening, or of its last response, is closed. uvicorn has none, and each
    byte that arrives cancels its keep-alive timer, so a client that sends nothing, or trickles its headers a byte a
    second, would hold a connection (and a place under ``--limit-concurrency``) for as long as it likes. Bytes do not
    move this deadline, and it never cuts a request whose headers came in time: its body is ``BodyTimeout``'s business,
    its response (a long search, a download) nobody's."""

    def __init__(self, *args, header_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.start_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.start_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.header_deadline.cancel()  # a flood of closed connections is not kept until their deadlines

    def start_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
        self.header_deadline = self.loop.call_later(self.header_timeout, self.close_unless_headers_came)

    def close_unless_headers_came(self) -> None:
        if self.conn.their_state is not h11.IDLE:  # h11 leaves IDLE once the request line and headers are whole
            return
        host, port = self.client or ("a socket", "")
        log.debug("%s:%s sent no whole request line and headers in %g s: closed", host, port, self.header_timeout)
        self.timeout_keep_alive_handler()  # closes as uvicorn closes an idle kept-alive connection


def has_body(scope) -> bool:
    """Whether a request comes with a body to read: chunked, or of a Content-Length above 0."""
    headers = dict(scope["headers"])
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0").strip() not in (b"0", b"")


def raise_open_file_limit() -> None:
    """The soft limit on open files up to the hard one, logged once: each connection holds a file descriptor, and
    at the usual soft limit of 1024 a burst of connections would leave none to accept the next one with."""
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        log.info("open files: up to %d (the hard limit)", soft)
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:  # macOS refuses an unlimited hard limit: a number must be given
        log.warning("open files: up to %d; raising it to the hard limit failed (%s): raise ulimit -n", soft, exc)
        return
    log.info("open files: up to %d (raised from %d)", hard, soft)


class RepeatsThrottled(logging.Filter):
    """On a logger: its records that begin with ``prefix`` once per ``seconds``, saying how many were held back. Under a
    flood of connections asyncio logs its ``ACCEPT_FAILED`` error, with a traceback, on every retry (7,000 a second: 72
    MB of stderr in 25 s, which slows the service further), and uvicorn warns of each 503 over
    ``--limit-concurrency``."""

    def __init__(self, prefix: str, seconds: float = 60.0):
        super().__init__()
        self.prefix = prefix
        self.seconds = seconds
        self.last = -math.inf
        self.held_back = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(self.prefix):
            return True
        now = time.monotonic()
        if now - self.last < self.seconds:
            self.held_back += 1
            return False
        if self.held_back:
            record.msg, record.args = f"{record.getMessage()} ({self.held_back} more since the last one)", ()
        self.last, self.held_back = now, 0
        return True
