"""`cairn push` and `cairn pull`: files between a folder and a Cairn server, in parallel, with
progress, digests checked on both ends, and nothing sent or fetched twice when a run is retried.

Push hashes the folder, asks the server which bytes it lacks (prepareArtifactFiles), sends only
those to the signed URLs it gets, then logs the version and links it if asked. Pull pages through
the version's files and fetches each to `name.part`, resuming from what is there, then checks
its SHA-256 before moving it into place."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
import json
import os
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
from tqdm import tqdm

CHUNK_BYTES = 1 << 20
ATTEMPTS = 4
# Files up to this size travel many to a request, when there are at least BATCH_MIN of them.
SMALL_BYTES = 1 << 20
BATCH_MIN = 16

PROJECT = """query($o: String!, $p: String!) {
  organization(name: $o) { project(name: $p) { id } } }"""
CREATE_PROJECT = """mutation($input: CreateProjectInput!) { createProject(input: $input) {
  project { id } errors { code message } } }"""
PREPARE = """mutation($input: PrepareArtifactFilesInput!) { prepareArtifactFiles(input: $input) {
  uploads { path digest size stored uploadUrl completeUrl
    parts { number offset size stored uploadUrl } }
  batchUploadUrl
  errors { code message } } }"""
LOG = """mutation($input: LogArtifactInput!) { logArtifact(input: $input) {
  artifactVersion { id path } errors { code message } } }"""
LINK = """mutation($input: LinkArtifactInput!) { linkArtifact(input: $input) {
  artifactVersion { path aliases } errors { code message } } }"""
FILES = """query($path: String!, $after: String) { artifactVersion(path: $path) { path archiveUrl
  files(first: 100, after: $after) { pageInfo { hasNextPage endCursor }
    nodes { path size digest downloadUrl } } } }"""


class ClientError(Exception):
    """A failure the user can act on, in words."""


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: str  # inside the artifact, with `/`
    source: Path
    size: int
    digest: str


class Api:
    """GraphQL calls with the key, turning every kind of failure into a ClientError."""

    def __init__(self, http: httpx.AsyncClient, url: str, key: str) -> None:
        self.http = http
        self.endpoint = f"{url.rstrip('/')}/graphql"
        self.headers = {"Authorization": f"Bearer {key}"}

    async def call(self, query: str, **variables: Any) -> dict[str, Any]:
        try:
            response = await self.http.post(
                self.endpoint,
                json={"query": query, "variables": variables},
                headers={**self.headers, "Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise ClientError(f"cannot reach Cairn at {self.endpoint}: {error}") from None
        if response.status_code == 401:
            raise ClientError("the API key was refused (unknown or revoked)")
        try:
            body = response.json()
        except ValueError:
            raise ClientError(
                f"{self.endpoint} answered {response.status_code}, not GraphQL"
            ) from None
        if body.get("errors"):
            raise ClientError("; ".join(e["message"] for e in body["errors"]))
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, name: str, input: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = (await self.call(query, input=input))[name]
        if payload["errors"]:
            raise ClientError("; ".join(e["message"] for e in payload["errors"]))
        return payload


def split_project_path(target: str) -> tuple[str, str, str]:
    parts = target.split("/")
    if len(parts) != 3 or not all(parts):
        raise ClientError(
            f"{target!r} is not a project path: give organization/project/artifact-name"
        )
    return parts[0], parts[1], parts[2]


def local_files(directory: Path) -> list[tuple[str, Path]]:
    """Every regular file under `directory`, by its path inside the artifact."""
    if not directory.is_dir():
        raise ClientError(f"{directory} is not a folder")
    found = sorted(
        (p.relative_to(directory).as_posix(), p)
        for p in directory.rglob("*")
        if p.is_file() and not p.is_symlink()
    )
    if not found:
        raise ClientError(f"{directory} holds no files to push")
    return found


def _hasher_of(source: Path | None, progress: Callable[[int], object] | None = None) -> Any:
    """A SHA-256 that has seen the bytes of `source` (none when None)."""
    hasher = hashlib.sha256()
    if source is not None:
        with source.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                hasher.update(chunk)
                if progress is not None:
                    progress(len(chunk))
    return hasher


def sha256_of(source: Path, progress: Callable[[int], object] | None = None) -> str:
    return str(_hasher_of(source, progress).hexdigest())


def hashed(directory: Path, jobs: int, quiet: bool) -> list[LocalFile]:
    listed = local_files(directory)
    sizes = [p.stat().st_size for _, p in listed]
    with (
        tqdm(total=sum(sizes), unit="B", unit_scale=True, desc="hash", disable=quiet) as bar,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        digests = list(pool.map(lambda item: sha256_of(item[1], bar.update), listed))
    return [
        LocalFile(path, source, size, digest)
        for (path, source), size, digest in zip(listed, sizes, digests, strict=True)
    ]


async def push(
    url: str,
    key: str,
    directory: Path,
    target: str,
    artifact_type: str,
    *,
    link: str | None = None,
    aliases: list[str] | None = None,
    jobs: int = 8,
    quiet: bool = False,
) -> dict[str, Any]:
    """Logs `directory` as a version of `target` (organization/project/name) and links it to
    `link` with `aliases` if asked. Returns the logged version (and `linked`, the link)."""
    organization, project, name = split_project_path(target)
    files = await asyncio.to_thread(hashed, directory, jobs, quiet)
    manifest = [{"path": f.path, "digest": f.digest, "size": f.size} for f in files]
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10)) as http:
        api = Api(http, url, key)
        project_id = await _project_id(api, organization, project)
        prepared = await api.mutate(
            PREPARE, "prepareArtifactFiles", {"projectId": project_id, "files": manifest}
        )
        by_path = {f.path: f for f in files}
        wanted = [(u, by_path[u["path"]]) for u in prepared["uploads"] if not u["stored"]]
        # Small files go many to a request (tar archives to the batch URL), large ones alone,
        # the largest in parts.
        small = [f for u, f in wanted if f.size <= SMALL_BYTES]
        large = [(u, f) for u, f in wanted if f.size > SMALL_BYTES]
        if len(small) < BATCH_MIN:
            large, small = wanted, []
        groups = [small[i::jobs] for i in range(jobs)] if small else []
        to_send = sum(f.size for _, f in wanted) - sum(
            p["size"] for u, _ in wanted for p in u["parts"] or () if p["stored"]
        )
        with tqdm(total=to_send, unit="B", unit_scale=True, desc="upload", disable=quiet) as bar:
            limit = asyncio.Semaphore(jobs)

            async def send_range(url: str, local: LocalFile, offset: int, size: int) -> None:
                async with limit:
                    await _send(http, url, local, offset, size, bar.update)

            async def send(upload: dict[str, Any], local: LocalFile) -> None:
                if upload["parts"] is None:
                    await send_range(upload["uploadUrl"], local, 0, local.size)
                else:
                    try:
                        await asyncio.gather(
                            *(
                                send_range(p["uploadUrl"], local, p["offset"], p["size"])
                                for p in upload["parts"]
                                if not p["stored"]
                            )
                        )
                    except ClientError as error:
                        raise ClientError(
                            f"{error} (the parts that arrived are kept: the same push again "
                            "sends only the others)"
                        ) from None
                if upload["completeUrl"] is not None:
                    async with limit:
                        await _complete(http, upload["completeUrl"], local)

            async def send_batch(group: list[LocalFile]) -> None:
                async with limit:
                    await _send_batch(http, prepared["batchUploadUrl"], group, bar.update)

            await asyncio.gather(*(send(*w) for w in large), *(send_batch(g) for g in groups if g))
        logged = await api.mutate(
            LOG,
            "logArtifact",
            {"projectId": project_id, "name": name, "type": artifact_type, "files": manifest},
        )
        version: dict[str, Any] = logged["artifactVersion"]
        version["uploaded"] = len(wanted)
        version["sent_bytes"] = to_send
        version["skipped"] = len(files) - len(wanted)
        if link is not None:
            linked = await api.mutate(
                LINK,
                "linkArtifact",
                {"versionId": version["id"], "targetPath": link, "aliases": aliases or []},
            )
            version["linked"] = linked["artifactVersion"]
        return version


async def _project_id(api: Api, organization: str, project: str) -> str:
    found = await api.call(PROJECT, o=organization, p=project)
    if found["organization"] is None:
        raise ClientError(f"organization {organization!r} not found")
    if found["organization"]["project"] is not None:
        project_id: str = found["organization"]["project"]["id"]
        return project_id
    created = await api.mutate(
        CREATE_PROJECT, "createProject", {"organization": organization, "name": project}
    )
    new_id: str = created["project"]["id"]
    return new_id


async def _send(
    http: httpx.AsyncClient,
    url: str,
    local: LocalFile,
    offset: int,
    size: int,
    progress: Callable[[int], object],
) -> None:
    """PUTs `size` bytes of a file from `offset`: the whole file, or one of its parts."""

    async def body(count: Callable[[int], None]) -> AsyncIterator[bytes]:
        with local.source.open("rb") as handle:
            handle.seek(offset)
            left = size
            while left and (chunk := await asyncio.to_thread(handle.read, min(left, CHUNK_BYTES))):
                left -= len(chunk)
                count(len(chunk))
                yield chunk

    what = local.path if size == local.size else f"{local.path} (bytes {offset}-{offset + size})"
    await _put(http, url, body, {"Content-Length": str(size)}, what, progress)


def _reason(status: int, answer: bytes) -> str:
    try:
        return str(json.loads(answer)["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status} {answer[:200].decode(errors='replace')}".rstrip()


async def _send_batch(
    http: httpx.AsyncClient, url: str, group: list[LocalFile], progress: Callable[[int], object]
) -> None:
    """PUTs small files as one tar archive whose members are named by their SHA-256."""

    async def body(count: Callable[[int], None]) -> AsyncIterator[bytes]:
        for local in group:
            info = tarfile.TarInfo(local.digest)
            info.size = local.size
            data = await asyncio.to_thread(local.source.read_bytes)
            yield info.tobuf(format=tarfile.USTAR_FORMAT) + data + bytes(-local.size % 512)
            count(local.size)
        yield bytes(1024)

    await _put(http, url, body, {}, f"{len(group)} files", progress)


async def _put(
    http: httpx.AsyncClient,
    url: str,
    body: Callable[[Callable[[int], None]], AsyncIterator[bytes]],
    headers: dict[str, str],
    what: str,
    progress: Callable[[int], object],
) -> None:
    """PUTs the bytes `body` makes, again from the start after a dropped connection or a server
    error (the server keeps nothing of a request cut off, but what it checked of a batch)."""
    for attempt in range(1, ATTEMPTS + 1):
        sent = 0

        def count(size: int) -> None:
            nonlocal sent
            sent += size
            progress(size)

        try:
            response = await http.put(url, content=body(count), headers=headers)
        except httpx.HTTPError as error:
            progress(-sent)
            if attempt == ATTEMPTS:
                raise ClientError(f"uploading {what} failed: {error}") from None
            await asyncio.sleep(2**attempt / 4)
            continue
        if response.status_code in (200, 201):
            return
        progress(-sent)
        if response.status_code < 500 or attempt == ATTEMPTS:
            raise ClientError(
                f"uploading {what}: {_reason(response.status_code, response.content)}"
            )
        await asyncio.sleep(2**attempt / 4)


async def _complete(http: httpx.AsyncClient, url: str, local: LocalFile) -> None:
    """Has the server read back, check and keep bytes sent straight to the object store or in
    parts; it reads them all, so the wait grows with the size."""
    timeout = httpx.Timeout(600 + local.size / 20e6, connect=10)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = await http.post(url, timeout=timeout)
        except httpx.HTTPError as error:
            if attempt == ATTEMPTS:
                raise ClientError(f"checking {local.path} failed: {error}") from None
            await asyncio.sleep(2**attempt / 4)
            continue
        if response.status_code == 201:
            return
        if response.status_code < 500 or attempt == ATTEMPTS:
            raise ClientError(
                f"checking {local.path}: {_reason(response.status_code, response.content)}"
            )
        await asyncio.sleep(2**attempt / 4)


async def pull(
    url: str, key: str, path: str, directory: Path, *, jobs: int = 8, quiet: bool = False
) -> dict[str, Any]:
    """Fetches the version at `path` into `directory`. Returns what was fetched and skipped."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10)) as session:
        api = Api(session, url, key)
        files, version_path, archive_url = await _files(api, path)
        for entry in files:
            problem = _unsafe(entry["path"])
            if problem:
                raise ClientError(f"the server named a file {entry['path']!r}, which {problem}")
        todo = await asyncio.to_thread(_not_there_yet, directory, files)
        total = sum(f["size"] for f in todo)
        with tqdm(total=total, unit="B", unit_scale=True, desc="download", disable=quiet) as bar:
            rest = todo
            # Many small files and none here yet: one archive of them all, then one request
            # each for whatever it did not bring (it was cut off, or a member was wrong).
            if (
                archive_url is not None
                and len(todo) == len(files) >= BATCH_MIN
                and total <= SMALL_BYTES * len(todo)
            ):
                done = await asyncio.to_thread(
                    _extract_archive, archive_url, directory, todo, bar.update
                )
                rest = [f for f in todo if f["path"] not in done]
            limit = asyncio.Semaphore(jobs)

            async def fetch(entry: dict[str, Any]) -> None:
                async with limit:
                    await asyncio.to_thread(_fetch, entry, directory / entry["path"], bar.update)

            await asyncio.gather(*(fetch(f) for f in rest))
    return {"path": version_path, "downloaded": len(todo), "skipped": len(files) - len(todo)}


