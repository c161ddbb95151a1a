"""The kubelet: runs a node's pods as real Docker containers and keeps them healthy.

`Kubelet(config, client)` merges its pod sources (API server, manifest dir, manifest URL, its
own HTTP server), runs one worker per pod over a `runtime` (Docker, or fake for hollow nodes),
probes containers, writes pod status, heartbeats its Node and Lease, and serves container logs.
Only `kcore.kubelet.runtime` talks to Docker.
"""

from kcore.kubelet.agent import Kubelet
from kcore.kubelet.config import KubeletConfig

__all__ = ["Kubelet", "KubeletConfig"]
