"""Load on the REST service: N concurrent clients for a bounded time, each pausing as a student reading results does.

The service runs as its own process: one ``pathatlas serve`` started on loopback, so the load generator does not share
its interpreter, or one already deployed (``base``: its URL, through its proxy). Traffic goes to that address only, and
the run stops by itself after ``seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.retrieval.bench.speed import TEXT_QUERIES
from pathatlas.retrieval.metrics import percentile_ms
from pathatlas.settings import Settings, without_credentials
from pathatlas.ui.bench_startup import free_port, stop

PATTERNS = ["koilocytes", "granuloma", "glands", "keratin-pearls", "alveoli", "small-blue-cells"]

ASK = {
    "question": "Which cells show a clear perinuclear halo in HPV infection?",
    "options": ["Koilocytes", "Langhans giant cells", "Goblet cells", "Type II pneumocytes"],
}


def start_server(
    index: Path, port: int, timeout: float = 300.0, ready: bool = True, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """``pathatlas serve`` on loopback, with ``env`` over this process's variables; returns once it answers (and, with
    ``ready``, has loaded its models)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    command = [
        sys.executable,
        "-c",
        "from pathatlas.ui.cli import app; app()",
        "serve",
        "--index",
        str(index),
        "--port",
        str(port),
    ]
    with tempfile.TemporaryFile() as errors:  # not a pipe: one nobody reads fills, and the service blocks on its logs
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if process.poll() is not None:
                errors.seek(0)
                raise RuntimeError(f"the service exited: {errors.read().decode(errors='replace')[-500:]}")
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                if health.status_code == 200 and (health.json().get("ready", True) or not ready):
                    return process
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    process.kill()
    process.wait()
    raise RuntimeError(f"the service did not answer on port {port} within {timeout:.0f} s")


STOP_WAIT = 120.0
"""Seconds a service started here is given to stop: its own stop waits for a running index job and for each of its
threads (``CLOSE_WAIT`` each), so 30 s cut it short and left it running."""


def stop_server(process: subprocess.Popen) -> None:
    """Stop a service ``start_server`` started: asked to (its jobs and threads end as at any stop), killed if it has
    not within ``STOP_WAIT`` (``bench_startup.stop``); never raises, so the error that stopped a run is the one it
    reports."""
    stop(process, STOP_WAIT)


@functools.cache
def png_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    draw_pattern(PATTERNS[seed % len(PATTERNS)], seed).save(buffer, "PNG")
    return buffer.getvalue()


def pauses(think: float, seed: int) -> Iterator[float]:
    """A client's waits before each request: the first a share of ``think`` (students do not all press enter at the
    same moment), then ``think`` seconds jittered ±50%, as long as a student reads results; the same each run for a
    ``seed``. All 0 for ``think`` 0: back to back."""
    rng = random.Random(seed)
    yield rng.uniform(0, think)
    while True:
        yield rng.uniform(0.5, 1.5) * think


IMAGE_POOL = 24
"""How many distinct query images the users share: each takes 0.4 s to draw, and 50 users' own three took a minute."""


def user_images(n: int) -> list[bytes]:
    """The three images user ``n`` searches by, of ``IMAGE_POOL``, drawn before the load starts: drawing them inside it
    would hold the event loop for seconds (20 users, 60 images), while no user sends anything."""
    return [png_bytes((3 * n + i) % IMAGE_POOL) for i in range(3)]


async def client(
    n: int,
    http: httpx.AsyncClient,
    images: list[bytes],
    until: float,
    think: float,
    samples: dict[str, list[float]],
    errors: dict[str, int],
) -> None:
    """User ``n``: mostly text searches, an image search every 4th request, an ask every 10th, each after a pause
    (``pauses``) that never runs past ``until``. User ``n`` starts ``n`` requests into that cycle, so the users
    together keep its mix in a short run too: a student pausing 5 s makes 6 requests in 30 s, never a 10th."""
    for step, wait in enumerate(pauses(think, n)):
        await asyncio.sleep(min(wait, max(until - time.perf_counter(), 0.0)))
        if time.perf_counter() >= until:
            return
        turn = n + step
        kind = "ask" if turn % 10 == 9 else "image" if turn % 4 == 0 else "text"
        started = time.perf_counter()
        try:
            if kind == "text":
                response = await http.post("/search", json={"text": TEXT_QUERIES[turn % len(TEXT_QUERIES)]})
            elif kind == "image":
                response = await http.post("/search/image", files={"image": ("q.png", images[step % 3])})
            else:
                response = await http.post("/ask", json=ASK)
            response.raise_for_status()
            samples[kind].append(time.perf_counter() - started)
        except httpx.HTTPError as exc:
            counted = f"{kind}: {error_kind(exc)}"
            errors[counted] = errors.get(counted, 0) + 1


