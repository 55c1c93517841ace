"""Process logging: text for a person at a terminal, or one JSON object per line for a log
collector (`CAIRN_LOG_FORMAT=json`). Every record written while a request is handled carries
that request's id, the one its response's `X-Request-Id` header and masked errors show."""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("cairn_request_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure(log_format: str | None = None) -> None:
    """Sends every logger's records to stderr in `log_format` ("text" or "json"; default
    `CAIRN_LOG_FORMAT`, else text)."""
    chosen = (log_format or os.environ.get("CAIRN_LOG_FORMAT") or "text").lower()
    if chosen not in ("text", "json"):
        raise SystemExit(f"cairn: CAIRN_LOG_FORMAT must be text or json, got {chosen!r}")
    handler = logging.StreamHandler()
    handler.addFilter(RequestId())
    handler.setFormatter(JsonLines() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # httpx logs each request's full URL at INFO, and a webhook URL may carry a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
