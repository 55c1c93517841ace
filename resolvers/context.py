"""What every resolver function receives: who is asking, and how to reach the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.loaders import Loaders
from db.records import User
from resolvers.webhooks import WebhookPolicy


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the key's user and their role in each organization."""

    user: User
    organization_roles: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Context:
    pool: asyncpg.Pool
    loaders: Loaders
    principal: Principal
    request_id: str
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    # Live events for subscriptions; None where nothing listens (one-off tools, some tests).
    events: Any = None
    # Set by every authorization check; a mutation that finishes without one is a bug.
    authorization_checked: bool = False
