"""The real `cairn` command run as subprocesses: one-off commands, `cairn serve` and
`cairn worker`, each with an environment that inherits no database or webhook settings."""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
KEY = re.compile(r"^cairn_[A-Za-z0-9_-]{20,}$")
ORG_QUERY = '{ viewer { name } organization(name: "acme") { registries(first: 5) { totalCount } } }'
# What a test process may have set that must not leak into the processes it starts.
NOT_INHERITED = {"DATABASE_URL", "CAIRN_DATA_DIR", "CAIRN_TEST_DATABASE_URL", "CAIRN_SECRET_KEY"}


def private_directory(path: Path) -> Path:
    """`path`, created if need be, readable by its owner only (platformdirs wants 0700 for a
    runtime directory)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def cairn_env(runtime_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a `cairn` process: this one's, without database, secret or webhook
    settings, with a private runtime directory (pgserver keeps its inter-process lock there),
    unbuffered output, and `settings` on top."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in NOT_INHERITED and not k.startswith("CAIRN_WEBHOOK_")
    }
    env["XDG_RUNTIME_DIR"] = str(private_directory(runtime_dir))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def cairn(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs `cairn ARGS` to the end and returns what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def the_key(result: subprocess.CompletedProcess[str]) -> str:
    """The one line `cairn keys create` prints on stdout, which must be a key."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert KEY.match(lines[0]), lines[0]
    return lines[0]


def demo_env(url: str, tmp_path: Path, user: str) -> tuple[dict[str, str], str]:
    """The environment of `cairn` processes on the database at `url`, migrated and filled with
    the demo data, and a new key for `user`."""
    env = cairn_env(tmp_path / "xdg", DATABASE_URL=url)
    assert cairn("migrate", env=env).returncode == 0
    assert cairn("demo", env=env).returncode == 0
    return env, the_key(cairn("keys", "create", "--user", user, env=env))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """A long-running `cairn` process whose output goes to a file (a pipe nobody reads could fill
    and block it)."""

    def __init__(
        self, command: list[str], env: dict[str, str], log: Path, max_file_bytes: int | None = None
    ) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log

        def limit_files() -> None:
            # The kernel's own limit on the size of any file the process writes: writing past
            # it fails with EFBIG, as a full disk fails with ENOSPC (SIGXFSZ would kill it).
            if max_file_bytes is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=limit_files,
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """Asks it to stop (SIGTERM) and returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, if it still runs, and waits for it to be gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Server(Process):
    """A `cairn serve` process on a free port."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_dir: Path,
        max_file_bytes: int | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), *args]
        super().__init__(command, env, log_dir / f"serve-{self.port}.log", max_file_bytes)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"cairn serve exited with {self.process.returncode}:\n{self.output}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"cairn serve was not healthy within {timeout}s:\n{self.output}")

    def graphql(self, key: str, query: str = ORG_QUERY) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base_url}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


WORKER_READY = "cairn worker: delivering webhooks"
# `cairn worker` with a shorter lease margin than the 30 s default, so that a test need not wait
# half a minute for a dead worker's lease to run out.
SHORT_LEASE_WORKER = (
    "import resolvers.deliveries as d; d.LEASE_MARGIN_SECONDS = {margin}; "
    "from server.cli import main; main(['worker'])"
)


class Worker(Process):
    """A `cairn worker` process."""

    def __init__(
        self, env: dict[str, str], log_dir: Path, *, lease_margin: float | None = None
    ) -> None:
        if lease_margin is None:
            command = [sys.executable, "-m", "server.cli", "worker"]
        else:
            command = [sys.executable, "-c", SHORT_LEASE_WORKER.format(margin=lease_margin)]
        super().__init__(command, env, log_dir / f"worker-{uuid.uuid4().hex[:8]}.log")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while WORKER_READY not in self.output:
            if self.process.poll() is not None:
                pytest.fail(f"cairn worker exited with {self.process.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"cairn worker did not start:\n{self.output}")
            time.sleep(0.05)

    def delivered(self) -> list[tuple[int, int, str]]:
        """(delivery, attempt, outcome) of each attempt this worker logged."""
        return [
            (int(m[1]), int(m[2]), m[3])
            for m in re.finditer(r"delivery (\d+) attempt (\d+): (\w+)", self.output)
        ]


class Killable(Protocol):
    def kill(self) -> None: ...


@contextmanager
def killed_at_exit() -> Iterator[list[Killable]]:
    """Collects the processes a test starts and kills whatever still runs at the end."""
    started: list[Killable] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()
