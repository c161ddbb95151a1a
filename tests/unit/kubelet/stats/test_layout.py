"""Layout detection and container path resolution for cgroup v1 and v2 trees."""

from __future__ import annotations

from pathlib import Path

from stats_cgtree import CgroupTree, Figures

from kcore.kubelet.stats.layout import container_id_of, detect

CID = "a" * 64


def test_detects_version_and_finds_container(tree: CgroupTree) -> None:
    tree.add(CID, Figures())
    layout = detect(tree.root)
    assert layout.version == (1 if tree.driver == "v1" else 2)
    assert layout.find(CID) == tree.rel(CID)
    assert layout.find("b" * 64) is None


def test_v1_controllers_from_combined_mounts(tmp_path: Path) -> None:
    for name in ("cpu,cpuacct", "memory", "pids"):
        (tmp_path / name).mkdir()
    layout = detect(tmp_path)
    assert layout.version == 1
    assert layout.mounts["cpu"] == layout.mounts["cpuacct"] == tmp_path / "cpu,cpuacct"
    assert layout.mounts["memory"] == tmp_path / "memory"


def test_v1_file_paths_per_controller(tmp_path: Path) -> None:
    tree = CgroupTree(tmp_path, "v1")
    tree.add(CID, Figures())
    layout = detect(tmp_path)
    paths = {spec.name: layout.file_path(spec, tree.rel(CID)) for spec in layout.files}
    assert paths["cpuacct.usage"] == tmp_path / "cpuacct" / "docker" / CID / "cpuacct.usage"
    assert paths["pids.current"] == tmp_path / "pids" / "docker" / CID / "pids.current"
    assert all(p is not None and p.is_file() for p in paths.values())


def test_missing_hierarchy_finds_nothing(tmp_path: Path) -> None:
    layout = detect(tmp_path / "absent")
    assert layout.version == 1 and layout.mounts == {}
    assert layout.find(CID) is None and layout.docker_parents() == ()


def test_container_id_of_directory_names() -> None:
    assert container_id_of(CID) == CID
    assert container_id_of(f"docker-{CID}.scope") == CID
    assert container_id_of("docker-abc.scope") is None
    assert container_id_of("A" * 64) is None
    assert container_id_of("cron.service") is None
