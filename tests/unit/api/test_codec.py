"""kcore.api.codec: decoding errors as 400s, Go-like null tolerance, strict unknown-field paths,
typed watch events in JSON and msgpack, YAML documents, copies, and property round trips."""

from __future__ import annotations

import msgspec
import pytest

from kcore.api import apps, codec, core, kinds, meta
from kcore.api.errors import StatusError


def test_decode_accepts_a_resource_info_or_a_type() -> None:
    data = b'{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}'
    by_info = codec.decode(kinds.PODS, data)
    assert by_info == codec.decode(core.Pod, data)
    assert by_info.kind == "Pod" and by_info.api_version == "v1"


def test_malformed_json_is_a_bad_request() -> None:
    with pytest.raises(StatusError) as err:
        codec.decode(core.Pod, b'{"metadata": {')
    assert err.value.code == 400 and err.value.reason == "BadRequest"
    assert err.value.message.startswith("unable to decode Pod")


def test_type_mismatch_names_the_field_like_kubernetes() -> None:
    data = b'{"spec":{"containers":[{"name":"c","ports":[{"containerPort":"80"}]}]}}'
    with pytest.raises(StatusError) as err:
        codec.decode(core.Pod, data)
    assert err.value.code == 400
    assert "json: cannot unmarshal str into field spec.containers[0].ports[0].containerPort" in (
        err.value.message
    )


def test_nulls_mean_unset_like_go() -> None:
    data = (
        b'{"metadata":{"name":"d","creationTimestamp":null,"labels":null},'
        b'"spec":{"replicas":null,"template":{"metadata":{"creationTimestamp":null},'
        b'"spec":{"containers":[{"name":"c","image":"i","resources":{}}]}},"strategy":{}},'
        b'"status":{}}'
    )
    dep = codec.decode(apps.Deployment, data)
    assert dep.metadata.creation_timestamp == "" and dep.metadata.labels == {}
    assert dep.spec.replicas is None
    assert dep.spec.template.spec.containers[0].image == "i"


def test_kind_and_api_version_are_filled_in_and_always_encoded() -> None:
    encoded = msgspec.json.decode(codec.encode(core.ConfigMap()))
    assert encoded == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}}
    explicit = core.ConfigMap(api_version="v1", kind="ConfigMap")
    assert codec.encode(explicit) == codec.encode(core.ConfigMap())


def test_lists_always_encode_items_even_empty() -> None:
    encoded = msgspec.json.decode(codec.encode(core.PodList()))
    assert encoded == {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}
    listed = core.PodList(items=[core.Pod()], metadata=meta.ListMeta(resource_version="5"))
    again = msgspec.json.decode(codec.encode(listed))
    assert again["metadata"] == {"resourceVersion": "5"}
    assert again["items"] == [{"kind": "Pod", "apiVersion": "v1", "metadata": {}, "spec": {},
                               "status": {}}]  # fmt: skip


def test_list_meta_continue_uses_the_json_keyword() -> None:
    encoded = codec.encode(meta.ListMeta(continue_="abc", remaining_item_count=3))
    assert msgspec.json.decode(encoded) == {"continue": "abc", "remainingItemCount": 3}


def test_unknown_fields_gives_json_paths_of_dropped_keys() -> None:
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"any": "key"}, "colour": "red"},
        "spec": {
            "containers": [
                {"name": "a", "image": "i", "resources": {"limits": {"x.io/y": "1"}}},
                {"name": "b", "image": "i", "imagePullPolcy": "Never"},
            ],
            "nodeSelector": {"free": "form"},
            "foo": 1,
        },
    }
    obj = codec.from_dict(core.Pod, raw)
    assert codec.unknown_fields(raw, obj) == [
        "metadata.colour",
        "spec.containers[1].imagePullPolcy",
        "spec.foo",
    ]
    assert codec.unknown_fields(raw, core.Pod) == codec.unknown_fields(raw, obj)


def test_unknown_fields_is_empty_for_a_known_shape() -> None:
    raw = {"spec": {"strategy": {"rollingUpdate": {"maxSurge": "25%"}}}, "status": {}}
    assert codec.unknown_fields(raw, apps.Deployment) == []


