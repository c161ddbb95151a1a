# cython: language_level=3
"""Scheduler filter/score kernels over a node table of contiguous columns.

`schedule_one` makes one fused pass over every node per pod: filters in kube-scheduler's
default order (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
NodeResourcesFit, PodTopologySpread, InterPodAffinity), counting the first failing filter per
node (every insufficient resource for NodeResourcesFit); then raw scores over the compact list
of feasible nodes, and a last pass over them to normalize and pick the best one. `place_batch`
places K identical pods with one filter/score pass and a max-heap.

Most pods (no nodeName, selector, required affinity, inter-pod or spread terms) take a
branch-free fast path instead of the per-node filter: column passes over the node-minor
arrays that the compiler vectorises (filters into one-byte codes, label-only preferred
terms, PreferNoSchedule counts, BalancedAllocation's divisions), with scalar loops only to
compact the feasible list and gather what the columns cannot hold. Under the default
cpu/memory scoring such a pod never leaves node-indexed columns (`_decide_columns`): totals
are made for every node with -1 for infeasible ones, and the winner is found by counting
ties, replaying the tie-break draws and locating the winning tie. Integer quotients in
vector loops are estimated with a reciprocal and corrected to the exact value. setup.py
builds for the machine's x86-64 level (v3/v4) with -ffp-contract=off, so vector lanes
round as scalars do.

Integer arithmetic follows kube-scheduler exactly (Go truncating division, float64 where Go
uses float64); the plain NumPy reference in kcore/scheduler/reference.py states the same
formulas.
"""

from libc.math cimport fabs, round, sqrt
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from sched_defs cimport *

import numpy as np


cdef const int64_t* _i64(const int64_t[::1] a):
    return &a[0] if a.shape[0] else NULL


cdef const uint64_t* _u64(const uint64_t[::1] a):
    return &a[0] if a.shape[0] else NULL


cdef const double* _f64(const double[::1] a):
    return &a[0] if a.shape[0] else NULL


cdef const int32_t* _i32(const int32_t[::1] a):
    return &a[0] if a.shape[0] else NULL


cdef const uint8_t* _u8(const uint8_t[::1] a):
    return &a[0] if a.shape[0] else NULL


cdef const int8_t* _i8(const int8_t[::1] a):
    return &a[0] if a.shape[0] else NULL


cdef class NodeView:
    """C pointers into a node table's columns (all arrays C-contiguous, 2-D ones raveled).

    A view is built once per table layout, so a kernel call crosses the Python boundary
    with three objects (nodes, query, profile) instead of forty arrays.
    """

    cdef Nodes c
    cdef object keep
    cdef void* scratch  # one decision's working memory, reused: fresh pages cost faults
    cdef bint busy      # scratch in use by a call on another thread (then malloc instead)

    def __dealloc__(self):
        free(self.scratch)

    def __init__(self, Py_ssize_t n, Py_ssize_t r, Py_ssize_t w, Py_ssize_t stride,
                 Py_ssize_t k,
                 Py_ssize_t wt, Py_ssize_t wp, Py_ssize_t t, alloc, magic, shift, recip,
                 requested, nonzero,
                 labels, nums, num_ok, taints, ports, unschedulable, topo):
        self.keep = (alloc, magic, shift, recip, requested, nonzero, labels, nums, num_ok, taints,
                     ports, unschedulable, topo)
        self.c.n, self.c.r, self.c.w, self.c.k = n, r, w, k
        self.c.stride = stride
        self.c.wt, self.c.wp, self.c.t = wt, wp, t
        self.c.alloc = _i64(alloc)
        self.c.magic = _u64(magic)
        self.c.shift = _u8(shift)
        self.c.recip = _f64(recip)
        self.c.requested = _i64(requested)
        self.c.nonzero = _i64(nonzero)
        self.c.labels = _u64(labels)
        self.c.nums = _i64(nums)
        self.c.num_ok = _u8(num_ok)
        self.c.taints = _u64(taints)
        self.c.ports = _u64(ports)
        self.c.unschedulable = _u8(unschedulable)
        self.c.topo = _i32(topo)


cdef class QueryView:
    """C pointers into one compiled pod query (see kcore/scheduler/query.py)."""

    cdef Query c
    cdef object keep

    def __init__(self, req, nonzero, int64_t node_index, bint tolerates_unschedulable,
                 bint has_required, bint has_ports, bint affinity_bootstrap,
                 Py_ssize_t n_reqs, Py_ssize_t n_terms, Py_ssize_t n_ip, Py_ssize_t n_sp,
                 Py_ssize_t d, rq_kind, rq_term, rq_col, rq_val, rq_start, rq_widx,
                 rq_wmask, term_kind,
                 term_weight, hard_bad, soft_bad, port_bad, ip_kind, ip_topo, ip_vals,
                 sp_topo, sp_counts, sp_limit):
        self.keep = (req, nonzero, rq_kind, rq_term, rq_col, rq_val, rq_start, rq_widx,
                     rq_wmask, term_kind,
                     term_weight, hard_bad, soft_bad, port_bad, ip_kind, ip_topo, ip_vals,
                     sp_topo, sp_counts, sp_limit)
        self.c.req = _i64(req)
        self.c.nonzero = _i64(nonzero)
        self.c.node_index = node_index
        self.c.tolerates_unschedulable = tolerates_unschedulable
        self.c.has_required = has_required
        self.c.has_ports = has_ports
        self.c.affinity_bootstrap = affinity_bootstrap
        self.c.n_reqs, self.c.n_terms, self.c.n_ip = n_reqs, n_terms, n_ip
        self.c.n_sp, self.c.d = n_sp, d
        self.c.rq_kind = _i32(rq_kind)
        self.c.rq_term = _i32(rq_term)
        self.c.rq_col = _i32(rq_col)
        self.c.rq_val = _i64(rq_val)
        self.c.rq_start = _i32(rq_start)
        self.c.rq_widx = _i32(rq_widx)
        self.c.rq_wmask = _u64(rq_wmask)
        self.c.term_kind = _i8(term_kind)
        self.c.term_weight = _i64(term_weight)
        self.c.hard_bad = _u64(hard_bad)
        self.c.soft_bad = _u64(soft_bad)
        want = np.flatnonzero(np.asarray(req) > 0).astype(np.int32)
        term_start = np.searchsorted(np.asarray(rq_term), np.arange(n_terms + 1)).astype(np.int32)
        self.keep += (want, term_start)
        self.c.want = _i32(want)
        self.c.n_want = len(want)
        self.c.term_start = _i32(term_start)
        self.c.any_soft = False
        for j in range(len(soft_bad)):
            self.c.any_soft = self.c.any_soft or soft_bad[j] != 0
        self.c.port_bad = _u64(port_bad)
        self.c.ip_kind = _i32(ip_kind)
        self.c.ip_topo = _i32(ip_topo)
        self.c.ip_vals = _i64(ip_vals)
        self.c.sp_topo = _i32(sp_topo)
        self.c.sp_counts = _i64(sp_counts)
        self.c.sp_limit = _i64(sp_limit)


cdef class ProfileView:
    """C pointers into a scoring profile (plugin weights, fit strategy and resources)."""

    cdef Profile c
    cdef object keep

    def __init__(self, int32_t strategy, fit_res, fit_weight, shape_util, shape_score,
                 bal_res, int64_t w_fit, int64_t w_bal, int64_t w_taint, int64_t w_affinity,
                 int64_t w_interpod):
        cdef uint64_t[::1] wsum_magic = np.zeros(sum(fit_weight) + 1, np.uint64)
        cdef uint8_t[::1] wsum_shift = np.zeros(sum(fit_weight) + 1, np.uint8)
        cdef int64_t k
        for k in range(1, wsum_magic.shape[0]):
            _magic(k, &wsum_magic[k], &wsum_shift[k])
        self.keep = (fit_res, fit_weight, shape_util, shape_score, bal_res, wsum_magic,
                     wsum_shift)
        self.c.wsum_magic = _u64(wsum_magic)
        self.c.wsum_shift = _u8(wsum_shift)
        self.c.cpu_memory = (
            strategy == STRATEGY_LEAST and list(fit_res) == [RES_CPU, RES_MEMORY]
            and list(bal_res) == [RES_CPU, RES_MEMORY])
        self.c.strategy = strategy
        self.c.n_fit = len(fit_res)
        self.c.n_shape = len(shape_util)
        self.c.n_bal = len(bal_res)
        self.c.fit_res = _i32(fit_res)
        self.c.fit_weight = _i64(fit_weight)
        self.c.shape_util = _i64(shape_util)
        self.c.shape_score = _i64(shape_score)
        self.c.bal_res = _i32(bal_res)
        self.c.w_fit, self.c.w_bal, self.c.w_taint = w_fit, w_bal, w_taint
        self.c.w_affinity, self.c.w_interpod = w_affinity, w_interpod


