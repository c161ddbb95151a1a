"""Authentication and authorization: who is calling, and may they.

Authentication accepts bearer tokens from a token table (the admin token from the data dir, plus
any the caller registers) and service account tokens (see tokens.py). Health and version
endpoints are open to anonymous callers; everything else without a valid token is 401 Unauthorized.
Authorization is allow-all for authenticated users for now (one chain step, so RBAC can be
added without touching the handlers).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from kcore.api import errors

ANONYMOUS_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: tuple[str, ...] = ()


@dataclass(slots=True)
class Authenticator:
    """Bearer token -> user: the static table first, then `fallback` (service account
    tokens, installed by the server once its caches run)."""

    tokens: dict[str, User] = field(default_factory=dict)
    fallback: Callable[[str], User | None] | None = None

    def add_token(self, token: str, user: User) -> None:
        self.tokens[token] = user

    def authenticate(self, authorization: str | None) -> User | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        token = token.strip()
        for known, user in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        return self.fallback(token) if self.fallback is not None else None


def is_anonymous_path(path: str) -> bool:
    return path.rstrip("/") in ANONYMOUS_PATHS or path.rstrip("/").startswith(
        ("/healthz/", "/livez/", "/readyz/")
    )


def authorize(user: User, verb: str, resource: str, namespace: str) -> None:
    """Allow-all authorizer; raises forbidden in a future RBAC step."""
    if not user.name:
        raise errors.forbidden(f'User "" cannot {verb} resource "{resource}"')
