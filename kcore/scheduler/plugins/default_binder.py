"""DefaultBinder: POST pods/NAME/binding through the handle's client."""

from collections.abc import Mapping
from typing import Any, ClassVar

from kcore.api.core import Pod
from kcore.api.errors import StatusError
from kcore.scheduler.framework.interface import CycleState, Handle
from kcore.scheduler.framework.status import Result, Status

NAME = "DefaultBinder"


class DefaultBinder:
    NAME: ClassVar[str] = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: Pod, node: str) -> Result:
        client = self.handle.client
        if client is None:
            return Status.error("no API client to bind with")
        try:
            await client.bind(pod.metadata.name, node, namespace=pod.metadata.namespace)
        except StatusError as exc:
            return Status.error(f"binding rejected: {exc}")
        return None


PLUGIN = DefaultBinder
