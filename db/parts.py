"""Files sent in parts, on the local folder: every part is written straight into one data file
at its offset, and a marker holding its offset and size is written once the whole part is
there, so that completing the file reads it once and moves it into place, with no second copy.

Writers take a shared lock on the data file and completion an exclusive one, which it holds
while moving the file away from the upload's folder: a part still arriving finishes first, and
a writer that opened the file before it moved sees so and writes nothing. One request at a time
writes a part (it holds the part's own lock), and a part once marked is never written again, so
that its bytes may be hashed before the file is complete. Bytes never change under a digest
once kept."""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from pathlib import Path

DATA = "data"


class UploadClosed(Exception):
    """The upload was completed or discarded while a part arrived; nothing was written."""


class PartBusy(Exception):
    """Another request is writing this part."""


def marked_parts(folder: Path) -> dict[int, tuple[int, int]]:
    """The parts whose bytes are all there: their offsets and sizes, by number."""
    found = {}
    with contextlib.suppress(FileNotFoundError):
        for marker in folder.iterdir():
            if marker.name.isdigit():
                with contextlib.suppress(FileNotFoundError, ValueError):
                    offset, size = map(int, marker.read_text().split())
                    found[int(marker.name)] = (offset, size)
    return found


def stored_parts(folder: Path) -> dict[int, int]:
    """The parts whose bytes are all there, by number, with their sizes."""
    return {number: size for number, (_, size) in marked_parts(folder).items()}


def claim_part(folder: Path, number: int) -> int | None:
    """The part's lock (closing the descriptor lets go), or None when the part is marked
    already; PartBusy when another request holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / f"{number:05d}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise PartBusy(f"part {number} is being sent by another request") from None
    if (folder / f"{number:05d}").exists():
        os.close(descriptor)
        return None
    return descriptor


def open_for_part(folder: Path) -> int:
    """A descriptor of the upload's data file under a shared lock (closing it lets go), when
    the file still belongs to the upload; UploadClosed otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / DATA
    descriptor = os.open(data, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        try:
            still_there = os.stat(data).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            still_there = False
        if not still_there:
            raise UploadClosed("this file was completed or discarded while the part arrived")
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def write_at(descriptor: int, offset: int, piece: bytes) -> None:
    view = memoryview(piece)
    while view:
        written = os.pwrite(descriptor, view, offset)
        view, offset = view[written:], offset + written


def mark_part(folder: Path, number: int, offset: int, size: int) -> None:
    """Records that part `number` is all there (written whole or not at all)."""
    marker = folder / f"{number:05d}"
    draft = folder / f"{number:05d}.{uuid.uuid4().hex}"
    draft.write_text(f"{offset} {size}")
    draft.replace(marker)


def seal(folder: Path, target: Path) -> None:
    """Moves the upload's data file to `target`, once no part is being written into it."""
    data = folder / DATA
    descriptor = os.open(data, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        target.parent.mkdir(parents=True, exist_ok=True)
        data.replace(target)
    finally:
        os.close(descriptor)


def flush(path: Path) -> None:
    """Flushes a file's bytes to disk, so that it survives a crash once recorded as stored."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def discard(folder: Path) -> None:
    """Deletes the upload's folder: its markers and data file."""
    # A part arriving late may add a marker meanwhile: the collector takes the folder later.
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            entry.unlink(missing_ok=True)
        folder.rmdir()
