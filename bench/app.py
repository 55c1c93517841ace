"""The app the benchmark's server process runs:

    CAIRN_BENCH_DATABASE_URL=postgresql://… python -m uvicorn --factory bench.app:make_app

The same `create_app` as `cairn serve`, on the database the benchmark seeded (already migrated).
As `cairn serve` does, the process tunes its garbage collector; CAIRN_BENCH_GC=default keeps
Python's defaults, to measure what the tuning is worth.
"""

from __future__ import annotations

import logging
import os

from starlette.applications import Starlette

from server.app import create_app, tune_garbage_collector
from server.settings import Settings


def make_app() -> Starlette:
    url = os.environ["CAIRN_BENCH_DATABASE_URL"]
    # One key drives the whole load: its rate limit would measure the limit, not the server.
    # Query costs are still computed and reported on every request.
    settings = Settings(
        pool_size=int(os.environ.get("CAIRN_BENCH_POOL_SIZE", "10")), rate_limit_points=0
    )
    # Warnings and errors only, in one process or several (a worker of several sets up Cairn's
    # logging first): a log line per request would be measured too.
    logging.getLogger().setLevel(logging.WARNING)
    app = create_app(settings, database_url=url)
    if os.environ.get("CAIRN_BENCH_GC") != "default":
        tune_garbage_collector()
    return app
