"""Process settings, from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg

from db.blobs import BlobStore, StorageConfigError
from resolvers.files import DEFAULT_MAX_FILE_BYTES, MAX_PART_BYTES, MIN_PART_BYTES, PART_BYTES
from resolvers.throttle import ExecutionBudget, Throttle
from resolvers.webhooks import WebhookPolicy
from server.worker import BlobCollector

DEFAULT_DATA_DIR = Path.home() / ".cairn" / "pgdata"


def default_data_dir() -> Path:
    """`CAIRN_DATA_DIR`, else ~/.cairn/pgdata: where the embedded PostgreSQL keeps its data."""
    return Path(os.environ.get("CAIRN_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # GraphQL requests larger than this are refused with 413 before they are parsed. The largest
    # manifest (10,000 files with paths of up to 1,024 characters) must fit in one logArtifact.
    max_body_bytes: int = field(
        default_factory=lambda: int(os.environ.get("CAIRN_MAX_BODY_BYTES", 12 * 2**20))
    )
    statement_timeout_ms: int = field(
        default_factory=lambda: int(os.environ.get("CAIRN_STATEMENT_TIMEOUT_MS", 10_000))
    )
    pool_size: int = field(default_factory=lambda: int(os.environ.get("CAIRN_POOL_SIZE", 10)))
    # A key shown prefilled in GraphiQL's headers (set by `cairn serve --demo`).
    graphiql_demo_key: str | None = None
    # Whether this process also delivers webhooks (`cairn serve --no-worker` leaves it to
    # separate `cairn worker` processes).
    run_worker: bool = True
    webhook_policy: WebhookPolicy = field(default_factory=lambda: webhook_policy_from_env())
    # Each API key's bucket of query-cost points, and how many points come back each second
    # (see schema/cost.py); a capacity of 0 turns rate limiting off.
    rate_limit_points: float = field(
        default_factory=lambda: float(os.environ.get("CAIRN_RATE_LIMIT_POINTS", 100_000))
    )
    rate_limit_restore: float = field(
        default_factory=lambda: float(os.environ.get("CAIRN_RATE_LIMIT_RESTORE", 10_000))
    )
    # Query-cost points of the operations running at once in one process, all callers together
    # (see resolvers/throttle.py); 0 turns the limit off. About two 2,000-version trees.
    executing_cost: int = field(
        default_factory=lambda: int(os.environ.get("CAIRN_EXECUTING_COST", 10_000))
    )

    # Where file bytes are kept (see db.blobs.BlobStore.from_setting); empty for the local
    # default beside the data directory.
    storage: str = field(default_factory=lambda: os.environ.get("CAIRN_STORAGE", ""))
    # The address clients reach this server at, for the transfer URLs it hands out; empty to
    # take it from each request (its Host header, or the X-Forwarded ones from a proxy).
    public_url: str = field(default_factory=lambda: os.environ.get("CAIRN_PUBLIC_URL", ""))
    # How long upload and download URLs work.
    transfer_url_seconds: int = field(
        default_factory=lambda: int(os.environ.get("CAIRN_TRANSFER_URL_SECONDS", 3600))
    )
    max_file_bytes: int = field(
        default_factory=lambda: int(os.environ.get("CAIRN_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES))
    )
    # Files larger than this go up in parts of this size.
    part_bytes: int = field(
        default_factory=lambda: int(os.environ.get("CAIRN_UPLOAD_PART_BYTES", PART_BYTES))
    )

    # Unreferenced bytes are deleted once unreferenced this long, checked this often.
    gc_grace_seconds: float = field(
        default_factory=lambda: float(os.environ.get("CAIRN_GC_GRACE_SECONDS", 86_400))
    )
    gc_interval_seconds: float = field(
        default_factory=lambda: float(os.environ.get("CAIRN_GC_INTERVAL_SECONDS", 3600))
    )

    def throttle(self) -> Throttle | None:
        if self.rate_limit_points <= 0:
            return None
        return Throttle(self.rate_limit_points, self.rate_limit_restore)

    def execution_budget(self) -> ExecutionBudget | None:
        return None if self.executing_cost <= 0 else ExecutionBudget(self.executing_cost)


def blob_store(settings: Settings) -> BlobStore:
    if not MIN_PART_BYTES <= settings.part_bytes <= MAX_PART_BYTES:
        raise StorageConfigError(
            f"CAIRN_UPLOAD_PART_BYTES={settings.part_bytes} is out of range: parts hold from "
            f"{MIN_PART_BYTES} to {MAX_PART_BYTES} bytes"
        )
    return BlobStore.from_setting(settings.storage, default_data_dir())


def blob_collector(settings: Settings, pool: asyncpg.Pool) -> BlobCollector:
    return BlobCollector(
        pool,
        blob_store(settings),
        timedelta(seconds=settings.gc_grace_seconds),
        settings.gc_interval_seconds,
    )


def webhook_policy_from_env() -> WebhookPolicy:
    """CAIRN_WEBHOOK_ALLOWED_NETWORKS (CIDRs, comma-separated; e.g. 127.0.0.0/8 for a receiver
    on this machine), CAIRN_WEBHOOK_MAX_ATTEMPTS, CAIRN_WEBHOOK_RETRY_BASE_SECONDS and
    CAIRN_WEBHOOK_TIMEOUT_SECONDS."""
    defaults = WebhookPolicy()
    return WebhookPolicy(
        allowed_networks=WebhookPolicy.parse_networks(
            os.environ.get("CAIRN_WEBHOOK_ALLOWED_NETWORKS", "")
        ),
        max_attempts=int(os.environ.get("CAIRN_WEBHOOK_MAX_ATTEMPTS", defaults.max_attempts)),
        retry_base_seconds=float(
            os.environ.get("CAIRN_WEBHOOK_RETRY_BASE_SECONDS", defaults.retry_base_seconds)
        ),
        timeout_seconds=float(
            os.environ.get("CAIRN_WEBHOOK_TIMEOUT_SECONDS", defaults.timeout_seconds)
        ),
    )
