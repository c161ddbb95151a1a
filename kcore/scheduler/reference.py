"""Plain NumPy reference for every filter and score the Cython kernels implement.

Written to be obviously right rather than fast: one vectorized function per kube-scheduler
plugin, in the plugin's own terms, over the same `NodeArrays` / `Query` / `CompiledProfile`
the kernels read. Tests compare kernel and reference bit for bit; benchmarks use the reference
(and `loop_schedule`, a per-node Python loop) as baselines. Go semantics are spelled out where
NumPy's differ: Go's integer division truncates toward zero, math.Round rounds half away from
zero, float64 → int64 conversion truncates.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kcore.scheduler.kernels import FAIL_RESOURCE_BASE, effective_weights
from kcore.scheduler.query import (
    IP_AFFINITY,
    IP_ANTI_AFFINITY,
    IP_EXISTING_ANTI_AFFINITY,
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
from kcore.scheduler.table import NodeArrays

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
MASK64 = 2**64 - 1
MAX_UTILIZATION = 100
(
    FAIL_UNSCHEDULABLE,
    FAIL_NODE_NAME,
    FAIL_TAINT,
    FAIL_NODE_AFFINITY,
    FAIL_NODE_PORTS,
    FAIL_SPREAD_LABEL,
    FAIL_SPREAD_SKEW,
    FAIL_POD_AFFINITY,
    FAIL_POD_ANTI_AFFINITY,
    FAIL_EXISTING_ANTI_AFFINITY,
) = range(10)
CPU, MEMORY, PODS, FIRST_SCALAR = 0, 1, 2, 4


def go_div(a: I64, b: I64 | int) -> I64:
    """Go's int64 division: truncates toward zero (NumPy's // floors)."""
    q = np.abs(a) // np.abs(b)
    return np.where((np.sign(a) * np.sign(b)) < 0, -q, q).astype(np.int64)


def go_round(x: F64) -> I64:
    """math.Round: half away from zero (np.round is half to even)."""
    t = np.trunc(x)
    return np.asarray(t + np.sign(x) * (np.abs(x - t) >= 0.5), dtype=np.int64)


def splitmix64(state: list[int]) -> int:
    """The kernels' tie-break generator, state[0] advanced in place."""
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & MASK64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


# -- filters ------------------------------------------------------------------------------


def any_bits(rows: npt.NDArray[np.uint64], mask: npt.NDArray[np.uint64]) -> Bool:
    return np.asarray((rows & mask).any(axis=1))


def requirement_holds(a: NodeArrays, q: Query, x: int) -> Bool:
    """One NodeSelectorRequirement on every node."""
    kind = int(q.rq_kind[x])
    if kind == REQ_ANY:
        return any_bits(a.labels, q.rq_mask[x])
    if kind == REQ_NONE:
        return ~any_bits(a.labels, q.rq_mask[x])
    col, value = int(q.rq_col[x]), int(q.rq_val[x])
    ok = a.num_ok[:, col].astype(bool)
    if kind == REQ_GT:
        return ok & (a.nums[:, col] > value)
    return ok & (a.nums[:, col] < value)


def term_matches(a: NodeArrays, q: Query) -> Bool:
    """[n, terms]: each term is the AND of its requirements."""
    ok = np.ones((len(a.alloc), len(q.term_kind)), bool)
    for x in range(len(q.rq_kind)):
        ok[:, int(q.rq_term[x])] &= requirement_holds(a, q, x)
    return ok


def node_affinity(a: NodeArrays, q: Query, terms: Bool) -> Bool:
    """NodeAffinity filter: nodeSelector AND (OR of the required terms)."""
    selector = terms[:, q.term_kind == TERM_SELECTOR].all(axis=1)
    if not q.has_required:
        return np.asarray(selector)
    return np.asarray(selector & terms[:, q.term_kind == TERM_REQUIRED].any(axis=1))


def insufficient(a: NodeArrays, q: Query) -> Bool:
    """NodeResourcesFit: [n, r], request > allocatable - requested for requested resources."""
    free = a.alloc - a.requested
    return (q.req > 0)[None, :] & (q.req[None, :] > free)


