"""`cairn serve --workers N`: N processes share the port, each with its own app, and a key
revoked anywhere is refused by every worker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import psutil

from tests.support.databases import new_database
from tests.support.processes import Server, cairn, cairn_env, demo_env, killed_at_exit

HEARD_WITHIN = 5.0


async def test_two_workers_serve_together_and_both_refuse_a_revoked_key(
    tmp_path: Path, server_url: str
) -> None:
    async with new_database(server_url) as url:
        env, key = demo_env(url, tmp_path, "bob")
        with killed_at_exit() as started:
            server = Server(["--workers", "2", "--no-worker"], env, tmp_path)
            started.append(server)
            server.wait_healthy()
            workers = psutil.Process(server.process.pid).children(recursive=True)
            assert len([w for w in workers if "python" in w.name().lower()]) >= 2, workers

            async def viewer(http: httpx.AsyncClient) -> int:
                response = await http.post(
                    "/graphql",
                    json={"query": "{ viewer { name } }"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                return response.status_code

            # Forty connections at once, which the kernel hands to both workers.
            clients = [httpx.AsyncClient(base_url=server.base_url, timeout=30) for _ in range(40)]
            try:
                assert set(await asyncio.gather(*(viewer(c) for c in clients))) == {200}
                assert cairn("keys", "revoke", "--key", key, env=env).returncode == 0
                deadline = time.monotonic() + HEARD_WITHIN
                while True:
                    fresh = [httpx.AsyncClient(base_url=server.base_url) for _ in range(20)]
                    try:
                        codes = await asyncio.gather(*(viewer(c) for c in fresh))
                    finally:
                        await asyncio.gather(*(c.aclose() for c in fresh))
                    if set(codes) == {401}:
                        break
                    assert time.monotonic() < deadline, f"still answered after revoke: {codes}"
                    await asyncio.sleep(0.05)
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))
            assert server.stop() == 0


def test_fewer_than_one_worker_is_refused(tmp_path: Path) -> None:
    result = cairn("serve", "--workers", "0", env=cairn_env(tmp_path / "xdg"))
    assert result.returncode != 0
    assert "--workers must be at least 1, not 0" in result.stderr
