"""A pod's scheduling requirements, and their compilation into the arrays kernels read.

`PodRequirements` is plain data (requests, nodeName, nodeSelector, node affinity,
tolerations, host ports, and caller-computed inter-pod / topology-spread counts per domain).
`compile_query` turns it into a `Query` of NumPy arrays over a `NodeTable`'s vocabularies:
requirements become bitmap masks (In/Exists: any bit set; NotIn/DoesNotExist: none set) or
integer comparisons (Gt/Lt), tolerations become masks of untolerated taint ids, host ports a
mask of conflicting port ids. `Profile` (plugin weights, fit strategy) compiles likewise.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from kcore.scheduler.table import (
    EFFECTS,
    PODS_COLUMN,
    UNSCHEDULABLE_TAINT_KEY,
    HostPort,
    NodeTable,
    Taint,
    nonzero_requests,
    normalize_port,
    parse_int64,
)

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
Strategy = Literal["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"]

REQ_ANY, REQ_NONE, REQ_GT, REQ_LT = 0, 1, 2, 3
TERM_SELECTOR, TERM_REQUIRED, TERM_PREFERRED = 0, 1, 2
IP_AFFINITY, IP_ANTI_AFFINITY, IP_EXISTING_ANTI_AFFINITY, IP_SCORE = 0, 1, 2, 3
STRATEGIES: dict[str, int] = {
    "LeastAllocated": 0,
    "MostAllocated": 1,
    "RequestedToCapacityRatio": 2,
}
MAX_CUSTOM_PRIORITY_SCORE = 10
MAX_NODE_SCORE = 100


@dataclass(frozen=True)
class Requirement:
    """One NodeSelectorRequirement: key, operator, values."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """v1.Toleration.ToleratesTaint."""
        key, value, effect = taint
        if self.effect and self.effect != effect:
            return False
        if self.key and self.key != key:
            return False
        if self.operator == "Exists":
            return True
        return self.value == value


@dataclass(frozen=True)
class TopologyTerm:
    """Per-domain values for one inter-pod term, computed by the caller from the snapshot.

    For required (anti-)affinity: matching pods per domain of `topology_key`. For preferred
    terms: the summed weighted score per domain (negative for anti-affinity).
    """

    topology_key: str
    counts: Mapping[str, int]


@dataclass(frozen=True)
class SpreadConstraint:
    """A DoNotSchedule topology spread constraint with its per-domain match counts.

    `counts` holds every eligible domain (those of nodes passing the node-inclusion
    policies), zero counts included: the global minimum is taken over them.
    """

    topology_key: str
    max_skew: int
    counts: Mapping[str, int]
    self_match: bool = True
    min_domains: int = 1

    def limit(self) -> int:
        """A node passes when count[its domain] <= maxSkew + globalMin - selfMatch."""
        low = min(self.counts.values(), default=0)
        if len(self.counts) < self.min_domains:
            low = 0
        return self.max_skew + low - int(self.self_match)


@dataclass(frozen=True)
class PodRequirements:
    """What the scheduler needs of a pod, as plain values."""

    requests: Mapping[str, int] = field(default_factory=dict)
    nonzero: tuple[int, int] | None = None
    node_name: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    required_terms: Sequence[Sequence[Requirement]] | None = None
    preferred_terms: Sequence[tuple[int, Sequence[Requirement]]] = ()
    tolerations: Sequence[Toleration] = ()
    host_ports: Sequence[HostPort] = ()
    pod_affinity: Sequence[TopologyTerm] = ()
    pod_anti_affinity: Sequence[TopologyTerm] = ()
    existing_anti_affinity: Sequence[TopologyTerm] = ()
    affinity_bootstrap: bool = False
    preferred_pod_affinity: Sequence[TopologyTerm] = ()
    spread: Sequence[SpreadConstraint] = ()

    def nonzero_request(self) -> tuple[int, int]:
        return self.nonzero if self.nonzero is not None else nonzero_requests([self.requests])

    def is_best_effort(self) -> bool:
        return not any(v for v in self.requests.values())


@dataclass(frozen=True)
class Profile:
    """Score plugin weights and NodeResourcesFit's scoring strategy (kube defaults)."""

    strategy: Strategy = "LeastAllocated"
    fit_resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    shape: tuple[tuple[int, int], ...] = ((0, 10), (100, 0))
    balanced_resources: tuple[str, ...] = ("cpu", "memory")
    fit_weight: int = 1
    balanced_weight: int = 1
    taint_weight: int = 3
    node_affinity_weight: int = 2
    interpod_weight: int = 2
    skip_balanced_for_best_effort: bool = False


