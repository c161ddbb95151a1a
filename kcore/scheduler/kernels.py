"""Thin wrapper over the Cython kernels (kcore._ext.sched): checks, views, results.

The wrapper validates that a compiled `Query` belongs to the table's current layout and that
every array has the dtype and shape the C side assumes, builds the C views (cached per table
layout, per query and per profile), and turns the kernel's raw outputs into a `Decision` and a
kube-scheduler style failure message.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

import kcore._ext.sched as _sched
from kcore.scheduler.query import CompiledProfile, Query
from kcore.scheduler.table import NodeArrays, NodeTable

I64 = npt.NDArray[np.int64]

FAIL_RESOURCE_BASE = 10
FAIL_REASONS = (
    "node(s) were unschedulable",
    "node(s) didn't match the requested node name",
    "node(s) had untolerated taint(s)",
    "node(s) didn't match Pod's node affinity/selector",
    "node(s) didn't have free ports for the requested pod ports",
    "node(s) didn't match pod topology spread constraints (missing required label)",
    "node(s) didn't match pod topology spread constraints",
    "node(s) didn't match pod affinity rules",
    "node(s) didn't match pod anti-affinity rules",
    "node(s) didn't satisfy existing pods anti-affinity rules",
)


class Rng:
    """The splitmix64 state kernels draw tie-breaks from (one uint64, updated in place)."""

    def __init__(self, seed: int = 0) -> None:
        self.state = np.array([seed & (2**64 - 1)], np.uint64)


_DEFAULT_RNG = Rng(int.from_bytes(os.urandom(8), "little"))
"""Tie-breaks for callers that pass no Rng: random across calls, like kube-scheduler's."""
_NO_SCORES = np.zeros(0, np.int64)


@dataclass(slots=True)
class Decision:
    """One scheduling decision (slots, not frozen: cheap to make on every call)."""

    index: int
    """Chosen node row, or -1 when no node is feasible."""
    fails: I64
    """Nodes rejected per failure slot (FAIL_REASONS, then one slot per resource)."""
    scores: I64 | None
    """Total score per node (-1 for infeasible ones) when asked for."""


