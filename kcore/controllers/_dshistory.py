"""DaemonSet history: one ControllerRevision per template, as Kubernetes keeps them.

`kubectl rollout history daemonset` lists these and `kubectl rollout undo` applies one's
`data` (`{"spec": {"template": ..., "$patch": "replace"}}`) back to the DaemonSet as a
strategic merge patch. A revision is named `<ds>-<hash>`, labelled with the template labels
plus controller-revision-hash, owned by the DaemonSet, and numbered: the current template's
revision always holds the highest number (going back to an old template renumbers its
revision, as Kubernetes does). Old revisions no live pod uses are pruned beyond
`revisionHistoryLimit`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import msgspec

from kcore.api import codec
from kcore.api.apps import ControllerRevision, DaemonSet
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import SharedInformer
from kcore.client.rest import Client
from kcore.controllers import controller_utils as cu

HASH_LABEL = "controller-revision-hash"


def revision_data(ds: DaemonSet) -> dict[str, Any]:
    template = codec.to_dict(ds.spec.template)
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


class History:
    """Keeps a DaemonSet's ControllerRevisions in line with its template."""

    def __init__(
        self,
        client: Client,
        revisions: SharedInformer[ControllerRevision],
        owned: Callable[[str], list[ControllerRevision]],
    ) -> None:
        self.client = client
        self.revisions = revisions
        self.owned = owned  # revisions whose controller is the given uid

    async def sync(self, ds: DaemonSet, hash_: str, in_use: Collection[str]) -> None:
        """Make sure the current revision exists and is the newest; prune old unused ones."""
        mine = sorted(self.owned(ds.metadata.uid), key=lambda r: r.revision)
        top = mine[-1].revision if mine else 0
        current = next((r for r in mine if r.metadata.labels.get(HASH_LABEL) == hash_), None)
        if current is None:
            await self._create(ds, hash_, top + 1)
        elif current.revision < top:
            await self._renumber(current, top + 1)
        await self._prune(ds, [r for r in mine if r is not current], in_use)

    async def _create(self, ds: DaemonSet, hash_: str, number: int) -> None:
        labels = {**ds.spec.template.metadata.labels, HASH_LABEL: hash_}
        revision = ControllerRevision(
            metadata=ObjectMeta(
                name=f"{ds.metadata.name}-{hash_}",
                namespace=ds.metadata.namespace,
                labels=labels,
                owner_references=[cu.new_controller_ref(ds)],
            ),
            data=revision_data(ds),
            revision=number,
        )
        try:
            await self.client.create(revision)
        except StatusError as e:
            if e.code != 409:  # made by an earlier sync the cache has not shown yet
                raise

    async def _renumber(self, revision: ControllerRevision, number: int) -> None:
        fresh = msgspec.structs.replace(revision, revision=number)
        try:
            await self.client.update(fresh)
        except StatusError as e:
            if e.code not in (404, 409):
                raise

    async def _prune(
        self, ds: DaemonSet, old: list[ControllerRevision], in_use: Collection[str]
    ) -> None:
        limit = ds.spec.revision_history_limit
        limit = 10 if limit is None else limit
        unused = [r for r in old if r.metadata.labels.get(HASH_LABEL) not in in_use]
        for revision in unused[: max(len(old) - limit, 0)]:
            try:
                await self.client.delete(
                    ControllerRevision, revision.metadata.name, namespace=ds.metadata.namespace
                )
            except StatusError as e:
                if e.code != 404:
                    raise
