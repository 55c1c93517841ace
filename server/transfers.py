"""The transfer routes: bytes in and out of the blob store on signed URLs, beside GraphQL.

`PUT /files/upload/{sha256}` takes a file's bytes, exactly as many as its URL grants, and keeps
them only when their digest matches; a large file comes in parts (`PUT /files/parts/…`), put
together and checked by `POST /files/complete/{sha256}`. `GET /files/{sha256}/{name}` serves
them, with ranges, length, type and an ETag that is the digest itself. None needs an auth
header: the signature in the URL is the grant, made by a GraphQL field that checked the
caller's role."""

from __future__ import annotations

import contextlib
import errno
import logging
import mimetypes
import re
import tarfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

import orjson
from obstore.exceptions import NotFoundError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from db import blobs
from db.blobs import CHUNK_BYTES, BlobMismatch, BlobTooLarge, Digests, Staged
from db.parts import PartBusy, UploadClosed
from db.records import ArtifactFile
from resolvers.files import (
    MANIFEST,
    WANDB_MANIFEST,
    PartsMissing,
    TransferRefused,
    Transfers,
    batch_grant,
    complete_grant,
    complete_parts,
    complete_upload,
    content_grant,
    download_grant,
    keep_verified,
    md5_in_base64,
    part_grant,
    parts_key,
    receive_run_file,
    receive_upload,
    run_file_grant,
    upload_grant,
)
from resolvers.uploads import manifest_grant, md5_grant, receive_by_md5, receive_manifest
from server.metrics import TRANSFERS

