"""Manifests to log: files named as a test likes, with digests that depend on a seed only, so the
same seed gives the same content and another seed another."""

from __future__ import annotations

import hashlib
from typing import Any

from resolvers.versions import FileEntry


def files(seed: str, *names: str, size: int = 10) -> list[dict[str, Any]]:
    """A manifest as logArtifact takes it: the files named, with sizes `size`, 2 * `size`, …"""
    return [
        {
            "path": name,
            "digest": hashlib.sha256(f"{seed}/{name}".encode()).hexdigest(),
            "size": size * (position + 1),
        }
        for position, name in enumerate(names)
    ]


def entries(seed: str, *names: str, size: int = 10) -> list[FileEntry]:
    """The same manifest as the resolver functions take it."""
    return [FileEntry(f["path"], f["digest"], f["size"]) for f in files(seed, *names, size=size)]
