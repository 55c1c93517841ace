"""What the benchmarks report: the machine, Markdown tables, and bench/results.json, which each
benchmark updates under its own keys (`bench.run` the top-level ones, `bench.writes` the key
`writes`, `bench.lineage` the key `lineage`, `bench.runs` the key `runs`), keeping the
others'."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from collections.abc import Callable, Coroutine, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.load import LoadResult
from bench.scenario import Scenario
from bench.statements import StatementCount

RESULTS = Path(__file__).resolve().parent / "results.json"


def machine(postgres_version: str) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "asyncpg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "postgresql": postgres_version,
    }


def server_and_client(pool_size: int) -> dict[str, str]:
    """The `server` and `client` of a report's settings."""
    return {
        "server": f"uvicorn, 1 process (uvloop, httptools), pool size {pool_size}",
        "client": "httpx.AsyncClient, one keep-alive connection per concurrent task, "
        "in the benchmark process on the same machine",
    }


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# A column more in the load table, before `errors`: its heading and its cell of a run.
Column = tuple[str, Callable[[LoadResult], str]]


def load_cells(r: LoadResult) -> list[str]:
    """A load run's columns: concurrency, requests, p50 and p99 ms, req/s, server and
    PostgreSQL CPU ms per request."""
    return [
        str(r.concurrency),
        str(r.requests),
        f"{r.p50_ms:g}",
        f"{r.p99_ms:g}",
        f"{r.requests_per_second:g}",
        _cell(r.server_cpu_ms_per_request),
        _cell(r.postgres_cpu_ms_per_request),
    ]


def load_table(
    results: list[LoadResult],
    counts: dict[str, StatementCount],
    chosen: list[Scenario],
    *,
    extra: Column | None = None,
) -> str:
    """One row per run (scenario and concurrency), then each scenario's description."""
    headings = [
        "scenario",
        "statements/request",
        "concurrency",
        "requests",
        "p50 ms",
        "p99 ms",
        "req/s",
        "server CPU ms/req",
        "PostgreSQL CPU ms/req",
        "server MB, peak / after",
        *([extra[0]] if extra else []),
        "errors",
    ]
    lines = [markdown_row(headings), "|" + "---|" * len(headings)]
    for r in results:
        count = counts.get(r.scenario)
        if count is None and r.scenario.endswith(" processes)"):
            count = counts.get(r.scenario.split(" (")[0])  # this code, from several processes
        cells = [
            r.scenario,
            "—" if count is None else f"{count.statements} (+{count.pool_resets} pool resets)",
            *load_cells(r),
            f"{_cell(r.server_peak_rss_mb)} / {_cell(r.server_rss_after_mb)}",
            *([extra[1](r)] if extra else []),
            str(r.errors),
        ]
        lines.append(markdown_row(cells))
    lines.append("")
    lines.extend(f"- **{s.name}**: {s.description}" for s in chosen)
    return "\n".join(lines)


def update_results(path: Path, updates: dict[str, Any]) -> None:
    """Writes `updates` into the JSON results file, keeping its other keys (the results of the
    other benchmarks)."""
    results: dict[str, Any] = {}
    if path.exists():
        try:
            results = json.loads(path.read_text())
        except ValueError:
            results = {}
    results.update(updates)
    path.write_text(json.dumps(results, indent=2) + "\n")


def run_benchmark(
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    args: argparse.Namespace,
    *,
    title: str,
    dataset: Callable[[dict[str, Any]], str],
    key: str | None = None,
) -> None:
    """Runs a benchmark, prints its report (`title`, the line `dataset` makes of the report's
    dataset, the Markdown table) and writes it into `args.results`: under `key`, else as the
    top-level keys."""
    started = time.perf_counter()
    report = asyncio.run(run(args))
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    m = report["machine"]
    print(
        f"\n## {title} ({m['nproc']} cores, {m['cpu_model']}, "
        f"PostgreSQL {m['postgresql']}, Python {m['python']})\n"
    )
    print(dataset(report["dataset"]) + "\n")
    print(report["markdown"])
    total = f"(total {report['total_seconds']} s)"
    if key is None:
        update_results(args.results, report)
        print(f"\nwrote {args.results} {total}")
    else:
        update_results(args.results, {key: report})
        print(f"\nwrote `{key}` into {args.results} {total}")
