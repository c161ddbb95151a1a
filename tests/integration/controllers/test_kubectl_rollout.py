"""The real kubectl 1.32 drives rollouts against kcore's controller manager (hollow nodes)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from ctl_support import Env

from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.core import Pod
from kcore.controllers import deployment_util as du

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(180)]

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, annotations: {kubernetes.io/change-cause: first}}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: "busybox:1"}]
"""


async def kubectl(env: Env, *args: str) -> str:
    proc = await asyncio.to_thread(
        subprocess.run,
        ["kubectl", f"--kubeconfig={env.cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


async def images(env: Env) -> set[str]:
    d = await env.client.get(Deployment, "web", namespace="default")
    return {c.image for c in d.spec.template.spec.containers}


async def test_set_image_rollout_status_history_and_undo(env: Env, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(MANIFEST)
    await kubectl(env, "apply", "-f", str(manifest))
    out = await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in out

    await kubectl(env, "set", "image", "deployment/web", "main=busybox:2")
    out = await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    assert "successfully rolled out" in out
    d = await env.client.get(Deployment, "web", namespace="default")
    assert d.status.updated_replicas == 4 and d.status.available_replicas == 4
    assert d.metadata.annotations[du.REVISION] == "2"

    history = await kubectl(env, "rollout", "history", "deployment/web")
    assert "1 " in history and "2 " in history and "first" in history

    await kubectl(env, "rollout", "undo", "deployment/web")
    out = await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    assert "successfully rolled out" in out
    assert await images(env) == {"busybox:1"}
    d = await env.client.get(Deployment, "web", namespace="default")
    assert d.metadata.annotations[du.REVISION] == "3"  # the old ReplicaSet, renumbered
    rss = (await env.client.list(ReplicaSet, namespace="default")).items
    sizes = {rs.spec.template.spec.containers[0].image: rs.spec.replicas for rs in rss}
    assert sizes == {"busybox:1": 4, "busybox:2": 0}


async def test_pause_holds_the_rollout_until_resume(env: Env, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(MANIFEST)
    await kubectl(env, "apply", "-f", str(manifest))
    await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    await kubectl(env, "rollout", "pause", "deployment/web")
    await kubectl(env, "set", "image", "deployment/web", "main=busybox:3")
    await asyncio.sleep(1.0)  # give a (wrong) controller time to start rolling
    rss = (await env.client.list(ReplicaSet, namespace="default")).items
    assert len(rss) == 1, "a paused deployment must not create a new ReplicaSet"
    d = await env.client.get(Deployment, "web", namespace="default")
    progressing = du.get_condition(d.status, "Progressing")
    assert progressing is not None and progressing.reason == du.PAUSED
    await kubectl(env, "rollout", "resume", "deployment/web")
    out = await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    assert "successfully rolled out" in out
    pods = (await env.client.list(Pod, namespace="default")).items
    assert {p.spec.containers[0].image for p in pods if not p.metadata.deletion_timestamp} == {
        "busybox:3"
    }


async def test_scale_restart_and_undo_to_revision(env: Env, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(MANIFEST)
    await kubectl(env, "apply", "-f", str(manifest))
    await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    await kubectl(env, "scale", "deployment/web", "--replicas=6")
    await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    d = await env.client.get(Deployment, "web", namespace="default")
    assert d.status.available_replicas == 6 and d.metadata.annotations[du.REVISION] == "1"

    await kubectl(env, "rollout", "restart", "deployment/web")
    await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    await kubectl(env, "set", "image", "deployment/web", "main=busybox:5")
    await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    d = await env.client.get(Deployment, "web", namespace="default")
    assert d.metadata.annotations[du.REVISION] == "3"

    await kubectl(env, "rollout", "undo", "deployment/web", "--to-revision=1")
    await kubectl(env, "rollout", "status", "deployment/web", "--timeout=60s")
    d = await env.client.get(Deployment, "web", namespace="default")
    assert d.metadata.annotations[du.REVISION] == "4"
    assert await images(env) == {"busybox:1"}
    restarted = "kubectl.kubernetes.io/restartedAt"
    assert restarted not in d.spec.template.metadata.annotations  # revision 1 had none
    out = await kubectl(env, "get", "rs", "-o", "name")
    assert len(out.split()) == 3
