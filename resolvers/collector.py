"""The blob collector: deletes bytes that no file refers to any more, once they have been
unreferenced for a grace period, and what uploads left behind (bytes staged by a server killed
mid-upload, bytes moved into place whose row never committed).

Nothing referenced is ever deleted: a blob's row is locked and deleted before its bytes, in one
transaction, re-checking that no file refers to it; a logging transaction holds the rows it
refers to, and an upload confirming the same bytes waits on the row lock until the bytes are
gone, then stores them again."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from db import blobs, versions
from db.blobs import PARTS_PREFIX, STAGING_PREFIX, BlobStore
from resolvers import runs, uploads
from resolvers.history import AuditTarget, audit_txn

logger = logging.getLogger("cairn.collector")

BATCH = 500
# Staged bytes are an upload in progress while they are being written; untouched this long,
# they belong to an upload that died (whatever the grace period for unreferenced blobs).
STAGED_IDLE = timedelta(hours=1)
_BLOB_PREFIX = "sha256/"


@dataclass(slots=True)
class Collected:
    """What a pass deleted (or, dry, would delete)."""

    expired: int = 0
    blobs: int = 0
    bytes: int = 0
    staged: int = 0
    strays: int = 0
    abandoned: int = 0
    crashed: int = 0
    kept_after_errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.blobs} unreferenced blobs ({self.bytes} bytes), {self.staged} staged "
            f"uploads left behind, {self.strays} stored objects with no record, the files "
            f"of {self.expired} contents past their time to live, and {self.abandoned} artifact "
            f"uploads never committed; marked {self.crashed} silent runs CRASHED"
        )


async def collect(
    pool: asyncpg.Pool,
    store: BlobStore,
    grace: timedelta,
    *,
    dry_run: bool = False,
    staged_idle: timedelta = STAGED_IDLE,
) -> Collected:
    """One pass: runs the SDK stopped hearing from end as CRASHED, artifact uploads never
    committed are forgotten, contents at the end of their time to live let their files go
    (their bytes then count as unreferenced once their grace period has passed too), then the
    blobs and the store."""
    result = Collected()
    if not dry_run:
        # Before the blobs: a forgotten upload's manifest is then unreferenced like any other.
        result.crashed = len(await runs.mark_crashed(pool))
        result.abandoned = await uploads.forget_abandoned(pool)
    await _expire(pool, result, dry_run)
    if dry_run:
        for row in await blobs.unreferenced_blobs(pool, grace, 2**31 - 1):
            result.blobs += 1
            result.bytes += row.size
    else:
        await _unreferenced(pool, store, grace, result)
    now = datetime.now(UTC)
    staged = await _idle_staged(store, now - staged_idle)
    result.staged = len(staged)
    if not dry_run:
        for key in staged:
            await store.delete_key(key)
    await _strays(pool, store, now - grace, result, dry_run)
    return result


async def _expire(pool: asyncpg.Pool, result: Collected, dry_run: bool) -> None:
    if dry_run:
        result.expired = len(await versions.expired_contents(pool, 2**31 - 1))
        return
    while True:
        async with pool.acquire() as conn, conn.transaction():
            expired = await versions.expire_contents_txn(conn, BATCH)
            for version in expired.registry_versions:
                await audit_txn(conn, None, "EXPIRE_ARTIFACT_FILES", AuditTarget.version(version))
        result.expired += len(expired.contents)
        if expired.candidates < BATCH:
            return


async def _idle_staged(store: BlobStore, idle_since: datetime) -> list[str]:
    """Staged keys untouched since `idle_since`. The parts of one file go together, when the
    last of them was written before then: a large file may take longer than that to send."""
    lone: list[str] = []
    uploads: dict[str, list[str]] = defaultdict(list)
    last_written: dict[str, datetime] = {}
    async for key, written in store.listed(STAGING_PREFIX):
        if key.startswith(PARTS_PREFIX):
            upload = key.removeprefix(PARTS_PREFIX).split("/", 1)[0]
            uploads[upload].append(key)
            last_written[upload] = max(written, last_written.get(upload, written))
        elif written < idle_since:
            lone.append(key)
    return lone + [
        key for upload, keys in uploads.items() if last_written[upload] < idle_since for key in keys
    ]


async def _unreferenced(
    pool: asyncpg.Pool, store: BlobStore, grace: timedelta, result: Collected
) -> None:
    while True:
        async with pool.acquire() as conn, conn.transaction():
            locked = await blobs.unreferenced_blobs(conn, grace, BATCH, lock=True)
            deleted = await blobs.delete_unreferenced_txn(conn, [r.sha256 for r in locked])
            failed = []
            for row in deleted:
                try:
                    await store.delete(row.sha256)
                except Exception as error:
                    logger.warning("collector: cannot delete blob %s: %s", row.sha256, error)
                    failed.append(row)
            # Bytes that could not be deleted stay recorded, to be tried again next pass.
            if failed:
                await blobs.restore_blobs_txn(conn, failed)
        result.blobs += len(deleted) - len(failed)
        result.bytes += sum(r.size for r in deleted) - sum(r.size for r in failed)
        result.kept_after_errors.extend(r.sha256 for r in failed)
        if len(locked) < BATCH:
            return


async def _strays(
    pool: asyncpg.Pool, store: BlobStore, cutoff: datetime, result: Collected, dry_run: bool
) -> None:
    """Stored objects under a digest with no row, written before the cutoff."""
    batch: list[str] = []
    async for key, written in store.listed(_BLOB_PREFIX):
        if written < cutoff:
            batch.append(key.rsplit("/", 1)[-1])
        if len(batch) == BATCH:
            await _stray_batch(pool, store, batch, result, dry_run)
            batch = []
    if batch:
        await _stray_batch(pool, store, batch, result, dry_run)


async def _stray_batch(
    pool: asyncpg.Pool, store: BlobStore, sha256s: list[str], result: Collected, dry_run: bool
) -> None:
    if dry_run:
        result.strays += len(set(sha256s) - await blobs.recorded(pool, sha256s))
        return
    async with pool.acquire() as conn, conn.transaction():
        claimed = await blobs.claim_strays_txn(conn, sha256s)
        for sha256 in claimed:
            await store.delete(sha256)
        await blobs.release_strays_txn(conn, claimed)
    result.strays += len(claimed)
