"""Prometheus metrics of the API server, rendered as text exposition format on /metrics:
apiserver_request_total{verb,resource,code}, apiserver_request_duration_seconds (histogram by
verb and resource), apiserver_registered_watchers (gauge by resource),
apiserver_current_inflight_requests and apiserver_storage_duration_seconds (histogram by
operation)."""

from __future__ import annotations

import bisect
from collections import defaultdict

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Labels = tuple[tuple[str, str], ...]


class Histogram:
    __slots__ = ("counts", "sum", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.sum = 0.0
        self.total = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, value)] += 1
        self.sum += value
        self.total += 1

    def render(self, name: str, labels: Labels) -> list[str]:
        lines, cumulative = [], 0
        for bound, count in zip((*_BUCKETS, float("inf")), self.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f"{name}_bucket{_fmt((*labels, ('le', le)))} {cumulative}")
        lines.append(f"{name}_sum{_fmt(labels)} {self.sum}")
        lines.append(f"{name}_count{_fmt(labels)} {self.total}")
        return lines


def _fmt(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return "{" + inner + "}"


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[Labels, int] = defaultdict(int)
        self.durations: dict[Labels, Histogram] = defaultdict(Histogram)
        self.storage: dict[Labels, Histogram] = defaultdict(Histogram)
        self.watchers: dict[str, int] = defaultdict(int)
        self.inflight = 0

    def request(self, verb: str, resource: str, code: int, seconds: float) -> None:
        self.requests[(("verb", verb), ("resource", resource), ("code", str(code)))] += 1
        self.durations[(("verb", verb), ("resource", resource))].observe(seconds)

    def storage_op(self, operation: str, seconds: float) -> None:
        self.storage[(("operation", operation),)].observe(seconds)

    def render(self) -> str:
        out = ["# TYPE apiserver_request_total counter"]
        out += [f"apiserver_request_total{_fmt(k)} {v}" for k, v in sorted(self.requests.items())]
        out.append("# TYPE apiserver_request_duration_seconds histogram")
        for k, h in sorted(self.durations.items()):
            out += h.render("apiserver_request_duration_seconds", k)
        out.append("# TYPE apiserver_storage_duration_seconds histogram")
        for k, h in sorted(self.storage.items()):
            out += h.render("apiserver_storage_duration_seconds", k)
        out.append("# TYPE apiserver_registered_watchers gauge")
        out += [
            f'apiserver_registered_watchers{{resource="{r}"}} {n}'
            for r, n in sorted(self.watchers.items())
        ]
        out.append("# TYPE apiserver_current_inflight_requests gauge")
        out.append(f"apiserver_current_inflight_requests {self.inflight}")
        return "\n".join(out) + "\n"