# ---------------------------------------------------------------------------------------------
# Arithmetic helpers

cdef inline int64_t _mdiv(int64_t n, uint64_t magic, uint8_t shift) noexcept nogil:
    """n / d for 0 <= n < 2**63, given division_magic(d) (kcore/scheduler/table.py): a
    128-bit multiply and a shift, exact, and shorter on the critical path than a divide.

    (n * magic) >> shift is computed as high64(2n * magic) >> (shift - 63): the same value
    (shift >= 63 whenever the divisor is set, and 2n fits in 64 bits), with one 64-bit
    shift instead of a 128-bit one that branches on the shift's size. The mask keeps the
    unset case (magic 0, shift 0) a defined shift of zero."""
    cdef uint64_t high = <uint64_t>((<uint128_t>(<uint64_t>n << 1) * magic) >> 64)
    return <int64_t>(high >> ((shift - 63) & 63))


cdef inline void _magic(int64_t d, uint64_t* magic, uint8_t* shift) noexcept nogil:
    """division_magic(d) for d > 0, computed in C once per decision."""
    cdef int bits = 0
    while bits < 63 and (<uint64_t>1 << bits) < <uint64_t>d:
        bits += 1
    magic[0] = <uint64_t>(((<uint128_t>1 << (63 + bits)) + <uint128_t>(d - 1)) / <uint128_t>d)
    shift[0] = <uint8_t>(63 + bits)


cdef extern from *:
    """
    #define kcore_popcount64(x) ((int64_t)__builtin_popcountll(x))
    """
    int64_t _popcount64 "kcore_popcount64"(uint64_t x) noexcept nogil


cdef inline int64_t _popcount(uint64_t x) noexcept nogil:
    x = x - ((x >> 1) & 0x5555555555555555ULL)
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL
    return <int64_t>((x * 0x0101010101010101ULL) >> 56)


# ---------------------------------------------------------------------------------------------
# Filters

cdef inline bint _any(const uint64_t* row, const uint64_t* mask, Py_ssize_t w) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(w):
        if row[j] & mask[j]:
            return True
    return False


cdef inline bint _any_sparse(const Nodes* nd, const Query* q, Py_ssize_t i,
                             Py_ssize_t x) noexcept nogil:
    """Whether node i's labels share a bit with requirement x's mask (its non-zero words
    only; labels are word-major, so consecutive nodes read consecutive memory)."""
    cdef Py_ssize_t j
    for j in range(q.rq_start[x], q.rq_start[x + 1]):
        if nd.labels[q.rq_widx[j] * nd.stride + i] & q.rq_wmask[j]:
            return True
    return False


cdef inline bint _requirement(const Nodes* nd, const Query* q, Py_ssize_t i,
                              Py_ssize_t x) noexcept nogil:
    cdef int32_t kind = q.rq_kind[x]
    cdef Py_ssize_t col
    if kind == REQ_ANY:
        return _any_sparse(nd, q, i, x)
    if kind == REQ_NONE:
        return not _any_sparse(nd, q, i, x)
    col = i * nd.k + q.rq_col[x]
    if not nd.num_ok[col]:
        return False
    if kind == REQ_GT:
        return nd.nums[col] > q.rq_val[x]
    return nd.nums[col] < q.rq_val[x]


cdef inline bint _term(const Nodes* nd, const Query* q, Py_ssize_t i,
                       Py_ssize_t t) noexcept nogil:
    """A term is the AND of its requirements (rows term_start[t]:term_start[t + 1])."""
    cdef Py_ssize_t x
    for x in range(q.term_start[t], q.term_start[t + 1]):
        if not _requirement(nd, q, i, x):
            return False
    return True


cdef inline bint _node_affinity(const Nodes* nd, const Query* q, Py_ssize_t i,
                                int64_t* preferred) noexcept nogil:
    """nodeSelector AND (OR of required terms); also sums the matching preferred weights."""
    cdef Py_ssize_t t
    cdef bint any_required = False, ok
    cdef int8_t kind
    for t in range(q.n_terms):
        kind = q.term_kind[t]
        if kind == TERM_REQUIRED and any_required:
            continue
        ok = _term(nd, q, i, t)
        if kind == TERM_SELECTOR:
            if not ok:
                return False
        elif kind == TERM_REQUIRED:
            any_required = ok
        elif ok:
            preferred[0] += q.term_weight[t]
    return any_required or not q.has_required


cdef inline bint _fits(const Nodes* nd, const Query* q, Py_ssize_t i, int64_t extra,
                       int64_t* fails) noexcept nogil:
    """NodeResourcesFit: every resource the pod requests fits in allocatable - requested."""
    cdef Py_ssize_t j, r, at
    cdef int64_t want, used
    cdef bint ok = True
    for j in range(q.n_want):
        r = q.want[j]
        at = r * nd.stride + i
        want = q.req[r]
        used = nd.requested[at] + extra * want
        if want > nd.alloc[at] - used:
            fails[FAIL_RESOURCE_BASE + r] += 1
            ok = False
    return ok


cdef inline bint _spread(const Nodes* nd, const Query* q, Py_ssize_t i,
                         int64_t* fails) noexcept nogil:
    cdef Py_ssize_t s
    cdef int32_t dom
    for s in range(q.n_sp):
        dom = nd.topo[i * nd.t + q.sp_topo[s]]
        if dom < 0:
            fails[FAIL_SPREAD_LABEL] += 1
            return False
        if q.sp_counts[s * q.d + dom] > q.sp_limit[s]:
            fails[FAIL_SPREAD_SKEW] += 1
            return False
    return True


cdef inline int _interpod_fail(const Nodes* nd, const Query* q, Py_ssize_t i) noexcept nogil:
    """Returns the failing slot, or -1 when the inter-pod filters pass."""
    cdef Py_ssize_t p
    cdef int32_t dom, kind
    cdef bint all_exist = True
    for p in range(q.n_ip):
        kind = q.ip_kind[p]
        dom = nd.topo[i * nd.t + q.ip_topo[p]]
        if kind == IP_AFFINITY:
            if dom < 0:
                return FAIL_POD_AFFINITY
            if q.ip_vals[p * q.d + dom] <= 0:
                all_exist = False
    if not all_exist and not q.affinity_bootstrap:
        return FAIL_POD_AFFINITY
    for p in range(q.n_ip):
        kind = q.ip_kind[p]
        if kind != IP_ANTI_AFFINITY and kind != IP_EXISTING_ANTI_AFFINITY:
            continue
        dom = nd.topo[i * nd.t + q.ip_topo[p]]
        if dom >= 0 and q.ip_vals[p * q.d + dom] > 0:
            return FAIL_POD_ANTI_AFFINITY if kind == IP_ANTI_AFFINITY else \
                FAIL_EXISTING_ANTI_AFFINITY
    return -1


cdef inline bint _filter(const Nodes* nd, const Query* q, Py_ssize_t i, int64_t* preferred,
                         int64_t* fails) noexcept nogil:
    cdef Py_ssize_t wt = nd.wt
    cdef int slot
    preferred[0] = 0
    if nd.unschedulable[i] and not q.tolerates_unschedulable:
        fails[FAIL_UNSCHEDULABLE] += 1
        return False
    if q.node_index >= 0 and q.node_index != i:
        fails[FAIL_NODE_NAME] += 1
        return False
    if _any(nd.taints + i * wt, q.hard_bad, wt):
        fails[FAIL_TAINT] += 1
        return False
    if (q.n_terms or q.has_required) and not _node_affinity(nd, q, i, preferred):
        fails[FAIL_NODE_AFFINITY] += 1
        return False
    if q.has_ports and _any(nd.ports + i * nd.wp, q.port_bad, nd.wp):
        fails[FAIL_NODE_PORTS] += 1
        return False
    if not _fits(nd, q, i, 0, fails):
        return False
    if q.n_sp and not _spread(nd, q, i, fails):
        return False
    if q.n_ip:
        slot = _interpod_fail(nd, q, i)
        if slot >= 0:
            fails[slot] += 1
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Resource scores

