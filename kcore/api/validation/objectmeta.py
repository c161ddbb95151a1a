"""ObjectMeta (names per kind, generateName, namespace scope, labels, annotations, owner
references, finalizers, identity immutable on update) and LabelSelector validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kcore.api import codec, labels, names
from kcore.api.errors import Cause
from kcore.api.meta import LabelSelector, ObjectMeta, OwnerReference
from kcore.api.validation.field import each, forbidden, immutable, invalid, non_negative, required

STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
NameCheck = Callable[[str], list[str]]


def _prefix_check(check: NameCheck) -> NameCheck:
    """generateName is a prefix: validated as a name with the trailing dash masked."""

    def check_prefix(value: str) -> list[str]:
        return check(value[:-1] + "a" if value.endswith("-") else value)

    return check_prefix


def validate_object_meta(
    meta: ObjectMeta, *, namespaced: bool, name_check: NameCheck, path: str = "metadata"
) -> list[Cause]:
    causes = _validate_name(meta, name_check, path)
    causes += _validate_namespace(meta, namespaced, path)
    causes += non_negative(f"{path}.generation", meta.generation)
    causes += names.validate_labels(meta.labels, f"{path}.labels")
    causes += names.validate_annotations(meta.annotations, f"{path}.annotations")
    causes += _validate_owner_references(meta, f"{path}.ownerReferences")
    causes += _validate_finalizers(meta.finalizers, f"{path}.finalizers")
    return causes


def _validate_name(meta: ObjectMeta, name_check: NameCheck, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if meta.generate_name:
        prefix_errors = _prefix_check(name_check)(meta.generate_name)
        causes += each(f"{path}.generateName", meta.generate_name, prefix_errors)
    if not meta.name and not meta.generate_name:
        return [*causes, required(f"{path}.name", "name or generateName is required")]
    if meta.name:
        causes += each(f"{path}.name", meta.name, name_check(meta.name))
    return causes


def _validate_namespace(meta: ObjectMeta, namespaced: bool, path: str) -> list[Cause]:
    if not namespaced:
        if meta.namespace:
            return [forbidden(f"{path}.namespace", "not allowed on this type")]
        return []
    if not meta.namespace:
        return [required(f"{path}.namespace")]
    return each(f"{path}.namespace", meta.namespace, names.is_dns1123_label(meta.namespace))


def _validate_owner_references(meta: ObjectMeta, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, ref in enumerate(meta.owner_references):
        causes += _validate_owner_reference(ref, f"{path}[{i}]")
    controllers = [f"{r.kind}/{r.name}" for r in meta.owner_references if r.controller]
    if len(controllers) > 1:
        detail = (
            'Only one reference can have Controller set to true. Found "true" in references '
            f"for {controllers[0]} and {controllers[1]}"
        )
        causes.append(invalid(path, [codec.to_dict(r) for r in meta.owner_references], detail))
    return causes


def _validate_owner_reference(ref: OwnerReference, path: str) -> list[Cause]:
    checks = (
        ("apiVersion", ref.api_version, "version must not be empty"),
        ("kind", ref.kind, "kind must not be empty"),
        ("name", ref.name, "name must not be empty"),
        ("uid", ref.uid, "uid must not be empty"),
    )
    return [invalid(f"{path}.{attr}", value, msg) for attr, value, msg in checks if not value]


def _validate_finalizers(finalizers: list[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, name in enumerate(finalizers):
        at = f"{path}[{i}]"
        causes += each(at, name, names.is_qualified_name(name))
        if "/" not in name and name not in STANDARD_FINALIZERS:
            detail = "name is neither a standard finalizer name nor is it fully qualified"
            causes.append(invalid(at, name, detail))
    return causes


def validate_object_meta_update(new: ObjectMeta, old: ObjectMeta) -> list[Cause]:
    causes = immutable("metadata.name", new.name, old.name)
    causes += immutable("metadata.namespace", new.namespace, old.namespace)
    if old.uid:
        causes += immutable("metadata.uid", new.uid, old.uid)
    if old.creation_timestamp:
        causes += immutable(
            "metadata.creationTimestamp", new.creation_timestamp, old.creation_timestamp
        )
    return causes


def validate_label_selector(selector: LabelSelector, path: str) -> list[Cause]:
    causes = names.validate_labels(selector.match_labels, f"{path}.matchLabels")
    for i, req in enumerate(selector.match_expressions):
        at = f"{path}.matchExpressions[{i}]"
        causes += each(f"{at}.key", req.key, names.is_qualified_name(req.key))
        if req.operator in ("In", "NotIn") and not req.values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            causes.append(required(f"{at}.values", detail))
        elif req.operator in ("Exists", "DoesNotExist") and req.values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            causes.append(forbidden(f"{at}.values", detail))
        elif req.operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append(invalid(f"{at}.operator", req.operator, "not a valid selector operator"))
    return causes


def selector_matches(selector: LabelSelector, template_labels: Mapping[str, str]) -> bool:
    try:
        return bool(labels.from_label_selector(selector).matches(template_labels))
    except ValueError:
        return False
