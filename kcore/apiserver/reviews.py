"""Self-reviews: `kubectl auth can-i` (authorization.k8s.io/v1 SelfSubjectAccessReview) and
`kubectl auth whoami` (authentication.k8s.io/v1 SelfSubjectReview), answered for the calling
user. kcore's authorizer allows every authenticated user everything, so every review says yes.
The request body (protobuf from kubectl's typed client) is not needed to answer.
"""

from __future__ import annotations

from typing import Any

from kcore.apiserver.auth import User
from kcore.apiserver.requestinfo import RequestInfo

REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"): "SelfSubjectAccessReview",
    ("authentication.k8s.io", "selfsubjectreviews"): "SelfSubjectReview",
}


def is_review(ri: RequestInfo) -> bool:
    return ri.verb == "create" and (ri.group, ri.resource) in REVIEWS and not ri.name


def answer(ri: RequestInfo, user: User) -> dict[str, Any]:
    kind = REVIEWS[(ri.group, ri.resource)]
    doc: dict[str, Any] = {"kind": kind, "apiVersion": f"{ri.group}/{ri.version}",
                           "metadata": {}}  # fmt: skip
    if kind == "SelfSubjectReview":
        doc["status"] = {"userInfo": {"username": user.name, "groups": list(user.groups)}}
    else:
        doc["spec"] = {}
        doc["status"] = {"allowed": True, "reason": "kcore allows every authenticated user"}
    return doc
