"""Summary API, /metrics/cadvisor and /metrics/resource built from sampled fixture trees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from stats_cgtree import CgroupTree, Figures

from kcore.kubelet.stats.layout import detect
from kcore.kubelet.stats.prometheus import cadvisor_text, resource_text
from kcore.kubelet.stats.refs import ContainerRef
from kcore.kubelet.stats.sampler import Sampler
from kcore.kubelet.stats.summary import build_summary

WEB, SIDE, LOOSE = "1" * 64, "2" * 64, "3" * 64
F_WEB = Figures(cpu_ns=2_000_000_000, usage=50 << 20, inactive_file=10 << 20, rss=30 << 20,
                pgfault=11, pgmajfault=1, pids=4, limit=64 << 20, oom_kills=2)  # fmt: skip
F_SIDE = Figures(cpu_ns=1_000_000_000, usage=20 << 20, inactive_file=5 << 20, rss=8 << 20,
                 pgfault=5, pgmajfault=0, pids=1)  # fmt: skip
START = 1_699_999_000.0


@pytest.fixture
def sampler(tree: CgroupTree, proc: Path) -> Sampler:
    now = [0.0]
    s = Sampler(detect(tree.root), proc_root=str(proc), mono=lambda: now[0],
                wall=lambda: 1_700_000_000.0 + now[0])  # fmt: skip
    for cid, figures in ((WEB, F_WEB), (SIDE, F_SIDE), (LOOSE, Figures(usage=1))):
        tree.add(cid, figures)
    s.track(WEB, ContainerRef("web-0", "prod", "u-1", "web", "nginx:1", "k8s_web", START, START))
    s.track(SIDE, ContainerRef("web-0", "prod", "u-1", "side", "busybox:1", "k8s_side", START))
    s.track(LOOSE)
    s.sample()
    tree.update(WEB, F_WEB.plus(cpu_ns=500_000_000))
    tree.update(SIDE, F_SIDE.plus(cpu_ns=250_000_000))
    now[0] = 1.0
    s.sample()
    return s


def test_summary_shape(sampler: Sampler) -> None:
    summary = build_summary("n1", sampler.node(), sampler.containers())
    node = summary["node"]
    assert node["nodeName"] == "n1" and node["startTime"] == "2023-11-14T22:13:20Z"
    assert set(node["cpu"]) == {"time", "usageNanoCores", "usageCoreNanoSeconds"}
    assert set(node["memory"]) == {"time", "availableBytes", "usageBytes", "workingSetBytes",
                                   "rssBytes", "pageFaults", "majorPageFaults"}  # fmt: skip
    [pod] = summary["pods"]
    assert pod["podRef"] == {"name": "web-0", "namespace": "prod", "uid": "u-1"}
    assert pod["startTime"] == "2023-11-14T21:56:40Z"
    assert [ctr["name"] for ctr in pod["containers"]] == ["side", "web"]
    web = pod["containers"][1]
    assert web["cpu"] == {"time": "2023-11-14T22:13:21Z", "usageNanoCores": 500_000_000,
                          "usageCoreNanoSeconds": 2_500_000_000}  # fmt: skip
    assert web["memory"] == {
        "time": "2023-11-14T22:13:21Z", "usageBytes": 50 << 20, "workingSetBytes": 40 << 20,
        "rssBytes": 30 << 20, "pageFaults": 11, "majorPageFaults": 1,
        "availableBytes": 24 << 20,
    }  # fmt: skip
    assert "availableBytes" not in pod["containers"][0]["memory"]  # no limit
    assert pod["cpu"]["usageNanoCores"] == 750_000_000
    assert pod["cpu"]["usageCoreNanoSeconds"] == 3_750_000_000
    assert pod["memory"]["workingSetBytes"] == 55 << 20
    assert pod["process_stats"] == {"process_count": 5}


def test_summary_limited_to_given_pods(sampler: Sampler) -> None:
    assert build_summary("n1", None, sampler.containers(), pod_uids={"other"})["pods"] == []
    assert build_summary("n1", None, [])["node"] == {"nodeName": "n1", "systemContainers": []}


Sample = tuple[str, dict[str, str], float]
_LINE = re.compile(r"^([a-z_]+)(?:\{(.*)\})? (\S+)(?: (\d+))?$")


def parse(text: str) -> tuple[dict[str, str], list[Sample]]:
    """A strict enough reader of the text format: TYPE lines and samples with labels."""
    types: dict[str, str] = {}
    samples: list[Sample] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif not line.startswith("# "):
            m = _LINE.match(line)
            assert m, line
            labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            assert m.group(1) in types, line
            samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


def value(samples: list[Sample], metric: str, /, **labels: str) -> float:
    found = [v for n, lab, v in samples if n == metric and labels.items() <= lab.items()]
    assert len(found) == 1, (metric, labels, found)
    return found[0]


def test_cadvisor_names_and_labels(sampler: Sampler, tree: CgroupTree) -> None:
    types, samples = parse(cadvisor_text(sampler.node(), sampler.containers()))
    assert types["container_cpu_usage_seconds_total"] == "counter"
    assert types["container_memory_working_set_bytes"] == "gauge"
    web = {"container": "web", "pod": "web-0", "namespace": "prod", "image": "nginx:1",
           "name": "k8s_web", "id": "/" + tree.rel(WEB)}  # fmt: skip
    assert value(samples, "container_cpu_usage_seconds_total", **web) == 2.5
    assert value(samples, "container_memory_working_set_bytes", **web) == 40 << 20
    assert value(samples, "container_memory_usage_bytes", **web) == 50 << 20
    assert value(samples, "container_memory_rss", **web) == 30 << 20
    assert value(samples, "container_oom_events_total", **web) == 2
    assert value(samples, "container_cpu_cfs_throttled_periods_total", **web) == 0
    assert value(samples, "container_spec_memory_limit_bytes", **web) == 64 << 20
    assert value(samples, "container_memory_failures_total", failure_type="pgmajfault",
                 **web) == 1  # fmt: skip
    assert value(samples, "container_memory_usage_bytes", id="/" + tree.rel(LOOSE), pod="") == 1
    assert value(samples, "container_cpu_usage_seconds_total", id="/") > 0
    assert value(samples, "machine_cpu_cores") == 2


def test_resource_metrics(sampler: Sampler) -> None:
    types, samples = parse(resource_text(sampler.node(), sampler.containers()))
    assert set(types) == {
        "container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
        "container_start_time_seconds", "node_cpu_usage_seconds_total",
        "node_memory_working_set_bytes", "pod_cpu_usage_seconds_total",
        "pod_memory_working_set_bytes", "scrape_error",
    }  # fmt: skip
    assert value(samples, "pod_cpu_usage_seconds_total", pod="web-0", namespace="prod") == 3.75
    assert value(samples, "container_memory_working_set_bytes", container="side") == 15 << 20
    assert value(samples, "container_start_time_seconds", container="web") == START
    assert value(samples, "scrape_error") == 0
    assert len([s for s in samples if s[0] == "container_cpu_usage_seconds_total"]) == 2


def test_label_values_are_escaped(tree: CgroupTree, proc: Path) -> None:
    s = Sampler(detect(tree.root), proc_root=str(proc))
    tree.add(WEB, F_WEB)
    s.track(WEB, ContainerRef('we"b', "n\\s", "u", "c\nx"))
    s.sample()
    text = cadvisor_text(None, s.containers())
    assert 'pod="we\\"b"' in text and 'namespace="n\\\\s"' in text and 'container="c\\nx"' in text
    parse(text)
