"""What every resolver function receives: who is asking, and how to reach the data."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from db.loaders import Loaders
from db.records import User


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
    # Set by every authorization check; a mutation that finishes without one is a bug.
    authorization_checked: bool = False
