"""The deployment files (docs/deploy) as an operator relies on them without reading the code: every ``pathatlas`` flag
and ``PATHATLAS_`` variable they name exists; the API and UI come back after a crash or a reboot; the API waits for
Qdrant nodes whose healthcheck asks their readiness; a proxy's forwarded headers are believed; the image runs as no
root and owns what it writes; the systemd unit is valid and may write where the service writes; and README's nginx
example waits for an ask as long as the web UI does. Docker is not run: commands are checked as Docker would run them,
against stand-in servers."""

from __future__ import annotations

import asyncio
import configparser
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pathatlas.settings import Settings, unknown_variables
from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.cli import app
from tests.core.test_deploy_compose_and_start_up import COMPOSE, compose_service

DEPLOY = COMPOSE.parent
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "pathatlas.service"
README = DEPLOY.parents[1] / "README.md"
CLI = typer.main.get_command(app)

PATHATLAS_WORD = re.compile(r"(?<![\w=-])pathatlas\b")
"""Where a ``pathatlas`` command may begin (``bin/pathatlas`` too, never ``User=pathatlas``); it is one when a
subcommand follows (not after ``--collection pathatlas``)."""
COMMAND_END = re.compile(r"[`\]#;|&]")
"""Where a command written on one line ends: Markdown code, a JSON list (compose, Dockerfile), a comment, the shell."""
WORD = re.compile(r"[^\s\"',]+")


def invocations(text: str) -> Iterator[tuple[Any, list[str]]]:
    """Each ``pathatlas`` command written in ``text`` (a shell line, continued or not, a JSON list, Markdown code): the
    (click) command it runs and the flags it passes it."""
    for line in text.replace("\\\n", " ").splitlines():
        for match in PATHATLAS_WORD.finditer(line):
            words = WORD.findall(COMMAND_END.split(line[match.end() :], 1)[0])
            command, depth = CLI, 0
            while depth < len(words) and words[depth] in getattr(command, "commands", {}):
                command, depth = command.commands[words[depth]], depth + 1
            if depth:
                yield command, [word.split("=")[0] for word in words[depth:] if word.startswith("-")]


def flags_of(command) -> set[str]:
    return {"--help"} | {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}


def deploy_files() -> list[Path]:
    return sorted(path for path in DEPLOY.iterdir() if path.is_file())


def test_every_pathatlas_flag_in_the_deploy_files_is_one_its_command_takes():
    found = set()
    for path in deploy_files():
        for command, flags in invocations(path.read_text()):
            found.add((path.name, command.name))
            unknown = set(flags) - flags_of(command)
            assert not unknown, f"{path.name}: pathatlas {command.name} takes no {sorted(unknown)}"
    expected = {("docker-compose.yml", "serve"), ("docker-compose.yml", "ui"), ("Dockerfile", "serve")}
    assert expected | {("pathatlas.service", "serve"), ("README.md", "export")} <= found, found


def test_every_pathatlas_variable_in_the_deploy_files_is_a_setting():
    for path in deploy_files():
        named = re.findall(r"\bPATHATLAS_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())
        assert unknown_variables(dict.fromkeys(named, "")) == [], path.name


@pytest.mark.parametrize("name", ["api", "ui"])
def test_the_api_and_ui_come_back_after_a_crash_or_a_reboot(name):
    """``pathatlas serve`` exits at start while Qdrant cannot be reached; Docker restarts these two at its own start."""
    assert compose_service(name).get("restart") in {"always", "unless-stopped"}


def qdrant_nodes() -> dict[str, dict]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: service for name, service in services.items() if service.get("image", "").startswith("qdrant/")}


def test_the_api_starts_once_every_qdrant_node_is_healthy_and_reaches_them_by_one_name():
    nodes = qdrant_nodes()
    assert len(nodes) == 3
    assert compose_service("api")["depends_on"] == dict.fromkeys(nodes, {"condition": "service_healthy"})
    host = urlsplit(compose_service("api")["environment"]["PATHATLAS_QDRANT_URL"]).hostname
    assert all(host in node["networks"]["default"]["aliases"] for node in nodes.values()), host


