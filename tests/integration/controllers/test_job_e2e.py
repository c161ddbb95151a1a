"""Jobs end to end: kcore.Cluster + Job controller + simulated scheduler/kubelets (`Placer`).

Pods whose image is "ok" succeed, "fail" fail; the failure backoff starts at 0.2 s here.
`kubectl wait --for=condition=complete` is the real client waiting on the Job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from hollow import eventually
from test_daemonset_e2e import Placer
from test_nodes import running

import kcore
from kcore.api.batch import Job
from kcore.api.codec import from_dict
from kcore.api.core import Node, Pod
from kcore.api.meta import ObjectMeta
from kcore.client import Client
from kcore.controllers.job import JobController

pytestmark = pytest.mark.timeout(120)


def job(name: str, image: str, **spec: int) -> Job:
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            **spec,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]}
            },
        },
    }
    return from_dict(Job, body)


def outcome(pod: Pod) -> str:
    return "Failed" if pod.spec.containers[0].image == "fail" else "Succeeded"


@contextlib.asynccontextmanager
async def env() -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster() as cluster:
        await cluster.client.create(Node(metadata=ObjectMeta(name="node-0")))
        mc = cluster.new_client()
        ctl = lambda c, f, r: JobController(c, f, r, backoff_base=0.2)  # noqa: E731
        async with mc, running(mc, ctl), Placer(cluster.client, outcome):
            yield cluster


async def condition(c: Client, name: str, kind: str) -> Job | None:
    got = await c.get(Job, name, namespace="default")
    ok = any(x.type == kind and x.status == "True" for x in got.status.conditions)
    return got if ok else None


async def test_job_completes_and_kubectl_wait_sees_it() -> None:
    async with env() as cluster:
        c = cluster.client
        created = await c.create(job("batch", "ok", completions=5, parallelism=2))
        proc = await asyncio.create_subprocess_exec(
            "kubectl",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "wait",
            "--for=condition=complete",
            "job/batch",
            "--timeout=60s",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert b"condition met" in out
        done = await eventually(lambda: condition(c, "batch", "Complete"))
        st = done.status
        assert (st.succeeded, st.failed, st.active) == (5, 0, 0)
        assert st.completion_time and st.start_time
        pods = (await c.list(Pod, namespace="default", label_selector="job-name=batch")).items
        assert len(pods) == 5
        assert all(p.metadata.labels["controller-uid"] == created.metadata.uid for p in pods)


async def test_failing_job_stops_at_backoff_limit() -> None:
    async with env() as cluster:
        c = cluster.client
        await c.create(job("bad", "fail", completions=1, backoffLimit=2))
        failed = await eventually(lambda: condition(c, "bad", "Failed"))
        reason = next(x.reason for x in failed.status.conditions if x.type == "Failed")
        assert reason == "BackoffLimitExceeded"
        assert failed.status.failed == 3
        pods = (await c.list(Pod, namespace="default")).items
        assert len(pods) == 3  # no pod after the limit
