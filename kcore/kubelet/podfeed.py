"""PodFeed: one pods informer shared by every kubelet of a process, routed by spec.nodeName.

A stand-alone kubelet watches its own pods (`spec.nodeName=me`). `kcore up --nodes 5000
--runtime fake` runs thousands of kubelets in one process; 5000 filtered watches would make
the API server test each pod event 5000 times, so embedded kubelets subscribe to one
unfiltered informer instead, and the feed hands each event to the one kubelet it names.
The feed also keeps one Nodes informer, so that each kubelet's status check reads its Node as
stored from memory instead of with a GET (5000 GETs every 10 s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kcore.api.core import Node, Pod
from kcore.client import Client, SharedInformerFactory

NODE_INDEX = "spec.nodeName"


@dataclass(frozen=True, slots=True)
class Subscriber:
    on_pod: Callable[[Pod], None]
    on_gone: Callable[[Pod], None]


def _node_of(pod: Pod) -> list[str]:
    return [pod.spec.node_name] if pod.spec.node_name else []


class PodFeed:
    def __init__(self, client: Client) -> None:
        self._factory = SharedInformerFactory(client)
        self._informer = self._factory.informer(Pod, indexers={NODE_INDEX: _node_of})
        self._nodes = self._factory.informer(Node)
        self._subscribers: dict[str, Subscriber] = {}
        self._informer.add_event_handler(
            on_add=self._added, on_update=self._updated, on_delete=self._deleted
        )

    async def start(self) -> None:
        self._factory.start()
        await self._factory.wait_for_sync()

    async def stop(self) -> None:
        await self._factory.stop()

    def subscribe(self, node: str, subscriber: Subscriber) -> None:
        """Route `node`'s pods to `subscriber`, starting with those already known."""
        self._subscribers[node] = subscriber
        for pod in self._informer.indexer.by_index(NODE_INDEX, node):
            subscriber.on_pod(pod)

    def node(self, name: str) -> Node | None:
        """The Node as last seen by the watch (never to be mutated)."""
        return self._nodes.get(name)

    def unsubscribe(self, node: str) -> None:
        self._subscribers.pop(node, None)

    def _added(self, pod: Pod) -> None:
        sub = self._subscribers.get(pod.spec.node_name)
        if sub is not None:
            sub.on_pod(pod)

    def _updated(self, old: Pod, new: Pod) -> None:
        if old.spec.node_name != new.spec.node_name:
            self._deleted(old)
        self._added(new)

    def _deleted(self, pod: Pod) -> None:
        sub = self._subscribers.get(pod.spec.node_name)
        if sub is not None:
            sub.on_gone(pod)
