"""What every resolver function receives: who is asking, and how to reach the data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.loaders import Loaders
from db.pool import Connection, Executor, RequestConnection
from db.records import User
from resolvers.throttle import ExecutionBudget, Throttle
from resolvers.webhooks import WebhookPolicy


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the key's user and their role in each organization."""

    user: User
    organization_roles: dict[int, str] = field(default_factory=dict)
    # The API key the caller presented; None for principals built inside the process.
    key_id: int | None = None


class AuthorizationNotChecked(RuntimeError):
    """A write was about to start before any authorization check: a bug, never a user error."""


@dataclass(slots=True)
class Context:
    pool: asyncpg.Pool
    loaders: Loaders
    principal: Principal
    request_id: str
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    # Live events for subscriptions; None where nothing listens (one-off tools, some tests).
    events: Any = None
    # Cost points per API key; None where requests are not rate limited.
    throttle: Throttle | None = None
    # Cost points running at once in this process; None where they are not limited.
    budget: ExecutionBudget | None = None
    # The operation's requested cost (schema/cost.py), once reckoned: what it holds of `budget`.
    requested_cost: int | None = None
    # The blob store and URL signing (resolvers.files.Transfers); None where nothing moves bytes.
    transfers: Any = None
    # Where this server is reached from the caller's side, for the URLs it hands out.
    base_url: str = ""
    # Set by every authorization check; a mutation that finishes without one is a bug.
    authorization_checked: bool = False

    @property
    def reads(self) -> Executor:
        """Where the request's reads run: its own connection (or the pool, for an operation of
        a long-lived WebSocket session)."""
        return self.loaders.executor

    def end(self) -> None:
        """Lets go of what the operation loaded, once it has its answer. GraphQL execution keeps
        its context in a reference cycle, which only the cyclic garbage collector frees (rarely,
        as `cairn serve` tunes it): every row the request read would wait with it."""
        self.loaders.clear_all()

    async def release_reads(self) -> None:
        """Gives the request's reading connection back to the pool (its next read takes one
        again): before it waits for anything else, so that it never waits holding one."""
        if isinstance(self.reads, RequestConnection):
            await self.reads.release()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """The one transaction of a write. It refuses to start before an authorization check,
        and clears the request's loaders after it commits, so that what the write returns is
        read as it is now. The request's reading connection goes back to the pool first, so
        that a request holds one connection at a time and writers cannot starve each other."""
        if not self.authorization_checked:
            raise AuthorizationNotChecked("a write started without an authorization check")
        await self.release_reads()
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn
        self.loaders.clear_all()