I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Query:
    """A pod compiled against one table layout; field meanings in ext/sched_defs.pxd."""

    req: I64
    nonzero: I64
    node_index: int
    tolerates_unschedulable: bool
    has_required: bool
    has_ports: bool
    affinity_bootstrap: bool
    rq_kind: I32
    rq_term: I32
    rq_col: I32
    rq_val: I64
    rq_mask: U64
    rq_start: I32
    rq_widx: I32
    rq_wmask: U64
    term_kind: npt.NDArray[np.int8]
    term_weight: I64
    hard_bad: U64
    soft_bad: U64
    port_bad: U64
    ip_kind: I32
    ip_topo: I32
    ip_vals: I64
    sp_topo: I32
    sp_counts: I64
    sp_limit: I64
    best_effort: bool
    layout_version: int
    cache: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CompiledProfile:
    strategy: int
    fit_res: I32
    fit_weight: I64
    shape_util: I64
    shape_score: I64
    bal_res: I32
    weights: tuple[int, int, int, int, int]
    skip_balanced_for_best_effort: bool
    cache: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


def compile_profile(table: NodeTable, profile: Profile) -> CompiledProfile:
    """Resolves resource names to table columns. A resource the table lacks gets a column,
    which changes the table's layout: compile profiles before the queries they score."""
    fit_res = [table.resource_column(r) for r, _ in profile.fit_resources]
    scale = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    return CompiledProfile(
        strategy=STRATEGIES[profile.strategy],
        fit_res=np.array(fit_res, np.int32),
        fit_weight=np.array([w for _, w in profile.fit_resources], np.int64),
        shape_util=np.array([u for u, _ in profile.shape], np.int64),
        shape_score=np.array([s * scale for _, s in profile.shape], np.int64),
        bal_res=np.array([table.resource_column(r) for r in profile.balanced_resources], np.int32),
        weights=(
            profile.fit_weight,
            profile.balanced_weight,
            profile.taint_weight,
            profile.node_affinity_weight,
            profile.interpod_weight,
        ),
        skip_balanced_for_best_effort=profile.skip_balanced_for_best_effort,
    )


@dataclass
class _Terms:
    """Requirement rows being assembled, grouped into terms."""

    kind: list[int] = field(default_factory=list)
    term: list[int] = field(default_factory=list)
    col: list[int] = field(default_factory=list)
    val: list[int] = field(default_factory=list)
    masks: list[U64] = field(default_factory=list)
    term_kind: list[int] = field(default_factory=list)
    term_weight: list[int] = field(default_factory=list)


def _label_mask(table: NodeTable, items: Sequence[tuple[str, str | None]]) -> U64:
    bits = [b for b in (table.label_vocab.get(item) for item in items) if b is not None]
    return table.label_vocab.mask(bits, table.label_width)