def error_kind(exc: httpx.HTTPError) -> str:
    """How a failed request is counted: an answer by its status (``HTTP 400``, as a text-only encoder's image
    searches get, told apart from an overload's ``HTTP 503``), anything else by its class (``ReadTimeout``)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def latencies(seconds: list[float]) -> dict[str, Any]:
    """``n`` and the p50/p95/p99 ms of one kind's successful requests; None where none succeeded (nothing was
    measured: a 0.0 would read as instant)."""
    return {
        "n": len(seconds),
        **{f"p{q}_ms": round(percentile_ms(seconds, q), 1) if seconds else None for q in (50, 95, 99)},
    }


def bench_serve(
    index: Path | None,
    clients: int = 20,
    seconds: float = 30.0,
    base: str | None = None,
    think: float = 0.0,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The load on the service at ``base`` (None: one started on ``index`` for the run, on loopback), every request
    with ``headers`` (``bearer``), each client pausing ``think`` seconds between requests (``pauses``)."""
    images = [user_images(n) for n in range(clients)]
    samples: dict[str, list[float]] = {"text": [], "image": [], "ask": []}
    errors: dict[str, int] = {}
    process = None
    if base is None:
        port = free_port()
        process = start_server(index, port)
        base = f"http://127.0.0.1:{port}"

    async def run_all() -> float:
        """The load's seconds, timed once every user has its connection pool (each ~50 ms to make); its connections,
        TLS handshakes included, are made by the first requests, within the time."""
        async with contextlib.AsyncExitStack() as stack:  # a connection pool per user, as each student's browser
            users = [
                await stack.enter_async_context(httpx.AsyncClient(base_url=base, headers=headers, timeout=60))
                for _ in range(clients)
            ]
            started = time.perf_counter()
            until = started + seconds
            await asyncio.gather(
                *(client(n, http, images[n], until, think, samples, errors) for n, http in enumerate(users))
            )
            return time.perf_counter() - started

    try:
        elapsed = asyncio.run(run_all())
    finally:
        if process is not None:
            stop_server(process)
    total = sum(len(v) for v in samples.values())
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": total,
        "throughput_rps": round(total / elapsed, 2),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        **{kind: latencies(timings) for kind, timings in samples.items()},
    }


FOLLOWING = 3
"""Searches timed after each upload's first search and first typo: what searches cost once its words are read."""
JOB_POLL_SECONDS = 0.1
"""How often the upload case asks whether its job ended: its pause before the first search starts within this of the
commit being published."""
JOB_TIMEOUT = 600.0
"""Seconds an upload's job may take, the encoder's first load included, before the case gives up on it."""
AFTER_UPLOAD_ROWS = {
    "job": "job (upload to done)",
    "first_search": "first search",
    "first_typo": "first typo",
    "following": f"next {FOLLOWING} searches",
}
"""The upload case's timings (``bench_after_upload``), as its table names them."""


def check_copyable(store: str) -> None:
    """Refuse, in one line, an index whose copy the upload case cannot keep to itself: a FAISS store's vectors are in
    the index folder; a Qdrant or plug-in store's may be on a server, which the copy's uploads would then change."""
    if store != "faiss":
        raise BadInputError(
            f"--after-upload uploads into a copy of the index folder, and this index's {store} store may keep its "
            "vectors outside it, where the uploads would land: give a FAISS index"
        )


def made_up_word(seed: int) -> str:
    """A word no book uses, the same for a ``seed``: consonant-vowel pairs with a lesion's ending."""
    rng = random.Random(seed)
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(5)) + "osis"


def misspelt(word: str) -> str:
    """``word`` with its 5th and 6th letters swapped (one slip of the fingers), as a student types it."""
    return word[:4] + word[5] + word[4] + word[6:]


