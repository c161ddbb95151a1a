"""kcore's client library: REST client, informers, work queue, leader election, events.

Layering: imports kcore.api only. Components (scheduler, controllers, kubelet, proxy) build on
these pieces: a `Client` per process, a `SharedInformerFactory` for cached list+watch, a
`RateLimitingQueue` of keys per controller, `LeaderElector` for HA, `EventRecorder`.

A controller, in outline::

    async with Client.from_kubeconfig(path) as client:
        factory = SharedInformerFactory(client)
        pods = factory.informer(Pod, indexers={"node": lambda p: [p.spec.node_name]})
        queue: RateLimitingQueue[str] = RateLimitingQueue()
        pods.add_event_handler(on_add=lambda p: queue.add(key_of(p)), ...)
        factory.start()
        await factory.wait_for_sync()
        async def sync(key: str) -> None:
            pod = pods.get(key)            # shared: copy (codec.deep_copy) before changing
            ...
        await asyncio.gather(*(run_worker(queue, sync) for _ in range(4)))
"""

from kcore.client.cache import Indexer
from kcore.client.events import EventRecorder
from kcore.client.informer import EventHandler, SharedInformer, SharedInformerFactory
from kcore.client.kubeconfig import Config, ConfigError, load_incluster, load_kubeconfig
from kcore.client.leaderelection import ElectionTimings, LeaderElector
from kcore.client.meta import key_of, split_key
from kcore.client.rest import BookmarkEvent, Client, ObjectList, WatchEvent
from kcore.client.workqueue import DelayingQueue, RateLimitingQueue, WorkQueue, run_worker

__all__ = [
    "BookmarkEvent",
    "Client",
    "Config",
    "ConfigError",
    "DelayingQueue",
    "ElectionTimings",
    "EventHandler",
    "EventRecorder",
    "Indexer",
    "LeaderElector",
    "ObjectList",
    "RateLimitingQueue",
    "SharedInformer",
    "SharedInformerFactory",
    "WatchEvent",
    "WorkQueue",
    "key_of",
    "load_incluster",
    "load_kubeconfig",
    "run_worker",
    "split_key",
]
