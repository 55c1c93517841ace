"""The real `cairn` command, run as subprocesses: migrations, the refusal to serve on a schema that
is behind, API keys, and the embedded PostgreSQL default over real HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from db.migrate import load_migrations, migrate
from db.pool import create_pool
from server.demo import seed_demo
from tests.conftest import create_database, drop_database

REPO = Path(__file__).resolve().parents[1]
KEY = re.compile(r"^cairn_[A-Za-z0-9_-]{20,}$")
ORG_QUERY = '{ viewer { name } organization(name: "acme") { registries(first: 5) { totalCount } } }'


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every `cairn` process: no database settings inherited, and a private
    runtime directory (pgserver keeps its inter-process lock there; platformdirs wants 0700)."""
    runtime = tmp_path_factory.mktemp("xdg-runtime")
    runtime.chmod(0o700)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CAIRN_DATA_DIR", "CAIRN_TEST_DATABASE_URL"}
    }
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cairn(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A `cairn serve` process, its output in files (a pipe nobody reads could fill and block)."""

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = log_dir / f"serve-{self.port}.stderr"
        self.stdout_path = log_dir / f"serve-{self.port}.stdout"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=err,
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"cairn serve exited with {self.process.returncode}:\n{self.stderr}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"cairn serve was not healthy within {timeout}s:\n{self.stderr}")

    def terminate(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

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
        return body["data"]  # type: ignore[no-any-return]


@contextmanager
def servers() -> Iterator[list[Server]]:
    """Collects the servers a test starts and kills whatever is still running at the end."""
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()


def the_key(result: subprocess.CompletedProcess[str]) -> str:
    """The one line `cairn keys create` prints on stdout, which must be a key."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert KEY.match(lines[0]), lines[0]
    return lines[0]


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Running PostgreSQL server processes whose command line names `data_dir`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if cmdline and Path(cmdline[0]).name == "postgres" and str(data_dir) in cmdline:
            found.append(process)
    return found


def stop_embedded(data_dir: Path) -> None:
    """Stops an embedded PostgreSQL that a failed test left running (pgserver runs it as the
    `pgserver` system user when we are root)."""
    if not postgres_processes(data_dir):
        return
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user, timeout=20)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        for process in postgres_processes(data_dir):
            process.kill()


# --- with DATABASE_URL ---------------------------------------------------------------------------


@pytest.fixture
async def empty_url(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url)
    try:
        yield url
    finally:
        await drop_database(server_url, url)


@pytest.fixture
def url_env(base_env: dict[str, str], empty_url: str) -> dict[str, str]:
    return {**base_env, "DATABASE_URL": empty_url}