def _add_requirement(table: NodeTable, terms: _Terms, term: int, req: Requirement) -> None:
    op, key = req.operator, req.key
    col, val = 0, 0
    if op in ("In", "NotIn"):
        mask = _label_mask(table, [(key, v) for v in req.values])
        kind = REQ_ANY if op == "In" else REQ_NONE
    elif op in ("Exists", "DoesNotExist"):
        mask = _label_mask(table, [(key, None)])
        kind = REQ_ANY if op == "Exists" else REQ_NONE
    else:
        number = parse_int64(req.values[0]) if len(req.values) == 1 else None
        if number is None:
            raise ValueError(f"{op} requirement on {key!r} needs one integer value")
        col, val = table.numeric_column(key), number
        mask = np.zeros(table.label_width, np.uint64)
        kind = REQ_GT if op == "Gt" else REQ_LT
    terms.kind.append(kind)
    terms.term.append(term)
    terms.col.append(col)
    terms.val.append(val)
    terms.masks.append(mask)


def _add_term(
    table: NodeTable, terms: _Terms, kind: int, weight: int, reqs: Sequence[Requirement]
) -> None:
    term = len(terms.term_kind)
    terms.term_kind.append(kind)
    terms.term_weight.append(weight)
    for req in reqs:
        _add_requirement(table, terms, term, req)


def _compile_terms(table: NodeTable, pod: PodRequirements) -> _Terms:
    for req in _all_requirements(pod):
        if req.operator in ("Gt", "Lt"):
            table.numeric_column(req.key)  # widen before masks are sized
    terms = _Terms()
    if pod.node_selector:
        sel = [Requirement(k, "In", (v,)) for k, v in pod.node_selector.items()]
        _add_term(table, terms, TERM_SELECTOR, 0, sel)
    for reqs in pod.required_terms or ():
        if reqs:  # an empty term matches no node
            _add_term(table, terms, TERM_REQUIRED, 0, reqs)
    for weight, reqs in pod.preferred_terms:
        if weight and reqs:
            _add_term(table, terms, TERM_PREFERRED, weight, reqs)
    return terms


def _all_requirements(pod: PodRequirements) -> list[Requirement]:
    out = [r for term in pod.required_terms or () for r in term]
    return out + [r for _, term in pod.preferred_terms for r in term]


def _taint_masks(table: NodeTable, pod: PodRequirements) -> tuple[U64, U64]:
    words = table.taints.shape[1]
    hard, soft = [], []
    for bit, taint in enumerate(table.taint_vocab.items()):
        if any(t.tolerates(taint) for t in pod.tolerations):
            continue
        if taint[2] == "PreferNoSchedule":
            soft.append(bit)
        elif taint[2] in EFFECTS:
            hard.append(bit)
    return table.taint_vocab.mask(hard, words), table.taint_vocab.mask(soft, words)


def _conflicts(wanted: HostPort, used: HostPort) -> bool:
    """NodePorts: same protocol and port, and either side on 0.0.0.0 or the same IP."""
    if wanted[1:] != used[1:]:
        return False
    return "0.0.0.0" in (wanted[0], used[0]) or wanted[0] == used[0]


def _port_mask(table: NodeTable, pod: PodRequirements) -> tuple[bool, U64]:
    wanted = [normalize_port(p) for p in pod.host_ports if p[2] > 0]
    for port in wanted:
        table.port_vocab.intern(port)  # so its own bit is known after it lands
    table._fit_vocab_widths()
    bits = [
        b
        for b, used in enumerate(table.port_vocab.items())
        if any(_conflicts(w, used) for w in wanted)
    ]
    return bool(wanted), table.port_vocab.mask(bits, table.ports.shape[1])


def _interpod(table: NodeTable, pod: PodRequirements) -> tuple[I32, I32, list[list[int]]]:
    groups = [
        (IP_AFFINITY, pod.pod_affinity),
        (IP_ANTI_AFFINITY, pod.pod_anti_affinity),
        (IP_EXISTING_ANTI_AFFINITY, pod.existing_anti_affinity),
        (IP_SCORE, pod.preferred_pod_affinity),
    ]
    kinds, cols, rows = [], [], []
    for kind, items in groups:
        for term in items:
            kinds.append(kind)
            cols.append(table.topology_column(term.topology_key))
            rows.append(_per_domain(table, cols[-1], term.counts))
    return np.array(kinds, np.int32), np.array(cols, np.int32), rows


