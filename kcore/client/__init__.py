"""kcore's client library: REST client, informers, work queue, leader election, events.

Layering: imports kcore.api only. Components (scheduler, controllers, kubelet, proxy) build on
these pieces: a `Client` per process, a `SharedInformerFactory` for cached list+watch, a
`RateLimitingQueue` of keys per controller, `LeaderElector` for HA, `EventRecorder`.
"""

from kcore.client.cache import Indexer
from kcore.client.events import EventRecorder
from kcore.client.informer import EventHandler, SharedInformer, SharedInformerFactory
from kcore.client.kubeconfig import Config, ConfigError, load_incluster, load_kubeconfig
from kcore.client.leaderelection import ElectionTimings, LeaderElector
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
    "load_incluster",
    "load_kubeconfig",
    "run_worker",
]
