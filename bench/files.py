"""File transfer throughput through a running `cairn serve`, next to a plain `cp` of the same
data in the same run.

For each backend (the local folder, and S3 served by moto's standalone server on loopback):
- one large file (1 GiB by default) pushed with `cairn push` and pulled with `cairn pull`'s code,
  with the server's resident memory sampled every 100 ms while it moves;
- many small files (10,000 of 10 KiB by default) pushed and pulled the same way.
The client's SHA-256 of what it sends is part of the push time, as it is for a user.

    python -m bench.files [--large-mib 1024] [--small-files 10000] [--small-kib 10]
        [--backends local,s3] [--database-url URL] [--results bench/files.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

from bench.database import DEFAULT_SERVER, benchmark_database, migrated
from bench.server import ROOT, free_port
from client.transfers import pull, push
from resolvers.accounts import create_api_key_txn
from server.demo import seed_demo
from server.settings import Settings, blob_store

MIB = 1024 * 1024
# The server's and moto's output, kept after the run.
LOGS = Path(tempfile.gettempdir()) / "cairn-bench-files-logs"
BUCKET = "cairn-bench"


@dataclass
class Measured:
    backend: str
    case: str
    files: int
    bytes: int
    cp_seconds: float
    # `cp -r` and then `sync`: the copy on disk, as Cairn's store has it before it answers.
    cp_sync_seconds: float
    push_seconds: float
    pull_seconds: float
    server_rss_mib: list[float] = field(default_factory=list)

    def row(self) -> str:
        mb = self.bytes / 1e6

        def rate(seconds: float) -> str:
            return f"{mb / seconds:8.1f} MB/s {self.files / seconds:9.0f} files/s"

        memory = ""
        if self.server_rss_mib:
            low, high = min(self.server_rss_mib), max(self.server_rss_mib)
            memory = f"  server RSS {low:.0f}-{high:.0f} MiB"
        return (
            f"{self.backend:5} {self.case:28} cp {rate(self.cp_seconds)} | cp+sync "
            f"{rate(self.cp_sync_seconds)} | push "
            f"{rate(self.push_seconds)} | pull {rate(self.pull_seconds)}{memory}"
        )


class Sampler:
    """The resident memory of a process, every 100 ms, while in use."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.process.memory_info().rss / MIB)
            self._stop.wait(0.1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def serving(
    database_url: str, storage: str, env: dict[str, str], logs: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    server_env = {**env, "DATABASE_URL": database_url, "CAIRN_STORAGE": storage}
    with (logs / f"serve-{port}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--no-worker"],
            cwd=ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise RuntimeError(f"cairn serve did not start; see {log.name}")
            yield base, process
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def moto(env: dict[str, str], logs: Path) -> Iterator[dict[str, str]]:
    """moto's standalone S3 server in a process of its own, with a bucket for the benchmark."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with (logs / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.put(f"{endpoint}/{BUCKET}", timeout=2).raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            yield {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ALLOW_HTTP": "true",
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
            }
        finally:
            process.terminate()
            process.wait(timeout=30)


@asynccontextmanager
async def storage_for(
    backend: str, work: Path, env: dict[str, str]
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """CAIRN_STORAGE for `backend`, and the environment its processes need."""
    if backend == "local":
        yield f"file://{work}/store", env
        shutil.rmtree(work / "store", ignore_errors=True)
        return
    with moto(env, LOGS) as aws:
        os.environ.update(aws)
        yield f"s3://{BUCKET}/bench", {**env, **aws}


def timed(work: object) -> float:
    started = time.perf_counter()
    asyncio.run(work)  # type: ignore[arg-type]
    return time.perf_counter() - started


def cp_seconds(source: Path, target: Path) -> tuple[float, float]:
    """How long `cp -r` takes, and `cp -r` then `sync`, starting with nothing left to write."""
    os.sync()
    started = time.perf_counter()
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    copied = time.perf_counter()
    os.sync()
    return copied - started, time.perf_counter() - started


def make_data(root: Path, large_mib: int, small_files: int, small_kib: int) -> dict[str, Path]:
    large = root / "large"
    large.mkdir()
    with (large / "checkpoint.bin").open("wb") as handle:
        for _ in range(large_mib):
            handle.write(os.urandom(MIB))
    small = root / "small"
    for i in range(small_files):
        folder = small / f"shard-{i // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{i:05d}.bin").write_bytes(os.urandom(small_kib * 1024))
    return {"large": large, "small": small}


async def prepared_database(url: str, storage: str) -> str:
    """Migrates the database, seeds the demo (whose files go to `storage`), returns ada's key."""
    os.environ["CAIRN_STORAGE"] = storage
    async with migrated(url) as conn:
        pass
    from db.pool import create_pool

    pool = await create_pool(url, max_size=2)
    try:
        await seed_demo(pool, blob_store(Settings()))
        async with pool.acquire() as conn:
            return await create_api_key_txn(conn, "ada", organization="acme", key_name="bench")
    finally:
        await pool.close()


def run_backend(
    backend: str,
    data: dict[str, Path],
    work: Path,
    database_url: str,
    key: str,
    storage: str,
    env: dict[str, str],
) -> list[Measured]:
    measured = []
    with serving(database_url, storage, env, LOGS) as (base, process):
        for case, source in data.items():
            files = [p for p in source.rglob("*") if p.is_file()]
            total = sum(p.stat().st_size for p in files)
            copy, durable_copy = cp_seconds(source, work / f"cp-{backend}-{case}")
            # Each step starts with nothing left to write from the one before.
            os.sync()
            name = f"acme/bench/{backend}-{case}"
            with Sampler(process.pid) as sampler:
                push_s = timed(push(base, key, source, name, "dataset", jobs=8, quiet=True))
                os.sync()
                pull_s = timed(
                    pull(base, key, f"{name}:latest", work / f"pulled-{backend}-{case}", quiet=True)
                )
            label = (
                f"1 file of {total // MIB} MiB"
                if case == "large"
                else f"{len(files)} files of {total // len(files) // 1024} KiB"
            )
            result = Measured(
                backend,
                label,
                len(files),
                total,
                copy,
                durable_copy,
                push_s,
                pull_s,
                sampler.samples if case == "large" else [],
            )
            print(result.row(), flush=True)
            measured.append(result)
            for leftover in (work / f"cp-{backend}-{case}", work / f"pulled-{backend}-{case}"):
                shutil.rmtree(leftover)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default=os.environ.get("CAIRN_BENCH_DATABASE_URL", DEFAULT_SERVER)
    )
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--small-files", type=int, default=10_000)
    parser.add_argument("--small-kib", type=int, default=10)
    parser.add_argument("--backends", default="local,s3")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "files.json")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CAIRN_"))}
    LOGS.mkdir(exist_ok=True)
    print(f"server logs in {LOGS}", flush=True)
    results: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="cairn-bench-files-") as scratch:
        work = Path(scratch)
        data = make_data(work, args.large_mib, args.small_files, args.small_kib)
        for backend in args.backends.split(","):

            async def database_and_run(backend: str = backend) -> None:
                async with (
                    benchmark_database(args.database_url, keep=False) as database,
                    storage_for(backend, work, env) as (storage, backend_env),
                ):
                    key = await prepared_database(database.url, storage)
                    results.extend(
                        await asyncio.to_thread(
                            run_backend,
                            backend,
                            data,
                            work,
                            database.url,
                            key,
                            storage,
                            backend_env,
                        )
                    )

            asyncio.run(database_and_run())
    args.results.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(f"results in {args.results}")


if __name__ == "__main__":
    main()