cdef inline bint _resource(const Nodes* nd, const Query* q, Py_ssize_t i, int32_t r,
                           int64_t extra, bint use_requested, int64_t* alloc,
                           int64_t* req, Py_ssize_t* where) noexcept nogil:
    """resourceAllocationScorer.calculateResourceAllocatableRequest; False: skip resource."""
    cdef int64_t pod, node
    cdef Py_ssize_t at = r * nd.stride + i
    if r == RES_PODS or r >= nd.r:
        return False
    if r < RES_PODS and not use_requested:
        pod = q.nonzero[r]
        node = nd.nonzero[at] + extra * pod
    else:
        pod = q.req[r]
        node = nd.requested[at] + extra * pod
    if pod == 0 and r >= RES_FIRST_SCALAR:
        return False
    alloc[0] = nd.alloc[at]
    where[0] = at
    req[0] = node + pod
    return alloc[0] != 0


cdef inline int64_t _broken_linear(const Profile* pr, int64_t p) noexcept nogil:
    cdef Py_ssize_t j
    cdef const int64_t* u = pr.shape_util
    cdef const int64_t* s = pr.shape_score
    for j in range(pr.n_shape):
        if p <= u[j]:
            if j == 0:
                return s[0]
            return s[j - 1] + (s[j] - s[j - 1]) * (p - u[j - 1]) / (u[j] - u[j - 1])
    return s[pr.n_shape - 1]


cdef inline int64_t _fit_score(const Nodes* nd, const Query* q, const Profile* pr,
                               Py_ssize_t i, int64_t extra) noexcept nogil:
    """NodeResourcesFit score over the profile's resources r with weights w_r.

    alloc, req = allocatable and (non-zero) requested + pod request, per _resource.
    LeastAllocated:  s_r = 0 if req > alloc else (alloc - req) * 100 / alloc
    MostAllocated:   s_r = min(req, alloc) * 100 / alloc
    RequestedToCapacityRatio: s_r = shape(100 if req > alloc else req * 100 / alloc),
                     only s_r > 0 counted, shape = broken-linear over (util, score * 10)
    score = Σ s_r * w_r / Σ w_r (integer division; RTCR: math.Round of the float quotient),
    0 when no resource counts. Integer divisions truncate as in Go.
    """
    cdef Py_ssize_t j
    cdef int64_t alloc = 0, req = 0, s, w, total = 0, wsum = 0
    cdef Py_ssize_t at = 0
    for j in range(pr.n_fit):
        if not _resource(nd, q, i, pr.fit_res[j], extra, False, &alloc, &req, &at):
            continue
        w = pr.fit_weight[j]
        if pr.strategy == STRATEGY_LEAST:
            s = 0 if req > alloc else _mdiv(
                (alloc - req) * MAX_NODE_SCORE, nd.magic[at], nd.shift[at])
        elif pr.strategy == STRATEGY_MOST:
            s = _mdiv((alloc if req > alloc else req) * MAX_NODE_SCORE, nd.magic[at],
                      nd.shift[at])
        else:
            s = _broken_linear(
                pr, MAX_UTILIZATION if req > alloc else _mdiv(
                    req * MAX_UTILIZATION, nd.magic[at], nd.shift[at]))
            if s <= 0:
                continue
        total += s * w
        wsum += w
    if wsum == 0:
        return 0
    if pr.strategy == STRATEGY_RATIO:
        return <int64_t>round(<double>total / <double>wsum)
    return _mdiv(total, pr.wsum_magic[wsum], pr.wsum_shift[wsum])


cdef inline int64_t _balanced_score(const Nodes* nd, const Query* q, const Profile* pr,
                                    Py_ssize_t i, int64_t extra) noexcept nogil:
    """BalancedAllocation (kube-scheduler 1.32), on requested (not non-zero) resources.

    f_r = min(float64(req) / float64(alloc), 1) for each counted resource, in order;
    std = |f_0 - f_1| / 2 for two, sqrt(Σ (f_r - mean)^2 / m) for m > 2, else 0;
    score = int64((1 - std) * 100) (truncation).
    """
    cdef Py_ssize_t j, m = 0
    cdef int64_t alloc = 0, req = 0
    cdef Py_ssize_t at = 0
    cdef double f, f0 = 0.0, f1 = 0.0, tot = 0.0, mean, acc = 0.0, std = 0.0
    for j in range(pr.n_bal):
        if not _resource(nd, q, i, pr.bal_res[j], extra, True, &alloc, &req, &at):
            continue
        f = <double>req / <double>alloc
        if f > 1.0:
            f = 1.0
        tot += f
        if m == 0:
            f0 = f
        elif m == 1:
            f1 = f
        m += 1
    if m == 2:
        std = fabs((f0 - f1) / 2)
    elif m > 2:
        mean = tot / <double>m
        for j in range(pr.n_bal):
            if not _resource(nd, q, i, pr.bal_res[j], extra, True, &alloc, &req, &at):
                continue
            f = <double>req / <double>alloc
            if f > 1.0:
                f = 1.0
            acc = acc + (f - mean) * (f - mean)
        std = sqrt(acc / <double>m)
    return <int64_t>((1 - std) * <double>MAX_NODE_SCORE)


cdef inline int64_t _least(const Nodes* nd, Py_ssize_t at, int64_t alloc,
                           int64_t req) noexcept nogil:
    if req > alloc:
        return 0
    return _mdiv((alloc - req) * MAX_NODE_SCORE, nd.magic[at], nd.shift[at])


cdef inline int64_t _base_cpu_memory(const Nodes* nd, const Query* q, const Profile* pr,
                                     Py_ssize_t i, int64_t extra) noexcept nogil:
    """_base_score for the default profile (LeastAllocated and BalancedAllocation over cpu
    and memory), the same formulas with the resource loops and skip rules unrolled."""
    cdef Py_ssize_t at = i + nd.stride  # the memory row (cpu is row 0, at i)
    cdef int64_t a0 = nd.alloc[i], a1 = nd.alloc[at], m = extra + 1
    cdef int64_t w0 = pr.fit_weight[0], w1 = pr.fit_weight[1]
    cdef int64_t fit = 0, wsum = 0, s = 0
    cdef double f0, f1, std = 0.0
    if pr.w_fit:
        if a0:
            fit += w0 * _least(nd, i, a0, nd.nonzero[i] + m * q.nonzero[0])
            wsum += w0
        if a1:
            fit += w1 * _least(nd, at, a1, nd.nonzero[at] + m * q.nonzero[1])
            wsum += w1
        if wsum:
            s = pr.w_fit * _mdiv(fit, pr.wsum_magic[wsum], pr.wsum_shift[wsum])
    if pr.w_bal:
        if a0 and a1:
            f0 = <double>(nd.requested[i] + m * q.req[0]) / <double>a0
            f1 = <double>(nd.requested[at] + m * q.req[1]) / <double>a1
            std = fabs(((f0 if f0 < 1.0 else 1.0) - (f1 if f1 < 1.0 else 1.0)) / 2)
        s += pr.w_bal * <int64_t>((1 - std) * <double>MAX_NODE_SCORE)
    return s


