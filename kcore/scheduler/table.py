"""The node table: every node one slot of contiguous NumPy columns, updated incrementally.

The scheduler's kernels read nodes only through these columns (see ext/sched_defs.pxd): int64
allocatable and requested per resource, non-zero requested cpu/memory, bitmaps over interned
label pairs, taints and used host ports, integer label values for Gt/Lt keys, topology-domain
ids per topology key, and the unschedulable/ready flags (readiness is informational: as in
Kubernetes, NotReady nodes are kept off by the taints the node lifecycle controller adds).
Resource and label columns are stored node-minor (one contiguous row per resource or label
word) because a decision reads few of them for every node; see NodeArrays.

Nodes and pods come in as plain Python values (no kcore.api objects), so the table serves
library users as well as the scheduler's snapshot. Slots stay dense: removing a node moves
the last one into its place.
"""

import copy
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kcore.scheduler.vocab import WORD_BITS, BitVocab, set_bits

CPU, MEMORY, PODS, EPHEMERAL_STORAGE = "cpu", "memory", "pods", "ephemeral-storage"
BASE_RESOURCES = (CPU, MEMORY, PODS, EPHEMERAL_STORAGE)
PODS_COLUMN = 2
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"

Taint = tuple[str, str, str]
"""(key, value, effect)"""
HostPort = tuple[str, str, int]
"""(host IP, "" or 0.0.0.0 meaning every address; protocol; port)"""
LabelItem = tuple[str, str | None]
"""(key, value) for a label pair, (key, None) for the key's presence bit."""

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
_INT64 = re.compile(r"[+-]?[0-9]+")


def parse_int64(value: str) -> int | None:
    """Go's strconv.ParseInt(value, 10, 64), or None where it would fail."""
    if not _INT64.fullmatch(value):
        return None
    number = int(value)
    return number if -(2**63) <= number < 2**63 else None


