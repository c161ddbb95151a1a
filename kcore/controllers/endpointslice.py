"""The EndpointSlice controller: the same endpoints as the Endpoints controller, as slices.

For each Service with a selector: one slice per distinct set of resolved ports, each holding
at most `MAX_ENDPOINTS` endpoints, named `<service>-<n>` so a sync can find and reuse its
own slices; each carries the `kubernetes.io/service-name` and `managed-by` labels and a
controller ownerReference to its Service (so deleting the Service removes them through the
garbage collector too). Endpoints report ready/serving/terminating (pods being deleted
stay, serving while ready, as in Kubernetes 1.26+), nodeName and targetRef.
A slice is written only when its content changes; slices no longer needed are deleted.
"""

from __future__ import annotations

from typing import Any

from kcore.api.core import Service
from kcore.api.discovery import (
    SERVICE_NAME_LABEL,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
)
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformer, SharedInformerFactory, split_key
from kcore.client.rest import Client
from kcore.controllers import controller_utils as cu
from kcore.controllers.endpoints import (
    PodEndpoint,
    PortKey,
    ServicePodsController,
    endpoints_for,
    pod_reference,
)

MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
SERVICE_INDEX = "service"
MAX_ENDPOINTS = 100


def _service_index(slice_: EndpointSlice) -> list[str]:
    labels = slice_.metadata.labels
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY or SERVICE_NAME_LABEL not in labels:
        return []
    return [f"{slice_.metadata.namespace}/{labels[SERVICE_NAME_LABEL]}"]


def _endpoint(ep: PodEndpoint) -> Endpoint:
    return Endpoint(
        addresses=[ep.ip],
        conditions=EndpointConditions(
            ready=ep.ready and not ep.terminating,
            serving=ep.ready,
            terminating=ep.terminating,
        ),
        hostname=ep.hostname or None,
        node_name=ep.pod.spec.node_name or None,
        target_ref=pod_reference(ep.pod),
    )


def desired_slices(svc: Service, endpoints: list[PodEndpoint]) -> list[EndpointSlice]:
    """The slices `svc` should have, in a stable order (so names stay with their content)."""
    groups: dict[PortKey, list[PodEndpoint]] = {}
    for ep in endpoints:
        groups.setdefault(ep.ports, []).append(ep)
    if not groups and svc.spec.ports:
        groups[()] = []  # an empty slice tells consumers "no endpoints", as Kubernetes does
    out: list[EndpointSlice] = []
    for ports, members in sorted(groups.items()):
        for start in range(0, max(len(members), 1), MAX_ENDPOINTS):
            chunk = members[start : start + MAX_ENDPOINTS]
            out.append(_slice(svc, len(out), ports, chunk))
    return out


def _slice(svc: Service, index: int, ports: PortKey, members: list[PodEndpoint]) -> EndpointSlice:
    return EndpointSlice(
        metadata=ObjectMeta(
            name=f"{svc.metadata.name}-{index}",
            namespace=svc.metadata.namespace,
            labels={
                **svc.metadata.labels,
                SERVICE_NAME_LABEL: svc.metadata.name,
                MANAGED_BY_LABEL: MANAGED_BY,
            },
            owner_references=[cu.new_controller_ref(svc)],
        ),
        address_type="IPv4",
        endpoints=[_endpoint(ep) for ep in members],
        ports=[EndpointPort(name=n, port=p, protocol=proto) for n, p, proto in ports],
    )


def _same(a: EndpointSlice, b: EndpointSlice) -> bool:
    return (
        a.endpoints == b.endpoints
        and a.ports == b.ports
        and a.metadata.labels == b.metadata.labels
        and a.address_type == b.address_type
    )


class EndpointSliceController(ServicePodsController):
    NAME = "endpointslice"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.slices: SharedInformer[EndpointSlice] = factory.informer(
            EndpointSlice, indexers={SERVICE_INDEX: _service_index}
        )
        self.slices.add_event_handler(on_delete=self._slice_deleted)

    def _slice_deleted(self, slice_: EndpointSlice) -> None:
        for key in _service_index(slice_):
            if self.services.get(key) is not None:
                self.queue.add(key)

    async def sync(self, key: str) -> None:
        svc = self.services.get(key)
        current = {s.metadata.name: s for s in self.slices.indexer.by_index(SERVICE_INDEX, key)}
        if svc is None or not svc.spec.selector:
            await self._delete_all(list(current.values()))
            return
        pods = self.selected_pods(svc)
        wanted = desired_slices(svc, endpoints_for(svc, pods, terminating=True))
        for slice_ in wanted:
            have = current.pop(slice_.metadata.name, None)
            await self._write(svc, have, slice_)
        await self._delete_all(list(current.values()))

    async def _write(self, svc: Service, have: EndpointSlice | None, want: EndpointSlice) -> None:
        if have is None:
            try:
                await self.client.create(want)
            except StatusError as e:
                if e.code != 409:
                    raise
                self.enqueue(svc)
            return
        if _same(have, want):
            return
        want.metadata.resource_version = have.metadata.resource_version
        want.metadata.uid = have.metadata.uid
        await self.client.update(want)

    async def _delete_all(self, slices: list[EndpointSlice]) -> None:
        for slice_ in slices:
            ns, name = split_key(f"{slice_.metadata.namespace}/{slice_.metadata.name}")
            try:
                await self.client.delete(EndpointSlice, name, namespace=ns)
            except StatusError as e:
                if e.code != 404:
                    raise