cdef extern from *:
    """
    /* LeastAllocated's (a - req) * max // a (0 when req > a or a == 0) without a divide or
       a 128-bit multiply: the quotient estimated with the reciprocal 1.0 / a (relative error
       ~2^-52 on a value <= max, so within one of the exact quotient) and corrected in
       integers to the exact one. Plain C ternaries so the compiler vectorises the loop. */
    static inline int64_t kcore_least(int64_t a, int64_t req, double inv, int64_t max) {
        int64_t num = (a - req) * max;
        int64_t quo = (int64_t)((double)num * inv);
        int64_t low = quo * a;  /* (quo + 1) * a is low + a: one multiply */
        quo += (int64_t)(low + a <= num) - (int64_t)(low > num);
        return ((req <= a) & (a != 0)) ? quo : 0;
    }

    /* num // d for num >= 0 and a small d > 0, given inv = 1.0 / d; 0 when d == 0. */
    static inline int64_t kcore_div_small(int64_t num, int64_t d, double inv) {
        int64_t quo = (int64_t)((double)num * inv);
        int64_t low = quo * d;
        quo += (int64_t)(low + d <= num) - (int64_t)(low > num);
        return d != 0 ? quo : 0;
    }

    /* col[i] = w_fit * LeastAllocated(cpu, memory) for every node, assuming both allocatables
       are set (weights w0, w1, their sum w); returns how many nodes have one at 0, whose
       columns the caller rescores (the mean then leaves that resource out). Kept this
       simple so the compiler vectorises it: a per-node choice of divisor does not. */
    static Py_ssize_t kcore_least_column(
            Py_ssize_t n, const int64_t *restrict a0, const int64_t *restrict a1,
            const double *restrict inv0, const double *restrict inv1,
            const int64_t *restrict nz0, const int64_t *restrict nz1, int64_t qnz0,
            int64_t qnz1, int64_t w0, int64_t w1, int64_t w_fit, int64_t max,
            int64_t *restrict col) {
        int64_t w = w0 + w1;
        double iw = w ? 1.0 / (double)w : 0.0;
        Py_ssize_t zeros = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t x0 = a0[i], x1 = a1[i];
            int64_t fit = w0 * kcore_least(x0, nz0[i] + qnz0, inv0[i], max)
                          + w1 * kcore_least(x1, nz1[i] + qnz1, inv1[i], max);
            col[i] = w_fit * kcore_div_small(fit, w, iw);
            zeros += (x0 == 0) | (x1 == 0);
        }
        return zeros;
    }

    /* col[i] += w_bal * BalancedAllocation(cpu, memory) for every node, the operations of
       _base_cpu_memory in the same order (std 0 when either allocatable is 0). */
    static void kcore_balanced_column(
            Py_ssize_t n, const int64_t *restrict a0, const int64_t *restrict a1,
            const int64_t *restrict rq0, const int64_t *restrict rq1, int64_t qr0,
            int64_t qr1, int64_t w_bal, int64_t max, int64_t *restrict col) {
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t x0 = a0[i], x1 = a1[i];
            int both = (x0 != 0) & (x1 != 0);
            double f0 = (both ? (double)(rq0[i] + qr0) : 0.0) / (both ? (double)x0 : 1.0);
            double f1 = (both ? (double)(rq1[i] + qr1) : 0.0) / (both ? (double)x1 : 1.0);
            double std = fabs(((f0 < 1.0 ? f0 : 1.0) - (f1 < 1.0 ? f1 : 1.0)) / 2);
            col[i] += w_bal * (int32_t)((1 - std) * (double)max);
        }
    }
    """
    Py_ssize_t _least_column "kcore_least_column"(
        Py_ssize_t n, const int64_t* a0, const int64_t* a1, const double* inv0,
        const double* inv1, const int64_t* nz0, const int64_t* nz1, int64_t qnz0,
        int64_t qnz1, int64_t w0, int64_t w1, int64_t w_fit, int64_t max,
        int64_t* col) noexcept nogil
    void _balanced_column "kcore_balanced_column"(
        Py_ssize_t n, const int64_t* a0, const int64_t* a1, const int64_t* rq0,
        const int64_t* rq1, int64_t qr0, int64_t qr1, int64_t w_bal, int64_t max,
        int64_t* col) noexcept nogil


cdef extern from *:
    """
    /* Failure counts of the branch-free filter codes (bit 0 unschedulable, 1 taint, 2 ports,
       3 + j the j-th requested resource short), as _LUT_FILTERS/_LUT_SHORT count them: the
       first failing of (unschedulable, taint, ports), every short resource when those pass.
       out: [0] unschedulable, [1] taint, [2] ports, [3..6] short resource j, [7] feasible.
       Sums of 0/1 lanes, which the compiler vectorises. */
    static void kcore_code_counts(Py_ssize_t n, const uint8_t *restrict code, int64_t *out) {
        int64_t u = 0, t = 0, p = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0, ok = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t c = code[i];
            uint32_t cu = c & 1, ct = (c >> 1) & 1 & (cu ^ 1);
            uint32_t cp = (c >> 2) & 1 & ((cu | ct) ^ 1), alive = (c & 7) == 0;
            u += cu; t += ct; p += cp;
            s0 += ((c >> 3) & 1) & alive; s1 += ((c >> 4) & 1) & alive;
            s2 += ((c >> 5) & 1) & alive; s3 += ((c >> 6) & 1) & alive;
            ok += c == 0;
        }
        out[0] = u; out[1] = t; out[2] = p; out[3] = s0; out[4] = s1; out[5] = s2;
        out[6] = s3; out[7] = ok;
    }

    /* The max of v over the feasible nodes (code 0); v >= 0, 0 when none is feasible. */
    static int64_t kcore_feasible_max(Py_ssize_t n, const uint8_t *restrict code,
                                      const int64_t *restrict v) {
        int64_t m = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t x = code[i] == 0 ? v[i] : 0;
            m = x > m ? x : m;
        }
        return m;
    }

    /* num // d for 0 <= num <= 2^40 and 0 < d, given inv = 1.0 / d (see kcore_div_small). */
    static inline int64_t kcore_div_norm(int64_t num, int64_t d, double inv) {
        int64_t quo = (int64_t)((double)num * inv);
        int64_t low = quo * d;
        return quo + (int64_t)(low + d <= num) - (int64_t)(low > num);
    }

    /* total[i] = base + TaintToleration + NodeAffinity normalized over the feasible nodes
       (_normalized's arithmetic: 100 - 100 * taint // max_taint, 100 when max_taint is 0;
       100 * pref // max_pref, 0 when max_pref is 0), weighted; -1 for infeasible nodes.
       Returns the max total (-1 when none is feasible). */
    static int64_t kcore_column_totals(
            Py_ssize_t n, const uint8_t *restrict code, const int64_t *restrict base,
            const int64_t *restrict taint, const int64_t *restrict pref, int64_t max_taint,
            int64_t max_pref, int64_t w_taint, int64_t w_aff, int64_t max,
            int64_t *restrict total) {
        double it = max_taint ? 1.0 / (double)max_taint : 0.0;
        double ip = max_pref ? 1.0 / (double)max_pref : 0.0;
        int64_t flat = w_taint * max, best = -1;
        int64_t wa = max_pref > 0 ? w_aff : 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t tn = max_taint ? w_taint * (max - kcore_div_norm(max * taint[i], max_taint, it))
                                   : flat;
            int64_t pn = wa * kcore_div_norm(max * pref[i], max_pref ? max_pref : 1, ip);
            int64_t x = code[i] == 0 ? base[i] + tn + pn : -1;
            total[i] = x;
            best = x > best ? x : best;
        }
        return best;
    }

    /* How many nodes have total == best. */
    static Py_ssize_t kcore_count_equal(Py_ssize_t n, const int64_t *restrict total,
                                        int64_t best) {
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < n; i++)
            k += total[i] == best;
        return k;
    }

    /* The index of the j-th (from 0) node with total == best: whole blocks are counted in
       a vectorised loop and skipped, the block holding it is scanned. */
    static Py_ssize_t kcore_nth_equal(Py_ssize_t n, const int64_t *restrict total,
                                      int64_t best, Py_ssize_t j) {
        Py_ssize_t start = 0;
        while (start < n) {
            Py_ssize_t end = start + 512 < n ? start + 512 : n;
            Py_ssize_t k = kcore_count_equal(end - start, total + start, best);
            if (j < k) {
                for (Py_ssize_t i = start; i < end; i++) {
                    if (total[i] == best) {
                        if (j == 0)
                            return i;
                        j--;
                    }
                }
            }
            j -= k;
            start = end;
        }
        return -1;
    }
    """
    void _code_counts "kcore_code_counts"(Py_ssize_t n, const uint8_t* code,
                                          int64_t* out) noexcept nogil
    int64_t _feasible_max "kcore_feasible_max"(Py_ssize_t n, const uint8_t* code,
                                               const int64_t* v) noexcept nogil
    int64_t _column_totals "kcore_column_totals"(
        Py_ssize_t n, const uint8_t* code, const int64_t* base, const int64_t* taint,
        const int64_t* pref, int64_t max_taint, int64_t max_pref, int64_t w_taint,
        int64_t w_aff, int64_t max, int64_t* total) noexcept nogil
    Py_ssize_t _count_equal "kcore_count_equal"(Py_ssize_t n, const int64_t* total,
                                                int64_t best) noexcept nogil
    Py_ssize_t _nth_equal "kcore_nth_equal"(Py_ssize_t n, const int64_t* total, int64_t best,
                                            Py_ssize_t j) noexcept nogil


cdef inline bint _whole_columns(const Nodes* nd, const Query* q,
                                const Profile* pr) noexcept nogil:
    """Whether a decision can stay in node-indexed columns end to end (_decide_columns): a
    `_fast_path` pod under the default cpu/memory scoring, preferred terms on labels only,
    PreferNoSchedule taints in one word."""
    return (_fast_path(q) and pr.cpu_memory and (q.n_terms == 0 or _label_terms(q))
            and (not q.any_soft or nd.wt == 1))