def division_magic(d: int) -> tuple[int, int]:
    """(m, s) with n // d == (n * m) >> s for every 0 <= n < 2**63 (0, 0 for d <= 0).

    Granlund & Montgomery (1994), theorem 4.2 with N = 63: for l = ceil(log2 d) and
    m = ceil(2**(63 + l) / d), 2**(63+l) <= m*d <= 2**(63+l) + 2**l holds, so the product's
    high bits are the exact quotient; m < 2**64. Kernels divide by allocatable this way: a
    128-bit multiply is much shorter on the critical path than a division.
    """
    if d <= 0:
        return 0, 0
    bits = (d - 1).bit_length()
    return -(-(1 << (63 + bits)) // d), 63 + bits


def nonzero_requests(containers: Iterable[Mapping[str, int]]) -> tuple[int, int]:
    """Pod cpu/memory for scoring: a container without a request counts 100m / 200Mi."""
    cpu = memory = 0
    for requests in containers:
        cpu += requests.get(CPU, DEFAULT_MILLI_CPU_REQUEST)
        memory += requests.get(MEMORY, DEFAULT_MEMORY_REQUEST)
    return cpu, memory


def normalize_port(port: HostPort) -> HostPort:
    ip, protocol, number = port
    return (ip or "0.0.0.0", protocol or "TCP", number)


@dataclass(frozen=True)
class NodeArrays:
    """What kernels and the reference read: n nodes.

    Resource and label arrays are node-minor, [k, capacity] with node i in column i, so a
    kernel reading one resource (or one label word) walks contiguous memory and touches
    only the rows it uses; the properties give [n, k] views. The rest are [n, ...] rows.
    """

    n: int
    alloc_by_res: I64
    alloc_magic_by_res: npt.NDArray[np.uint64]
    alloc_shift_by_res: npt.NDArray[np.uint8]
    """division_magic(allocatable) (0, 0 where none): kernels divide by multiplying."""
    alloc_recip_by_res: npt.NDArray[np.float64]
    """1 / allocatable (0.0 where none): vectorised kernels estimate a quotient with it and
    correct the estimate in integers, so the result is the exact integer quotient."""
    requested_by_res: I64
    nonzero_by_res: I64
    """[2, capacity]: cpu and memory requested with the 100m / 200Mi defaults."""
    labels_by_word: U64
    """[words, capacity]: hostname labels make the vocabulary grow with the cluster."""
    nums: I64
    num_ok: npt.NDArray[np.uint8]
    taints: U64
    ports: U64
    unschedulable: npt.NDArray[np.uint8]
    topo: npt.NDArray[np.int32]

    @property
    def alloc(self) -> I64:
        return self.alloc_by_res[:, : self.n].T

    @property
    def requested(self) -> I64:
        return self.requested_by_res[:, : self.n].T

    @property
    def nonzero(self) -> I64:
        return self.nonzero_by_res[:, : self.n].T

    @property
    def labels(self) -> U64:
        return self.labels_by_word[:, : self.n].T


@dataclass
class _PodRecord:
    node: str
    requests: dict[str, int]
    nonzero: tuple[int, int]
    ports: tuple[HostPort, ...]


@dataclass
class _NodeRecord:
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    ports: Counter[HostPort] = field(default_factory=Counter)
    pods: set[str] = field(default_factory=set)


_NODE_MINOR = (
    "alloc_by_res",
    "alloc_magic_by_res",
    "alloc_shift_by_res",
    "alloc_recip_by_res",
    "requested_by_res",
    "nonzero_by_res",
    "labels_by_word",
)
_PER_RESOURCE = (
    "alloc_by_res",
    "alloc_magic_by_res",
    "alloc_shift_by_res",
    "alloc_recip_by_res",
    "requested_by_res",
)
_COLUMNS = (
    "nums",
    "num_ok",
    "taints",
    "ports",
    "unschedulable",
    "ready",
    "topo",
)


class NodeTable:
    """Nodes as rows of NumPy columns, with the vocabularies their bitmaps use."""

    def __init__(self, capacity: int = 16) -> None:
        self.names: list[str] = []
        self.resources: list[str] = list(BASE_RESOURCES)
        self.label_vocab: BitVocab[LabelItem] = BitVocab()
        self.taint_vocab: BitVocab[Taint] = BitVocab()
        self.port_vocab: BitVocab[HostPort] = BitVocab()
        self.numeric_keys: list[str] = []
        self.topology_keys: list[str] = []
        self.domains: list[BitVocab[str]] = []
        self.layout_version = 0
        self.cache: dict[str, object] = {}
        """Per-layout derived objects (the kernel's NodeView); cleared on layout change."""
        self._index: dict[str, int] = {}
        self._nodes: list[_NodeRecord] = []
        self._pods: dict[str, _PodRecord] = {}
        self._allocate(max(1, capacity))

    def _allocate(self, capacity: int) -> None:
        r = len(BASE_RESOURCES)
        self.alloc_by_res = np.zeros((r, capacity), np.int64)
        self.alloc_magic_by_res = np.zeros((r, capacity), np.uint64)
        self.alloc_shift_by_res = np.zeros((r, capacity), np.uint8)
        self.alloc_recip_by_res = np.zeros((r, capacity), np.float64)
        self.requested_by_res = np.zeros((r, capacity), np.int64)
        self.nonzero_by_res = np.zeros((2, capacity), np.int64)
        self.labels_by_word = np.zeros((1, capacity), np.uint64)
        self.nums = np.zeros((capacity, 1), np.int64)
        self.num_ok = np.zeros((capacity, 1), np.uint8)
        self.taints = np.zeros((capacity, 1), np.uint64)
        self.ports = np.zeros((capacity, 1), np.uint64)
        self.unschedulable = np.zeros(capacity, np.uint8)
        self.ready = np.zeros(capacity, np.uint8)
        self.topo = np.full((capacity, 1), -1, np.int32)

    # -- layout ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def index_of(self, name: str) -> int:
        return self._index[name]

    def arrays(self) -> NodeArrays:
        n = len(self.names)
        return NodeArrays(
            n=n,
            alloc_by_res=self.alloc_by_res,
            alloc_magic_by_res=self.alloc_magic_by_res,
            alloc_shift_by_res=self.alloc_shift_by_res,
            alloc_recip_by_res=self.alloc_recip_by_res,
            requested_by_res=self.requested_by_res,
            nonzero_by_res=self.nonzero_by_res,
            labels_by_word=self.labels_by_word,
            nums=self.nums[:n],
            num_ok=self.num_ok[:n],
            taints=self.taints[:n],
            ports=self.ports[:n],
            unschedulable=self.unschedulable[:n],
            topo=self.topo[:n],
        )

    def clone(self) -> "NodeTable":
        cache, self.cache = self.cache, {}
        try:
            return copy.deepcopy(self)
        finally:
            self.cache = cache

    def _changed(self) -> None:
        self.layout_version += 1
        self.cache.clear()

    def _grow_rows(self) -> None:
        capacity = self.unschedulable.shape[0]
        if len(self.names) < capacity:
            return
        for name in _COLUMNS:
            old = getattr(self, name)
            fill = -1 if name == "topo" else 0
            new = np.full((capacity * 2, *old.shape[1:]), fill, old.dtype)
            new[:capacity] = old
            setattr(self, name, new)
        for name in _NODE_MINOR:
            old = getattr(self, name)
            new = np.zeros((old.shape[0], capacity * 2), old.dtype)
            new[:, :capacity] = old
            setattr(self, name, new)
        self._changed()

    @property
    def label_width(self) -> int:
        return int(self.labels_by_word.shape[0])

    def _widen(self, name: str, cols: int, fill: int = 0) -> None:
        old = getattr(self, name)
        if old.shape[1] >= cols:
            return
        new = np.full((old.shape[0], cols), fill, old.dtype)
        new[:, : old.shape[1]] = old
        setattr(self, name, new)
        self._changed()

    def _deepen(self, name: str, rows: int) -> None:
        """More rows (resources, label words) for a node-minor array."""
        old = getattr(self, name)
        if old.shape[0] >= rows:
            return
        new = np.zeros((rows, old.shape[1]), old.dtype)
        new[: old.shape[0]] = old
        setattr(self, name, new)
        self._changed()

    def _fit_vocab_widths(self) -> None:
        self._deepen("labels_by_word", self.label_vocab.words)
        self._widen("taints", self.taint_vocab.words)
        self._widen("ports", self.port_vocab.words)

    def resource_column(self, resource: str) -> int:
        """Column of a resource, adding an all-zero column for a new extended resource."""
        if resource not in self.resources:
            self.resources.append(resource)
            for name in _PER_RESOURCE:
                self._deepen(name, len(self.resources))
        return self.resources.index(resource)

    def numeric_column(self, key: str) -> int:
        """Column of integer values of label `key` (for Gt/Lt), filled from every node."""
        if key in self.numeric_keys:
            return self.numeric_keys.index(key)
        self.numeric_keys.append(key)
        col = len(self.numeric_keys) - 1
        self._widen("nums", col + 1)
        self._widen("num_ok", col + 1)
        for i, node in enumerate(self._nodes):
            self._write_numeric(i, col, node.labels.get(key))
        return col

    def topology_column(self, key: str) -> int:
        """Column of topology-domain ids for label `key` (-1 where a node lacks it)."""
        if key in self.topology_keys:
            return self.topology_keys.index(key)
        self.topology_keys.append(key)
        self.domains.append(BitVocab())
        col = len(self.topology_keys) - 1
        self._widen("topo", col + 1, fill=-1)
        for i, node in enumerate(self._nodes):
            self._write_domain(i, col, node.labels.get(key))
        return col

    # -- nodes ----------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        *,
        allocatable: Mapping[str, int],
        labels: Mapping[str, str] | None = None,
        taints: Sequence[Taint] = (),
        unschedulable: bool = False,
        ready: bool = True,
    ) -> int:
        if name in self._index:
            raise ValueError(f"node {name!r} already in the table")
        self._grow_rows()
        i = len(self.names)
        self.names.append(name)
        self._index[name] = i
        self._nodes.append(_NodeRecord(labels={}, taints=()))
        self.requested_by_res[:, i] = 0
        self.nonzero_by_res[:, i] = 0
        self.ports[i] = 0
        self._changed()
        self._write_node(i, allocatable, dict(labels or {}), tuple(taints), unschedulable, ready)
        return i

    def update_node(
        self,
        name: str,
        *,
        allocatable: Mapping[str, int],
        labels: Mapping[str, str] | None = None,
        taints: Sequence[Taint] = (),
        unschedulable: bool = False,
        ready: bool = True,
    ) -> None:
        """Replaces a node's own fields; the pods on it (requested, ports) stay."""
        i = self._index[name]
        self._write_node(i, allocatable, dict(labels or {}), tuple(taints), unschedulable, ready)

    def remove_node(self, name: str) -> None:
        """Drops the node and the pods recorded on it; the last row moves into its place."""
        i = self._index.pop(name)
        for key in self._nodes[i].pods:
            del self._pods[key]
        last = len(self.names) - 1
        if i != last:
            for column in _COLUMNS:
                array = getattr(self, column)
                array[i] = array[last]
            for column in _NODE_MINOR:
                array = getattr(self, column)
                array[:, i] = array[:, last]
            self.names[i] = self.names[last]
            self._nodes[i] = self._nodes[last]
            self._index[self.names[i]] = i
        self.names.pop()
        self._nodes.pop()
        self._changed()

    def _write_node(
        self,
        i: int,
        allocatable: Mapping[str, int],
        labels: dict[str, str],
        taints: tuple[Taint, ...],
        unschedulable: bool,
        ready: bool,
    ) -> None:
        columns = [(self.resource_column(r), int(v)) for r, v in allocatable.items()]
        label_bits = [self.label_vocab.intern((k, v)) for k, v in labels.items()]
        label_bits += [self.label_vocab.intern((k, None)) for k in labels]
        taint_bits = [self.taint_vocab.intern(t) for t in taints]
        self._fit_vocab_widths()
        self.alloc_by_res[:, i] = 0
        for col, value in columns:
            self.alloc_by_res[col, i] = value
        for col in range(len(self.resources)):
            magic, shift = division_magic(int(self.alloc_by_res[col, i]))
            self.alloc_magic_by_res[col, i] = magic
            self.alloc_shift_by_res[col, i] = shift
            value = int(self.alloc_by_res[col, i])
            self.alloc_recip_by_res[col, i] = 1.0 / value if value > 0 else 0.0
        column = self.labels_by_word[:, i]  # a strided view: writes land in the table
        column[:] = 0
        set_bits(column, label_bits)
        self._write_bits(self.taints, i, taint_bits)
        self.unschedulable[i] = unschedulable
        self.ready[i] = ready
        self._nodes[i].labels = labels
        self._nodes[i].taints = taints
        for col, key in enumerate(self.numeric_keys):
            self._write_numeric(i, col, labels.get(key))
        for col, key in enumerate(self.topology_keys):
            self._write_domain(i, col, labels.get(key))

    @staticmethod
    def _write_bits(array: U64, i: int, bits: Iterable[int]) -> None:
        array[i] = 0
        set_bits(array[i], bits)

    def _write_numeric(self, i: int, col: int, value: str | None) -> None:
        number = None if value is None else parse_int64(value)
        self.nums[i, col] = 0 if number is None else number
        self.num_ok[i, col] = number is not None

    def _write_domain(self, i: int, col: int, value: str | None) -> None:
        known = len(self.domains[col])
        self.topo[i, col] = -1 if value is None else self.domains[col].intern(value)
        if len(self.domains[col]) != known:
            self._changed()  # compiled per-domain arrays are too short for the new id

    def node_labels(self, name: str) -> dict[str, str]:
        return dict(self._nodes[self._index[name]].labels)

    def node_taints(self, name: str) -> tuple[Taint, ...]:
        return self._nodes[self._index[name]].taints

    # -- pods -----------------------------------------------------------------------------

    def add_pod(
        self,
        key: str,
        node: str,
        *,
        requests: Mapping[str, int],
        nonzero: tuple[int, int] | None = None,
        host_ports: Sequence[HostPort] = (),
    ) -> None:
        """Accounts a pod (requests, non-zero cpu/memory, host ports) to a node."""
        if key in self._pods:
            raise ValueError(f"pod {key!r} already in the table")
        record = _PodRecord(
            node=node,
            requests={r: int(v) for r, v in requests.items()},
            nonzero=nonzero if nonzero is not None else nonzero_requests([requests]),
            ports=tuple(normalize_port(p) for p in host_ports if p[2] > 0),
        )
        self._apply(record, +1)
        self._pods[key] = record
        self._nodes[self._index[node]].pods.add(key)

    def remove_pod(self, key: str) -> None:
        record = self._pods.pop(key)
        self._nodes[self._index[record.node]].pods.discard(key)
        self._apply(record, -1)

    def pods_on(self, node: str) -> set[str]:
        return set(self._nodes[self._index[node]].pods)

    def _apply(self, record: _PodRecord, sign: int) -> None:
        columns = [(self.resource_column(r), v) for r, v in record.requests.items()]
        for port in record.ports:
            self.port_vocab.intern(port)
        self._fit_vocab_widths()
        i = self._index[record.node]
        for col, value in columns:
            self.requested_by_res[col, i] += sign * value
        self.requested_by_res[PODS_COLUMN, i] += sign
        self.nonzero_by_res[0, i] += sign * record.nonzero[0]
        self.nonzero_by_res[1, i] += sign * record.nonzero[1]
        used = self._nodes[i].ports
        for port in record.ports:
            used[port] += sign
            if used[port] <= 0:
                del used[port]
        self._write_bits(self.ports, i, [self.port_vocab.intern(p) for p in used])


__all__ = [
    "BASE_RESOURCES",
    "CPU",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "EFFECTS",
    "EPHEMERAL_STORAGE",
    "MEMORY",
    "PODS",
    "UNSCHEDULABLE_TAINT_KEY",
    "WORD_BITS",
    "HostPort",
    "NodeArrays",
    "NodeTable",
    "Taint",
    "nonzero_requests",
    "parse_int64",
]
