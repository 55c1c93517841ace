"""Webhooks: payload templates, where requests may go, how they are signed and sent.

Signing: every request carries `X-Cairn-Timestamp` (Unix seconds) and
`X-Cairn-Signature: sha256=<hex>`, the HMAC-SHA256 of `"<timestamp>.<body>"` under the
automation's secret. A receiver recomputes it over the raw body, compares in constant time,
rejects timestamps more than five minutes old, and may drop repeated `X-Cairn-Delivery` ids.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from db import json_values
from resolvers.errors import DomainError, ErrorCode
from resolvers.validation import json_depth

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_.-]+)?)\}")
VARIABLES = (
    "event_type",
    "event_author",
    "organization",
    "registry",
    "collection",
    "artifact_version",
    "version",
    "version_index",
    "artifact_type",
    "digest",
    "alias",
    "tag",
    "metadata",
    "timestamp",
)
# Without a template, the body holds every variable under its own name, as documented.
DEFAULT_TEMPLATE = orjson.dumps(
    {name: f"${{{name}}}" for name in VARIABLES}, option=orjson.OPT_INDENT_2
).decode()
EXCERPT_CHARS = 1024
USER_AGENT = "Cairn-Webhook/0.1"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """Operator settings: private networks allowed as destinations, timeouts and retries."""

    allowed_networks: tuple[Network, ...] = ()
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0

    @classmethod
    def parse_networks(cls, text: str) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())


def _template_error(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_TEMPLATE, message, ("payloadTemplate",))


def check_template(template: str) -> None:
    """Refuses a template that is not JSON or names an unknown variable (naming it)."""
    # Anything written as ${...} must be a known variable, so a typo is not sent literally.
    for match in re.finditer(r"\$\{([^{}]*)\}", template):
        name = match[1]
        known = name in VARIABLES or name.startswith("metadata.")
        if not known or PLACEHOLDER.fullmatch(match[0]) is None:
            raise _template_error(
                f"unknown template variable ${{{name}}}; known: "
                + ", ".join(f"${{{v}}}" for v in VARIABLES)
                + ", ${metadata.<key>}"
            )
    try:
        parsed = json_values.loads(template)
    except ValueError as error:
        inside = PLACEHOLDER.search(template)
        hint = (
            f" (put ${{{inside[1]}}} inside a string: a string that is exactly "
            f'"${{{inside[1]}}}" becomes the value, with its JSON type)'
            if inside
            else ""
        )
        raise _template_error(f"the template is not valid JSON: {error}{hint}") from None
    json_depth(parsed, "payloadTemplate")


def _lookup(name: str, values: dict[str, Any]) -> Any:
    if name.startswith("metadata."):
        metadata = values.get("metadata") or {}
        return metadata.get(name[len("metadata.") :]) if isinstance(metadata, dict) else None
    return values.get(name)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json_values.dumps(value).decode()


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, str):
        whole = PLACEHOLDER.fullmatch(node)
        if whole is not None:
            return _lookup(whole[1], values)
        return PLACEHOLDER.sub(lambda m: _as_text(_lookup(m[1], values)), node)
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, dict):
        # Keys stay strings: a key that is exactly one variable gets its text, not its value.
        return {
            PLACEHOLDER.sub(lambda m: _as_text(_lookup(m[1], values)), k): _fill(v, values)
            for k, v in node.items()
        }
    return node


def render(template: str, values: dict[str, Any]) -> str:
    """The request body: the template's JSON with each variable filled in. A string that is
    exactly one variable becomes the value itself (a number stays a number)."""
    return json_values.dumps(_fill(json_values.loads(template), values)).decode()


def _blocked(address: str, policy: WebhookPolicy) -> bool:
    ip = ipaddress.ip_address(address)
    if any(ip in network for network in policy.allowed_networks):
        return False
    return not ip.is_global or ip.is_multicast


async def check_destination(url: str, policy: WebhookPolicy) -> str:
    """Refuses URLs that are not http(s), and hosts that resolve to loopback, link-local,
    private or other non-public addresses unless the operator allowed those networks. Returns
    the address checked, to connect to: a DNS answer that changes between the check and the
    connection (DNS rebinding) cannot send the request anywhere else."""
    parts = urlsplit(url)
    # Control characters are dropped by urlsplit but refused by the HTTP client when sending.
    if parts.scheme not in ("http", "https") or not parts.hostname or not url.isprintable():
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"the webhook URL must be http:// or https:// with a host, got {url[:200]!r}",
            ("webhookUrl",),
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except (OSError, ValueError) as error:
        raise DomainError(
            ErrorCode.BLOCKED_DESTINATION,
            f"the webhook host {parts.hostname!r} cannot be resolved: {error}",
            ("webhookUrl",),
        ) from None
    addresses = sorted({str(info[4][0]) for info in infos})
    blocked = [a for a in addresses if _blocked(a, policy)]
    if blocked:
        raise DomainError(
            ErrorCode.BLOCKED_DESTINATION,
            f"the webhook host {parts.hostname!r} resolves to {blocked[0]}, a loopback, "
            "link-local or private address; the operator may allow such networks with "
            "CAIRN_WEBHOOK_ALLOWED_NETWORKS",
            ("webhookUrl",),
        )
    return addresses[0]


def pinned(url: str, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The request to `url` sent to `address`: the URL with the address for its host, the
    original host in the Host header, and for TLS the original host as the server name, so
    that the certificate is checked against the name, not the address."""
    original = httpx.URL(url)
    return (
        original.copy_with(host=address),
        {"Host": original.netloc.decode("ascii")},
        {"sni_hostname": original.host},
    )