def lecture_pdf(word: str) -> bytes:
    """A one-page lecture note on ``word`` among terms the book uses: what a lecturer uploads."""
    import pymupdf

    named = word.capitalize()
    text = (
        f"{named}\n\n{named} is a chronic lesion of the squamous epithelium. Biopsies show granulomas with caseating "
        f"necrosis, koilocytes and keratin pearls; {word} is told apart from squamous metaplasia by its mitotic "
        "figures and the small round blue cells at its edge."
    )
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(50, 50, 550, 750), text, fontsize=11)
    return doc.tobytes()


def linked_home(settings: Settings, into: Path) -> Path:
    """A home at ``into`` sharing the caches and models of ``settings``' home (links): a server on it loads the models
    exported there, and keeps its uploads and job records to itself."""
    moved = settings.model_copy(update={"home": into})
    for shared, link in ((settings.cache_dir, moved.cache_dir), (settings.models_dir, moved.models_dir)):
        if shared.is_dir():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(shared.resolve(), target_is_directory=True)
    return into


def answer_of(response: httpx.Response) -> Any:
    """A successful answer's JSON; any other is one line naming the request, its status and what the service said."""
    if response.is_success:
        return response.json()
    request = response.request
    raise PathAtlasError(
        f"{request.method} {request.url.path} answered HTTP {response.status_code}: {response.text[:300]}"
    )


def indexed(http: httpx.Client, name: str, pdf: bytes) -> float:
    """Seconds from sending ``pdf`` as the web UI's Library does (POST /jobs) to its job ending done, asked every
    ``JOB_POLL_SECONDS``; a job that ends otherwise, or runs past ``JOB_TIMEOUT``, is one line."""
    started = time.perf_counter()
    job = answer_of(http.post("/jobs", files={"file": (name, pdf)}))
    while job["status"] in ("queued", "running"):
        if time.perf_counter() - started > JOB_TIMEOUT:
            raise PathAtlasError(f"the job indexing {name} did not end within {JOB_TIMEOUT:.0f} s")
        time.sleep(JOB_POLL_SECONDS)
        job = answer_of(http.get(f"/jobs/{job['id']}"))
    if job["status"] != "done":
        raise PathAtlasError(f"the job indexing {name} ended {job['status']}: {job['error']}")
    return time.perf_counter() - started


def timed_search(http: httpx.Client, text: str) -> tuple[float, dict[str, Any]]:
    """Seconds a text search took, as its client waited for it, and its answer."""
    started = time.perf_counter()
    response = http.post("/search", json={"text": text})
    seconds = time.perf_counter() - started
    return seconds, answer_of(response)


def upload_timings(http: httpx.Client, n: int, pause: float) -> dict[str, list[float]]:
    """Upload ``n`` of the case (``bench_after_upload``): its job's seconds, then its searches', by
    ``AFTER_UPLOAD_ROWS``. Its first search, for its new word, must find it: else the commit it timed was not served."""
    word, name = made_up_word(n), f"after-upload-{n + 1}.pdf"
    job = indexed(http, name, lecture_pdf(word))
    time.sleep(pause)
    first, found = timed_search(http, word)
    if not any(hit["citation"]["source"] == name for hit in found["hits"]):
        raise PathAtlasError(f"a search for {word!r} did not find {name} after its job ended: no commit of it served")
    typo, _ = timed_search(http, misspelt(word))
    texts = (TEXT_QUERIES[(n * FOLLOWING + i) % len(TEXT_QUERIES)] for i in range(FOLLOWING))
    following = [timed_search(http, text)[0] for text in texts]
    return {"job": [job], "first_search": [first], "first_typo": [typo], "following": following}


def spread(seconds: list[float]) -> dict[str, Any]:
    """``n``, and the median and range of ``seconds``, in ms."""
    ms = [1000 * second for second in seconds]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "min_ms": round(min(ms), 1),
        "max_ms": round(max(ms), 1),
    }


