"""coordination.k8s.io/v1 kinds: Lease (node heartbeats and leader election)."""

from __future__ import annotations

import msgspec

from kcore.api.meta import ListObject, Model, Object


class LeaseSpec(Model):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str = ""
    renew_time: str = ""
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(Object):
    KIND = "Lease"
    API_VERSION = "coordination.k8s.io/v1"

    spec: LeaseSpec = msgspec.field(default_factory=LeaseSpec)


class LeaseList(ListObject):
    KIND = "LeaseList"
    API_VERSION = "coordination.k8s.io/v1"

    items: list[Lease] = []