def domain_values(a: NodeArrays, col: int, row: I64) -> tuple[Bool, I64]:
    dom = a.topo[:, col].astype(np.int64)
    has = dom >= 0
    return has, np.where(has, row[np.maximum(dom, 0)], 0)


def first_failures(a: NodeArrays, q: Query, terms: Bool) -> tuple[Bool, I64]:
    """Feasible mask and failure counts, charging each node to its first failing filter."""
    n = len(a.alloc)
    fails = np.zeros(FAIL_RESOURCE_BASE + a.alloc.shape[1], np.int64)
    alive = np.ones(n, bool)

    def charge(slot: int, failing: Bool) -> None:
        nonlocal alive
        hit = alive & failing
        fails[slot] += int(hit.sum())
        alive = alive & ~hit

    charge(FAIL_UNSCHEDULABLE, a.unschedulable.astype(bool) & (not q.tolerates_unschedulable))
    charge(FAIL_NODE_NAME, (q.node_index >= 0) & (np.arange(n) != q.node_index))
    charge(FAIL_TAINT, any_bits(a.taints, q.hard_bad))
    charge(FAIL_NODE_AFFINITY, ~node_affinity(a, q, terms))
    charge(FAIL_NODE_PORTS, any_bits(a.ports, q.port_bad) & q.has_ports)
    short = insufficient(a, q)
    fails[FAIL_RESOURCE_BASE:] += (short & alive[:, None]).sum(axis=0)
    alive &= ~short.any(axis=1)
    for s in range(len(q.sp_topo)):
        has, count = domain_values(a, int(q.sp_topo[s]), q.sp_counts[s])
        charge(FAIL_SPREAD_LABEL, ~has)
        charge(FAIL_SPREAD_SKEW, count > q.sp_limit[s])
    for slot, failing in interpod_failures(a, q):
        charge(slot, failing)
    return alive, fails


def interpod_failures(a: NodeArrays, q: Query) -> list[tuple[int, Bool]]:
    """InterPodAffinity filter, in order: affinity, anti-affinity, existing anti-affinity."""
    n = len(a.alloc)
    missing, all_exist = np.zeros(n, bool), np.ones(n, bool)
    out: list[tuple[int, Bool]] = []
    for p in np.flatnonzero(q.ip_kind == IP_AFFINITY).tolist():
        has, count = domain_values(a, int(q.ip_topo[p]), q.ip_vals[p])
        missing |= ~has
        all_exist &= count > 0
    out.append((FAIL_POD_AFFINITY, missing | (~all_exist & (not q.affinity_bootstrap))))
    for p in range(len(q.ip_kind)):
        kind = int(q.ip_kind[p])
        if kind in (IP_ANTI_AFFINITY, IP_EXISTING_ANTI_AFFINITY):
            has, count = domain_values(a, int(q.ip_topo[p]), q.ip_vals[p])
            slot = (
                FAIL_POD_ANTI_AFFINITY if kind == IP_ANTI_AFFINITY else FAIL_EXISTING_ANTI_AFFINITY
            )
            out.append((slot, has & (count > 0)))
    return out


# -- scores -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceUse:
    """calculateResourceAllocatableRequest for one resource over every node."""

    alloc: I64
    req: I64
    valid: Bool
    """False where the resource is skipped (allocatable 0, pods, unrequested scalar)."""


def resource_use(a: NodeArrays, q: Query, r: int, use_requested: bool) -> ResourceUse:
    n = len(a.alloc)
    if r == PODS or r >= a.alloc.shape[1]:
        zero = np.zeros(n, np.int64)
        return ResourceUse(zero, zero, np.zeros(n, bool))
    if r < PODS and not use_requested:
        pod, node = int(q.nonzero[r]), a.nonzero[:, r]
    else:
        pod, node = int(q.req[r]), a.requested[:, r]
    alloc = a.alloc[:, r]
    valid = alloc != 0
    if pod == 0 and r >= FIRST_SCALAR:
        valid = np.zeros(n, bool)
    return ResourceUse(alloc, node + pod, valid)