cdef Py_ssize_t _decide_columns(const Nodes* nd, const Query* q, const Profile* pr,
                                int64_t* fails, Raw* raw, bint lowest, uint64_t* rng,
                                int64_t* scores) noexcept nogil:
    """`_score_feasible` + `_select` for a `_whole_columns` pod without compacting a feasible
    list: every pass is a loop over all nodes the compiler vectorises (filter codes and their
    failure counts, preferred and taint columns, the request-dependent scores, the
    normalized totals with -1 for infeasible nodes, the max); the winner is drawn as
    `_select` draws it (one draw per tie after the first, ties in node order), by counting
    the ties, replaying the draws to learn which tie wins, and finding that tie."""
    cdef Py_ssize_t n = nd.n, i, j, t, ties
    cdef uint8_t* code = <uint8_t*>raw.ip
    cdef int64_t* total = raw.base
    cdef int64_t* col = <int64_t*>raw.work
    cdef int64_t counts[8]
    cdef int64_t max_taint = 0, max_pref = 0, best
    _filter_codes(nd, q, code)
    _code_counts(n, code, counts)
    fails[FAIL_UNSCHEDULABLE] += counts[0]
    fails[FAIL_TAINT] += counts[1]
    fails[FAIL_NODE_PORTS] += counts[2]
    for j in range(q.n_want):
        fails[FAIL_RESOURCE_BASE + q.want[j]] += counts[3 + j]
    if counts[7] == 0:
        return -1
    if q.n_terms:
        _preferred_columns(nd, q, raw.pref, col)
        max_pref = _feasible_max(n, code, raw.pref)
    else:
        memset(raw.pref, 0, n * sizeof(int64_t))
    if q.any_soft:
        _soft_taint_column(nd, q, raw.taint)
        max_taint = _feasible_max(n, code, raw.taint)
    else:
        memset(raw.taint, 0, n * sizeof(int64_t))
    _base_column(nd, q, pr, col)
    best = _column_totals(n, code, col, raw.taint, raw.pref, max_taint, max_pref, pr.w_taint,
                          pr.w_affinity, MAX_NODE_SCORE, total)
    if scores != NULL:
        for i in range(n):
            if code[i] == 0:
                scores[i] = total[i]
    ties = 1 if lowest else _count_equal(n, total, best)
    j = 0
    for t in range(2, ties + 1):
        if _next(rng) % <uint64_t>t == 0:
            j = t - 1
    return _nth_equal(n, total, best, j)


cdef void _base_column(const Nodes* nd, const Query* q, const Profile* pr,
                       int64_t* col) noexcept nogil:
    """col[i] = _base_cpu_memory(node i) for every node, as column passes over contiguous
    memory (C loops the compiler vectorises): LeastAllocated's quotients from the reciprocal
    column with an integer correction (exact), BalancedAllocation's divisions eight to an
    instruction, each lane doing the scalar code's floating-point operations in the same
    order, so results equal _base_cpu_memory's bit for bit. Nodes with an allocatable of 0
    (the weighted mean then leaves that resource out) are rescored one by one."""
    cdef Py_ssize_t i, s = nd.stride
    cdef Profile fit_only = pr[0]
    fit_only.w_bal = 0
    if _least_column(nd.n, nd.alloc, nd.alloc + s, nd.recip, nd.recip + s, nd.nonzero,
                     nd.nonzero + s, q.nonzero[0], q.nonzero[1], pr.fit_weight[0],
                     pr.fit_weight[1], pr.w_fit, MAX_NODE_SCORE, col):
        for i in range(nd.n):
            if nd.alloc[i] == 0 or nd.alloc[s + i] == 0:
                col[i] = _base_cpu_memory(nd, q, &fit_only, i, 0)
    if pr.w_bal:
        _balanced_column(nd.n, nd.alloc, nd.alloc + s, nd.requested, nd.requested + s,
                         q.req[0], q.req[1], pr.w_bal, MAX_NODE_SCORE, col)


cdef void _default_columns(const Nodes* nd, const Query* q, const Profile* pr,
                           const Py_ssize_t* feasible, Raw* raw, Py_ssize_t nf) noexcept nogil:
    """_base_cpu_memory over the feasible list: the whole column (_base_column), gathered;
    scoring the infeasible nodes too costs less than a per-feasible-node loop of gathers
    and scalar 128-bit multiplies."""
    cdef Py_ssize_t f
    cdef int64_t* col = <int64_t*>raw.work  # [n]: free while the totals are made
    _base_column(nd, q, pr, col)
    for f in range(nf):
        raw.base[f] = col[feasible[f]]


cdef inline int64_t _base_score(const Nodes* nd, const Query* q, const Profile* pr,
                                Py_ssize_t i, int64_t extra) noexcept nogil:
    """Score of the request-dependent plugins: w_fit * fit + w_bal * balanced."""
    cdef int64_t s = 0
    if pr.cpu_memory:
        return _base_cpu_memory(nd, q, pr, i, extra)
    if pr.w_fit:
        s += pr.w_fit * _fit_score(nd, q, pr, i, extra)
    if pr.w_bal:
        s += pr.w_bal * _balanced_score(nd, q, pr, i, extra)
    return s


