"""Prometheus text exposition (format 0.0.4): metric families rendered with escaped labels.

Shared by /metrics/cadvisor and /metrics/resource. Samples carry millisecond timestamps, as
cAdvisor's and the kubelet's do, so a scraper sees when the figure was sampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]
Kind = Literal["counter", "gauge"]


@dataclass(slots=True)
class Family:
    name: str
    kind: Kind
    help: str
    samples: list[tuple[Labels, float, float | None]] = field(default_factory=list)

    def add(self, labels: Labels, value: float, time: float | None = None) -> None:
        self.samples.append((labels, value, time))


def render(families: list[Family]) -> str:
    lines: list[str] = []
    for fam in families:
        if not fam.samples:
            continue
        lines.append(f"# HELP {fam.name} {fam.help}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        lines.extend(_sample(fam.name, *sample) for sample in fam.samples)
    return "\n".join(lines) + "\n" if lines else ""


def _sample(name: str, labels: Labels, value: float, time: float | None) -> str:
    text = f"{name}{_labels(labels)} {_number(value)}"
    return text if time is None else f"{text} {int(time * 1000)}"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)
