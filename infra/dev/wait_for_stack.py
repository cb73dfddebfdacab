"""Wait, with a deadline, until a compose project's services are up; else say which is not.

``make up`` runs it after ``compose up -d``. Compose 1.29 (Debian's) has no
``up --wait``, and its ``up -d`` returns once the containers are started, not
healthy; the v2 plugin's ``--wait`` names no logs when it fails. So: a service
is up when its container runs and, if it has a healthcheck, is healthy; the
stack is up when every service is and ``--ready-url`` (the web's ``/readyz``)
answers 200. A container that exited or turned unhealthy fails at once; the
rest fail at the deadline. Either way the exit code is 1 and each service
that is not up is named with its last log lines.

It asks the Docker CLI only (``docker ps`` by the compose project label, then
``docker inspect`` / ``docker logs``), which both compose generations label
the same way. Standard library only: ``make up`` needs no virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ServiceState", "main"]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
POLL_INTERVAL = 2.0


class DockerError(RuntimeError):
    """The Docker CLI failed or is missing."""


@dataclass(frozen=True)
class ServiceState:
    """Where one service's container stands: up, still starting, or failed for good."""

    service: str
    container_id: str | None
    up: bool
    failed: bool
    detail: str


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            states = _service_states(args.docker, args.project, args.service)
        except DockerError as exc:
            print(f"wait_for_stack: {exc}", file=sys.stderr)
            return 1
        if not states:
            print(
                f"wait_for_stack: compose project {args.project!r} has no containers: "
                "nothing was started (did `compose up` fail?)",
                file=sys.stderr,
            )
            return 1
        broken = [s for s in states if not s.up]
        if not broken and args.ready_url:
            ready, why = _answers(args.ready_url)
            if not ready:
                web = _state_of(states, args.ready_service)
                broken = [_not_ready(web, args.ready_service, args.ready_url, why)]
        if not broken:
            return 0
        if any(s.failed for s in broken) or time.monotonic() >= deadline:
            _report(args, broken)
            return 1
        time.sleep(POLL_INTERVAL)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="compose project name (-p)")
    parser.add_argument(
        "--service",
        action="append",
        default=[],
        help="a service that must be up (repeat; default: every service of the project)",
    )
    parser.add_argument("--ready-url", help="a URL that must answer 200 once the services are up")
    parser.add_argument(
        "--ready-service", default="web", help="the service behind --ready-url (for its logs)"
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait (0: look once)")
    parser.add_argument("--log-lines", type=int, default=40, help="log lines shown per failure")
    parser.add_argument("--docker", default=os.environ.get("DOCKER", "docker"))
    return parser.parse_args(argv)


def _docker(docker: str, *args: str) -> str:
    try:
        result = subprocess.run(  # noqa: S603 (fixed argument lists)
            [docker, *args], capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError as exc:
        raise DockerError(f"the Docker CLI {docker!r} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise DockerError(f"`{docker} {args[0]}` did not answer within 60 s") from exc
    if result.returncode != 0:
        raise DockerError(f"`{docker} {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def _service_states(docker: str, project: str, expected: list[str]) -> list[ServiceState]:
    project_filter = f"label={PROJECT_LABEL}={project}"
    listing = _docker(docker, "ps", "--all", "--quiet", "--no-trunc", "--filter", project_filter)
    ids = listing.split()
    containers = json.loads(_docker(docker, "inspect", *ids)) if ids else []
    by_service: dict[str, dict[str, Any]] = {}
    for container in containers:
        labels = container.get("Config", {}).get("Labels") or {}
        if labels.get(ONEOFF_LABEL, "False") == "True":
            continue
        by_service.setdefault(labels.get(SERVICE_LABEL, container["Name"]), container)
    if not by_service:
        return []
    names = expected or sorted(by_service)
    return [_state(name, by_service.get(name)) for name in names]


def _state(service: str, container: dict[str, Any] | None) -> ServiceState:
    if container is None:
        return ServiceState(service, None, up=False, failed=True, detail="no container was created")
    cid = str(container["Id"])
    state: dict[str, Any] = container.get("State") or {}
    status = str(state.get("Status"))
    health = state.get("Health")
    if status in {"exited", "dead"}:
        detail = f"its container {status} with code {state.get('ExitCode')}"
        return ServiceState(service, cid, up=False, failed=True, detail=detail)
    if status != "running":
        return ServiceState(service, cid, up=False, failed=False, detail=f"container is {status}")
    if not isinstance(health, dict):
        return ServiceState(service, cid, up=True, failed=False, detail="running")
    health_status = str(health.get("Status"))
    if health_status == "healthy":
        return ServiceState(service, cid, up=True, failed=False, detail="healthy")
    last_check = _last_check_output(health)
    if health_status == "unhealthy":
        return ServiceState(service, cid, up=False, failed=True, detail=f"unhealthy{last_check}")
    return ServiceState(service, cid, up=False, failed=False, detail=f"health {health_status}")


def _last_check_output(health: dict[str, Any]) -> str:
    log = health.get("Log")
    if not isinstance(log, list) or not log:
        return ""
    output = str(log[-1].get("Output", "")).strip()
    return f" (last health check: {output[-300:]})" if output else ""


def _state_of(states: list[ServiceState], service: str) -> ServiceState | None:
    return next((s for s in states if s.service == service), None)


def _not_ready(web: ServiceState | None, service: str, url: str, why: str) -> ServiceState:
    container_id = web.container_id if web else None
    detail = f"{url} does not answer 200 yet ({why})"
    return ServiceState(service, container_id, up=False, failed=False, detail=detail)


def _answers(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own URL)
            return response.status == 200, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        # /readyz says which dependency does not answer.
        body = exc.read(300).decode(errors="replace").strip()
        return False, f"HTTP {exc.code}: {body}" if body else f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return False, str(exc)


def _report(args: argparse.Namespace, broken: list[ServiceState]) -> None:
    timed_out = not any(s.failed for s in broken)
    why = f"not up after {args.timeout:.0f} s" if timed_out else "failed"
    lines = [f"\nThe compose project {args.project!r} did not come up ({why}):"]
    lines += [f"  - {s.service}: {s.detail}" for s in broken]
    # When something failed, the services merely still starting only add noise.
    shown = [s for s in broken if s.failed] if not timed_out else broken
    for state in shown:
        if state.container_id is None:
            continue
        lines.append(f"\n--- last {args.log_lines} log lines of {state.service} ---")
        try:
            out = _logs(args.docker, state.container_id, args.log_lines)
        except DockerError as exc:
            out = f"(no logs: {exc})"
        lines.append(out.rstrip())
    print("\n".join(lines), file=sys.stderr)


def _logs(docker: str, container_id: str, count: int) -> str:
    try:
        result = subprocess.run(  # noqa: S603 (fixed argument lists)
            [docker, "logs", "--tail", str(count), container_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DockerError(str(exc)) from exc
    # Services log to both streams: one pipe keeps their lines roughly in order.
    return result.stdout


if __name__ == "__main__":
    sys.exit(main())
