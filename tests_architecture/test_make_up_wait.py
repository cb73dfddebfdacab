"""`infra/dev/wait_for_stack.py` (what `make up` waits with) fails loudly, and only when it must.

Docker is replaced by a small fake CLI that answers `ps`, `inspect` and `logs`
from a scenario file, so these run without a Docker engine.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

WAIT_SCRIPT = Path(__file__).resolve().parent.parent / "infra" / "dev" / "wait_for_stack.py"
PROJECT = "courier-wait-test"

FAKE_DOCKER = """\
import json, os, sys

scenario = json.loads(open(os.environ["FAKE_DOCKER_SCENARIO"]).read())
command, args = sys.argv[1], sys.argv[2:]
if command == "ps":
    wanted = args[args.index("--filter") + 1].split("=", 2)[2]
    for container in scenario["containers"]:
        if container["Config"]["Labels"]["com.docker.compose.project"] == wanted:
            print(container["Id"])
elif command == "inspect":
    print(json.dumps([c for c in scenario["containers"] if c["Id"] in args]))
elif command == "logs":
    print(scenario["logs"].get(args[-1], ""))
else:
    sys.exit(f"fake docker: unexpected command {command}")
"""


def wait_command(*args: str) -> list[str]:
    return [sys.executable, str(WAIT_SCRIPT), "--project", PROJECT, *args]


def container(
    service: str,
    *,
    status: str = "running",
    health: str | None = "healthy",
    exit_code: int = 0,
    health_output: str = "",
    project: str = PROJECT,
) -> dict[str, Any]:
    state: dict[str, Any] = {"Status": status, "ExitCode": exit_code}
    if health is not None:
        state["Health"] = {"Status": health, "Log": [{"Output": health_output}]}
    return {
        "Id": f"id-{project}-{service}",
        "Name": f"/{project}_{service}_1",
        "State": state,
        "Config": {
            "Labels": {
                "com.docker.compose.project": project,
                "com.docker.compose.service": service,
            }
        },
    }


class FakeDocker:
    """A `docker` executable whose answers come from a scenario the test writes."""

    def __init__(self, directory: Path) -> None:
        self.executable = directory / "docker"
        self.executable.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
        self.executable.chmod(0o755)
        self.scenario = directory / "scenario.json"
        self.set([])

    def set(self, containers: list[dict[str, Any]], logs: dict[str, str] | None = None) -> None:
        self.scenario.write_text(json.dumps({"containers": containers, "logs": logs or {}}))

    def wait(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            wait_command("--docker", str(self.executable), "--timeout", str(timeout), *args),
            capture_output=True,
            text=True,
            timeout=60,
            env={"FAKE_DOCKER_SCENARIO": str(self.scenario), "PATH": "/usr/bin:/bin"},
            check=False,
        )


@pytest.fixture
def docker(tmp_path: Path) -> FakeDocker:
    return FakeDocker(tmp_path)


@pytest.fixture
def readyz() -> Iterator[dict[str, Any]]:
    """A local HTTP server standing in for the web's /readyz; set "status" to answer with."""
    answer: dict[str, Any] = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"broker": "down"}' if answer["status"] != 200 else b"{}"
            self.send_response(answer["status"])
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    answer["url"] = f"http://127.0.0.1:{server.server_address[1]}/readyz"
    yield answer
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/readyz"


def test_a_project_without_containers_fails_at_once_and_says_so(docker: FakeDocker) -> None:
    docker.set([container("web", project="someone-else")])

    result = docker.wait(timeout=60)

    assert result.returncode == 1
    assert f"compose project {PROJECT!r} has no containers" in result.stderr


def test_a_missing_docker_cli_fails_clearly(tmp_path: Path) -> None:
    result = subprocess.run(
        wait_command("--timeout", "0", "--docker", str(tmp_path / "no-docker-here")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "is not installed" in result.stderr


def test_every_service_up_and_the_web_ready_is_success(
    docker: FakeDocker, readyz: dict[str, Any]
) -> None:
    docker.set([container("rabbitmq"), container("flower", health=None), container("web")])

    result = docker.wait("--ready-url", readyz["url"])

    assert result.returncode == 0, result.stderr


def test_an_unhealthy_service_fails_at_once_with_its_name_check_and_logs(
    docker: FakeDocker,
) -> None:
    postgres = container("postgres", health="unhealthy", health_output="no response")
    docker.set(
        [container("rabbitmq"), postgres],
        logs={postgres["Id"]: "FATAL:  could not open file pg_hba.conf"},
    )

    result = docker.wait(timeout=300)

    assert result.returncode == 1
    assert "postgres: unhealthy (last health check: no response)" in result.stderr
    assert "log lines of postgres" in result.stderr
    assert "could not open file pg_hba.conf" in result.stderr
    assert "rabbitmq:" not in result.stderr


def test_an_exited_container_fails_at_once_with_its_exit_code(docker: FakeDocker) -> None:
    worker = container("worker", status="exited", health=None, exit_code=3)
    docker.set([container("rabbitmq"), worker], logs={worker["Id"]: "ACCESS_REFUSED"})

    result = docker.wait(timeout=300)

    assert result.returncode == 1
    assert "worker: its container exited with code 3" in result.stderr
    assert "ACCESS_REFUSED" in result.stderr


def test_an_expected_service_without_a_container_fails(docker: FakeDocker) -> None:
    docker.set([container("rabbitmq")])

    result = docker.wait("--service", "rabbitmq", "--service", "relay", timeout=300)

    assert result.returncode == 1
    assert "relay: no container was created" in result.stderr


def test_a_service_still_starting_fails_at_the_deadline(docker: FakeDocker) -> None:
    docker.set([container("rabbitmq"), container("worker", health="starting")])

    result = docker.wait(timeout=1)

    assert result.returncode == 1
    assert "not up after 1 s" in result.stderr
    assert "worker: health starting" in result.stderr


def test_a_web_that_never_gets_ready_fails_at_the_deadline_with_its_answer(
    docker: FakeDocker, readyz: dict[str, Any]
) -> None:
    readyz["status"] = 503
    docker.set([container("web")], logs={"id-courier-wait-test-web": "broker refused"})

    result = docker.wait("--ready-url", readyz["url"], timeout=1)

    assert result.returncode == 1
    assert f"web: {readyz['url']} does not answer 200 yet (HTTP 503" in result.stderr
    assert '"broker": "down"' in result.stderr
    assert "broker refused" in result.stderr


def test_a_web_nobody_answers_for_fails_at_the_deadline(docker: FakeDocker) -> None:
    docker.set([container("web")])
    url = closed_port_url()

    result = docker.wait("--ready-url", url, timeout=1)

    assert result.returncode == 1
    assert f"web: {url} does not answer 200 yet" in result.stderr
