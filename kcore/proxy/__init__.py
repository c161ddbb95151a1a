"""kcore service proxy: a Cython TCP data path balancing Service ports over endpoints.

Library use (a static table, no cluster needed)::

    from kcore.proxy import Address, Proxy, ServicePort
    from kcore.proxy.metrics import render

    with Proxy() as proxy:
        proxy.set_service("web", ServicePort(
            listen=(Address("127.0.0.1", 8000),),
            endpoints=(Address("127.0.0.1", 9001), Address("127.0.0.1", 9002)),
            policy="LeastConnections",      # or "RoundRobin" (default)
            affinity_timeout=10800.0,       # ClientIP affinity; 0 = none
        ))
        ...
        print(render(proxy.all_stats()))      # Prometheus text

- `datapath.Proxy`: starts the epoll worker threads, programs the table, reads counters.
- `model`: `ServicePort`, `Address`, `ServiceStats`.
- `balancer.Balancer`: the plain-Python reference of the data path's endpoint choice.
- `metrics.render`: Prometheus text of the per-Service counters.
- `config.ServiceConfig`: keeps the table equal to the cluster's Services and EndpointSlices
  (informers); `daemon.ProxyServer` adds /metrics; `cli` is `kcore proxy`.

Connections to a listen address are balanced per new connection over the endpoints; a
refused or timed-out endpoint connect moves on to the next endpoint (at most 3 tries) and
sets that endpoint aside for 5 s; with no endpoint the connection is reset at once.
Updating a ServicePort never drops established connections.
"""

from kcore.proxy.balancer import Balancer
from kcore.proxy.datapath import Proxy
from kcore.proxy.model import Address, Policy, ServicePort, ServiceStats

__all__ = ["Address", "Balancer", "Policy", "Proxy", "ServicePort", "ServiceStats"]