logger = logging.getLogger("cairn.transfers")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_MD5 = re.compile(r"[0-9a-f]{32}")
# A full disk, a quota reached, a file-size limit: the store has no room for these bytes.
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def refusal(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def routes(transfers: Callable[[], Transfers]) -> list[Route]:
    def answering(
        handler: Callable[[Transfers, Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        route = handler.__name__.lstrip("_")

        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(transfers(), request)
            except TransferRefused as refused:
                response = refusal(refused.status, refused.message)
            TRANSFERS.labels(route, str(response.status_code)).inc()
            return response

        return endpoint

    upload, part, download, batch, content, complete = map(
        answering, (_upload, _part, _download, _batch, _content, _complete)
    )
    run_file, wandb_upload, wandb_manifest = map(
        answering, (_run_file, _wandb_upload, _wandb_manifest)
    )
    return [
        Route("/files/runs/{run_id:int}/{name:path}", run_file, methods=["PUT"]),
        Route("/files/wandb-uploads/{md5}/{name}", wandb_upload, methods=["PUT"]),
        Route("/files/wandb-manifests/{upload_id:int}", wandb_manifest, methods=["PUT"]),
        Route("/files/upload/{sha256}", upload, methods=["PUT"]),
        Route("/files/parts/{upload_id}/{number:int}", part, methods=["PUT"]),
        Route("/files/batch", batch, methods=["PUT"]),
        Route("/files/complete/{sha256}", complete, methods=["POST"]),
        Route("/files/contents/{content_id:int}/{name}", content, methods=["GET", "HEAD"]),
        Route("/files/{sha256}/{name}", download, methods=["GET", "HEAD"]),
    ]


def _organization(request: Request) -> int:
    """The organization an upload URL was granted for (its signature covers it)."""
    text = request.query_params.get("org", "")
    if not text.isdigit():
        raise TransferRefused(403, "this upload URL has no valid `org`; ask for a new one")
    return int(text)


def _sha256(request: Request) -> str:
    sha256: str = request.path_params["sha256"]
    if _SHA256.fullmatch(sha256) is None:
        raise TransferRefused(404, "no such file: the URL does not name a SHA-256")
    return sha256


def _size(request: Request) -> int:
    """The exact size an upload URL grants."""
    size_text = request.query_params.get("size", "")
    if not size_text.isdigit():
        raise TransferRefused(403, "this upload URL has no valid `size`; ask for a new one")
    return int(size_text)


def _require_length(request: Request, size: int) -> None:
    """Refuses a request that says it holds other than the `size` bytes its URL takes."""
    length = request.headers.get("content-length")
    if length is not None and length != str(size):
        raise TransferRefused(
            400, f"this URL takes exactly {size} bytes; the request says {length[:40]}"
        )


@contextlib.asynccontextmanager
async def _receiving(transfers: Transfers) -> AsyncIterator[None]:
    """Turns what can go wrong while bytes arrive into a refusal naming it."""
    try:
        yield
    except TransferRefused:
        raise
    except BlobTooLarge as error:
        raise TransferRefused(413, f"{error}; nothing was kept") from None
    except BlobMismatch as error:
        raise TransferRefused(400, f"{error}; nothing was kept") from None
    except ClientDisconnect:
        raise TransferRefused(400, "the upload was cut off; nothing was kept") from None
    except OSError as error:
        if error.errno in NO_ROOM:
            raise TransferRefused(
                507, "the blob store has no room for these bytes; nothing was kept"
            ) from None
        raise _store_unavailable(transfers, error) from None
    except Exception as error:
        raise _store_unavailable(transfers, error) from None


async def _upload(transfers: Transfers, request: Request) -> Response:
    sha256, size = _sha256(request), _size(request)
    await transfers.check(
        upload_grant(sha256, size, organization := _organization(request)),
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    _require_length(request, size)
    async with _receiving(transfers):
        received = await receive_upload(transfers, sha256, size, request.stream(), organization)
    body = {"sha256": received.sha256, "md5": received.md5, "size": received.size}
    return JSONResponse(body, status_code=201)


# The wandb SDK's uploads: no digest is declared up front (or only an MD5), so the bytes are
# hashed as they arrive, up to the largest file this server takes.


async def _run_file(transfers: Transfers, request: Request) -> Response:
    """A run's file (its config, requirements, console output), kept under its name."""
    run_id, name = request.path_params["run_id"], request.path_params["name"]
    organization = _organization(request)
    await _check(transfers, request, run_file_grant(run_id, name, organization))
    async with _receiving(transfers):
        received = await receive_run_file(transfers, run_id, name, organization, request.stream())
    return _received(received)


async def _wandb_upload(transfers: Transfers, request: Request) -> Response:
    """An artifact file, kept when its MD5 is the one its URL names."""
    md5 = request.path_params["md5"]
    if _MD5.fullmatch(md5) is None:
        raise TransferRefused(404, "no such upload: the URL does not name an MD5")
    organization = _organization(request)
    await _check(transfers, request, md5_grant(md5, organization))
    async with _receiving(transfers):
        received = await receive_by_md5(transfers, md5, organization, request.stream())
    return _received(received)


async def _wandb_manifest(transfers: Transfers, request: Request) -> Response:
    """A pending artifact's manifest."""
    upload_id = request.path_params["upload_id"]
    await _check(transfers, request, manifest_grant(upload_id))
    async with _receiving(transfers):
        kept = await receive_manifest(transfers, upload_id, request.stream())
    if not kept:
        raise TransferRefused(404, "this artifact is no longer being logged; nothing was kept")
    return Response(status_code=201)


async def _check(transfers: Transfers, request: Request, grant: Sequence[str]) -> None:
    await transfers.check(
        grant, request.query_params.get("expires", ""), request.query_params.get("signature", "")
    )


def _received(received: Digests) -> Response:
    body = {"sha256": received.sha256, "md5": received.md5, "size": received.size}
    return JSONResponse(body, status_code=201)


async def _part(transfers: Transfers, request: Request) -> Response:
    """One part of a file sent in parts, kept whole or not at all."""
    upload_id: str = request.path_params["upload_id"]
    number: int = request.path_params["number"]
    if _UPLOAD_ID.fullmatch(upload_id) is None or transfers.store.folder is None:
        # An object store takes its parts itself, on the URLs prepareArtifactFiles gives.
        raise TransferRefused(404, "no such upload: the URL does not name one")
    size, offset_text = _size(request), request.query_params.get("offset", "")
    if not offset_text.isdigit():
        raise TransferRefused(403, "this upload URL has no valid `offset`; ask for a new one")
    offset = int(offset_text)
    await transfers.check(
        part_grant(upload_id, number, offset, size, _organization(request)),
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    _require_length(request, size)
    async with _receiving(transfers):
        try:
            await transfers.store.put_part(
                upload_id, number, request.stream(), offset=offset, size=size
            )
        except (UploadClosed, PartBusy) as error:
            raise TransferRefused(409, f"{error}; nothing was written") from None
    return JSONResponse({"part": number, "size": size}, status_code=201)


# Members of a batch are kept this many at a time: one transaction records them all.
BATCH_KEEP = 256


async def _batch(transfers: Transfers, request: Request) -> Response:
    """Many files in one request: a tar archive whose members are named by their SHA-256. Each
    member is checked as it arrives; members checked so far are kept even if a later one is
    refused."""
    budget_text = request.query_params.get("bytes", "")
    if not budget_text.isdigit():
        raise TransferRefused(403, "this upload URL has no valid `bytes`; ask for a new one")
    budget = int(budget_text)
    await transfers.check(
        batch_grant(budget, organization := _organization(request)),
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    body = _Body(request.stream())
    verified: list[Staged] = []
    received = total = 0
    try:
        while (block := await body.exactly(512, "a member's header")) != _ZERO_BLOCK:
            info = _member(block, received)
            total += info.size
            if total > budget:
                raise TransferRefused(
                    413, f"the members hold more than the {budget} bytes this URL takes"
                )
            verified.append(await _batch_member(transfers, body, info))
            received += 1
            if len(verified) == BATCH_KEEP:
                await keep_verified(transfers, verified, organization)
                verified = []
        if verified:
            await keep_verified(transfers, verified, organization)
            verified = []
    except TransferRefused:
        raise
    except ClientDisconnect:
        raise TransferRefused(400, f"the upload was cut off after {received} files") from None
    except OSError as error:
        if error.errno in NO_ROOM:
            raise TransferRefused(507, "the blob store has no room for these bytes") from None
        raise _store_unavailable(transfers, error) from None
    except Exception as error:
        raise _store_unavailable(transfers, error) from None
    finally:
        # Members checked before a refusal are kept: a retry need not send them again.
        if verified:
            await _keep_if_possible(transfers, verified, organization)
    return JSONResponse({"stored": received}, status_code=201)


async def _keep_if_possible(
    transfers: Transfers, staged: list[Staged], organization_id: int
) -> None:
    try:
        await keep_verified(transfers, staged, organization_id)
    except Exception as error:
        logger.warning("could not keep %d checked files: %s", len(staged), error)
        for each in staged:
            with contextlib.suppress(Exception):
                await transfers.store.discard(each)


async def _batch_member(transfers: Transfers, body: _Body, info: tarfile.TarInfo) -> Staged:
    """One member of a batch, staged and checked against its name; nothing kept otherwise."""
    if info.size <= CHUNK_BYTES:
        staged = transfers.store.stage_bytes(await body.exactly(info.size, f"member {info.name}"))
    else:
        staged = await transfers.store.stage(body.chunks(info.size), limit=info.size)
    try:
        staged.check(info.name, info.size)
        await body.exactly(-info.size % 512, "padding")
    except BlobMismatch as error:
        await transfers.store.discard(staged)
        raise TransferRefused(400, f"member {info.name}: {error}") from None
    except BaseException:
        await transfers.store.discard(staged)
        raise
    return staged


_ZERO_BLOCK = bytes(512)


def _member(block: bytes, position: int) -> tarfile.TarInfo:
    try:
        info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
    except tarfile.HeaderError as error:
        raise TransferRefused(400, f"member {position}: not a tar header ({error})") from None
    if not info.isreg():
        raise TransferRefused(400, f"member {info.name!r} is not a regular file")
    if _SHA256.fullmatch(info.name) is None:
        raise TransferRefused(
            400, f"member {info.name[:80]!r}: members are named by their SHA-256 in hex"
        )
    return info


class _Body:
    """A request body read in exact amounts."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def exactly(self, size: int, what: str) -> bytes:
        while len(self._buffer) < size:
            try:
                self._buffer += await anext(self._stream)
            except StopAsyncIteration:
                raise TransferRefused(400, f"the archive ends inside {what}") from None
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        left = size
        while left:
            chunk = await self.exactly(min(left, CHUNK_BYTES), "a member")
            left -= len(chunk)
            yield chunk


async def _complete(transfers: Transfers, request: Request) -> Response:
    """After a PUT straight to the object store: the bytes read back, checked and kept."""
    sha256 = _sha256(request)
    size_text, key = request.query_params.get("size", ""), request.query_params.get("key", "")
    part_text = request.query_params.get("parts", "")
    if not size_text.isdigit() or (part_text and not part_text.isdigit()):
        raise TransferRefused(403, "this URL has no valid `size`; ask for a new one")
    size, part_bytes = int(size_text), int(part_text or 0)
    await transfers.check(
        complete_grant(
            sha256,
            size,
            parts_key(part_bytes) if part_bytes else key,
            organization := _organization(request),
        ),
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    async with _receiving(transfers):
        try:
            if part_bytes:
                received = await complete_parts(transfers, sha256, size, part_bytes, organization)
            else:
                received = await complete_upload(transfers, sha256, size, key, organization)
        except PartsMissing as error:
            raise TransferRefused(409, str(error)) from None
        except (NotFoundError, FileNotFoundError):
            raise TransferRefused(
                409,
                "a part went missing while the file was put together; prepare it again"
                if part_bytes
                else "nothing was uploaded to this file's upload URL yet; PUT the bytes there "
                "first",
            ) from None
    body = {"sha256": received.sha256, "md5": received.md5, "size": received.size}
    return JSONResponse(body, status_code=201)


def _store_unavailable(transfers: Transfers, error: Exception) -> TransferRefused:
    # With the traceback: a fault here may be the store's or a bug of ours.
    logger.warning("blob store %s failed: %s", transfers.store.description, error, exc_info=error)
    return TransferRefused(503, "the blob store is unavailable; try again later")


async def _download(transfers: Transfers, request: Request) -> Response:
    sha256 = _sha256(request)
    name: str = request.path_params["name"]
    await transfers.check(
        download_grant(sha256, name),
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    stored = (await blobs.stored_blobs(transfers.pool, [sha256])).get(sha256)
    if stored is None:
        raise TransferRefused(404, "these bytes are no longer stored")
    etag = f'"{sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        # The bytes under a digest never change.
        "Cache-Control": "private, max-age=31536000, immutable",
    }
    if etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    start, end, status = 0, stored.size, 200
    wanted = request.headers.get("range")
    # Several ranges at once are answered with the whole file, as HTTP allows.
    if (
        wanted is not None
        and "," not in wanted
        and _if_range_holds(request.headers.get("if-range"), etag)
    ):
        span = _range(wanted, stored.size)
        if span is None:
            headers["Content-Range"] = f"bytes */{stored.size}"
            message = f"the range {wanted[:80]!r} is not within the {stored.size} bytes"
            return refusal(416, message, headers)
        start, end, status = span[0], span[1], 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD" or start == end:
        return Response(status_code=status, headers=headers)
    try:
        chunks = await transfers.store.read(sha256, start, None if end == stored.size else end)
    except (NotFoundError, FileNotFoundError):
        logger.error("blob %s is recorded as stored but missing from the store", sha256)
        raise TransferRefused(404, "these bytes are no longer stored") from None
    except Exception as error:
        raise _store_unavailable(transfers, error) from None
    return StreamingResponse(chunks, status_code=status, headers=headers)


def _etags(header: str | None) -> list[str]:
    if header is None:
        return []
    return [tag.strip().removeprefix("W/") for tag in header.split(",")]


def _if_range_holds(header: str | None, etag: str) -> bool:
    """A range applies unless If-Range names other bytes than these."""
    return header is None or header.strip() == etag


def _range(header: str, size: int) -> tuple[int, int] | None:
    """The byte range a Range header asks for, as [start, end); None when it cannot be
    served."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match[1], match[2]
    if first == "":
        if last == "" or int(last) == 0:
            return None
        return max(size - int(last), 0), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        return None
    return start, end


async def _content(transfers: Transfers, request: Request) -> Response:
    """A whole version: a tar archive of its files, or its manifest as JSON."""
    content_id: int = request.path_params["content_id"]
    name: str = request.path_params["name"]
    await transfers.check(
        content_grant(content_id, name),
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
    )
    found = await blobs.content_files(transfers.pool, content_id)
    if not found:
        raise TransferRefused(404, "this version no longer exists")
    disposition = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    if name.endswith(f".{WANDB_MANIFEST}"):
        return Response(
            orjson.dumps(wandb_manifest(found)), media_type="application/json", headers=disposition
        )
    if name.endswith(f".{MANIFEST}"):
        manifest = {
            "files": [
                {"path": f.path, "size": f.size, "sha256": f.sha256, "md5": f.md5} for f in found
            ]
        }
        return Response(orjson.dumps(manifest), media_type="application/json", headers=disposition)
    missing = [f.path for f in found if f.sha256 is None]
    if missing:
        raise TransferRefused(409, f"{len(missing)} files were logged without their bytes")
    tar_headers = [_tar_header(f.path, f.size) for f in found]
    length = TAR_END_BYTES + sum(
        len(h) + f.size + _tar_padding(f.size) for h, f in zip(tar_headers, found, strict=True)
    )
    headers = {"Content-Length": str(length), "Content-Type": "application/x-tar", **disposition}
    if request.method == "HEAD":
        return Response(headers=headers)
    return StreamingResponse(_tar(transfers, found, tar_headers), headers=headers)


def wandb_manifest(found: Sequence[ArtifactFile]) -> dict[str, Any]:
    """The manifest as the wandb SDK reads it: each path's MD5 in base64 and its size, and a
    reference's URI with the digest the SDK gave it."""
    return {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": {f.path: _wandb_entry(f) for f in found},
    }


def _wandb_entry(file: ArtifactFile) -> dict[str, Any]:
    if file.ref is not None:
        return {"digest": file.digest, "ref": file.ref, "size": file.size}
    digest = file.digest if file.md5 is None else md5_in_base64(file.md5)
    return {"digest": digest, "size": file.size}


# A tar archive ends with two empty 512-byte blocks.
TAR_END_BYTES = 1024


def _tar_header(path: str, size: int) -> bytes:
    info = tarfile.TarInfo(path)
    info.size = size
    info.mode = 0o644
    # PAX headers carry long paths and sizes beyond what the old format holds.
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8")


def _tar_padding(size: int) -> int:
    return -size % 512


async def _tar(
    transfers: Transfers, files: list[ArtifactFile], headers: list[bytes]
) -> AsyncIterator[bytes]:
    """Streams the archive a file at a time, never holding more than a chunk of one."""
    for entry, header in zip(files, headers, strict=True):
        yield header
        assert entry.sha256 is not None
        async for chunk in await transfers.store.read(entry.sha256):
            yield chunk
        if padding := _tar_padding(entry.size):
            yield b"\0" * padding
    yield b"\0" * TAR_END_BYTES