@contextmanager
def qdrant_node(readiness: int) -> Iterator[int]:
    """A stand-in for a Qdrant node's REST port: ``/readyz`` answers ``readiness`` (200 ready, 503 still joining),
    any other path 404. Yields the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(readiness if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def qdrant_healthcheck_passes(port: int) -> bool:
    """Whether every Qdrant node's healthcheck, run as Docker runs it (compose reads ``$$`` as ``$``), passes against a
    node on ``port`` of loopback."""
    tests = {tuple(node["healthcheck"]["test"]) for node in qdrant_nodes().values()}
    assert len(tests) == 1, "one check for every node"
    (test,) = tests
    assert test[0] == "CMD" and test[1] == "bash", "the qdrant image has bash, not curl nor wget"
    command = [part.replace("$$", "$").replace("127.0.0.1/6333", f"127.0.0.1/{port}") for part in test[1:]]
    return subprocess.run(command, capture_output=True, timeout=30).returncode == 0


def test_the_qdrant_healthcheck_passes_on_a_ready_node_only():
    with qdrant_node(200) as port:
        assert qdrant_healthcheck_passes(port)
    with qdrant_node(503) as port:
        assert not qdrant_healthcheck_passes(port)
    assert not qdrant_healthcheck_passes(free_port())  # nothing listens: a node down


def option_value(command: list[str], option: str) -> str:
    assert option in command, command
    return command[command.index(option) + 1]


def client_seen(trusted: str, peer: str) -> str:
    """The client address the service logs for a request from ``peer`` saying ``X-Forwarded-For: 203.0.113.7``, with
    ``--forwarded-allow-ips trusted`` (uvicorn's middleware, which ``pathatlas serve`` gives that option)."""
    seen = {}

    async def service(scope, receive, send):
        seen.update(scope)

    scope = {"type": "http", "client": (peer, 50000), "headers": [(b"x-forwarded-for", b"203.0.113.7")]}
    asyncio.run(ProxyHeadersMiddleware(service, trusted_hosts=trusted)(scope, None, None))
    return seen["client"][0]


def test_the_api_believes_a_host_proxy_through_the_compose_network_gateway_and_no_outside_client():
    trusted = option_value(compose_service("api")["command"], "--forwarded-allow-ips")
    assert client_seen(trusted, "172.18.0.1") == "203.0.113.7"  # the first compose network's gateway, by default
    assert client_seen(trusted, "198.51.100.9") == "198.51.100.9"  # a client reaching the published port directly


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, each (INSTRUCTION, its arguments), continued lines joined."""
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    return [tuple(line.split(None, 1)) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_runs_as_no_root_user_who_owns_what_the_service_writes():
    instructions = dockerfile()
    (user,) = [arguments for op, arguments in instructions if op == "USER"]
    assert user.split(":")[0] not in {"root", "0"}
    after_install = instructions[instructions.index(("USER", user)) + 1 :]
    assert not [arguments for op, arguments in after_install if op == "RUN"], "packages install as root, read-only"
    owned = [
        folder
        for op, arguments in instructions
        if op == "RUN"
        for owner, folder in re.findall(r"chown -R (\S+) (\S+)", arguments)
        if owner.split(":")[0] == user
    ]
    api = compose_service("api")
    home = re.search(r"PATHATLAS_HOME=(\S+)", dict(instructions)["ENV"])[1]
    written = {option_value(api["command"], "--index"), home}
    assert written <= {volume.split(":")[1] for volume in api["volumes"]}, "the index folder and home are mounted"
    assert all(any(Path(folder) in (Path(path), *Path(path).parents) for folder in owned) for path in written), owned


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_systemd_unit_runs_serve_as_a_user_of_its_own_that_may_write_its_index_and_home():
    service = unit()["Service"]
    executable, subcommand, *arguments = service["ExecStart"].split()
    assert Path(executable).name == "pathatlas" and subcommand == "serve"
    assert service["User"] not in {"root", "0"} and service["Restart"] == "on-failure"
    home = re.search(r"PATHATLAS_HOME=(\S+)", service["Environment"])[1]
    writable = [Path("/var/lib", entry) for entry in service["StateDirectory"].split()]
    writable += [Path(path) for path in service.get("ReadWritePaths", "").split()]
    assert service["ProtectSystem"] == "strict"
    for path in (Path(option_value(arguments, "--index")), Path(home)):
        assert any(folder in (path, *path.parents) for folder in writable), path
    default = next(param.default for param in CLI.commands["serve"].params if param.name == "limit_concurrency")
    given = "--limit-concurrency" in arguments
    concurrency = int(option_value(arguments, "--limit-concurrency")) if given else default
    assert int(service["LimitNOFILE"]) >= concurrency + 200, "the index and the models hold files beyond connections"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_verifies_the_unit_without_a_warning(tmp_path):
    """Its ``ExecStart`` pointed at the ``pathatlas`` installed here: verify refuses a program that is not there."""
    installed = Path(sys.executable).with_name("pathatlas")
    if not installed.exists():
        pytest.skip("pathatlas is not installed beside this Python")
    executable = unit()["Service"]["ExecStart"].split()[0]
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(executable, str(installed)))
    verified = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def test_the_readme_nginx_example_waits_for_an_answer_as_long_as_the_web_ui():
    """An ask with an LLM answerer takes minutes; nginx's default proxy_read_timeout (60 s) would answer 504 first."""
    (nginx,) = re.findall(r"```nginx\n(.*?)```", README.read_text(), flags=re.S)
    (seconds,) = re.findall(r"^\s*proxy_read_timeout\s+(\d+)s;", nginx, flags=re.M)
    assert int(seconds) >= Settings.model_fields["ui_timeout_s"].default
