"""Driving the server: keep-alive clients sending a scenario's requests back to back, for a
fixed time, measuring latency, throughput and the CPU the server and PostgreSQL spend."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from bench.database import BenchDatabase
from bench.scenario import Scenario, failed, headers
from bench.server import Server


@dataclass(slots=True)
class LoadResult:
    scenario: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests_per_second: float
    server_cpu_ms_per_request: float | None
    postgres_cpu_ms_per_request: float | None
    client_cpu_ms_per_request: float
    response_bytes: int
    # The server's largest resident memory seen in the window (sampled every 0.25 s), and its
    # resident memory once the last request has been answered (its processes' sum, for several).
    server_peak_rss_mb: float | None = None
    server_rss_after_mb: float | None = None


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# --- CPU --------------------------------------------------------------------------------------


def _with_children(pid: int) -> list[psutil.Process]:
    """A process and its children (the worker processes of a server of several)."""
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def resident_mb(pid: int) -> float | None:
    """The resident memory in MiB of a process and its children, or None once it is gone."""
    try:
        return sum(p.memory_info().rss for p in _with_children(pid)) / 2**20
    except psutil.Error:
        return None


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time so far of a server process and its worker processes."""
    try:
        return sum(sum(p.cpu_times()[:2]) for p in _with_children(pid))
    except psutil.Error:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, from /proc (None where it cannot be read)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def postgres_backends(conn: asyncpg.Connection, database: str) -> list[int]:
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'cairn'",
        database,
    )
    return [row["pid"] for row in rows]


def cpu_of(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            found[pid] = seconds
    return found


# --- load -------------------------------------------------------------------------------------


async def drive(
    server: Server,
    database: BenchDatabase,
    scenario: Scenario,
    key: str,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
) -> LoadResult:
    """`concurrency` tasks, each with its own keep-alive connection, send requests back to back.
    After `warmup` seconds, a window of `duration` seconds is measured: the requests that finish
    in it (their latency, their count per second) and the CPU spent in it."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    response_bytes = 0
    async with httpx.AsyncClient(
        base_url=server.base_url,
        limits=limits,
        timeout=120.0,
        headers=headers(scenario.key or key),
    ) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + duration
        marks: dict[str, dict[str, Any]] = {}
        # Each PostgreSQL backend of the server: its CPU seconds when the window began (0 for
        # one opened in it) and when last seen.
        backend_cpu: dict[int, tuple[float, float]] = {}
        peak_rss = [0.0]

        async def measure() -> None:
            """CPU marks at both ends of the window. The server's PostgreSQL backends are
            sampled every 0.25 s in between, so that one the pool opens or closes in the window
            (asyncpg replaces a connection after 50,000 queries) counts too, all but its last
            0.25 s at most."""
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            marks["start"] = {
                "server": server_cpu_seconds(server.process.pid),
                "client": time.process_time(),
            }
            first = True
            while True:
                last = time.perf_counter() >= stop_at
                rss = resident_mb(server.process.pid)
                if rss is not None:
                    peak_rss[0] = max(peak_rss[0], rss)
                backends = await postgres_backends(database.admin, database.name)
                for pid, seconds in cpu_of(backends).items():
                    baseline = backend_cpu[pid][0] if pid in backend_cpu else 0.0
                    if first:
                        baseline = seconds
                    backend_cpu[pid] = (baseline, seconds)
                first = False
                if last:
                    break
                await asyncio.sleep(min(0.25, max(0.0, stop_at - time.perf_counter())))
            marks["stop"] = {
                "server": server_cpu_seconds(server.process.pid),
                "client": time.process_time(),
            }

        async def worker(seed: int) -> None:
            nonlocal errors, response_bytes
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                response = await scenario.send(client, rng)
                done = time.perf_counter()
                if not measure_from <= done < stop_at:
                    continue
                latencies.append(done - sent)
                response_bytes = len(response.content)
                if failed(response.status_code, response.content):
                    errors += 1

        await asyncio.gather(measure(), *(worker(i) for i in range(concurrency)))
        rss_after = resident_mb(server.process.pid)
    count = max(len(latencies), 1)
    latencies.sort()
    begin, end = marks["start"], marks["stop"]
    server_cpu = (
        None
        if begin["server"] is None or end["server"] is None
        else (end["server"] - begin["server"]) / count * 1000
    )
    postgres_cpu = (
        None
        if not backend_cpu
        else sum(latest - baseline for baseline, latest in backend_cpu.values()) / count * 1000
    )
    return LoadResult(
        scenario=scenario.name,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        seconds=duration,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p90_ms=round(percentile(latencies, 0.90) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        max_ms=round(latencies[-1] * 1000, 2) if latencies else float("nan"),
        requests_per_second=round(len(latencies) / duration, 1),
        server_cpu_ms_per_request=None if server_cpu is None else round(server_cpu, 2),
        postgres_cpu_ms_per_request=None if postgres_cpu is None else round(postgres_cpu, 2),
        client_cpu_ms_per_request=round((end["client"] - begin["client"]) / count * 1000, 2),
        response_bytes=response_bytes,
        server_peak_rss_mb=round(peak_rss[0], 1) if peak_rss[0] else None,
        server_rss_after_mb=None if rss_after is None else round(rss_after, 1),
    )


def progress(result: LoadResult, *also: str) -> str:
    """One run in a line, as it is printed when done (`also`: more measurements, before the
    errors)."""
    return ", ".join(
        [
            f"{result.scenario} c={result.concurrency}: {result.requests} requests",
            f"p50 {result.p50_ms} ms",
            f"p99 {result.p99_ms} ms",
            f"{result.requests_per_second} req/s",
            *also,
            f"errors {result.errors}",
        ]
    )


async def drive_each(
    server: Server,
    database: BenchDatabase,
    scenario: Scenario,
    key: str,
    concurrencies: list[int],
    *,
    duration: float,
    warmup: float,
) -> list[LoadResult]:
    """`drive` at each concurrency in turn, printing each run's line."""
    results: list[LoadResult] = []
    for concurrency in concurrencies:
        result = await drive(
            server,
            database,
            scenario,
            key,
            concurrency=concurrency,
            duration=duration,
            warmup=warmup,
        )
        print(progress(result), flush=True)
        results.append(result)
    return results


def warn_of_failures(results: list[LoadResult], server: Server) -> None:
    if any(r.errors for r in results):
        print(f"\nsome requests failed; server log: {server.log_path}")
