"""The real server the benchmarks drive: uvicorn serving `bench.app:make_app` in a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


SERVE_WORKERS = """
import sys
from server.sockets import NoDelayHttpProtocol
from server.workers import Supervisor
served = {{"host": "127.0.0.1", "port": {port}, "http": NoDelayHttpProtocol,
          "log_level": "warning", "access_log": False}}
sys.exit(Supervisor({workers}, served, app="bench.app:make_app").run())
"""


class Server:
    """uvicorn serving `bench.app:make_app` on a free port, one process (like `cairn serve`),
    from this checkout or another one (`root`: a baseline to compare with)."""

    def __init__(
        self,
        database_url: str,
        pool_size: int,
        gc_mode: str,
        log_dir: Path,
        root: Path = ROOT,
        workers: int = 1,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        env = {
            **os.environ,
            "CAIRN_BENCH_DATABASE_URL": database_url,
            "CAIRN_BENCH_POOL_SIZE": str(pool_size),
            "CAIRN_BENCH_GC": gc_mode,
        }
        if workers == 1:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.app:make_app",
                "--app-dir",
                str(root),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
        else:
            # As `cairn serve --workers N` runs them: a socket each, TCP_NODELAY on every
            # connection.
            command = [sys.executable, "-c", SERVE_WORKERS.format(workers=workers, port=self.port)]
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    async def wait_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the server did not become ready:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@asynccontextmanager
async def serving(
    database_url: str,
    pool_size: int,
    gc_mode: str = "tuned",
    root: Path = ROOT,
    workers: int = 1,
) -> AsyncIterator[Server]:
    """The server (of the checkout at `root`) on the benchmark database, ready; stopped on the
    way out. Its log goes to a fresh temporary directory. `gc_mode` "tuned" is what `cairn
    serve` does; "default" keeps Python's garbage collector settings. `workers` > 1 serves
    from that many processes, as `cairn serve --workers N` does."""
    log_dir = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
    server = Server(database_url, pool_size, gc_mode, log_dir, root, workers)
    try:
        await server.wait_ready()
        print(f"\nserver pid {server.process.pid} on {server.base_url}", flush=True)
        yield server
    finally:
        server.stop()