def least_allocated(u: ResourceUse) -> I64:
    """`(alloc - req) * 100 / alloc`, 0 when req > alloc."""
    safe = np.where(u.valid, u.alloc, 1)
    return np.where(u.req > u.alloc, 0, go_div((u.alloc - u.req) * MAX_NODE_SCORE, safe))


def most_allocated(u: ResourceUse) -> I64:
    """`min(req, alloc) * 100 / alloc`."""
    safe = np.where(u.valid, u.alloc, 1)
    return go_div(np.minimum(u.req, u.alloc) * MAX_NODE_SCORE, safe)


def broken_linear(p: CompiledProfile, util: I64) -> I64:
    """helper.BuildBrokenLinearFunction over the (utilization, score) shape points."""
    u, s = p.shape_util.tolist(), p.shape_score.tolist()
    out = np.full(len(util), s[-1], np.int64)
    done = np.zeros(len(util), bool)
    for j in range(len(u)):
        hit = ~done & (util <= u[j])
        if j == 0:
            value = np.full(len(util), s[0], np.int64)
        else:
            value = s[j - 1] + go_div((s[j] - s[j - 1]) * (util - u[j - 1]), u[j] - u[j - 1])
        out = np.where(hit, value, out)
        done |= hit
    return out


def ratio_resource(p: CompiledProfile, u: ResourceUse) -> I64:
    """RequestedToCapacityRatio per resource: shape(req * 100 / alloc), shape(100) if over."""
    safe = np.where(u.valid, u.alloc, 1)
    util = np.where(u.req > u.alloc, MAX_UTILIZATION, go_div(u.req * MAX_UTILIZATION, safe))
    return broken_linear(p, util)


def fit_score(a: NodeArrays, q: Query, p: CompiledProfile) -> I64:
    """NodeResourcesFit score: weighted mean of per-resource scores, integer division;
    RequestedToCapacityRatio averages only positive scores, rounded half away from zero."""
    n = len(a.alloc)
    total, wsum = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for r, w in zip(p.fit_res.tolist(), p.fit_weight.tolist(), strict=True):
        u = resource_use(a, q, r, use_requested=False)
        if p.strategy == 0:
            score, valid = least_allocated(u), u.valid
        elif p.strategy == 1:
            score, valid = most_allocated(u), u.valid
        else:
            score = ratio_resource(p, u)
            valid = u.valid & (score > 0)
        total += np.where(valid, score * w, 0)
        wsum += np.where(valid, w, 0)
    safe = np.where(wsum == 0, 1, wsum)
    if p.strategy == 2:
        mean = go_round(total.astype(np.float64) / safe.astype(np.float64))
    else:
        mean = go_div(total, safe)
    return np.where(wsum == 0, 0, mean)


def balanced_allocation(a: NodeArrays, q: Query, p: CompiledProfile) -> I64:
    """`(1 - std) * 100` truncated; std of min(req/alloc, 1) over the counted resources:
    |f0 - f1| / 2 for two, the population std for more, 0 for fewer (float64 as Go)."""
    n = len(a.alloc)
    uses = [resource_use(a, q, r, use_requested=True) for r in p.bal_res.tolist()]
    fractions = [
        np.minimum(u.req.astype(np.float64) / np.where(u.valid, u.alloc, 1), 1.0) for u in uses
    ]
    m = np.zeros(n, np.int64)
    total, f0, f1 = np.zeros(n), np.zeros(n), np.zeros(n)
    for u, f in zip(uses, fractions, strict=True):
        total = np.where(u.valid, total + f, total)
        f0 = np.where(u.valid & (m == 0), f, f0)
        f1 = np.where(u.valid & (m == 1), f, f1)
        m += u.valid
    mean = total / np.maximum(m, 1)
    acc = np.zeros(n)
    for u, f in zip(uses, fractions, strict=True):
        acc = np.where(u.valid, acc + (f - mean) * (f - mean), acc)
    std = np.where(m == 2, np.abs((f0 - f1) / 2), 0.0)
    std = np.where(m > 2, np.sqrt(acc / np.maximum(m, 1)), std)
    return ((1 - std) * float(MAX_NODE_SCORE)).astype(np.int64)