def test_strict_decoding_error_reads_like_kubernetes() -> None:
    err = codec.strict_decoding_error(kinds.PODS, ["spec.foo", "spec.bar"])
    assert err.code == 400
    assert err.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.foo", unknown field "spec.bar"'
    )


def test_type_for_finds_resources_subresource_bodies_and_meta_kinds() -> None:
    assert codec.type_for("apps/v1", "Deployment") is apps.Deployment
    assert codec.type_for("autoscaling/v1", "Scale") is not None
    assert codec.type_for("v1", "Status") is meta.Status
    assert codec.type_for("meta.k8s.io/v1", "Table") is meta.Table
    assert codec.type_for("v1", "Nope") is None


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_watch_events_decode_into_a_tagged_union(fmt: codec.Format) -> None:
    pod = core.Pod(metadata=meta.ObjectMeta(name="p", resource_version="7"))
    status = meta.Status(status="Failure", reason="Expired", code=410)
    stream = [
        codec.encode_event("ADDED", codec.encode(pod, fmt=fmt), fmt=fmt),
        codec.encode_event("MODIFIED", codec.encode(pod, fmt=fmt), fmt=fmt),
        codec.encode_event("DELETED", codec.encode(pod, fmt=fmt), fmt=fmt),
        codec.encode_event("BOOKMARK", codec.encode(pod, fmt=fmt), fmt=fmt),
        codec.encode_event("ERROR", codec.encode(status, fmt=fmt), fmt=fmt),
    ]
    seen = []
    for data in stream:
        match codec.decode_event(core.Pod, data, fmt=fmt):
            case meta.Added(object=obj) | meta.Modified(object=obj) | meta.Deleted(object=obj):
                seen.append(obj.metadata.name)
            case meta.Bookmark(object=obj):
                seen.append(f"rv={obj.metadata.resource_version}")
            case meta.Error(object=err):
                seen.append(err.code)
    assert seen == ["p", "p", "p", "rv=7", 410]


def test_json_watch_event_framing_is_kubernetes_shape() -> None:
    framed = codec.encode_event("ADDED", b'{"kind":"Pod"}')
    assert msgspec.json.decode(framed) == {"type": "ADDED", "object": {"kind": "Pod"}}
    other = codec.encode_event("CUSTOM", b"{}")
    assert msgspec.json.decode(other) == {"type": "CUSTOM", "object": {}}


def test_unknown_watch_event_type_is_a_bad_request() -> None:
    with pytest.raises(StatusError) as err:
        codec.decode_event(core.Pod, b'{"type":"WEIRD","object":{}}')
    assert err.value.code == 400


def test_yaml_documents_skip_empty_ones_and_errors_are_bad_requests() -> None:
    docs = codec.load_yaml_documents("---\nkind: Pod\n---\n---\nkind: Service\n...\n")
    assert docs == [{"kind": "Pod"}, {"kind": "Service"}]
    with pytest.raises(StatusError) as err:
        codec.load_yaml_documents("a: [1, 2")
    assert err.value.code == 400


def test_yaml_timestamps_stay_strings() -> None:
    text = "metadata:\n  name: p\n  creationTimestamp: 2024-01-01T00:00:00Z\n"
    [doc] = codec.load_yaml_documents(text)
    assert doc["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"
    assert codec.from_dict(core.Pod, doc).metadata.creation_timestamp == "2024-01-01T00:00:00Z"


def test_dump_yaml_round_trips_through_load() -> None:
    cm = core.ConfigMap(metadata=meta.ObjectMeta(name="c"), data={"k": "v\nw"})
    assert codec.load_yaml_documents(codec.dump_yaml(cm)) == [codec.to_dict(cm)]


def test_deep_copy_is_independent() -> None:
    pod = core.Pod(spec=core.PodSpec(containers=[core.Container(name="a")]))
    copy = codec.deep_copy(pod)
    copy.spec.containers[0].name = "b"
    copy.metadata.labels["x"] = "y"
    assert pod.spec.containers[0].name == "a" and pod.metadata.labels == {}


def test_from_dict_reports_bad_shapes_as_bad_requests() -> None:
    with pytest.raises(StatusError) as err:
        codec.from_dict(core.Service, {"spec": {"ports": {"port": 80}}})
    assert err.value.code == 400 and "spec.ports" in err.value.message
