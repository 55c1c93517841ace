"""`cairn serve --workers N`: N processes listen on the port, each with its own socket and app;
connections made at once are spread over them, a worker that dies is started again, and a key
revoked anywhere is refused by every worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil

from tests.support.databases import new_database
from tests.support.processes import Server, cairn, cairn_env, demo_env, killed_at_exit

HEARD_WITHIN = 5.0


@asynccontextmanager
async def two_workers(
    tmp_path: Path, server_url: str
) -> AsyncIterator[tuple[Server, dict[str, str], str]]:
    """`cairn serve --workers 2` on a fresh database with the demo data, both workers
    listening: the server, its environment and bob's key."""
    async with new_database(server_url) as url:
        env, key = demo_env(url, tmp_path, "bob")
        with killed_at_exit() as started:
            server = Server(["--workers", "2", "--no-worker"], env, tmp_path)
            started.append(server)
            server.wait_healthy()
            wait_for_workers(server, 2)
            yield server, env, key


async def viewer(http: httpx.AsyncClient, key: str) -> int:
    response = await http.post(
        "/graphql",
        json={"query": "{ viewer { name } }"},
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.status_code


async def test_two_workers_serve_together_and_both_refuse_a_revoked_key(
    tmp_path: Path, server_url: str
) -> None:
    async with two_workers(tmp_path, server_url) as (server, env, key):
        # Forty connections at once, which the kernel hands to both workers.
        clients = [httpx.AsyncClient(base_url=server.base_url, timeout=30) for _ in range(40)]
        try:
            assert set(await asyncio.gather(*(viewer(c, key) for c in clients))) == {200}
            assert cairn("keys", "revoke", "--key", key, env=env).returncode == 0
            deadline = time.monotonic() + HEARD_WITHIN
            while True:
                fresh = [httpx.AsyncClient(base_url=server.base_url) for _ in range(20)]
                try:
                    codes = await asyncio.gather(*(viewer(c, key) for c in fresh))
                finally:
                    await asyncio.gather(*(c.aclose() for c in fresh))
                if set(codes) == {401}:
                    break
                assert time.monotonic() < deadline, f"still answered after revoke: {codes}"
                await asyncio.sleep(0.05)
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        assert server.stop() == 0


def listening_workers(server: Server) -> dict[int, psutil.Process]:
    """The server's worker processes that listen on its port, by pid."""
    found = {}
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            sockets = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == server.port for c in sockets):
            found[child.pid] = child
    return found


def wait_for_workers(
    server: Server, count: int, *, other_than: AbstractSet[int] = frozenset()
) -> set[int]:
    """The pids of `count` workers listening on the port (none of `other_than`), once there are."""
    deadline = time.monotonic() + 60
    while True:
        pids = set(listening_workers(server)) - other_than
        if len(pids) >= count:
            return pids
        assert time.monotonic() < deadline, (
            f"{len(pids)} of {count} workers listen:\n{server.output}"
        )
        time.sleep(0.1)


async def test_connections_made_at_once_are_spread_over_the_workers_and_a_dead_one_is_replaced(
    tmp_path: Path, server_url: str
) -> None:
    """Forty clients connect at the same moment. A socket shared by the workers would let the
    first to wake accept them all; with a socket each, the kernel gives each worker a share."""
    async with two_workers(tmp_path, server_url) as (server, _, key):
        workers = wait_for_workers(server, 2)

        clients = [httpx.AsyncClient(base_url=server.base_url, timeout=30) for _ in range(40)]
        try:
            assert set(await asyncio.gather(*(viewer(c, key) for c in clients))) == {200}
            held = {
                pid: sum(
                    c.status == psutil.CONN_ESTABLISHED and c.laddr.port == server.port
                    for c in psutil.Process(pid).net_connections(kind="tcp")
                )
                for pid in workers
            }
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        assert sum(held.values()) == 40, held
        # Each worker's share is binomial(40, 1/2): fewer than 8 is 1 chance in 25,000.
        assert min(held.values()) >= 8, held

        dead = next(iter(workers))
        psutil.Process(dead).kill()
        replacement = wait_for_workers(server, 1, other_than=workers)
        assert dead not in replacement
        assert server.graphql(key, "{ viewer { name } }") == {"viewer": {"name": "bob"}}
        assert "exited with -9; starting another" in server.output
        assert server.stop() == 0


def test_fewer_than_one_worker_is_refused(tmp_path: Path) -> None:
    result = cairn("serve", "--workers", "0", env=cairn_env(tmp_path / "xdg"))
    assert result.returncode != 0
    assert "--workers must be at least 1, not 0" in result.stderr