def signature(secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None
    succeeded: bool
    retryable: bool


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: str
    secret: str
    event_type: str
    delivery_id: int | None
    headers: dict[str, str] = field(default_factory=dict)


async def send(
    request: Request, policy: WebhookPolicy, client: httpx.AsyncClient | None = None
) -> AttemptResult:
    """One signed POST. Network errors, 429 and 5xx are worth retrying; other answers are not."""
    started = time.monotonic()
    try:
        address = await check_destination(request.url, policy)
    except DomainError as error:
        return AttemptResult(None, 0, None, error.message, succeeded=False, retryable=False)
    target, host, extensions = pinned(request.url, address)
    timestamp = int(time.time())
    headers = {
        **request.headers,
        **host,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Cairn-Event": request.event_type,
        "X-Cairn-Timestamp": str(timestamp),
        "X-Cairn-Signature": signature(request.secret, timestamp, request.body),
    }
    if request.delivery_id is not None:
        headers["X-Cairn-Delivery"] = str(request.delivery_id)
    owned = client is None
    http = client or httpx.AsyncClient(timeout=policy.timeout_seconds, follow_redirects=False)
    try:
        response = await http.post(
            target, content=request.body.encode(), headers=headers, extensions=extensions
        )
    except httpx.HTTPError as error:
        latency = int((time.monotonic() - started) * 1000)
        message = f"{type(error).__name__}: {error}"[:EXCERPT_CHARS]
        return AttemptResult(None, latency, None, message, succeeded=False, retryable=True)
    finally:
        if owned:
            await http.aclose()
    latency = int((time.monotonic() - started) * 1000)
    status = response.status_code
    return AttemptResult(
        status,
        latency,
        response.text[:EXCERPT_CHARS],
        None,
        succeeded=200 <= status < 300,
        retryable=status == 429 or status >= 500,
    )


def retry_delay(attempt: int, policy: WebhookPolicy, jitter: float) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), scaled by `jitter` in [0.5, 1.5)."""
    delay = policy.retry_base_seconds * (2 ** (attempt - 1)) * jitter
    return float(min(delay, policy.retry_max_seconds))


def parse_headers(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Custom request headers; names must be tokens and may not replace Cairn's own."""
    parsed: dict[str, str] = {}
    for name, value in headers:
        # Values are sent as ASCII: anything else would fail every request at send time.
        valid_value = re.fullmatch(r"[\t\x20-\x7e]*", value) is not None
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}", name) or not valid_value:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT, f"header {name[:60]!r} is not valid", ("headers",)
            )
        if name.lower().startswith("x-cairn-") or name.lower() in ("content-type", "host"):
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"header {name!r} is set by Cairn and cannot be replaced",
                ("headers",),
            )
        parsed[name] = value
    return parsed