def _flat(array: npt.NDArray[np.generic], dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    if array.dtype != np.dtype(dtype) or not array.flags.c_contiguous:
        raise TypeError(f"expected a C-contiguous {np.dtype(dtype)} array, got {array.dtype}")
    return array.reshape(-1)


def node_view(table: NodeTable) -> object:
    """The kernel's view of the table's columns, cached until the layout changes."""
    view = table.cache.get("node_view")
    if view is None:
        view = build_node_view(table.arrays())
        table.cache["node_view"] = view
    return view


def build_node_view(a: NodeArrays) -> object:
    r, stride = a.alloc_by_res.shape
    per_resource = (
        a.alloc_magic_by_res,
        a.alloc_shift_by_res,
        a.alloc_recip_by_res,
        a.requested_by_res,
    )
    minor = (*per_resource, a.nonzero_by_res, a.labels_by_word)
    if any(m.shape[1] != stride for m in minor) or a.nonzero_by_res.shape[0] != 2:
        raise ValueError("node-minor arrays disagree with allocatable")
    if any(m.shape[0] != r for m in per_resource):
        raise ValueError("per-resource arrays disagree with allocatable")
    return _sched.NodeView(
        a.n,
        r,
        a.labels_by_word.shape[0],
        stride,
        a.nums.shape[1],
        a.taints.shape[1],
        a.ports.shape[1],
        a.topo.shape[1],
        _flat(a.alloc_by_res, np.int64),
        _flat(a.alloc_magic_by_res, np.uint64),
        _flat(a.alloc_shift_by_res, np.uint8),
        _flat(a.alloc_recip_by_res, np.float64),
        _flat(a.requested_by_res, np.int64),
        _flat(a.nonzero_by_res, np.int64),
        _flat(a.labels_by_word, np.uint64),
        _flat(a.nums, np.int64),
        _flat(a.num_ok, np.uint8),
        _flat(a.taints, np.uint64),
        _flat(a.ports, np.uint64),
        _flat(a.unschedulable, np.uint8),
        _flat(a.topo, np.int32),
    )


def query_view(q: Query) -> object:
    view = q.cache.get("view")
    if view is None:
        view = _sched.QueryView(
            _flat(q.req, np.int64),
            _flat(q.nonzero, np.int64),
            q.node_index,
            q.tolerates_unschedulable,
            q.has_required,
            q.has_ports,
            q.affinity_bootstrap,
            len(q.rq_kind),
            len(q.term_kind),
            len(q.ip_kind),
            len(q.sp_topo),
            q.ip_vals.shape[1],
            _flat(q.rq_kind, np.int32),
            _flat(q.rq_term, np.int32),
            _flat(q.rq_col, np.int32),
            _flat(q.rq_val, np.int64),
            _flat(q.rq_start, np.int32),
            _flat(q.rq_widx, np.int32),
            _flat(q.rq_wmask, np.uint64),
            _flat(q.term_kind, np.int8),
            _flat(q.term_weight, np.int64),
            _flat(q.hard_bad, np.uint64),
            _flat(q.soft_bad, np.uint64),
            _flat(q.port_bad, np.uint64),
            _flat(q.ip_kind, np.int32),
            _flat(q.ip_topo, np.int32),
            _flat(q.ip_vals, np.int64),
            _flat(q.sp_topo, np.int32),
            _flat(q.sp_counts, np.int64),
            _flat(q.sp_limit, np.int64),
        )
        q.cache["view"] = view
    return view


def effective_weights(p: CompiledProfile, q: Query) -> tuple[int, int, int, int, int]:
    """Profile weights for this pod: BalancedAllocation may skip best-effort pods."""
    fit, balanced, taint, affinity, interpod = p.weights
    if p.skip_balanced_for_best_effort and q.best_effort:
        balanced = 0
    return fit, balanced, taint, affinity, interpod


def profile_view(p: CompiledProfile, q: Query) -> object:
    skip = p.skip_balanced_for_best_effort and q.best_effort and p.weights[1] != 0
    key = "view-skip-balanced" if skip else "view"  # effective_weights(p, q) != p.weights
    view = p.cache.get(key)
    if view is None:
        weights = effective_weights(p, q)
        view = _sched.ProfileView(
            p.strategy,
            _flat(p.fit_res, np.int32),
            _flat(p.fit_weight, np.int64),
            _flat(p.shape_util, np.int64),
            _flat(p.shape_score, np.int64),
            _flat(p.bal_res, np.int32),
            *weights,
        )
        p.cache[key] = view
    return view


def check(table: NodeTable, q: Query) -> None:
    if q.layout_version != table.layout_version:
        raise ValueError("query compiled against another table layout; compile it again")


def schedule(
    table: NodeTable,
    q: Query,
    p: CompiledProfile,
    *,
    rng: Rng | None = None,
    lowest: bool = False,
    scores: bool = False,
) -> Decision:
    """Filters and scores every node for one pod and picks the best (see ext/sched.pyx)."""
    if q.layout_version != table.layout_version:
        check(table, q)
    n = len(table)
    fails = np.zeros(FAIL_RESOURCE_BASE + len(table.resources), np.int64)
    out = np.full(n, -1, np.int64) if scores else _NO_SCORES
    state = (rng or _DEFAULT_RNG).state
    index = _sched.schedule_one(
        node_view(table), query_view(q), profile_view(p, q), lowest, state, fails, out
    )
    return Decision(index=int(index), fails=fails, scores=out if scores else None)


def place_batch(
    table: NodeTable,
    q: Query,
    p: CompiledProfile,
    count: int,
    *,
    rng: Rng | None = None,
    lowest: bool = False,
) -> tuple[I64, I64]:
    """Node rows for `count` identical pods (-1 where none fits) and the filter failures."""
    check(table, q)
    if len(q.ip_kind) or len(q.sp_topo):
        raise ValueError("batch placement needs pods without inter-pod or spread terms")
    fails = np.zeros(FAIL_RESOURCE_BASE + len(table.resources), np.int64)
    out = np.full(count, -1, np.int64)
    state = (rng or _DEFAULT_RNG).state
    _sched.place_batch(
        node_view(table), query_view(q), profile_view(p, q), lowest, state, fails, out
    )
    return out, fails


def failure_message(fails: I64, resources: Sequence[str], nodes: int) -> str:
    """kube-scheduler's FitError text: '0/N nodes are available: 3 Insufficient cpu, ...'."""
    reasons: dict[str, int] = {}
    for slot, count in enumerate(fails.tolist()):
        if not count:
            continue
        if slot < FAIL_RESOURCE_BASE:
            reason = FAIL_REASONS[slot]
        else:
            name = resources[slot - FAIL_RESOURCE_BASE]
            reason = "Too many pods" if name == "pods" else f"Insufficient {name}"
        reasons[reason] = count
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items())
    message = f"0/{nodes} nodes are available:"
    return f"{message} {', '.join(parts)}." if parts else message
