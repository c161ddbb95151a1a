"""`kcore bench pod-startup`: pod startup latency on one real-Docker kubelet beside
`docker run -d` of the same image and command, using the workload of
benchmarks/test_pod_startup.py (pods created one after another through the API, each timed
from its create request to the watch event showing it Running; `docker run -d` timed from
spawn to the CLI's exit).

Every container either side started is removed at cleanup (by their labels), and the cleanup
fails the scenario if any is left.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from kcore.bench.harness import Context, Unavailable
from kcore.bench.results import Series, cdf_points, result
from kcore.bench.workloads import driver

IMAGE = "kcore-test/busybox:1"


def _docker_ok() -> None:
    if shutil.which("docker") is None:
        raise Unavailable("pod startup needs Docker: the docker CLI is not installed")
    done = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, check=False)
    if done.returncode != 0:
        raise Unavailable(f"pod startup needs the test image {IMAGE} (ci/test builds it)")


def labelled_containers(label: str) -> list[str]:
    argv = ["docker", "ps", "-aq", "--filter", f"label={label}"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def _no_leftovers(labels: list[str]) -> None:
    left = [c for label in labels for c in labelled_containers(label)]
    for cid in left:
        subprocess.run(["docker", "rm", "-f", "-v", cid], capture_output=True, check=False)
    if left:
        raise RuntimeError(f"{len(left)} containers were left behind (now removed)")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(ctx: Context) -> None:
    _docker_ok()
    try:
        bench: Any = driver("test_pod_startup", "the kubelet pod-startup workload")
    except ImportError as exc:
        raise Unavailable(f"kubelet not available: {exc}") from exc
    labels = [bench.LABEL, f"io.kcore.node={bench.NODE}"]
    ctx.cleanup.callback("pod-startup containers", lambda: _no_leftovers(labels))
    ctx.cleanup.callback("pod-startup docker cleanup", bench._cleanup_docker)
    tmp = ctx.cleanup.tempdir()
    with ctx.phase(f"docker run -d x {bench.PODS}"):
        docker = asyncio.run(bench._docker_latencies())
    with ctx.phase(f"kcore pods x {bench.PODS} on a real-Docker kubelet"):
        kcore = asyncio.run(bench._kcore_latencies(Path(tmp)))
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        ctx.add(result(scenario="pod-startup", metric=f"pod startup {name} ({bench.PODS} pods)",
                       unit="ms", kcore=_pct(kcore, q) * 1000, peer="docker run -d",
                       peer_value=_pct(docker, q) * 1000, higher_is_better=False))  # fmt: skip
    ctx.add(result(scenario="pod-startup", metric="pod startup mean", unit="ms",
                   kcore=statistics.mean(kcore) * 1000, peer="docker run -d",
                   peer_value=statistics.mean(docker) * 1000, higher_is_better=False))  # fmt: skip
    ctx.plot(Series(name="pod-startup-latency", kind="cdf", title="pod startup latency",
                    xlabel="latency (ms)", ylabel="fraction of pods",
                    points={"kcore (API -> Running)": cdf_points([x * 1000 for x in kcore]),
                            "docker run -d": cdf_points([x * 1000 for x in docker])}))  # fmt: skip
