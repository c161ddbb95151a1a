"""The ServiceAccount controller: a `default` ServiceAccount in every active namespace.

A namespace is synced when it appears and whenever its `default` ServiceAccount is deleted;
a namespace being deleted gets none. Tokens for accounts are the token controller's job
(serviceaccount_tokens.py).
"""

from __future__ import annotations

from typing import Any

from kcore.api.core import Namespace, ServiceAccount
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformer, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers.base import QueueController

DEFAULT_NAME = "default"


class ServiceAccountController(QueueController):
    NAME = "serviceaccount"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.namespaces: SharedInformer[Namespace] = factory.informer(Namespace)
        self.accounts: SharedInformer[ServiceAccount] = factory.informer(ServiceAccount)
        self.namespaces.add_event_handler(
            on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new)
        )
        self.accounts.add_event_handler(on_delete=self._account_deleted)

    def _account_deleted(self, sa: ServiceAccount) -> None:
        if sa.metadata.name == DEFAULT_NAME:
            self.queue.add(sa.metadata.namespace)

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or ns.metadata.deletion_timestamp or ns.status.phase == "Terminating":
            return
        if self.accounts.get(f"{key}/{DEFAULT_NAME}") is not None:
            return
        sa = ServiceAccount(metadata=ObjectMeta(name=DEFAULT_NAME, namespace=key))
        try:
            await self.client.create(sa)
        except StatusError as e:
            if e.code not in (409, 403, 404):  # exists, or the namespace is going away
                raise
