"""kcore service proxy: a Cython TCP data path balancing Service ports over endpoints.

Library use (a static table, no cluster needed)::

    from kcore.proxy import Address, Proxy, ServicePort

    with Proxy() as proxy:
        proxy.set_service("web", ServicePort(
            listen=(Address("127.0.0.1", 8000),),
            endpoints=(Address("127.0.0.1", 9001), Address("127.0.0.1", 9002)),
            policy="LeastConnections",      # or "RoundRobin" (default)
            affinity_timeout=10800.0,       # ClientIP affinity; 0 = none
        ))
        ...
        print(kcore.proxy.metrics.render(proxy.all_stats()))

- `datapath.Proxy`: starts the epoll worker threads, programs the table, reads counters.
- `model`: `ServicePort`, `Address`, `ServiceStats`.
- `balancer.Balancer`: the plain-Python reference of the data path's endpoint choice.
- `metrics.render`: Prometheus text of the per-Service counters.
"""

from kcore.proxy.balancer import Balancer
from kcore.proxy.datapath import Proxy
from kcore.proxy.model import Address, Policy, ServicePort, ServiceStats

__all__ = ["Address", "Balancer", "Policy", "Proxy", "ServicePort", "ServiceStats"]
