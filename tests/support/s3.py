"""A real S3-protocol server for the tests: moto's own HTTP server on loopback (not a mock of
the client), with a bucket, and the standard AWS settings pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from moto.server import ThreadedMotoServer

from tests.support.processes import free_port

BUCKET = "cairn-blobs"


@contextmanager
def moto_s3() -> Iterator[str]:
    """The endpoint's URL, with AWS_* set for it while the server runs."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    settings = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    # CreateBucket is one PUT of the bucket's path; moto takes it unsigned.
    assert httpx.put(f"{endpoint}/{BUCKET}", timeout=10).status_code == 200
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
