"""Service account token authentication: a bearer token that matches the `token` of a Secret
of type kubernetes.io/service-account-token authenticates as
system:serviceaccount:<namespace>:<name> (the name from the secret's
kubernetes.io/service-account.name annotation).

The token index is rebuilt from the secrets watch cache only when the cache has moved on since
the last build, so a request costs one dict lookup.
"""

from __future__ import annotations

import base64
import binascii

from kcore.apiserver.auth import User
from kcore.apiserver.objects import Obj
from kcore.storage.watchcache import WatchCache

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_KEY = "kubernetes.io/service-account.name"


class ServiceAccountTokens:
    def __init__(self, secrets: WatchCache) -> None:
        self.secrets = secrets
        self._index: dict[str, User] = {}
        self._built_at = -1

    def lookup(self, token: str) -> User | None:
        if self._built_at != self.secrets.current_revision:
            self._rebuild()
        return self._index.get(token)

    def _rebuild(self) -> None:
        index: dict[str, User] = {}
        for cached in self.secrets.objects().values():
            entry = _entry(cached.object)
            if entry is not None:
                index[entry[0]] = entry[1]
        self._index, self._built_at = index, self.secrets.current_revision


def _entry(secret: Obj) -> tuple[str, User] | None:
    if secret.get("type") != SA_TOKEN_TYPE:
        return None
    raw = (secret.get("data") or {}).get("token")
    meta = secret.get("metadata") or {}
    account = (meta.get("annotations") or {}).get(SA_NAME_KEY)
    if not raw or not account:
        return None
    try:
        token = base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    ns = meta.get("namespace", "")
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated")
    return token, User(f"system:serviceaccount:{ns}:{account}", groups)
