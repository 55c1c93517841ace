"""Process settings, from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".cairn" / "pgdata"


def default_data_dir() -> Path:
    """`CAIRN_DATA_DIR`, else ~/.cairn/pgdata: where the embedded PostgreSQL keeps its data."""
    return Path(os.environ.get("CAIRN_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Requests larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = 1_000_000
    statement_timeout_ms: int = 10_000
    pool_size: int = 10
    # A key shown prefilled in GraphiQL's headers (set by `cairn serve --demo`).
    graphiql_demo_key: str | None = None
