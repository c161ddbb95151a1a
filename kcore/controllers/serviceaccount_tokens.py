"""The token controller: a token Secret for every ServiceAccount, as Kubernetes' legacy one.

For each ServiceAccount it keeps one Secret of type `kubernetes.io/service-account-token`
(named `<account>-token-<random>`, annotated with the account's name and uid) holding
`token` (random, 256 bits), `ca.crt` (the CA this controller trusts for the API server) and
`namespace`, and lists it in the account's `secrets`. kcore's API server authenticates such a
token as `system:serviceaccount:<ns>:<account>` (kcore/apiserver/tokens.py); a kubelet mounts
it at /var/run/secrets/kubernetes.io/serviceaccount. A token Secret created empty by a user
(type and name annotation only) is filled in; token Secrets of a deleted account are deleted.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from kcore.api.core import Secret, ServiceAccount
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformer, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers.base import QueueController

TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_KEY = "kubernetes.io/service-account.name"
UID_KEY = "kubernetes.io/service-account.uid"
ACCOUNT_INDEX = "service-account"


def account_index(secret: Secret) -> list[str]:
    """File token Secrets under "namespace/account"."""
    account = secret.metadata.annotations.get(NAME_KEY)
    if secret.type != TOKEN_TYPE or not account:
        return []
    return [f"{secret.metadata.namespace}/{account}"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class TokenController(QueueController):
    NAME = "serviceaccount-token"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.accounts: SharedInformer[ServiceAccount] = factory.informer(ServiceAccount)
        self.secrets: SharedInformer[Secret] = factory.informer(
            Secret, indexers={ACCOUNT_INDEX: account_index}
        )
        self.accounts.add_event_handler(
            on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n), on_delete=self.enqueue
        )
        self.secrets.add_event_handler(
            on_add=self._secret_changed,
            on_update=lambda o, n: self._secret_changed(n),
            on_delete=self._secret_changed,
        )

    def _secret_changed(self, secret: Secret) -> None:
        for key in account_index(secret):
            self.queue.add(key)

    def _tokens_of(self, key: str) -> list[Secret]:
        return self.secrets.indexer.by_index(ACCOUNT_INDEX, key)

    async def sync(self, key: str) -> None:
        sa = self.accounts.get(key)
        if sa is None:
            await self._delete_tokens(key)
            return
        tokens = self._tokens_of(key)
        mine = [s for s in tokens if _belongs(s, sa)]
        await self._delete([s for s in tokens if not _belongs(s, sa)])
        for secret in mine:
            if not secret.data.get("token"):
                await self._fill(secret, sa)
        if not mine:
            mine = [await self._create(sa)]
        await self._reference(sa, [s.metadata.name for s in mine])

    def _data(self, namespace: str) -> dict[str, str]:
        token = secrets.token_urlsafe(32).encode()
        data = {"token": _b64(token), "namespace": _b64(namespace.encode())}
        ca = self.client.config.ca_data
        if ca:
            data["ca.crt"] = _b64(ca)
        return data

    async def _create(self, sa: ServiceAccount) -> Secret:
        secret = Secret(
            metadata=ObjectMeta(
                generate_name=f"{sa.metadata.name}-token-",
                namespace=sa.metadata.namespace,
                annotations={NAME_KEY: sa.metadata.name, UID_KEY: sa.metadata.uid},
            ),
            type=TOKEN_TYPE,
            data=self._data(sa.metadata.namespace),
        )
        created: Secret = await self.client.create(secret)
        return created

    async def _fill(self, secret: Secret, sa: ServiceAccount) -> None:
        patch = {
            "metadata": {"annotations": {UID_KEY: sa.metadata.uid}},
            "data": {**secret.data, **self._data(sa.metadata.namespace)},
        }
        await self.client.patch(
            Secret, secret.metadata.name, patch, namespace=sa.metadata.namespace
        )

    async def _reference(self, sa: ServiceAccount, names: list[str]) -> None:
        """List the account's tokens in `secrets`, dropping token Secrets that are gone."""
        ns, prefix = sa.metadata.namespace, f"{sa.metadata.name}-token-"
        kept = [
            ref.name
            for ref in sa.secrets
            if ref.name in names
            or not ref.name.startswith(prefix)
            or self.secrets.get(f"{ns}/{ref.name}") is not None
        ]
        wanted = kept + [n for n in names if n not in kept]
        if wanted == [ref.name for ref in sa.secrets]:
            return
        refs = [{"name": n} for n in wanted]
        try:
            await self.client.patch(
                ServiceAccount, sa.metadata.name, {"secrets": refs}, namespace=sa.metadata.namespace
            )
        except StatusError as e:
            if e.code != 404:
                raise

    async def _delete_tokens(self, key: str) -> None:
        await self._delete(self._tokens_of(key))

    async def _delete(self, tokens: list[Secret]) -> None:
        for secret in tokens:
            ns = secret.metadata.namespace
            try:
                await self.client.delete(Secret, secret.metadata.name, namespace=ns)
            except StatusError as e:
                if e.code != 404:
                    raise


def _belongs(secret: Secret, sa: ServiceAccount) -> bool:
    """A token Secret of this account (not of an earlier account of the same name)."""
    uid = secret.metadata.annotations.get(UID_KEY)
    return not uid or uid == sa.metadata.uid
