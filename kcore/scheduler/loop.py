"""The naive baseline: kube-scheduler's filter and score plugins as a per-node Python loop.

What a straightforward Python scheduler does, node by node over Python ints, on the same
compiled arrays; benchmarks set it beside the NumPy reference and the Cython kernel, and a
test checks it agrees with both. Slow on purpose: no vectorization, no C.
"""

import math

from kcore.scheduler.kernels import FAIL_RESOURCE_BASE, effective_weights
from kcore.scheduler.query import (
    IP_AFFINITY,
    IP_ANTI_AFFINITY,
    IP_SCORE,
    MAX_NODE_SCORE,
    REQ_ANY,
    REQ_GT,
    REQ_NONE,
    TERM_PREFERRED,
    TERM_REQUIRED,
    TERM_SELECTOR,
    CompiledProfile,
    Query,
)
from kcore.scheduler.reference import splitmix64
from kcore.scheduler.table import NodeArrays

Row = dict[str, list[int]]


def _div(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class _Node:
    """One node's row as Python lists."""

    def __init__(self, a: NodeArrays, i: int) -> None:
        self.alloc = a.alloc[i].tolist()
        self.requested = a.requested[i].tolist()
        self.nonzero = a.nonzero[i].tolist()
        self.labels = a.labels[i].tolist()
        self.nums = a.nums[i].tolist()
        self.num_ok = a.num_ok[i].tolist()
        self.taints = a.taints[i].tolist()
        self.ports = a.ports[i].tolist()
        self.unschedulable = bool(a.unschedulable[i])
        self.topo = a.topo[i].tolist()


class _Pod:
    def __init__(self, q: Query) -> None:
        self.q = q
        self.req = q.req.tolist()
        self.nonzero = q.nonzero.tolist()
        self.masks = q.rq_mask.tolist()
        self.hard = q.hard_bad.tolist()
        self.soft = q.soft_bad.tolist()
        self.port_bad = q.port_bad.tolist()
        self.ip_vals = q.ip_vals.tolist()
        self.sp_counts = q.sp_counts.tolist()


def _overlaps(row: list[int], mask: list[int]) -> bool:
    return any(r & m for r, m in zip(row, mask, strict=True))


def _requirement(node: _Node, pod: _Pod, x: int) -> bool:
    kind = int(pod.q.rq_kind[x])
    if kind in (REQ_ANY, REQ_NONE):
        return _overlaps(node.labels, pod.masks[x]) == (kind == REQ_ANY)
    col, value = int(pod.q.rq_col[x]), int(pod.q.rq_val[x])
    if not node.num_ok[col]:
        return False
    return bool(node.nums[col] > value if kind == REQ_GT else node.nums[col] < value)


def _affinity(node: _Node, pod: _Pod) -> tuple[bool, int]:
    q = pod.q
    ok = [True] * len(q.term_kind)
    for x in range(len(q.rq_kind)):
        t = int(q.rq_term[x])
        ok[t] = ok[t] and _requirement(node, pod, x)
    kinds = q.term_kind.tolist()
    selector = all(o for o, k in zip(ok, kinds, strict=True) if k == TERM_SELECTOR)
    required = any(o for o, k in zip(ok, kinds, strict=True) if k == TERM_REQUIRED)
    weights = q.term_weight.tolist()
    pref = sum(w for o, k, w in zip(ok, kinds, weights, strict=True) if o and k == TERM_PREFERRED)
    return selector and (required or not q.has_required), pref


def _filter(node: _Node, i: int, pod: _Pod, fails: list[int]) -> tuple[bool, int]:
    q = pod.q
    if node.unschedulable and not q.tolerates_unschedulable:
        return _fail(fails, 0)
    if q.node_index >= 0 and q.node_index != i:
        return _fail(fails, 1)
    if _overlaps(node.taints, pod.hard):
        return _fail(fails, 2)
    matches, pref = _affinity(node, pod)
    if not matches:
        return _fail(fails, 3)
    if q.has_ports and _overlaps(node.ports, pod.port_bad):
        return _fail(fails, 4)
    short = [
        r for r, want in enumerate(pod.req) if want > 0 and want > node.alloc[r] - node.requested[r]
    ]
    for r in short:
        fails[FAIL_RESOURCE_BASE + r] += 1
    if short:
        return False, 0
    slot = _spread_fail(node, pod)
    if slot < 0:
        slot = _interpod_fail(node, pod)
    return (True, pref) if slot < 0 else _fail(fails, slot)


def _fail(fails: list[int], slot: int) -> tuple[bool, int]:
    fails[slot] += 1
    return False, 0


def _spread_fail(node: _Node, pod: _Pod) -> int:
    for s, col in enumerate(pod.q.sp_topo.tolist()):
        dom = node.topo[col]
        if dom < 0:
            return 5
        if pod.sp_counts[s][dom] > int(pod.q.sp_limit[s]):
            return 6
    return -1


def _interpod_fail(node: _Node, pod: _Pod) -> int:
    q = pod.q
    all_exist = True
    for p, (kind, col) in enumerate(zip(q.ip_kind.tolist(), q.ip_topo.tolist(), strict=True)):
        if kind == IP_AFFINITY:
            if node.topo[col] < 0:
                return 7
            all_exist = all_exist and pod.ip_vals[p][node.topo[col]] > 0
    if not all_exist and not q.affinity_bootstrap:
        return 7
    for p, (kind, col) in enumerate(zip(q.ip_kind.tolist(), q.ip_topo.tolist(), strict=True)):
        if kind in (IP_AFFINITY, IP_SCORE) or node.topo[col] < 0:
            continue
        if pod.ip_vals[p][node.topo[col]] > 0:
            return 8 if kind == IP_ANTI_AFFINITY else 9
    return -1


def _use(node: _Node, pod: _Pod, r: int, use_requested: bool) -> tuple[int, int] | None:
    if r == 2 or r >= len(node.alloc):
        return None
    if r < 2 and not use_requested:
        want, used = pod.nonzero[r], node.nonzero[r]
    else:
        want, used = pod.req[r], node.requested[r]
    if (want == 0 and r >= 4) or node.alloc[r] == 0:
        return None
    return node.alloc[r], used + want


def _shape(p: CompiledProfile, util: int) -> int:
    u, s = p.shape_util.tolist(), p.shape_score.tolist()
    for j in range(len(u)):
        if util <= u[j]:
            if j == 0:
                return int(s[0])
            return int(s[j - 1] + _div((s[j] - s[j - 1]) * (util - u[j - 1]), u[j] - u[j - 1]))
    return int(s[-1])


def _fit(node: _Node, pod: _Pod, p: CompiledProfile) -> int:
    total = wsum = 0
    for r, w in zip(p.fit_res.tolist(), p.fit_weight.tolist(), strict=True):
        use = _use(node, pod, r, False)
        if use is None:
            continue
        alloc, req = use
        if p.strategy == 0:
            s = 0 if req > alloc else _div((alloc - req) * MAX_NODE_SCORE, alloc)
        elif p.strategy == 1:
            s = _div(min(req, alloc) * MAX_NODE_SCORE, alloc)
        else:
            s = _shape(p, 100 if req > alloc else _div(req * 100, alloc))
            if s <= 0:
                continue
        total, wsum = total + s * w, wsum + w
    if wsum == 0:
        return 0
    if p.strategy == 2:
        x = float(total) / float(wsum)
        return int(math.floor(x) + (1 if x - math.floor(x) >= 0.5 else 0))
    return _div(total, wsum)


def _balanced(node: _Node, pod: _Pod, p: CompiledProfile) -> int:
    fractions = []
    for r in p.bal_res.tolist():
        use = _use(node, pod, r, True)
        if use is not None:
            fractions.append(min(float(use[1]) / float(use[0]), 1.0))
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        total = 0.0
        for f in fractions:
            total += f
        mean = total / len(fractions)
        acc = 0.0
        for f in fractions:
            acc = acc + (f - mean) * (f - mean)
        std = math.sqrt(acc / len(fractions))
    return int((1 - std) * float(MAX_NODE_SCORE))


def loop_schedule(
    a: NodeArrays, q: Query, p: CompiledProfile, *, lowest: bool, state: list[int]
) -> tuple[int, list[int], dict[int, int]]:
    """(chosen node or -1, failure counts, total score per feasible node)."""
    pod = _Pod(q)
    fails = [0] * (FAIL_RESOURCE_BASE + a.alloc.shape[1])
    w_fit, w_bal, w_taint, w_aff, w_ip = effective_weights(p, q)
    raw: dict[int, tuple[int, int, int, int]] = {}
    for i in range(len(a.alloc)):
        node = _Node(a, i)
        ok, pref = _filter(node, i, pod, fails)
        if not ok:
            continue
        base = (w_fit * _fit(node, pod, p) if w_fit else 0) + (
            w_bal * _balanced(node, pod, p) if w_bal else 0
        )
        taints = sum(bin(t & s).count("1") for t, s in zip(node.taints, pod.soft, strict=True))
        ip = sum(
            pod.ip_vals[k][node.topo[c]]
            for k, c in enumerate(q.ip_topo.tolist())
            if q.ip_kind[k] == IP_SCORE and node.topo[c] >= 0
        )
        raw[i] = (base, taints, pref, ip)
    totals = _normalize(raw, w_taint, w_aff, w_ip, bool((q.ip_kind == IP_SCORE).any()))
    return _pick(totals, lowest, state), fails, totals


def _normalize(
    raw: dict[int, tuple[int, int, int, int]], w_taint: int, w_aff: int, w_ip: int, ip_on: bool
) -> dict[int, int]:
    max_taint = max((r[1] for r in raw.values()), default=0)
    max_pref = max((r[2] for r in raw.values()), default=0)
    low = min((r[3] for r in raw.values()), default=0)
    diff = max((r[3] for r in raw.values()), default=0) - low
    totals = {}
    for i, (base, taints, pref, ip) in raw.items():
        t = (
            MAX_NODE_SCORE
            if max_taint == 0
            else MAX_NODE_SCORE - _div(MAX_NODE_SCORE * taints, max_taint)
        )
        f = 0 if max_pref == 0 else _div(MAX_NODE_SCORE * pref, max_pref)
        g = (
            int(float(MAX_NODE_SCORE) * (float(ip - low) / float(diff)))
            if ip_on and diff > 0
            else 0
        )
        totals[i] = base + w_taint * t + w_aff * f + w_ip * g
    return totals


def _pick(totals: dict[int, int], lowest: bool, state: list[int]) -> int:
    if not totals:
        return -1
    best_total = max(totals.values())
    ties = [i for i in sorted(totals) if totals[i] == best_total]
    best = ties[0]
    if not lowest:
        for count, i in enumerate(ties[1:], start=2):
            if splitmix64(state) % count == 0:
                best = i
    return best


__all__ = ["loop_schedule"]
