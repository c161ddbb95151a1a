"""Mirror pods: the API's read-only view of a static pod the kubelet runs from a file or URL.

The mirror carries the static pod's spec and the `kubernetes.io/config.mirror` annotation, is
owned by the Node, and receives the static pod's status. If someone deletes it, the kubelet
makes it again; if the manifest changes, the old mirror is replaced.
"""

from __future__ import annotations

import logging

from kcore.api import codec
from kcore.api.core import Node, Pod, PodStatus
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta, OwnerReference
from kcore.client import Client
from kcore.kubelet.sources import CONFIG_HASH, CONFIG_MIRROR

log = logging.getLogger(__name__)


def mirror_of(pod: Pod, node: Node | None) -> Pod:
    meta = pod.metadata
    owners = []
    if node is not None and node.metadata.uid:
        owners = [
            OwnerReference(
                api_version="v1",
                kind="Node",
                name=node.metadata.name,
                uid=node.metadata.uid,
                controller=True,
            )
        ]
    return Pod(
        metadata=ObjectMeta(
            name=meta.name,
            namespace=meta.namespace,
            labels=dict(meta.labels),
            annotations={**meta.annotations, CONFIG_MIRROR: meta.annotations[CONFIG_HASH]},
            owner_references=owners,
        ),
        spec=codec.deep_copy(pod.spec),
    )


async def ensure_mirror(client: Client, pod: Pod, node: Node | None) -> None:
    """Create the mirror pod, replacing one left from an older version of the manifest."""
    meta = pod.metadata
    try:
        existing = await client.get(Pod, meta.name, namespace=meta.namespace)
    except StatusError as e:
        if e.code != 404:
            raise
        existing = None
    wanted = meta.annotations[CONFIG_HASH]
    if existing is not None:
        if existing.metadata.annotations.get(CONFIG_MIRROR) == wanted and not (
            existing.metadata.deletion_timestamp
        ):
            return
        await delete_mirror(client, existing)
    try:
        await client.create(mirror_of(pod, node))
    except StatusError as e:
        if e.code != 409:
            raise


async def delete_mirror(client: Client, pod: Pod) -> None:
    meta = pod.metadata
    try:
        await client.delete(
            Pod,
            meta.name,
            namespace=meta.namespace,
            grace_period_seconds=0,
            preconditions={"uid": meta.uid} if meta.uid else None,
        )
    except StatusError as e:
        if e.code not in (404, 409):
            raise


async def delete_mirror_of(client: Client, static: Pod) -> None:
    """Delete the mirror of this version of a static pod (not a newer version's mirror)."""
    meta = static.metadata
    try:
        existing = await client.get(Pod, meta.name, namespace=meta.namespace)
    except StatusError as e:
        if e.code == 404:
            return
        raise
    if existing.metadata.annotations.get(CONFIG_MIRROR) == meta.annotations.get(CONFIG_HASH):
        await delete_mirror(client, existing)


def status_patch(status: PodStatus) -> dict[str, object]:
    """A strategic merge patch of the status: conditions merge by type (conditions others
    own, written since the kubelet last read the pod, stay), every other field the kubelet
    owns is replaced (absent ones nulled)."""
    body = codec.to_dict(status)
    for key in (
        "phase",
        "conditions",
        "message",
        "reason",
        "hostIP",
        "hostIPs",
        "podIP",
        "podIPs",
        "startTime",
        "initContainerStatuses",
        "containerStatuses",
        "qosClass",
    ):
        body.setdefault(key, None)
    return {"status": body}