def taint_count(a: NodeArrays, q: Query) -> I64:
    """TaintToleration score before normalization: untolerated PreferNoSchedule taints."""
    return np.asarray(np.bitwise_count(a.taints & q.soft_bad).sum(axis=1), dtype=np.int64)


def preferred_affinity(q: Query, terms: Bool) -> I64:
    """NodeAffinity score before normalization: Σ weights of matching preferred terms."""
    weights = np.where(q.term_kind == TERM_PREFERRED, q.term_weight, 0)
    return np.asarray((terms * weights[None, :]).sum(axis=1), dtype=np.int64)


def interpod_raw(a: NodeArrays, q: Query) -> I64:
    """InterPodAffinity score before normalization: Σ per-domain weighted counts."""
    out = np.zeros(len(a.alloc), np.int64)
    for p in np.flatnonzero(q.ip_kind == IP_SCORE):
        out += domain_values(a, int(q.ip_topo[p]), q.ip_vals[p])[1]
    return out


def default_normalize(raw: I64, reverse: bool) -> I64:
    """helper.DefaultNormalizeScore: `100 * s / max`, reversed `100 - 100 * s / max`."""
    top = int(raw.max(initial=0))
    if top == 0:
        return np.full(len(raw), MAX_NODE_SCORE if reverse else 0, np.int64)
    scaled = go_div(MAX_NODE_SCORE * raw, top)
    return MAX_NODE_SCORE - scaled if reverse else scaled


def minmax_normalize(raw: I64) -> I64:
    """InterPodAffinity.NormalizeScore: `int64(100 * ((s - min) / (max - min)))`, float64."""
    if len(raw) == 0:
        return raw
    low, diff = int(raw.min()), int(raw.max()) - int(raw.min())
    if diff <= 0:
        return np.zeros(len(raw), np.int64)
    return (float(MAX_NODE_SCORE) * ((raw - low).astype(np.float64) / float(diff))).astype(np.int64)


def total_scores(a: NodeArrays, q: Query, p: CompiledProfile, feasible: Bool, terms: Bool) -> I64:
    """Σ plugin weight * (normalized) plugin score over the feasible nodes (-1 elsewhere)."""
    w_fit, w_bal, w_taint, w_aff, w_ip = effective_weights(p, q)
    idx = np.flatnonzero(feasible)
    base = w_fit * fit_score(a, q, p)[idx] + w_bal * balanced_allocation(a, q, p)[idx]
    total = base + w_taint * default_normalize(taint_count(a, q)[idx], reverse=True)
    total += w_aff * default_normalize(preferred_affinity(q, terms)[idx], reverse=False)
    if (q.ip_kind == IP_SCORE).any():
        total += w_ip * minmax_normalize(interpod_raw(a, q)[idx])
    out = np.full(len(a.alloc), -1, np.int64)
    out[idx] = total
    return out


def select_host(scores: I64, feasible: Bool, lowest: bool, state: list[int]) -> int:
    """Max score; ties in index order by reservoir sampling (selectHost), or the lowest."""
    idx = np.flatnonzero(feasible)
    if len(idx) == 0:
        return -1
    ties = idx[scores[idx] == scores[idx].max()].tolist()
    best = ties[0]
    if lowest:
        return int(best)
    for count, node in enumerate(ties[1:], start=2):
        if splitmix64(state) % count == 0:
            best = node
    return int(best)


def reference_schedule(
    a: NodeArrays, q: Query, p: CompiledProfile, *, lowest: bool, state: list[int]
) -> tuple[int, I64, I64]:
    """(chosen node or -1, failure counts, total scores with -1 for infeasible nodes)."""
    terms = term_matches(a, q)
    feasible, fails = first_failures(a, q, terms)
    scores = total_scores(a, q, p, feasible, terms)
    return select_host(scores, feasible, lowest, state), fails, scores