async def _files(api: Api, path: str) -> tuple[list[dict[str, Any]], str, str | None]:
    """The version's files, its path, and the URL of its archive."""
    files: list[dict[str, Any]] = []
    after = None
    while True:
        data = await api.call(FILES, path=path, after=after)
        version = data["artifactVersion"]
        if version is None:
            raise ClientError(f"no version at {path!r}")
        page = version["files"]
        files.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return files, version["path"], version["archiveUrl"]
        after = page["pageInfo"]["endCursor"]


def _extract_archive(
    url: str, directory: Path, wanted: list[dict[str, Any]], progress: Callable[[int], object]
) -> set[str]:
    """The paths of `wanted` that the version's archive brought, each checked against its
    SHA-256 before it is moved into place. A broken stream ends it early, without an error."""
    by_path = {f["path"]: f for f in wanted}
    done: set[str] = set()
    try:
        with httpx.stream("GET", url, timeout=httpx.Timeout(60, connect=10)) as response:
            if response.status_code != 200:
                return done
            readable = _Readable(response.iter_bytes(CHUNK_BYTES))
            with tarfile.open(fileobj=readable, mode="r|") as archive:
                for member in archive:
                    entry = by_path.get(member.name)
                    source = archive.extractfile(member) if member.isreg() else None
                    if entry is None or source is None:
                        continue
                    target = directory / entry["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    partial = target.with_name(target.name + ".part")
                    hasher = hashlib.sha256()
                    with partial.open("wb") as handle:
                        while chunk := source.read(CHUNK_BYTES):
                            hasher.update(chunk)
                            handle.write(chunk)
                            progress(len(chunk))
                    if hasher.hexdigest() == entry["digest"]:
                        os.replace(partial, target)
                        done.add(entry["path"])
                    else:
                        partial.unlink()
    except (httpx.HTTPError, tarfile.TarError):
        pass
    return done


class _Readable(io.RawIOBase):
    """A file to read from an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, b"")
            if not chunk:
                return 0
            self._left = memoryview(chunk)
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def _unsafe(path: str) -> str | None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path or not path:
        return "would land outside the folder"
    return None


def _not_there_yet(directory: Path, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The files that `directory` does not already hold, byte for byte."""
    directory.mkdir(parents=True, exist_ok=True)
    return [f for f in files if not _already_there(directory / f["path"], f)]


def _already_there(target: Path, entry: dict[str, Any]) -> bool:
    return (
        target.is_file()
        and target.stat().st_size == entry["size"]
        and sha256_of(target) == entry["digest"]
    )


def _fetch(entry: dict[str, Any], target: Path, progress: Callable[[int], object]) -> None:
    """Downloads into `target.part`, resuming where an earlier try stopped, and moves it into
    place only when its SHA-256 is the manifest's. On a worker thread with the standard
    library's HTTP client: measured on a 256 MiB file, it read about 1,600 MB/s where httpx's
    async stream read about 250."""
    if entry["downloadUrl"] is None:
        raise ClientError(f"{entry['path']} has no stored bytes to download")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    for attempt in range(1, ATTEMPTS + 1):
        have = partial.stat().st_size if partial.exists() else 0
        if have > entry["size"]:
            partial.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if 0 < have < entry["size"] else {}
        # The digest grows with the file: what an earlier try left first, then what arrives.
        hasher = _hasher_of(partial if have else None)
        try:
            if have < entry["size"] or entry["size"] == 0:
                request = urllib.request.Request(entry["downloadUrl"], headers=headers)
                with urllib.request.urlopen(request, timeout=60) as response:
                    if response.status == 200:
                        mode, hasher = "wb", hashlib.sha256()
                    else:
                        mode = "ab"
                        progress(have)
                    with partial.open(mode) as handle:
                        while chunk := response.read(CHUNK_BYTES):
                            hasher.update(chunk)
                            handle.write(chunk)
                            progress(len(chunk))
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == ATTEMPTS:
                raise ClientError(
                    f"downloading {entry['path']}: {_reason(error.code, error.read())}"
                ) from None
            time.sleep(2**attempt / 4)
            continue
        except (OSError, http.client.HTTPException) as error:
            if attempt == ATTEMPTS:
                raise ClientError(f"downloading {entry['path']} failed: {error}") from None
            time.sleep(2**attempt / 4)
            continue
        if hasher.hexdigest() != entry["digest"]:
            partial.unlink()
            if attempt == ATTEMPTS:
                raise ClientError(f"{entry['path']} arrived with the wrong SHA-256")
            continue
        os.replace(partial, target)
        return