cdef inline int64_t _interpod_raw(const Nodes* nd, const Query* q, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t p
    cdef int32_t dom
    cdef int64_t s = 0
    for p in range(q.n_ip):
        if q.ip_kind[p] != IP_SCORE:
            continue
        dom = nd.topo[i * nd.t + q.ip_topo[p]]
        if dom >= 0:
            s += q.ip_vals[p * q.d + dom]
    return s


# ---------------------------------------------------------------------------------------------
# Normalization and selection

cdef struct Raw:
    int64_t* base      # [f] request-dependent part of the total
    int64_t* taint     # [f] untolerated PreferNoSchedule taint count
    int64_t* pref      # [f] sum of matching preferred node-affinity weights
    int64_t* ip        # [f] inter-pod preferred score
    double* work       # [4, f] BalancedAllocation's operands, for the column pass
    int64_t max_taint, max_pref, min_ip, max_ip
    int64_t best_total  # the max total over the feasible nodes (after totals)
    uint64_t magic_taint, magic_pref
    uint8_t shift_taint, shift_pref
    bint any_ip_score


cdef inline void _inverses(Raw* raw) noexcept nogil:
    if raw.max_taint > 0:
        _magic(raw.max_taint, &raw.magic_taint, &raw.shift_taint)
    if raw.max_pref > 0:
        _magic(raw.max_pref, &raw.magic_pref, &raw.shift_pref)


cdef inline int64_t _normalized(const Profile* pr, const Raw* raw, Py_ssize_t f) noexcept nogil:
    """Σ weight × normalized score of the request-independent plugins for feasible slot f.

    TaintToleration (reverse DefaultNormalizeScore): 100 - 100 * count / maxCount, 100 when
    maxCount is 0. NodeAffinity (DefaultNormalizeScore): 100 * weightSum / maxWeightSum, 0
    when the max is 0. InterPodAffinity: int64(100 * (float64(s - min) / float64(max - min))),
    0 when max == min. Maxima and minima are over the feasible nodes.
    """
    cdef int64_t s = 0, diff
    if raw.max_taint == 0:
        s += pr.w_taint * MAX_NODE_SCORE
    elif pr.w_taint:
        s += pr.w_taint * (MAX_NODE_SCORE - _mdiv(
            MAX_NODE_SCORE * raw.taint[f], raw.magic_taint, raw.shift_taint))
    if raw.max_pref > 0 and pr.w_affinity:
        s += pr.w_affinity * _mdiv(MAX_NODE_SCORE * raw.pref[f], raw.magic_pref,
                                   raw.shift_pref)
    diff = raw.max_ip - raw.min_ip
    if raw.any_ip_score and diff > 0 and pr.w_interpod:
        s += pr.w_interpod * <int64_t>(
            <double>MAX_NODE_SCORE * (<double>(raw.ip[f] - raw.min_ip) / <double>diff))
    return s


cdef inline uint64_t _next(uint64_t* state) noexcept nogil:
    """splitmix64: a tiny seedable generator for reservoir tie-breaking."""
    cdef uint64_t z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


# ---------------------------------------------------------------------------------------------
# Branch-free filter pass for the common pod

cdef inline bint _fast_path(const Query* q) noexcept nogil:
    """Whether the pod only meets filters the branch-free pass handles: no nodeName, spread
    or inter-pod terms, no nodeSelector or required affinity (preferred terms never filter),
    at most four requested resources. Everything else takes the per-node `_filter`."""
    cdef Py_ssize_t t
    if q.node_index >= 0 or q.n_sp or q.n_ip or q.has_required or q.n_want > 4:
        return False
    for t in range(q.n_terms):
        if q.term_kind[t] != TERM_PREFERRED:
            return False
    return True


cdef inline uint64_t _row_hits(const uint64_t* row, const uint64_t* mask,
                               Py_ssize_t w) noexcept nogil:
    cdef Py_ssize_t j
    cdef uint64_t hit = 0
    for j in range(w):
        hit |= row[j] & mask[j]
    return hit


cdef uint64_t _LUT_FILTERS[128]
cdef uint64_t _LUT_SHORT[128]


cdef void _init_luts() noexcept nogil:
    """Per filter code (bit 0 unschedulable, 1 taint, 2 ports, 3 + j the j-th requested
    resource is short), the failure counts it adds, packed in 16-bit fields: the first failing
    of (unschedulable, taint, ports); every short resource when those three pass."""
    cdef uint64_t c, u, t, p, alive, j, short
    for c in range(128):
        u = c & 1
        t = (c >> 1) & 1 & (u ^ 1)
        p = (c >> 2) & 1 & ((u | t) ^ 1)
        alive = 1 if (c & 7) == 0 else 0
        _LUT_FILTERS[c] = u | (t << 16) | (p << 32)
        short = 0
        for j in range(4):
            short |= (((c >> (3 + j)) & 1) & alive) << (16 * j)
        _LUT_SHORT[c] = short


_init_luts()


cdef inline void _mark_rows(uint8_t* code, const uint64_t* rows, const uint64_t* mask,
                            Py_ssize_t w, Py_ssize_t n, uint8_t bit) noexcept nogil:
    """code[i] |= bit where node i's row (node-major, w words) shares a bit with mask."""
    cdef Py_ssize_t i
    cdef uint64_t m0
    if w == 1:
        m0 = mask[0]
        for i in range(n):
            code[i] |= bit if rows[i] & m0 else 0
        return
    for i in range(n):
        code[i] |= bit if _row_hits(rows + i * w, mask, w) else 0


cdef inline void _mark_short(uint8_t* code, const int64_t* alloc, const int64_t* used,
                             int64_t want, Py_ssize_t n, uint8_t bit) noexcept nogil:
    """code[i] |= bit where the request does not fit in alloc - requested (as _fits)."""
    cdef Py_ssize_t i
    for i in range(n):
        code[i] |= bit if want > alloc[i] - used[i] else 0


cdef void _filter_codes(const Nodes* nd, const Query* q, uint8_t* code) noexcept nogil:
    """Column passes, one per filter, each a branch-free loop the compiler vectorises."""
    cdef Py_ssize_t i, j, r
    cdef uint8_t not_tol = 0 if q.tolerates_unschedulable else 1
    for i in range(nd.n):
        code[i] = nd.unschedulable[i] & not_tol
    _mark_rows(code, nd.taints, q.hard_bad, nd.wt, nd.n, 2)
    if q.has_ports:
        _mark_rows(code, nd.ports, q.port_bad, nd.wp, nd.n, 4)
    for j in range(q.n_want):
        r = q.want[j]
        _mark_short(code, nd.alloc + r * nd.stride, nd.requested + r * nd.stride, q.req[r],
                    nd.n, <uint8_t>(8 << j))


cdef inline void _unpack(int64_t* fails, const Query* q, uint64_t filters,
                         uint64_t short) noexcept nogil:
    cdef Py_ssize_t j
    fails[FAIL_UNSCHEDULABLE] += <int64_t>(filters & 0xFFFF)
    fails[FAIL_TAINT] += <int64_t>((filters >> 16) & 0xFFFF)
    fails[FAIL_NODE_PORTS] += <int64_t>((filters >> 32) & 0xFFFF)
    for j in range(q.n_want):
        fails[FAIL_RESOURCE_BASE + q.want[j]] += <int64_t>((short >> (16 * j)) & 0xFFFF)


cdef Py_ssize_t _fast_filter(const Nodes* nd, const Query* q, int64_t* fails,
                             Py_ssize_t* feasible, uint8_t* code) noexcept nogil:
    """The same filters and failure counts as `_filter` for a `_fast_path` pod, without a
    data-dependent branch (the filters reject nodes at random, so branches on them would
    mispredict about once a node): per-filter column passes set bits of a one-byte code per
    node; one scalar pass then appends every node to `feasible`, advancing only on code 0,
    and adds the code's failure counts from a table (16-bit fields, flushed every 65,535
    nodes so they cannot overflow)."""
    cdef Py_ssize_t i, start, end, f = 0
    cdef uint64_t filters, short
    cdef uint8_t c
    _filter_codes(nd, q, code)
    for start in range(0, nd.n, 65535):
        end = start + 65535 if start + 65535 < nd.n else nd.n
        filters = 0
        short = 0
        for i in range(start, end):
            c = code[i]
            filters += _LUT_FILTERS[c]
            short += _LUT_SHORT[c]
            feasible[f] = i
            f += c == 0
        _unpack(fails, q, filters, short)
    return f


cdef inline int64_t _holds(const Nodes* nd, const Query* q, Py_ssize_t i,
                           Py_ssize_t x) noexcept nogil:
    """`_requirement` as 0/1 without branching on the node's labels."""
    cdef int32_t kind = q.rq_kind[x]
    cdef Py_ssize_t j, col
    cdef uint64_t hit = 0
    if kind == REQ_ANY or kind == REQ_NONE:
        for j in range(q.rq_start[x], q.rq_start[x + 1]):
            hit |= nd.labels[q.rq_widx[j] * nd.stride + i] & q.rq_wmask[j]
        return (hit != 0) ^ (kind == REQ_NONE)
    col = i * nd.k + q.rq_col[x]
    if kind == REQ_GT:
        return nd.num_ok[col] & (nd.nums[col] > q.rq_val[x])
    return nd.num_ok[col] & (nd.nums[col] < q.rq_val[x])


cdef inline int64_t _preferred(const Nodes* nd, const Query* q, Py_ssize_t i) noexcept nogil:
    """Σ weights of the preferred terms node i matches (a `_fast_path` pod's only terms)."""
    cdef Py_ssize_t t, x
    cdef int64_t s = 0, ok
    for t in range(q.n_terms):
        ok = 1
        for x in range(q.term_start[t], q.term_start[t + 1]):
            ok &= _holds(nd, q, i, x)
        s += q.term_weight[t] * ok
    return s


cdef inline bint _label_terms(const Query* q) noexcept nogil:
    """Whether every requirement tests label bits (In, NotIn, Exists, DoesNotExist)."""
    cdef Py_ssize_t x
    for x in range(q.n_reqs):
        if q.rq_kind[x] != REQ_ANY and q.rq_kind[x] != REQ_NONE:
            return False
    return True


cdef void _require_column(const Nodes* nd, const Query* q, Py_ssize_t x,
                          int64_t* ok) noexcept nogil:
    """ok[i] &= requirement x holds on node i, for every node (label words are node-minor,
    so a one-word requirement is a contiguous loop the compiler vectorises)."""
    cdef Py_ssize_t i, j, start = q.rq_start[x], end = q.rq_start[x + 1]
    cdef int64_t none = q.rq_kind[x] == REQ_NONE
    cdef const uint64_t* row
    cdef uint64_t mask, hit
    if end - start == 1:
        row = nd.labels + q.rq_widx[start] * nd.stride
        mask = q.rq_wmask[start]
        for i in range(nd.n):
            ok[i] &= ((row[i] & mask) != 0) ^ none
        return
    for i in range(nd.n):
        hit = 0
        for j in range(start, end):
            hit |= nd.labels[q.rq_widx[j] * nd.stride + i] & q.rq_wmask[j]
        ok[i] &= (hit != 0) ^ none


cdef inline bint _one_word_term(const Nodes* nd, const Query* q, Py_ssize_t t,
                                int64_t* pref) noexcept nogil:
    """pref[i] += the weight of term t where it holds, in one pass, when the term is one
    requirement on one label word (a zone or a label In a few values); else False."""
    cdef Py_ssize_t i, x = q.term_start[t], j
    cdef int64_t none, w = q.term_weight[t]
    cdef const uint64_t* row
    cdef uint64_t mask
    if q.term_start[t + 1] - x != 1 or q.rq_start[x + 1] - q.rq_start[x] != 1:
        return False
    j = q.rq_start[x]
    none = q.rq_kind[x] == REQ_NONE
    row = nd.labels + q.rq_widx[j] * nd.stride
    mask = q.rq_wmask[j]
    for i in range(nd.n):
        pref[i] += w * (((row[i] & mask) != 0) ^ none)
    return True


cdef void _preferred_columns(const Nodes* nd, const Query* q, int64_t* pref,
                             int64_t* ok) noexcept nogil:
    """pref[i] = Σ weights of the preferred terms node i matches, for every node."""
    cdef Py_ssize_t i, t, x
    cdef int64_t w
    for i in range(nd.n):
        pref[i] = 0
    for t in range(q.n_terms):
        if _one_word_term(nd, q, t, pref):
            continue
        for i in range(nd.n):
            ok[i] = 1
        for x in range(q.term_start[t], q.term_start[t + 1]):
            _require_column(nd, q, x, ok)
        w = q.term_weight[t]
        for i in range(nd.n):
            pref[i] += w * ok[i]


cdef void _soft_taint_column(const Nodes* nd, const Query* q, int64_t* taint) noexcept nogil:
    """taint[i] = _taint_count for every node of a one-word taint table."""
    cdef Py_ssize_t i
    cdef uint64_t soft = q.soft_bad[0]
    for i in range(nd.n):
        taint[i] = _popcount64(nd.taints[i] & soft)


cdef Py_ssize_t _fast_raw(const Nodes* ndp, const Query* qp, int64_t* fails,
                          Py_ssize_t* feasible, Raw* raw) noexcept nogil:
    """Pass 1 of `_score_feasible` for a `_fast_path` pod: the branch-free filter, then the
    request-independent raw scores. Label-only preferred terms and one-word taint tables
    are scored as columns over every node (raw.pref, raw.taint, with raw.base as scratch)
    and then compacted in place (feasible[f] >= f, so no entry is overwritten before it
    is read); other terms are scored per feasible node."""
    cdef Nodes nd = ndp[0]
    cdef Query q = qp[0]
    # raw.ip is free until the filter pass ends: it holds the one-byte filter codes.
    cdef Py_ssize_t f, i, nf = _fast_filter(ndp, qp, fails, feasible, <uint8_t*>raw.ip)
    cdef int64_t pref, taint, max_taint = 0, max_pref = 0
    cdef bint pref_cols = nf > 0 and q.n_terms > 0 and _label_terms(&q)
    cdef bint taint_cols = nf > 0 and q.any_soft and nd.wt == 1
    if pref_cols:
        _preferred_columns(&nd, &q, raw.pref, raw.base)
    if taint_cols:
        _soft_taint_column(&nd, &q, raw.taint)
    for f in range(nf):
        i = feasible[f]
        if pref_cols:
            pref = raw.pref[i]
        else:
            pref = _preferred(&nd, &q, i) if q.n_terms else 0
        taint = raw.taint[i] if taint_cols else _taint_count(&nd, &q, i)
        raw.pref[f] = pref
        raw.taint[f] = taint
        raw.ip[f] = 0
        max_taint = taint if taint > max_taint else max_taint
        max_pref = pref if pref > max_pref else max_pref
    raw.max_taint, raw.max_pref, raw.min_ip, raw.max_ip = max_taint, max_pref, 0, 0
    raw.any_ip_score = False
    return nf


cdef Py_ssize_t _score_feasible(const Nodes* ndp, const Query* qp, const Profile* prp,
                                int64_t* fails, Py_ssize_t* feasible, Raw* raw,
                                bint totals) noexcept nogil:
    """Pass 1: every filter fused in one loop over all nodes, collecting the feasible ones
    with their request-independent raw scores (taints, preferred affinity, inter-pod) and
    the maxima that normalize them; then the request-dependent scores over that compact list
    (~10% faster than scoring inside the filter loop: two tight loops branch and schedule
    better). With `totals`, raw.base[f] becomes the node's total score and raw.best_total
    their max; otherwise raw.base[f] holds the request-dependent part only (for the batch
    kernel, which re-totals as nodes fill). Returns the feasible count.

    The structs are copied to locals so the compiler knows stores to `fails` and `raw`
    cannot change them, and keeps their fields in registers across the loop.
    """
    cdef Nodes nd = ndp[0]
    cdef Query q = qp[0]
    cdef Profile pr = prp[0]
    cdef Py_ssize_t i, f = 0, nf
    cdef int64_t preferred = 0, ip = 0, taint
    cdef int64_t max_taint = 0, max_pref = 0, min_ip = 0, max_ip = 0
    cdef bint any_ip = False
    if _fast_path(&q):
        nf = _fast_raw(&nd, &q, fails, feasible, raw)
        _inverses(raw)
        return _totals(&nd, &q, &pr, feasible, raw, nf, totals)
    for i in range(q.n_ip):
        any_ip = any_ip or q.ip_kind[i] == IP_SCORE
    for i in range(nd.n):
        if not _filter(&nd, &q, i, &preferred, fails):
            continue
        feasible[f] = i
        raw.pref[f] = preferred
        taint = _taint_count(&nd, &q, i)
        raw.taint[f] = taint
        if any_ip:
            ip = _interpod_raw(&nd, &q, i)
            min_ip = ip if f == 0 or ip < min_ip else min_ip
            max_ip = ip if f == 0 or ip > max_ip else max_ip
        raw.ip[f] = ip
        max_taint = taint if taint > max_taint else max_taint
        max_pref = preferred if preferred > max_pref else max_pref
        f += 1
    nf = f
    raw.max_taint, raw.max_pref, raw.min_ip, raw.max_ip = max_taint, max_pref, min_ip, max_ip
    raw.any_ip_score = any_ip
    _inverses(raw)
    return _totals(&nd, &q, &pr, feasible, raw, nf, totals)


cdef Py_ssize_t _totals(const Nodes* nd, const Query* q, const Profile* pr,
                        const Py_ssize_t* feasible, Raw* raw, Py_ssize_t nf,
                        bint totals) noexcept nogil:
    """The request-dependent scores over the compact feasible list (see _score_feasible),
    then the totals in a second loop: two short loop bodies keep more iterations in flight
    (the divisions' latency overlaps) than one long one."""
    cdef Py_ssize_t f
    cdef int64_t total, best = 0
    if pr.cpu_memory:
        _default_columns(nd, q, pr, feasible, raw, nf)
    else:
        for f in range(nf):
            raw.base[f] = _base_score(nd, q, pr, feasible[f], 0)
    if not totals:
        return nf
    if not raw.any_ip_score and raw.max_taint < NORM_TABLE and raw.max_pref < NORM_TABLE:
        _add_tabled(pr, raw, nf)
        return nf
    for f in range(nf):
        total = raw.base[f] + _normalized(pr, raw, f)
        best = total if f == 0 or total > best else best
        raw.base[f] = total
    raw.best_total = best
    return nf


cdef enum:
    NORM_TABLE = 256


cdef void _add_tabled(const Profile* pr, Raw* raw, Py_ssize_t nf) noexcept nogil:
    """The totals of _totals when no inter-pod score applies and the raw taint counts and
    preferred sums are small: _normalized depends on them only, so its values are
    tabulated once per decision (by the same arithmetic) and looked up per node."""
    cdef int64_t by_taint[NORM_TABLE]
    cdef int64_t by_pref[NORM_TABLE]
    cdef Py_ssize_t f, v
    cdef int64_t total, best = 0
    for v in range(raw.max_taint + 1):
        raw.taint[nf] = v
        raw.pref[nf] = 0
        by_taint[v] = _normalized(pr, raw, nf)
    for v in range(raw.max_pref + 1):
        raw.taint[nf] = 0
        raw.pref[nf] = v
        by_pref[v] = _normalized(pr, raw, nf) - by_taint[0]
    for f in range(nf):
        total = raw.base[f] + by_taint[raw.taint[f]] + by_pref[raw.pref[f]]
        best = total if f == 0 or total > best else best
        raw.base[f] = total
    raw.best_total = best


cdef inline int64_t _taint_count(const Nodes* nd, const Query* q, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t j
    cdef int64_t c = 0
    cdef const uint64_t* row = nd.taints + i * nd.wt
    cdef uint64_t bits
    if not q.any_soft:
        return 0
    for j in range(nd.wt):
        bits = row[j] & q.soft_bad[j]
        if bits:
            c += _popcount(bits)
    return c


cdef Py_ssize_t _select(const Profile* pr, Raw* raw, const Py_ssize_t* feasible,
                        Py_ssize_t nf, bint lowest, uint64_t* rng,
                        int64_t* scores) noexcept nogil:
    """Pass 2: the nodes with the max total; ties reservoir-sampled like selectHost (in
    index order, one draw per tie after the first), or the lowest index."""
    cdef Py_ssize_t f, best = -1
    cdef int64_t best_total = raw.best_total
    cdef uint64_t ties = 0
    if scores != NULL:
        for f in range(nf):
            scores[feasible[f]] = raw.base[f]
    for f in range(nf):
        if raw.base[f] != best_total:
            continue
        ties += 1
        if ties == 1:
            best = f
            if lowest:
                break
        elif _next(rng) % ties == 0:
            best = f
    return feasible[best] if best >= 0 else -1


cdef int _raw_alloc(Raw* raw, Py_ssize_t n) noexcept nogil:
    cdef int64_t* block = <int64_t*>malloc(8 * (n + 1) * sizeof(int64_t))
    if block == NULL:
        return -1
    raw.base = block
    raw.taint = block + (n + 1)
    raw.pref = block + 2 * (n + 1)
    raw.ip = block + 3 * (n + 1)
    raw.work = <double*>(block + 4 * (n + 1))
    return 0


cdef void* _scratch_block(Py_ssize_t n) noexcept nogil:
    """Working memory for one decision over n nodes: the feasible list and the raw scores."""
    return malloc(9 * (n + 1) * sizeof(int64_t))


cdef void _scratch_split(void* block, Py_ssize_t n, Py_ssize_t** feasible,
                         Raw* raw) noexcept nogil:
    cdef int64_t* words = <int64_t*>block
    raw.base = words
    raw.taint = words + (n + 1)
    raw.pref = words + 2 * (n + 1)
    raw.ip = words + 3 * (n + 1)
    feasible[0] = <Py_ssize_t*>(words + 4 * (n + 1))
    raw.work = <double*>(words + 5 * (n + 1))


def schedule_one(NodeView nodes, QueryView query, ProfileView profile, bint lowest,
                 uint64_t[::1] rng, int64_t[::1] fails, int64_t[::1] scores):
    """Filter and score every node for one pod; returns the chosen node index or -1.

    `fails` (length FAIL_RESOURCE_BASE + r) is incremented per failing filter; `scores`
    (length n, or 0 to skip) receives each feasible node's total score (others untouched).
    """
    cdef const Nodes* nd = &nodes.c
    cdef Raw raw
    cdef Py_ssize_t nf, chosen
    cdef Py_ssize_t* feasible
    cdef int64_t* out = &scores[0] if scores.shape[0] else NULL
    cdef bint own = nodes.busy  # the view's scratch is taken: use a private block
    cdef void* block
    if nodes.scratch == NULL:
        nodes.scratch = _scratch_block(nd.n)
    block = _scratch_block(nd.n) if own else nodes.scratch
    if block == NULL:
        raise MemoryError()
    nodes.busy = nodes.busy or not own
    _scratch_split(block, nd.n, &feasible, &raw)
    try:
        with nogil:
            if _whole_columns(nd, &query.c, &profile.c):
                chosen = _decide_columns(nd, &query.c, &profile.c, &fails[0], &raw, lowest,
                                         &rng[0], out)
            else:
                nf = _score_feasible(nd, &query.c, &profile.c, &fails[0], feasible, &raw,
                                     True)
                chosen = _select(&profile.c, &raw, feasible, nf, lowest, &rng[0], out)
    finally:
        if own:
            free(block)
        else:
            nodes.busy = False
    return chosen


# ---------------------------------------------------------------------------------------------
# Batch placement of identical pods

cdef struct Heap:
    Py_ssize_t* slot    # heap position -> feasible slot
    Py_ssize_t size
    int64_t* total      # [f] current total score per feasible slot
    uint64_t* tie       # [f] secondary key: larger wins (lowest mode: -node index)


cdef inline bint _above(const Heap* h, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    if h.total[a] != h.total[b]:
        return h.total[a] > h.total[b]
    return h.tie[a] > h.tie[b]


cdef void _sift_down(Heap* h, Py_ssize_t pos) noexcept nogil:
    cdef Py_ssize_t child
    cdef Py_ssize_t item = h.slot[pos]
    while True:
        child = 2 * pos + 1
        if child >= h.size:
            break
        if child + 1 < h.size and _above(h, h.slot[child + 1], h.slot[child]):
            child += 1
        if not _above(h, h.slot[child], item):
            break
        h.slot[pos] = h.slot[child]
        pos = child
    h.slot[pos] = item


cdef void _heapify(Heap* h) noexcept nogil:
    cdef Py_ssize_t pos = h.size // 2
    while pos > 0:
        pos -= 1
        _sift_down(h, pos)


cdef void _retotal(const Profile* pr, const Raw* raw, Heap* h) noexcept nogil:
    cdef Py_ssize_t p, f
    for p in range(h.size):
        f = h.slot[p]
        h.total[f] = raw.base[f] + _normalized(pr, raw, f)
    _heapify(h)


cdef bint _renormalize(const Raw* old, Raw* raw, const Heap* h) noexcept nogil:
    """After a node leaves the feasible set, recompute the maxima normalization uses."""
    cdef Py_ssize_t p, f
    raw.max_taint = 0
    raw.max_pref = 0
    for p in range(h.size):
        f = h.slot[p]
        if raw.taint[f] > raw.max_taint:
            raw.max_taint = raw.taint[f]
        if raw.pref[f] > raw.max_pref:
            raw.max_pref = raw.pref[f]
    _inverses(raw)
    return raw.max_taint != old.max_taint or raw.max_pref != old.max_pref


cdef bint _still_fits(const Nodes* nd, const Query* q, Py_ssize_t i, int64_t placed,
                      int64_t* scratch) noexcept nogil:
    if q.has_ports:
        return False
    return _fits(nd, q, i, placed, scratch)


cdef void _place_all(const Nodes* nd, const Query* q, const Profile* pr, Raw* raw,
                     Heap* h, const Py_ssize_t* feasible, int64_t* placed, Py_ssize_t k,
                     bint lowest, uint64_t* rng, int64_t* out, int64_t* scratch) noexcept nogil:
    cdef Py_ssize_t j, f, i
    cdef Raw before
    for j in range(k):
        if h.size == 0:
            out[j] = -1
            continue
        f = h.slot[0]
        i = feasible[f]
        out[j] = i
        placed[f] += 1
        if _still_fits(nd, q, i, placed[f], scratch):
            raw.base[f] = _base_score(nd, q, pr, i, placed[f])
            h.total[f] = raw.base[f] + _normalized(pr, raw, f)
            if not lowest:
                h.tie[f] = _next(rng)
            _sift_down(h, 0)
            continue
        h.size -= 1
        h.slot[0] = h.slot[h.size]
        before = raw[0]
        if _renormalize(&before, raw, h):
            _retotal(pr, raw, h)
        elif h.size:
            _sift_down(h, 0)


def place_batch(NodeView nodes, QueryView query, ProfileView profile, bint lowest,
                uint64_t[::1] rng, int64_t[::1] fails, int64_t[::1] out):
    """Place len(out) identical pods; out[j] = node index of pod j, or -1 when none fits.

    Equal to calling schedule_one len(out) times and adding the pod to the chosen node's
    requested columns in between, when ties go to the lowest index. The pod must not carry
    inter-pod or spread terms (their counts change as the pods land). `fails` receives the
    counts of the initial filter pass.

    O(N + K log N): one filter/score pass, then a max-heap keyed by (total score, tie key).
    Only the chosen node's request-dependent score changes after a placement; when a node
    fills up and leaves the feasible set, the normalizing maxima are recomputed and, if they
    moved, every total is rebuilt. With random ties the tie key is a random draw per node,
    redrawn whenever the node's score changes.
    """
    cdef const Nodes* nd = &nodes.c
    cdef Raw raw
    cdef Heap h
    cdef Py_ssize_t nf, f
    cdef Py_ssize_t n = nd.n + 1
    cdef Py_ssize_t* feasible = <Py_ssize_t*>malloc(2 * n * sizeof(Py_ssize_t))
    cdef int64_t* block = <int64_t*>malloc(2 * n * sizeof(int64_t))
    cdef uint64_t* tie = <uint64_t*>malloc(n * sizeof(uint64_t))
    cdef int64_t* scratch = <int64_t*>malloc((FAIL_RESOURCE_BASE + nd.r) * sizeof(int64_t))
    if (feasible == NULL or block == NULL or tie == NULL
            or scratch == NULL or _raw_alloc(&raw, nd.n) != 0):
        free(feasible)
        free(block)
        free(tie)
        free(scratch)
        raise MemoryError()
    with nogil:
        nf = _score_feasible(nd, &query.c, &profile.c, &fails[0], feasible, &raw, False)
        h.slot = feasible + n
        h.size = nf
        h.total = block
        h.tie = tie
        for f in range(nf):
            h.slot[f] = f
            block[n + f] = 0
            tie[f] = (0xFFFFFFFFFFFFFFFFULL - <uint64_t>feasible[f]) if lowest else _next(&rng[0])
        _retotal(&profile.c, &raw, &h)
        _place_all(nd, &query.c, &profile.c, &raw, &h, feasible, block + n,
                   out.shape[0], lowest, &rng[0], &out[0] if out.shape[0] else NULL,
                   scratch)
    free(raw.base)
    free(feasible)
    free(block)
    free(tie)
    free(scratch)
