"""Strategic merge patch: the Kubernetes documentation's cases as golden tests, directives,
error codes, and properties (agreement with merge patch where no list merges; idempotence)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api.patch import PatchError, merge_patch, strategic

DIRECTIVE_PREFIXES = ("$patch", "$retainKeys", "$setElementOrder/", "$deleteFromPrimitiveList/")


def _directives(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [k for k in value if k.startswith(DIRECTIVE_PREFIXES)]
        return found + [d for v in value.values() for d in _directives(v)]
    if isinstance(value, list):
        return [d for v in value for d in _directives(v)]
    return []


def apply(doc: Any, patch: Any, kind: str) -> Any:
    """strategic.apply plus the invariants every call must keep."""
    before = copy.deepcopy((doc, patch))
    result = strategic.apply(doc, patch, kind)
    assert (doc, patch) == before, "inputs were mutated"
    assert _directives(result) == [], "a directive leaked into the result"
    return result


def deployment(**pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "patch-demo"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": pod_spec},
        },
    }


def pod_spec(result: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = result["spec"]["template"]["spec"]
    return spec


# --- "Update API Objects in Place Using kubectl patch" ---------------------------------------

DEMO = deployment(
    containers=[{"name": "patch-demo-ctr", "image": "nginx"}],
    tolerations=[{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}],
)


def test_docs_containers_merge_by_name() -> None:
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}
        }
    }
    result = apply(DEMO, patch, "Deployment")
    # Kubernetes puts the new item before the live ones it is not ordered against
    assert pod_spec(result)["containers"] == [
        {"name": "patch-demo-ctr-2", "image": "redis"},
        {"name": "patch-demo-ctr", "image": "nginx"},
    ]
    assert pod_spec(result)["tolerations"] == pod_spec(DEMO)["tolerations"]
    assert result["spec"]["replicas"] == 2


def test_docs_tolerations_are_replaced() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]
                }
            }
        }
    }
    result = apply(DEMO, patch, "Deployment")
    assert pod_spec(result)["tolerations"] == [
        {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}
    ]
    assert pod_spec(result)["containers"] == pod_spec(DEMO)["containers"]


def test_docs_merge_patch_replaces_the_list_instead() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/hello-app:2.0"}
                    ]
                }
            }
        }
    }
    result = merge_patch.apply(DEMO, patch)
    assert pod_spec(result)["containers"] == [
        {"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/hello-app:2.0"}
    ]


def test_docs_retain_keys_clears_rolling_update() -> None:
    live = deployment(containers=[{"name": "c", "image": "nginx"}])
    live["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%"}}
    plain = apply(live, {"spec": {"strategy": {"type": "Recreate"}}}, "Deployment")
    assert plain["spec"]["strategy"] == {"type": "Recreate", "rollingUpdate": {"maxSurge": "30%"}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert apply(live, patch, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_rejects_unlisted_patch_members() -> None:
    live = {"spec": {"strategy": {"type": "RollingUpdate"}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}
    with pytest.raises(PatchError) as info:
        strategic.apply(live, patch, "Deployment")
    assert info.value.code == 400
    assert "retainKeys" in str(info.value)


def test_retain_keys_on_volumes() -> None:
    live = {"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}
    patch = {
        "spec": {
            "volumes": [
                {"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}
            ]
        }
    }
    assert apply(live, patch, "Pod")["spec"]["volumes"] == [
        {"name": "v", "hostPath": {"path": "/x"}}
    ]


# --- directives ----------------------------------------------------------------------------


def test_patch_replace_on_a_list() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    patch = {"spec": {"containers": [{"name": "c", "image": "z"}, {"$patch": "replace"}]}}
    assert apply(live, patch, "Pod")["spec"]["containers"] == [{"name": "c", "image": "z"}]


def test_patch_replace_on_a_map() -> None:
    live = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    patch = {"metadata": {"labels": {"$patch": "replace", "c": "3"}}}
    assert apply(live, patch, "Pod")["metadata"]["labels"] == {"c": "3"}


def test_patch_delete_on_element_and_map() -> None:
    live = {
        "spec": {
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
            "affinity": {"nodeAffinity": {}},
        }
    }
    patch = {
        "spec": {
            "containers": [{"name": "a", "$patch": "delete"}],
            "affinity": {"$patch": "delete"},
        }
    }
    result = apply(live, patch, "Pod")
    assert result["spec"]["containers"] == [{"name": "b", "image": "y"}]
    assert result["spec"]["affinity"] == {}
    assert apply(live, {"$patch": "delete"}, "Pod") == {}


def test_patch_merge_is_the_explicit_default() -> None:
    live = {
        "metadata": {"labels": {"a": "1"}},
        "spec": {"containers": [{"name": "a", "image": "x"}]},
    }
    patch = {
        "metadata": {"labels": {"$patch": "merge", "b": "2"}},
        "spec": {"containers": [{"name": "a", "image": "y", "$patch": "merge"}]},
    }
    result = apply(live, patch, "Pod")
    assert result["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert result["spec"]["containers"] == [{"name": "a", "image": "y"}]


def test_unknown_patch_type_is_rejected() -> None:
    for patch in (
        {"metadata": {"$patch": "explode"}},
        {"spec": {"containers": [{"name": "a", "$patch": "x"}]}},
    ):
        with pytest.raises(PatchError) as info:
            strategic.apply({"spec": {"containers": [{"name": "a"}]}}, patch, "Pod")
        assert info.value.code == 400


def test_delete_from_primitive_list_on_finalizers() -> None:
    live = {"metadata": {"finalizers": ["a", "b", "c"]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}
    assert apply(live, patch, "ConfigMap")["metadata"]["finalizers"] == ["a", "c"]
    nothing_there = apply({"metadata": {}}, patch, "ConfigMap")
    assert nothing_there == {"metadata": {}}
    with pytest.raises(PatchError):
        strategic.apply(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": "b"}}, "Pod")


def test_finalizers_merge_as_a_set() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    result = apply(live, {"metadata": {"finalizers": ["b", "c"]}}, "Pod")
    assert sorted(result["metadata"]["finalizers"]) == ["a", "b", "c"]
    # patch items in patch order, new ones ahead of the live items they are not ordered against
    assert result["metadata"]["finalizers"] == ["a", "b", "c"]
    assert apply(live, {"metadata": {"finalizers": ["c"]}}, "Pod")["metadata"]["finalizers"] == [
        "c",
        "a",
        "b",
    ]


def test_set_element_order_on_maps() -> None:
    live = {"spec": {"containers": [{"name": n, "image": "i"} for n in ("a", "b", "c")]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "new"}],
        }
    }
    result = apply(live, patch, "Pod")
    assert result["spec"]["containers"] == [
        {"name": "c", "image": "i"},
        {"name": "a", "image": "new"},
        {"name": "b", "image": "i"},
    ]


def test_set_element_order_on_primitives_and_server_only_items() -> None:
    live = {"metadata": {"finalizers": ["a", "b", "c", "d", "e"]}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["a", "e", "c", "f"], "finalizers": ["f"]}}
    result = apply(live, patch, "Pod")
    assert result["metadata"]["finalizers"] == ["a", "b", "d", "e", "c", "f"]
    reorder_only = {"metadata": {"$setElementOrder/finalizers": ["e", "d", "c", "b", "a"]}}
    assert apply(live, reorder_only, "Pod")["metadata"]["finalizers"] == ["e", "d", "c", "b", "a"]


def test_set_element_order_must_agree_with_the_patch_list() -> None:
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}],
        }
    }
    with pytest.raises(PatchError) as info:
        strategic.apply(live, patch, "Pod")
    assert info.value.code == 400


def test_kubectl_apply_style_patch() -> None:
    """The shape `kubectl apply` sends: order list, changed item, delete directive."""
    live = deployment(
        containers=[{"name": "a", "image": "1"}, {"name": "b", "image": "1"}],
        volumes=[{"name": "v", "emptyDir": {}}],
    )
    live["metadata"]["finalizers"] = ["x", "y", "z"]
    patch = {
        "metadata": {
            "$deleteFromPrimitiveList/finalizers": ["y"],
            "$setElementOrder/finalizers": ["x", "z"],
        },
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}],
                    "containers": [{"image": "2", "name": "b"}, {"$patch": "delete", "name": "a"}],
                    "volumes": [
                        {
                            "$retainKeys": ["hostPath", "name"],
                            "hostPath": {"path": "/x"},
                            "name": "v",
                        }
                    ],
                }
            }
        },
    }
    result = apply(live, patch, "Deployment")
    assert result["metadata"]["finalizers"] == ["x", "z"]
    assert pod_spec(result)["containers"] == [{"name": "b", "image": "2"}]
    assert pod_spec(result)["volumes"] == [{"name": "v", "hostPath": {"path": "/x"}}]


# --- schema coverage -----------------------------------------------------------------------


def test_nested_container_lists_merge_by_their_keys() -> None:
    live = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "v1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "volumeMounts": [{"mountPath": "/data", "name": "d"}],
                    "command": ["sh", "-c", "old"],
                }
            ]
        }
    }
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "v2",
                    "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}],
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                    "command": ["sh"],
                }
            ]
        }
    }
    (app,) = apply(live, patch, "Pod")["spec"]["containers"]
    assert app["image"] == "v2"
    assert app["env"] == [{"name": "B", "value": "3"}]
    assert app["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"}]
    assert app["volumeMounts"] == [{"mountPath": "/data", "name": "d", "readOnly": True}]
    assert app["command"] == ["sh"]  # no strategy: replaced


def test_merge_key_matches_numbers_by_value() -> None:
    live = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    patch = {"spec": {"ports": [{"port": 80.0, "targetPort": 8080}]}}
    ports = apply(live, patch, "Service")["spec"]["ports"]
    assert ports == [
        {"port": 80, "name": "http", "targetPort": 8080},
        {"port": 443, "name": "https"},
    ]


def test_status_conditions_and_node_lists() -> None:
    live = {
        "spec": {"podCIDRs": ["127.64.1.0/24"]},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "MemoryPressure", "status": "False"},
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.1.1"}],
        },
    }
    patch = {
        "spec": {"podCIDRs": ["127.64.1.0/24"]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "n1"}],
        },
    }
    result = apply(live, patch, "Node")
    assert result["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "MemoryPressure", "status": "False"},
    ]
    assert [a["type"] for a in result["status"]["addresses"]] == ["Hostname", "InternalIP"]
    assert result["spec"]["podCIDRs"] == ["127.64.1.0/24"]


def test_pod_status_pod_ips_and_owner_references() -> None:
    live = {
        "metadata": {"ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs"}]},
        "status": {"podIPs": [{"ip": "127.64.0.2"}], "phase": "Pending"},
    }
    patch = {
        "metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]},
        "status": {"podIPs": [{"ip": "127.64.0.2"}], "phase": "Running", "podIP": "127.64.0.2"},
    }
    result = apply(live, patch, "Pod")
    assert result["metadata"]["ownerReferences"] == [
        {"uid": "u1", "kind": "ReplicaSet", "name": "rs", "controller": True}
    ]
    assert result["status"] == {
        "podIPs": [{"ip": "127.64.0.2"}],
        "phase": "Running",
        "podIP": "127.64.0.2",
    }


def test_templates_of_every_workload_merge_containers() -> None:
    live_spec = {"containers": [{"name": "a", "image": "1"}]}
    patch_spec = {"containers": [{"name": "a", "image": "2"}]}
    for kind in (
        "Deployment",
        "ReplicaSet",
        "ReplicationController",
        "DaemonSet",
        "StatefulSet",
        "Job",
    ):
        live = {"spec": {"template": {"spec": live_spec}}}
        result = apply(live, {"spec": {"template": {"spec": patch_spec}}}, kind)
        assert result["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "2"}], (
            kind
        )
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": live_spec}}}}}
    patch = {"spec": {"jobTemplate": {"spec": {"template": {"spec": patch_spec}}}}}
    result = apply(cron, patch, "CronJob")
    assert (
        result["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == "2"
    )


def test_service_account_secrets_merge_by_name() -> None:
    live = {"secrets": [{"name": "a"}]}
    assert apply(live, {"secrets": [{"name": "b"}]}, "ServiceAccount")["secrets"] == [
        {"name": "b"},
        {"name": "a"},
    ]


def test_unknown_kinds_merge_maps_and_replace_lists() -> None:
    live = {"spec": {"containers": [{"name": "a"}], "m": {"x": 1}}}
    patch = {"spec": {"containers": [{"name": "b"}], "m": {"y": 2}}}
    assert apply(live, patch, "Widget") == {
        "spec": {"containers": [{"name": "b"}], "m": {"x": 1, "y": 2}}
    }


def test_null_deletes_and_new_values_drop_directives_and_nulls() -> None:
    live = {"metadata": {"labels": {"a": "1"}}, "spec": {"nodeName": "n1"}}
    patch = {
        "metadata": {"labels": {"a": None}},
        "spec": {
            "nodeName": None,
            "containers": [{"name": "x", "$patch": "delete"}, {"name": "y", "image": None}],
            "affinity": {"$patch": "replace", "podAffinity": {"k": None}},
        },
    }
    result = apply(live, patch, "Pod")
    assert result == {
        "metadata": {"labels": {}},
        "spec": {"containers": [{"name": "y"}], "affinity": {"podAffinity": {}}},
    }


def test_scalars_and_type_changes_replace() -> None:
    live = {"spec": {"a": [1], "b": {"c": 1}, "d": "s"}}
    patch = {"spec": {"a": {"x": 1}, "b": [2], "d": 5}}
    assert apply(live, patch, "Widget") == {"spec": {"a": {"x": 1}, "b": [2], "d": 5}}


@pytest.mark.parametrize(
    ("live", "patch", "code"),
    [
        ({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, 422),
        ({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": [1]}}, 400),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": [{"image": "x"}]}},
            400,
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": [{"$patch": "delete"}]}},
            400,
        ),
        ({}, {"$setElementOrder/x": "nope"}, 400),
        ({}, {"$retainKeys": "nope"}, 400),
    ],
)
def test_error_codes(live: Any, patch: Any, code: int) -> None:
    with pytest.raises(PatchError) as info:
        strategic.apply(live, patch, "Pod")
    assert info.value.code == code


def test_documents_must_be_objects() -> None:
    for doc, patch in (([], {}), ({}, []), ({}, None)):
        with pytest.raises(PatchError) as info:
            strategic.apply(doc, patch, "Pod")
        assert info.value.code == 400


# --- properties ----------------------------------------------------------------------------

_keys = st.sampled_from(["a", "b", "c", "d"])
_scalars = st.booleans() | st.integers(-3, 3) | st.text(alphabet="xyz", max_size=2)


def _values(allow_null: bool) -> st.SearchStrategy[Any]:
    leaves = (_scalars | st.none()) if allow_null else _scalars
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
        max_leaves=10,
    )


docs = st.dictionaries(_keys, _values(allow_null=False), max_size=4)
patches = st.dictionaries(_keys, _values(allow_null=True), max_size=4)


@given(docs, patches, st.sampled_from(["Widget", "Pod", "Deployment", "Node"]))
def test_without_merge_keyed_lists_it_is_a_merge_patch(
    doc: dict[str, Any], patch: dict[str, Any], kind: str
) -> None:
    # keys a-d are in no schema, so every list replaces and every object merges
    assert apply(doc, patch, kind) == merge_patch.apply(doc, patch)


_names = st.sampled_from(["a", "b", "c"])
_containers = st.lists(
    st.fixed_dictionaries(
        {"name": _names},
        optional={
            "image": st.sampled_from(["x", "y"]),
            "env": st.lists(st.fixed_dictionaries({"name": _names, "value": _scalars}), max_size=2),
        },
    ),
    max_size=3,
    unique_by=lambda c: c["name"],
)
_finalizers = st.lists(_names, max_size=3, unique=True)


def _pod(containers: list[Any], finalizers: list[str]) -> dict[str, Any]:
    return {"metadata": {"finalizers": finalizers}, "spec": {"containers": containers}}


@given(_containers, _finalizers, _containers, _finalizers)
def test_merging_is_idempotent_and_keeps_every_name(
    live_c: list[Any], live_f: list[str], patch_c: list[Any], patch_f: list[str]
) -> None:
    live, patch = _pod(live_c, live_f), _pod(patch_c, patch_f)
    once = apply(live, patch, "Pod")
    assert apply(once, patch, "Pod") == once
    names = [c["name"] for c in once["spec"]["containers"]]
    assert sorted(names) == sorted({c["name"] for c in live_c + patch_c})
    assert sorted(once["metadata"]["finalizers"]) == sorted(set(live_f + patch_f))
    patched = {c["name"]: c for c in patch_c}
    for container in once["spec"]["containers"]:
        if container["name"] in patched and "image" in patched[container["name"]]:
            assert container["image"] == patched[container["name"]]["image"]


@given(_containers, _names)
def test_delete_directive_removes_exactly_that_item(live_c: list[Any], name: str) -> None:
    live = _pod(live_c, [])
    result = apply(live, {"spec": {"containers": [{"name": name, "$patch": "delete"}]}}, "Pod")
    assert result["spec"]["containers"] == [c for c in live_c if c["name"] != name]