def _per_domain(table: NodeTable, col: int, counts: Mapping[str, int]) -> list[int]:
    domains = table.domains[col]
    out = [0] * len(domains)
    for value, count in counts.items():
        bit = domains.get(value)
        if bit is not None:
            out[bit] = count
    return out


def _matrix(rows: list[list[int]], width: int) -> I64:
    out = np.zeros((len(rows), max(1, width)), np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def compile_query(table: NodeTable, pod: PodRequirements) -> Query:
    """Compiles `pod` against `table` (which may widen: numeric/topology columns, ports)."""
    columns = [(table.resource_column(name), v) for name, v in pod.requests.items()]
    req = np.zeros(len(table.resources), np.int64)
    for col, value in columns:
        req[col] = value
    req[PODS_COLUMN] = 1
    has_ports, port_bad = _port_mask(table, pod)
    ip_kind, ip_topo, ip_rows = _interpod(table, pod)
    sp_topo = np.array([table.topology_column(c.topology_key) for c in pod.spread], np.int32)
    pairs = zip(sp_topo.tolist(), pod.spread, strict=True)
    sp_rows = [_per_domain(table, col, c.counts) for col, c in pairs]
    terms = _compile_terms(table, pod)
    rq_mask = _stack(terms.masks, table.label_width)
    rq_start, rq_widx, rq_wmask = _sparse(rq_mask)
    hard_bad, soft_bad = _taint_masks(table, pod)
    width = max([len(d) for d in table.domains], default=1)
    tolerated = any(
        t.tolerates((UNSCHEDULABLE_TAINT_KEY, "", "NoSchedule")) for t in pod.tolerations
    )
    return Query(
        req=req,
        nonzero=np.array(pod.nonzero_request(), np.int64),
        node_index=_node_index(table, pod.node_name),
        tolerates_unschedulable=tolerated,
        has_required=pod.required_terms is not None,
        has_ports=has_ports,
        affinity_bootstrap=pod.affinity_bootstrap,
        rq_kind=np.array(terms.kind, np.int32),
        rq_term=np.array(terms.term, np.int32),
        rq_col=np.array(terms.col, np.int32),
        rq_val=np.array(terms.val, np.int64),
        rq_mask=rq_mask,
        rq_start=rq_start,
        rq_widx=rq_widx,
        rq_wmask=rq_wmask,
        term_kind=np.array(terms.term_kind, np.int8),
        term_weight=np.array(terms.term_weight, np.int64),
        hard_bad=hard_bad,
        soft_bad=soft_bad,
        port_bad=port_bad,
        ip_kind=ip_kind,
        ip_topo=ip_topo,
        ip_vals=_matrix(ip_rows, width),
        sp_topo=sp_topo,
        sp_counts=_matrix(sp_rows, width),
        sp_limit=np.array([c.limit() for c in pod.spread], np.int64),
        best_effort=pod.is_best_effort(),
        layout_version=table.layout_version,
    )


def _stack(masks: list[U64], words: int) -> U64:
    if not masks:
        return np.zeros((0, words), np.uint64)
    return np.stack([np.pad(m, (0, words - len(m))) for m in masks])


def _sparse(masks: U64) -> tuple[I32, I32, U64]:
    """Row-compressed masks: row x owns entries start[x]:start[x+1] of (word, bits)."""
    rows, words = np.nonzero(masks)
    start = np.searchsorted(rows, np.arange(len(masks) + 1)).astype(np.int32)
    return start, words.astype(np.int32), masks[rows, words].astype(np.uint64)


def _node_index(table: NodeTable, node_name: str | None) -> int:
    """-1 for no nodeName; a name not in the table gets an index that matches no node."""
    if not node_name:
        return -1
    return table.index_of(node_name) if node_name in table else len(table) + 1
