"""Plugin results: Kubernetes' status codes, with `None` standing for Success.

A plugin returns None (or a Success status) when all is well. Unschedulable means this node
(or, from pre_filter, every node) cannot take the pod now but might after a cluster change;
preemption may help. UnschedulableAndUnresolvable means preemption cannot help. Wait is a
permit plugin holding the pod back for at most `timeout` seconds (`Status.wait`), as kube's
Permit returns `(Status, time.Duration)`; Skip means "not my business" (e.g. a binder that lets
the next binder bind). Error is a bug or an outage, retried with backoff.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Code(enum.IntEnum):
    Success = 0
    Error = 1
    Unschedulable = 2
    UnschedulableAndUnresolvable = 3
    Wait = 4
    Skip = 5


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""
    timeout: float = 0.0
    """Seconds a Wait may last before the pod is rejected (kube caps it at 15 minutes)."""

    @classmethod
    def unschedulable(cls, *reasons: str, resolvable: bool = True) -> Status:
        code = Code.Unschedulable if resolvable else Code.UnschedulableAndUnresolvable
        return cls(code, reasons)

    @classmethod
    def error(cls, reason: str) -> Status:
        return cls(Code.Error, (reason,))

    @classmethod
    def wait(cls, timeout: float, *reasons: str) -> Status:
        """A permit plugin holds the pod for up to `timeout` seconds (see WaitingPod); a
        timeout of 0 rejects it at once, as a zero Duration does in kube-scheduler."""
        return cls(Code.Wait, reasons, timeout=timeout)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, name: str) -> Status:
        return Status(self.code, self.reasons, self.plugin or name, self.timeout)


Result = Status | None
"""What an extension point returns: None is Success."""


def is_success(status: Result) -> bool:
    return status is None or status.code == Code.Success


def is_rejection(status: Result) -> bool:
    return status is not None and status.code in (
        Code.Unschedulable,
        Code.UnschedulableAndUnresolvable,
    )


__all__ = ["Code", "Result", "Status", "is_rejection", "is_success"]
