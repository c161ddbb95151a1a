"""Per-Service proxy counters in the Prometheus text exposition format (for /metrics)."""

from __future__ import annotations

from collections.abc import Mapping

from kcore.proxy.model import ServiceStats

_FAMILIES: tuple[tuple[str, str, str, str], ...] = (
    ("connections", "kcore_proxy_connections_total", "counter", "Connections given an endpoint."),
    ("active", "kcore_proxy_active_connections", "gauge", "Connections open now."),
    ("bytes_in", "kcore_proxy_bytes_in_total", "counter", "Bytes from clients to endpoints."),
    ("bytes_out", "kcore_proxy_bytes_out_total", "counter", "Bytes from endpoints to clients."),
    (
        "connect_errors",
        "kcore_proxy_connect_errors_total",
        "counter",
        "Endpoint connects refused or timed out.",
    ),
    ("rejected", "kcore_proxy_rejected_total", "counter", "Connections reset: no endpoint."),
    ("failed", "kcore_proxy_failed_total", "counter", "Connections reset: every attempt failed."),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(stats: Mapping[str, ServiceStats]) -> str:
    """One family per counter, one sample per Service port, labelled service="KEY"."""
    lines: list[str] = []
    for field, name, kind, help_text in _FAMILIES:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for key in sorted(stats):
            lines.append(f'{name}{{service="{_label(key)}"}} {getattr(stats[key], field)}')
    return "\n".join(lines) + "\n"
