"""Enumerations of the domain whose members carry a description for people; the GraphQL schema
exposes them as they are, descriptions included."""

from __future__ import annotations

from enum import Enum
from typing import Self


class DescribedEnum(Enum):
    """Members are declared `NAME = "NAME", "What it means."`; the value is the name."""

    description: str

    def __new__(cls, value: str, description: str) -> Self:
        member = object.__new__(cls)
        member._value_ = value
        member.description = description
        return member