def bench_after_upload(
    settings: Settings, uploads: int, pause: float, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The searches after an upload, as a lecturer makes them: ``uploads`` one-page PDFs sent one at a time to a
    service on loopback over a copy of the settings' index, each followed, ``pause`` seconds after its job ended, by a
    search for the word it added, one with that word misspelt, and ``FOLLOWING`` more (``upload_timings``); each
    timing's median and range (``spread``). The copy and the service's home (``linked_home``) are temporary: the
    index and home of ``settings`` keep nothing of the uploads."""
    timings: dict[str, list[float]] = {kind: [] for kind in AFTER_UPLOAD_ROWS}
    with tempfile.TemporaryDirectory(prefix="pathatlas-after-upload-") as tmp:
        copy = shutil.copytree(settings.index_dir, Path(tmp) / "index")
        home = linked_home(settings, Path(tmp) / "home")
        port = free_port()
        process = start_server(copy, port, env={"PATHATLAS_HOME": str(home)})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
                for n in range(uploads):
                    for kind, seconds in upload_timings(http, n, pause).items():
                        timings[kind].extend(seconds)
        finally:
            stop_server(process)
    return {"uploads": uploads, "pause_s": pause, **{kind: spread(seconds) for kind, seconds in timings.items()}}


def after_upload_table(case: dict[str, Any]) -> Table:
    """``bench_after_upload``'s timings: median and range of each."""
    title = f"{case['uploads']} uploads to a copy of the index, each searched {case['pause_s']} s after its job ended"
    table = Table("after an upload", "n", "median ms", "range ms", title=title)
    for kind, label in AFTER_UPLOAD_ROWS.items():
        m = case[kind]
        table.add_row(label, str(m["n"]), str(m["median_ms"]), f"{m['min_ms']}-{m['max_ms']}")
    return table


def bearer(token: str | None) -> dict[str, str]:
    """The header every request carries where PATHATLAS_API_TOKEN is set, as the service reads it: searches and asks
    are open, but a proxy in front of a course's service may take only requests bearing it."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def has_extras(url: str) -> bool:
    """Whether ``url`` holds a user, password, query or fragment: httpx sends a user as Basic auth over the bearer
    token, and glues a query into every request's path (GET /health?tok=1 answers 404)."""
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL:
        return False  # said by the request's own error
    return bool(parts.userinfo or parts.query or parts.fragment)


HEALTH_FACTS = {"version", "index", "encoder", "store", "records"}
"""What a PathAtlas service's ``GET /health`` holds that a run records (``service_record``)."""


def service_health(base: str, headers: dict[str, str]) -> dict[str, Any]:
    """The deployed service's ``GET /health``, checked before any load: a URL that does not answer, answers for no
    PathAtlas service, refuses the token or cannot search yet is one line (``BadInputError``), not a run of errors."""
    shown = without_credentials(base)
    if has_extras(base):
        raise BadInputError(
            f"--url {shown}: give the service's address alone, without a user, password, query or fragment (the "
            "token goes in PATHATLAS_API_TOKEN)"
        )
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            answer = http.get("/health")
    except httpx.UnsupportedProtocol:
        raise BadInputError(f"--url {shown}: give it with its scheme, http:// or https://") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise BadInputError(
            f"--url {shown}: no answer to GET /health ({type(exc).__name__}); is the service up there?"
        ) from None
    return checked_health(shown, answer, token_sent=bool(headers))


def checked_health(shown: str, answer: httpx.Response, token_sent: bool) -> dict[str, Any]:
    """``service_health``'s reading of the answer (``shown``: the URL as messages name it)."""
    said = f"--url {shown} answered GET /health with HTTP {answer.status_code}"
    if answer.status_code in (401, 403):
        token = "was refused" if token_sent else "is not set"
        raise BadInputError(f"{said}: PATHATLAS_API_TOKEN {token}; set the token the service or its proxy takes")
    try:
        health = answer.json()
    except ValueError:
        health = None
    if not isinstance(health, dict) or not health.keys() >= HEALTH_FACTS:
        raise BadInputError(f"{said}, and not as a PathAtlas service: give the address 'pathatlas serve' answers at")
    if health.get("problem") or answer.status_code != 200:
        raise BadInputError(f"{said}: it cannot search ({health.get('problem') or 'no reason given'})")
    if not health.get("ready", True):
        raise BadInputError(f"--url {shown} is still loading its models: run again once GET /ready answers 200")
    return health


def service_record(health: dict[str, Any]) -> dict[str, Any]:
    """What a run against a deployed service records of it, from its ``GET /health``."""
    return {
        "service_version": health["version"],
        "index": health["index"],
        "index_encoder": health["encoder"],
        "store": health["store"],
        "records": health["records"],
    }