@pytest.fixture
async def demo_url(empty_url: str) -> str:
    """The fresh database, migrated and seeded with the demo org in-process."""
    pool = await create_pool(empty_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        await seed_demo(pool)
    finally:
        await pool.close()
    return empty_url


async def count_keys(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM api_keys"))
    finally:
        await conn.close()


def test_migrate_check_migrate_and_check_again(url_env: dict[str, str]) -> None:
    names = [f"{m.version:04d}_{m.name}" for m in load_migrations()]

    check = cairn("migrate", "--check", env=url_env)
    assert check.returncode == 1, check
    assert f"{len(names)} pending migration(s)" in check.stdout
    for name in names:
        assert name in check.stdout

    applied = cairn("migrate", env=url_env)
    assert applied.returncode == 0, applied.stderr
    assert f"applied {len(names)} migration(s): {', '.join(names)}" in applied.stdout

    check = cairn("migrate", "--check", env=url_env)
    assert check.returncode == 0, check
    assert "current" in check.stdout

    again = cairn("migrate", env=url_env)
    assert again.returncode == 0, again.stderr
    assert "applied 0 migration(s)" in again.stdout


def test_serve_refuses_an_unmigrated_database(url_env: dict[str, str]) -> None:
    port = str(free_port())
    try:
        result = cairn("serve", "--port", port, env=url_env, timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure being tested for
        pytest.fail("cairn serve kept running on an unmigrated database")
    assert result.returncode != 0
    assert "cairn migrate" in result.stderr
    assert "pending migration" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    # It refused without touching the schema.
    assert cairn("migrate", "--check", env=url_env).returncode == 1


@pytest.mark.parametrize(
    ("tampering", "named"),
    [
        (
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')",
            "9999_future",
        ),
        ("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1", "0001_domain.sql"),
    ],
    ids=["newer-cairn", "edited-file"],
)
async def test_an_inconsistent_schema_history_is_refused_without_a_traceback(
    url_env: dict[str, str], empty_url: str, tampering: str, named: str
) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        await migrate(conn)
        await conn.execute(tampering)
    finally:
        await conn.close()

    for command in (["serve", "--port", str(free_port())], ["migrate"], ["migrate", "--check"]):
        result = cairn(*command, env=url_env, timeout=30)
        assert result.returncode != 0, command
        assert named in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert "pending" not in result.stdout, command


def test_demo_then_a_key_that_works_against_a_running_server(
    url_env: dict[str, str], tmp_path: Path
) -> None:
    assert cairn("migrate", env=url_env).returncode == 0
    demo = cairn("demo", env=url_env)
    assert demo.returncode == 0, demo.stderr
    assert "Demo organization `acme` created." in demo.stderr

    key = the_key(cairn("keys", "create", "--user", "ada", "--org", "acme", env=url_env))

    with servers() as started:
        server = Server([], url_env, tmp_path)
        started.append(server)
        server.wait_healthy()
        data = server.graphql(key)
        assert data["viewer"] == {"name": "ada"}
        assert data["organization"]["registries"]["totalCount"] >= 3
        # A made-up key of the same shape does not authenticate.
        forged = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": "{ viewer { name } }"},
            headers={"Authorization": f"Bearer cairn_{'A' * 43}"},
            timeout=10,
        )
        assert forged.status_code == 401, forged.text
        assert server.terminate() == 0


async def test_keys_for_an_unknown_user_are_refused(
    base_env: dict[str, str], demo_url: str
) -> None:
    env = {**base_env, "DATABASE_URL": demo_url}
    before = await count_keys(demo_url)

    result = cairn("keys", "create", "--user", "nobody", env=env)

    assert result.returncode != 0
    assert result.stdout == ""
    assert "'nobody'" in result.stderr
    assert "Traceback" not in result.stderr
    assert await count_keys(demo_url) == before


@pytest.mark.parametrize("org", ["globex", "acme-typo"])
async def test_keys_for_an_org_the_user_is_not_in_are_refused(
    base_env: dict[str, str], demo_url: str, org: str
) -> None:
    env = {**base_env, "DATABASE_URL": demo_url}
    conn = await asyncpg.connect(demo_url)
    try:
        # globex exists, but ada is not a member of it.
        await conn.execute(
            "INSERT INTO organizations (name, display_name) VALUES ('globex', 'Globex')"
        )
    finally:
        await conn.close()
    before = await count_keys(demo_url)

    result = cairn("keys", "create", "--user", "ada", "--org", org, env=env)

    assert result.returncode != 0
    assert result.stdout == ""
    assert f"'{org}'" in result.stderr
    assert "'ada'" in result.stderr
    assert "Traceback" not in result.stderr
    assert await count_keys(demo_url) == before


# --- the embedded default ------------------------------------------------------------------------


def test_embedded_default_serves_survives_restarts_and_stops_cleanly(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    data_dir = (tmp_path / "pgdata").resolve()
    env = dict(base_env)
    logs = tmp_path / "logs"
    try:
        with servers() as started:
            first = Server(["--demo", "--data-dir", str(data_dir)], env, logs)
            started.append(first)
            first.wait_healthy(timeout=60)

            ready = httpx.get(f"{first.base_url}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready"}
            printed = re.search(r"API key for ada[^:]*: (\S+)", first.stderr)
            assert printed, first.stderr
            ada_key = printed[1]
            assert KEY.match(ada_key)
            data = first.graphql(ada_key)
            assert data["viewer"] == {"name": "ada"}
            assert data["organization"]["registries"]["totalCount"] >= 3

            # Another process joins the running embedded database while the server uses it.
            bob_key = the_key(
                cairn("keys", "create", "--user", "bob", "--data-dir", str(data_dir), env=env)
            )
            assert first.graphql(bob_key)["viewer"] == {"name": "bob"}
            # CAIRN_DATA_DIR names the same directory when --data-dir is not given.
            cy = cairn(
                "keys", "create", "--user", "cy", env={**env, "CAIRN_DATA_DIR": str(data_dir)}
            )
            assert first.graphql(the_key(cy))["viewer"] == {"name": "cy"}
            assert postgres_processes(data_dir), "the server's PostgreSQL stopped with the CLI"

            assert first.terminate() == 0, first.stderr
            assert "Traceback" not in first.stderr
            assert not postgres_processes(data_dir), "embedded PostgreSQL outlived the server"

            second = Server(["--data-dir", str(data_dir)], env, logs)
            started.append(second)
            second.wait_healthy(timeout=60)
            data = second.graphql(ada_key)
            assert data["viewer"] == {"name": "ada"}
            assert data["organization"]["registries"]["totalCount"] >= 3
            assert second.graphql(bob_key)["viewer"] == {"name": "bob"}

            assert second.terminate() == 0, second.stderr
            assert not postgres_processes(data_dir), "embedded PostgreSQL outlived the server"
    finally:
        stop_embedded(data_dir)
