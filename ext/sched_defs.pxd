from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t


cdef extern from *:
    # GCC/Clang's 128-bit integer: the product of two 64-bit words, for magic division.
    ctypedef unsigned long long uint128_t "unsigned __int128"

cdef enum:
    # C declarations for the scheduler kernel family (ext/sched.pyx): constants and the
    # structs the kernels read (node columns, one compiled pod, a scoring profile), all
    # in one place. sched.pyx wraps each struct in a view.
    MAX_NODE_SCORE = 100
    MAX_UTILIZATION = 100
    RES_CPU = 0
    RES_MEMORY = 1
    RES_PODS = 2
    RES_EPHEMERAL = 3
    RES_FIRST_SCALAR = 4

cdef enum:
    # Requirement kinds (node affinity / nodeSelector).
    REQ_ANY = 0       # In, Exists, nodeSelector equality: some bit of the mask is set
    REQ_NONE = 1      # NotIn, DoesNotExist: no bit of the mask is set
    REQ_GT = 2
    REQ_LT = 3

cdef enum:
    # Term kinds.
    TERM_SELECTOR = 0  # nodeSelector: must hold
    TERM_REQUIRED = 1  # required node affinity: one of these must hold
    TERM_PREFERRED = 2  # preferred node affinity: adds its weight

cdef enum:
    # Inter-pod term kinds.
    IP_AFFINITY = 0
    IP_ANTI_AFFINITY = 1
    IP_EXISTING_ANTI_AFFINITY = 2
    IP_SCORE = 3

cdef enum:
    # Failure slots in kube-scheduler's default filter order; insufficient resources follow.
    FAIL_UNSCHEDULABLE = 0
    FAIL_NODE_NAME = 1
    FAIL_TAINT = 2
    FAIL_NODE_AFFINITY = 3
    FAIL_NODE_PORTS = 4
    FAIL_SPREAD_LABEL = 5
    FAIL_SPREAD_SKEW = 6
    FAIL_POD_AFFINITY = 7
    FAIL_POD_ANTI_AFFINITY = 8
    FAIL_EXISTING_ANTI_AFFINITY = 9
    FAIL_RESOURCE_BASE = 10

cdef enum:
    # Fit scoring strategies.
    STRATEGY_LEAST = 0
    STRATEGY_MOST = 1
    STRATEGY_RATIO = 2

ctypedef struct Nodes:
    Py_ssize_t n, r, w, stride, k, wt, wp, t
    # Node-minor arrays, [rows, stride]: node i of row x is at x * stride + i.
    const int64_t* alloc        # [r, stride]
    const uint64_t* magic       # [r, stride] alloc // d == (n * magic) >> shift
    const uint8_t* shift        # [r, stride] (both 0 where alloc is 0)
    const double* recip         # [r, stride] 1.0 / alloc (0.0 where alloc is 0)
    const int64_t* requested    # [r, stride]
    const int64_t* nonzero      # [2, stride] cpu, memory with 100m/200Mi defaults
    const uint64_t* labels      # [w, stride] (key=value) and key-presence bits
    # Node-major arrays, [n, columns].
    const int64_t* nums         # [n, k] integer label values for Gt/Lt keys
    const uint8_t* num_ok       # [n, k] 1 where the label exists and parses as int
    const uint64_t* taints      # [n, wt] interned (key, value, effect)
    const uint64_t* ports       # [n, wp] interned (ip, protocol, port)
    const uint8_t* unschedulable  # [n]
    const int32_t* topo         # [n, t] topology domain ids, -1 when the label is missing

ctypedef struct Query:
    const int64_t* req          # [r]
    const int64_t* nonzero      # [2]
    int64_t node_index          # -1: no nodeName
    bint tolerates_unschedulable
    bint has_required
    bint has_ports
    bint affinity_bootstrap
    Py_ssize_t n_reqs, n_terms, n_ip, n_sp, d
    const int32_t* rq_kind      # [n_reqs]
    const int32_t* rq_term      # [n_reqs]
    const int32_t* rq_col       # [n_reqs] numeric column for Gt/Lt
    const int64_t* rq_val       # [n_reqs]
    const int32_t* rq_start     # [n_reqs + 1] requirement x owns sparse words [start, end)
    const int32_t* rq_widx      # [m] label word index
    const uint64_t* rq_wmask    # [m] mask bits within that word
    bint any_soft               # some PreferNoSchedule taint goes untolerated
    const int8_t* term_kind     # [n_terms]
    const int32_t* term_start   # [n_terms + 1] term t owns requirements [start, end)
    const int32_t* want         # [n_want] resources the pod requests (> 0)
    Py_ssize_t n_want
    const int64_t* term_weight  # [n_terms]
    const uint64_t* hard_bad    # [wt] untolerated NoSchedule/NoExecute taints
    const uint64_t* soft_bad    # [wt] untolerated PreferNoSchedule taints
    const uint64_t* port_bad    # [wp] ports conflicting with the pod's host ports
    const int32_t* ip_kind      # [n_ip]
    const int32_t* ip_topo      # [n_ip]
    const int64_t* ip_vals      # [n_ip, d] counts (filters) or weighted sums (score)
    const int32_t* sp_topo      # [n_sp]
    const int64_t* sp_counts    # [n_sp, d]
    const int64_t* sp_limit     # [n_sp] maxSkew + globalMin - selfMatch

ctypedef struct Profile:
    int32_t strategy
    Py_ssize_t n_fit, n_shape, n_bal
    const int32_t* fit_res
    const int64_t* fit_weight
    const int64_t* shape_util
    const int64_t* shape_score  # already scaled to MaxNodeScore
    const int32_t* bal_res
    const uint64_t* wsum_magic  # [sum of fit weights + 1] division magic for each k
    const uint8_t* wsum_shift
    bint cpu_memory             # default resources: the unrolled fast path applies
    int64_t w_fit, w_bal, w_taint, w_affinity, w_interpod
