"""Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
which kubectl's typed clients send for `create namespace|deployment|configmap|secret|service|
job`, `autoscale`, ... — decoded into the same JSON-shaped dicts as every other body.

The envelope is the 4 bytes "k8s\\0" and a runtime.Unknown message (typeMeta, raw object bytes).
Objects are decoded with a table of the built-in messages' field numbers (the wire contract of
Kubernetes' generated.proto files), written in a small notation: `<number> <jsonName> <type>`,
where a type is s (string), i (integer), b (bool), y (bytes, base64 in JSON), t (Time), q
(Quantity), n (IntOrString), m (map of strings), my (map of bytes), mq (map of quantities) or a
message name; a leading `*` marks a repeated field and a trailing `!` a pointer field whose zero
value is meaningful. Go writes its other zero values (0, false, "", the zero Time) on the wire
although JSON omits them, so those are dropped. Fields not in the table are skipped: an object
decodes with what kcore knows and nothing else.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable
from typing import Any

from kcore.api import errors

MAGIC = b"k8s\x00"

_SPEC = {
    "Unknown": "1 typeMeta TypeMeta; 2 raw y; 3 contentEncoding s; 4 contentType s",
    "TypeMeta": "1 apiVersion s; 2 kind s",
    "ObjectMeta": "1 name s; 2 generateName s; 3 namespace s; 5 uid s; 6 resourceVersion s; "
    "7 generation i; 8 creationTimestamp t; 9 deletionTimestamp t; "
    "10 deletionGracePeriodSeconds i!; 11 labels m; 12 annotations m; "
    "13 ownerReferences *OwnerReference; 14 finalizers *s",
    "OwnerReference": "1 kind s; 3 name s; 4 uid s; 5 apiVersion s; 6 controller b!; "
    "7 blockOwnerDeletion b!",
    "LabelSelector": "1 matchLabels m; 2 matchExpressions *LabelSelectorRequirement",
    "LabelSelectorRequirement": "1 key s; 2 operator s; 3 values *s",
    "Namespace": "1 metadata ObjectMeta; 2 spec NamespaceSpec",
    "NamespaceSpec": "1 finalizers *s",
    "ConfigMap": "1 metadata ObjectMeta; 2 data m; 3 binaryData my; 4 immutable b!",
    "Secret": "1 metadata ObjectMeta; 2 data my; 3 type s; 4 stringData m; 5 immutable b!",
    "ServiceAccount": "1 metadata ObjectMeta; 2 secrets *ObjectReference; "
    "3 imagePullSecrets *LocalObjectReference; 4 automountServiceAccountToken b!",
    "ObjectReference": "1 kind s; 2 namespace s; 3 name s; 4 uid s; 5 apiVersion s",
    "LocalObjectReference": "1 name s",
    "Service": "1 metadata ObjectMeta; 2 spec ServiceSpec",
    "ServiceSpec": "1 ports *ServicePort; 2 selector m; 3 clusterIP s; 4 type s; "
    "5 externalIPs *s; 7 sessionAffinity s; 8 loadBalancerIP s; 10 externalName s; "
    "11 externalTrafficPolicy s; 13 publishNotReadyAddresses b",
    "ServicePort": "1 name s; 2 protocol s; 3 port i; 4 targetPort n; 5 nodePort i; "
    "6 appProtocol s",
    "PodTemplateSpec": "1 metadata ObjectMeta; 2 spec PodSpec",
    "PodSpec": "2 containers *Container; 3 restartPolicy s; 4 terminationGracePeriodSeconds i!; "
    "5 activeDeadlineSeconds i!; 6 dnsPolicy s; 7 nodeSelector m; 8 serviceAccountName s; "
    "10 nodeName s; 11 hostNetwork b; 15 imagePullSecrets *LocalObjectReference; "
    "16 hostname s; 17 subdomain s; 19 schedulerName s; 20 initContainers *Container; "
    "24 priorityClassName s; 25 priority i!",
    "Container": "1 name s; 2 image s; 3 command *s; 4 args *s; 5 workingDir s; "
    "6 ports *ContainerPort; 7 env *EnvVar; 8 resources ResourceRequirements; "
    "13 terminationMessagePath s; 14 imagePullPolicy s; 16 stdin b; 17 stdinOnce b; "
    "18 tty b; 20 terminationMessagePolicy s",
    "ContainerPort": "1 name s; 2 hostPort i; 3 containerPort i; 4 protocol s; 5 hostIP s",
    "EnvVar": "1 name s; 2 value s",
    "ResourceRequirements": "1 limits mq; 2 requests mq",
    "Deployment": "1 metadata ObjectMeta; 2 spec DeploymentSpec",
    "DeploymentSpec": "1 replicas i!; 2 selector LabelSelector; 3 template PodTemplateSpec; "
    "4 strategy DeploymentStrategy; 5 minReadySeconds i; 6 revisionHistoryLimit i!; "
    "7 paused b; 9 progressDeadlineSeconds i!",
    "DeploymentStrategy": "1 type s; 2 rollingUpdate RollingUpdateDeployment",
    "RollingUpdateDeployment": "1 maxUnavailable n; 2 maxSurge n",
    "Job": "1 metadata ObjectMeta; 2 spec JobSpec",
    "JobSpec": "1 parallelism i!; 2 completions i!; 3 activeDeadlineSeconds i!; "
    "4 selector LabelSelector; 5 manualSelector b!; 6 template PodTemplateSpec; "
    "7 backoffLimit i!; 8 ttlSecondsAfterFinished i!; 9 completionMode s; 10 suspend b!",
    "HorizontalPodAutoscaler": "1 metadata ObjectMeta; 2 spec HorizontalPodAutoscalerSpec",
    "HorizontalPodAutoscalerSpec": "1 scaleTargetRef CrossVersionObjectReference; "
    "2 minReplicas i!; 3 maxReplicas i; 4 targetCPUUtilizationPercentage i!",
    "CrossVersionObjectReference": "1 kind s; 2 name s; 3 apiVersion s",
    "PriorityClass": "1 metadata ObjectMeta; 2 value i; 3 globalDefault b; 4 description s; "
    "5 preemptionPolicy s",
    "Eviction": "1 metadata ObjectMeta; 2 deleteOptions DeleteOptions",
    "DeleteOptions": "1 gracePeriodSeconds i!; 2 preconditions Preconditions; "
    "3 orphanDependents b!; 4 propagationPolicy s; 5 dryRun *s",
    "Preconditions": "1 uid s; 2 resourceVersion s",
    "PodDisruptionBudget": "1 metadata ObjectMeta; 2 spec PodDisruptionBudgetSpec",
    "PodDisruptionBudgetSpec": "1 minAvailable n; 2 selector LabelSelector; 3 maxUnavailable n",
}

Field = tuple[str, str, bool, bool]  # json name, type, repeated, zero is meaningful
_ZEROS = (0, False, "", "1970-01-01T00:00:00Z")


def _parse(spec: str) -> dict[int, Field]:
    fields: dict[int, Field] = {}
    for entry in spec.split(";"):
        number, name, type_ = entry.split()
        base = type_.strip("*!")
        fields[int(number)] = (name, base, type_.startswith("*"), type_.endswith("!"))
    return fields


MESSAGES: dict[str, dict[int, Field]] = {name: _parse(s) for name, s in _SPEC.items()}


# --- wire format --------------------------------------------------------------------------------
def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields_of(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varint/fixed fields, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            out.append((number, data[pos : pos + size]))
            pos += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            out.append((number, int.from_bytes(data[pos : pos + width], "little")))
            pos += width
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(raw: bytes) -> str:
    parts = dict(fields_of(raw))
    seconds = _signed(int(parts.get(1, 0)))
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(raw: bytes) -> int | str:
    parts = dict(fields_of(raw))
    if parts.get(1, 0) == 1:
        value = parts.get(3, b"")
        return value.decode() if isinstance(value, bytes) else str(value)
    return _signed(int(parts.get(2, 0)))


def _quantity(raw: bytes) -> str:
    value = dict(fields_of(raw)).get(1, b"")
    return value.decode() if isinstance(value, bytes) else str(value)


def _map_entry(raw: bytes, convert: Callable[[bytes], Any]) -> tuple[str, Any]:
    parts = dict(fields_of(raw))
    key, value = parts.get(1, b""), parts.get(2, b"")
    assert isinstance(key, bytes) and isinstance(value, bytes)
    return key.decode(), convert(value)


_MAPS: dict[str, Callable[[bytes], Any]] = {
    "m": bytes.decode,
    "my": lambda v: base64.b64encode(v).decode(),
    "mq": _quantity,
}
_SCALARS: dict[str, Callable[[Any], Any]] = {
    "s": lambda v: v.decode(),
    "i": lambda v: _signed(v) if isinstance(v, int) else v,
    "b": bool,
    "y": lambda v: base64.b64encode(v).decode(),
    "t": _time,
    "q": _quantity,
    "n": _int_or_string,
}


def decode_message(name: str, data: bytes) -> dict[str, Any]:
    schema = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, value in fields_of(data):
        field = schema.get(number)
        if field is None:
            continue
        json_name, type_, repeated, keep_zero = field
        if type_ in _MAPS:
            assert isinstance(value, bytes)
            key, item = _map_entry(value, _MAPS[type_])
            out.setdefault(json_name, {})[key] = item
            continue
        converted = _convert(type_, value)
        if not (repeated or keep_zero) and _is_zero(converted):
            continue
        if repeated:
            out.setdefault(json_name, []).append(converted)
        else:
            out[json_name] = converted
    return out


def _is_zero(value: Any) -> bool:
    return not isinstance(value, dict | list) and any(
        value == z and type(value) is type(z) for z in _ZEROS
    )


def _convert(type_: str, value: int | bytes) -> Any:
    scalar = _SCALARS.get(type_)
    if scalar is not None:
        return scalar(value)
    if not isinstance(value, bytes):
        raise ValueError(f"expected an embedded {type_} message, got a number")
    return decode_message(type_, value)


def decode_object(data: bytes) -> dict[str, Any]:
    """A whole request body: envelope, then the object by its kind. 400 when malformed,
    415 for kinds without a table here."""
    if not data.startswith(MAGIC):
        raise errors.bad_request("protobuf body without the k8s envelope")
    try:
        unknown = decode_message("Unknown", data[len(MAGIC) :])
    except (ValueError, AssertionError, UnicodeDecodeError) as e:
        raise errors.bad_request(f"unable to decode protobuf body: {e}") from None
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in MESSAGES or kind in ("Unknown", "TypeMeta"):
        raise errors.unsupported_media_type(
            f"kcore cannot decode {kind or 'this object'} from protobuf; send JSON"
        )
    try:
        obj = decode_message(kind, base64.b64decode(unknown.get("raw", "")))
    except (ValueError, AssertionError, UnicodeDecodeError) as e:
        raise errors.bad_request(f"unable to decode {kind} from protobuf: {e}") from None
    return {"kind": kind, "apiVersion": type_meta.get("apiVersion", ""), **obj}
