# cython: language_level=3
"""TCP service proxy data path: nogil epoll workers that accept, pick, connect and move bytes.

Each worker thread owns one epoll set; every listener is in every set with EPOLLEXCLUSIVE, so
one worker wakes per burst of new connections and accepts a few of them, leaving the rest to
a worker that holds fewer connections; a worker keeps what it accepted for the connection's
whole life (no cross-thread handoff). One listening socket per address (not one per worker
with SO_REUSEPORT) keeps 10,000 Services within the file descriptor limit.

Sockets are edge-triggered and the readiness each edge reports is remembered per side (`rd`,
`wr`), so moving bytes never calls epoll_ctl; a short recv or send clears it at once (the
kernel raises a new edge on the next arrival or on free space), which saves the EAGAIN-only
call per chunk. Each direction stages at most one chunk: a direction is read only once its
staged bytes are sent, so a slow reader stops the proxy reading the other side and TCP flow
control pushes back to the sender (memory stays flat). Bulk directions switch from recv/send
through a 64 KiB buffer to splice() through a pipe after the first full buffer. The pipe is
sized to 1 MiB (fewer, larger splices per wakeup: ~10% less proxy CPU per byte than 256 KiB
here); the resize is best effort, so past the user's pipe page limit a pipe stays smaller.

A new connection costs two TCP connections' worth of kernel work, so the proxy saves
what it can around it: the client's first bytes, when already queued at accept, are read
before the socket is watched (no event reports them again) and sent as soon as the backend
connect returns (on loopback the handshake is done by then); and when a side's last bytes
come with its FIN, they are passed on with MSG_MORE so that the FIN sent on behalf of it
leaves in the same segment (the recv that would only say EOF is skipped). Holding back the
handshake's last ACK to ride on those first bytes (TCP_DEFER_ACCEPT on the connecting
socket) saved one more packet but cost bulk transfers: it leaves the socket in quick-ACK
mode, and ACKing every segment of the first responses drove the backend's BBR out of its
startup phase far more often (1 MiB responses ~30% slower), so it is not done.

UDP Services have one datagram socket per address, in one worker's set only, so that worker
owns the listener's flow table (client address -> flow) without locks. A flow is a
connected datagram socket to the endpoint picked for the client's first datagram; replies go
back from the Service address; an ICMP refusal marks the endpoint down and forgets the flow,
and a flow idle for 30 s is forgotten. Flows reuse the connection struct and lists.

The table (services, their endpoints, balancing state) is shared by the workers under one
mutex taken once per new connection and once per closed one, never per chunk; per-Service
counters are relaxed atomics the Python thread reads without the lock. Listeners are removed
RCU-style: deleted from every epoll set, then closed only after each worker has finished the
batch it was in (`quiesce`). Connections freed during a batch are parked until its end, so a
later event of the same batch never touches freed memory.

The Python face is `Engine` (kcore/proxy/datapath.py wraps it; kcore/proxy/balancer.py is
the plain-Python reference of `pick`).
"""

from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset, strlen

from proxy cimport *

import time as _time


# ---------------------------------------------------------------- shared state and workers

cdef struct Shared:
    pthread_mutex_t lock
    int64_t connect_ms
    int64_t idle_ms
    int64_t buffered          # bytes staged in buffers and pipes, all workers
    uint64_t next_uid
    int recv_buffer           # SO_RCVBUF of every TCP socket (0: the kernel autotunes)
    char congestion[16]       # TCP_CONGESTION of loopback TCP sockets ("": the system's)


cdef struct List:
    Conn* head
    Conn* tail


cdef struct Worker:
    int epfd
    int wakefd
    Handle wake
    int64_t epoch
    int64_t running           # 1 while a thread is inside run_worker
    int64_t active            # connections this worker holds (read by the others)
    int64_t stop
    int64_t now
    int spare_fd              # held back for `shed`
    char* ubuf                # one datagram in transit (UDP)
    char* scratch             # one TCP chunk in transit, BUF_SIZE bytes
    int index
    int n_workers
    Shared* sh
    List lists[3]             # 1: connecting (by deadline), 2: open (by idle deadline)
    Conn** dead
    int n_dead
    int cap_dead
    Conn* pool
    int n_pool


cdef enum:
    POOL_MAX = 128
    MAX_WAIT_MS = 60000
    ACCEPT_BURST = 16


cdef int64_t NEVER = 1 << 62


cdef inline int64_t now_ms() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000 + ts.tv_nsec // 1000000


# ---------------------------------------------------------------- balancing (under the lock)

cdef inline bint was_tried(uint64_t uid, const uint64_t* tried, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        if tried[i] == uid:
            return True
    return False


cdef Endpoint* policy_pick(Service* s, int64_t now, const uint64_t* tried,
                           int n_tried) noexcept nogil:
    # Round-robin: the first untried endpoint from the cursor. Least-connections: the untried
    # endpoint with the fewest active connections, ties to the first from the cursor. Either
    # way endpoints whose last connect failed (down) count only when no other is left.
    cdef int n = s.n_eps, k, i, best = -1, allow_down
    for allow_down in range(2):
        for k in range(n):
            i = <int>((s.rr + <uint64_t>k) % <uint64_t>n)
            if was_tried(s.eps[i].uid, tried, n_tried):
                continue
            if not allow_down and s.eps[i].down_until_ms > now:
                continue
            if s.policy == POLICY_ROUND_ROBIN:
                best = i
                break
            if best < 0 or s.eps[i].active < s.eps[best].active:
                best = i
        if best >= 0:
            s.rr = <uint64_t>best + 1
            return s.eps[best]
    return NULL


cdef inline uint32_t aff_slot(uint32_t client, uint32_t cap) noexcept nogil:
    return (client * <uint32_t>2654435761u) & (cap - 1)


cdef Endpoint* aff_lookup(Service* s, uint32_t client, int64_t now,
                          const uint64_t* tried, int n_tried) noexcept nogil:
    cdef uint32_t i, j
    cdef Affinity* a
    if s.aff == NULL:
        return NULL
    i = aff_slot(client, s.aff_cap)
    while s.aff[i].client != 0:
        a = &s.aff[i]
        if a.client == client:
            if a.expires_ms <= now or was_tried(a.uid, tried, n_tried):
                return NULL
            for j in range(<uint32_t>s.n_eps):
                if s.eps[j].uid == a.uid and s.eps[j].down_until_ms <= now:
                    a.expires_ms = now + s.affinity_ms
                    return s.eps[j]
            return NULL
        i = (i + 1) & (s.aff_cap - 1)
    return NULL


cdef int aff_rehash(Service* s, int64_t now) noexcept nogil:
    # Keep only live entries, at a load of at most a quarter.
    cdef uint32_t live = 0, cap = 64, i, j
    cdef Affinity* old = s.aff
    cdef Affinity* fresh
    for i in range(s.aff_cap):
        if old[i].client != 0 and old[i].expires_ms > now:
            live += 1
    while live * 4 > cap:
        cap *= 2
    fresh = <Affinity*>calloc(cap, sizeof(Affinity))
    if fresh == NULL:
        return -1
    for i in range(s.aff_cap):
        if old[i].client != 0 and old[i].expires_ms > now:
            j = aff_slot(old[i].client, cap)
            while fresh[j].client != 0:
                j = (j + 1) & (cap - 1)
            fresh[j] = old[i]
    free(old)
    s.aff, s.aff_cap, s.aff_used = fresh, cap, live
    return 0


cdef void aff_store(Service* s, uint32_t client, uint64_t uid, int64_t now) noexcept nogil:
    # Linear probing never empties a slot, so a key's chain never breaks; an expired slot
    # is reused only after the whole chain is known not to hold the key.
    cdef uint32_t i
    cdef int64_t reuse = -1
    if client == 0 or (s.aff == NULL and aff_rehash(s, now) != 0):
        return
    i = aff_slot(client, s.aff_cap)
    while s.aff[i].client != 0:
        if s.aff[i].client == client:
            s.aff[i].uid, s.aff[i].expires_ms = uid, now + s.affinity_ms
            return
        if reuse < 0 and s.aff[i].expires_ms <= now:
            reuse = i
        i = (i + 1) & (s.aff_cap - 1)
    if reuse >= 0:
        i = <uint32_t>reuse
    else:
        s.aff_used += 1
    s.aff[i].client, s.aff[i].uid, s.aff[i].expires_ms = client, uid, now + s.affinity_ms
    if s.aff_used * 2 > s.aff_cap:
        aff_rehash(s, now)


cdef Endpoint* pick(Service* s, uint32_t client, int64_t now,
                    const uint64_t* tried, int n_tried) noexcept nogil:
    """Pick an endpoint for a new connection and count it active on it; NULL if none."""
    cdef Endpoint* ep = NULL
    if s.n_eps == 0 or s.removed:
        return NULL
    if s.affinity_ms > 0:
        ep = aff_lookup(s, client, now, tried, n_tried)
    if ep == NULL:
        ep = policy_pick(s, now, tried, n_tried)
        if ep != NULL and s.affinity_ms > 0:
            aff_store(s, client, ep.uid, now)
    if ep != NULL:
        ep.active += 1
        ep.refs += 1
    return ep


cdef void ep_unref(Endpoint* ep) noexcept nogil:
    ep.refs -= 1
    if ep.refs == 0:
        free(ep)


cdef void svc_unref(Service* s) noexcept nogil:
    cdef int i
    s.refs -= 1
    if s.refs != 0:
        return
    for i in range(s.n_eps):
        ep_unref(s.eps[i])
    free(s.eps)
    free(s.aff)
    free(s)


# ---------------------------------------------------------------- connection bookkeeping

cdef void list_unlink(Worker* w, Conn* c) noexcept nogil:
    cdef List* lst
    if c.on_list == 0:
        return
    lst = &w.lists[c.on_list]
    if c.prev != NULL:
        c.prev.next = c.next
    else:
        lst.head = c.next
    if c.next != NULL:
        c.next.prev = c.prev
    else:
        lst.tail = c.prev
    c.prev = c.next = NULL
    c.on_list = 0


cdef void list_append(Worker* w, Conn* c, int which, int64_t deadline) noexcept nogil:
    cdef List* lst = &w.lists[which]
    list_unlink(w, c)
    c.deadline_ms = deadline
    c.on_list = which
    c.prev = lst.tail
    c.next = NULL
    if lst.tail != NULL:
        lst.tail.next = c
    else:
        lst.head = c
    lst.tail = c


cdef Conn* conn_alloc(Worker* w) noexcept nogil:
    cdef Conn* c = w.pool
    cdef char* b0
    cdef char* b1
    if c != NULL:
        w.pool = c.next
        w.n_pool -= 1
        b0, b1 = c.d[0].buf, c.d[1].buf
    else:
        # Staging buffers come on first need (most chunks go straight through the worker's
        # scratch buffer); a pooled connection keeps the ones it had.
        c = <Conn*>malloc(sizeof(Conn))
        b0 = b1 = NULL
        if c == NULL:
            return NULL
    memset(c, 0, sizeof(Conn))
    c.d[0].buf, c.d[1].buf = b0, b1
    c.d[0].pipe_r = c.d[0].pipe_w = c.d[1].pipe_r = c.d[1].pipe_w = -1
    c.fd[0] = c.fd[1] = -1
    c.h[0].kind = c.h[1].kind = KIND_SIDE
    c.h[0].side, c.h[1].side = 0, 1
    c.h[0].conn = c.h[1].conn = c
    return c


cdef void conn_free(Worker* w, Conn* c) noexcept nogil:
    if w.n_pool < POOL_MAX:
        c.next = w.pool
        w.pool = c
        w.n_pool += 1
        return
    free(c.d[0].buf)
    free(c.d[1].buf)
    free(c)


cdef void set_linger0(int fd) noexcept nogil:
    cdef linger lg
    lg.l_onoff, lg.l_linger = 1, 0
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))


cdef void set_nodelay(int fd) noexcept nogil:
    cdef int one = 1
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))


cdef void set_loopback_congestion(int fd, uint32_t peer, const char* name) noexcept nogil:
    # A loopback hop has no queue to pace for: the system's congestion control (BBR here)
    # would arm a pacing hrtimer per burst, ~30% of the proxy's CPU on 1 MiB responses.
    # Best effort, like the buffer size: an unknown name leaves the system's.
    if name[0] and peer >> 24 == 127:
        setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, <socklen_t>strlen(name))


cdef void set_rcvbuf(int fd, int size) noexcept nogil:
    # Before connect/listen, so the window scale offered fits the buffer.
    if size > 0:
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size))


cdef void reset_close(int fd) noexcept nogil:
    set_linger0(fd)
    close(fd)


cdef void dir_drop(Worker* w, Dir* d) noexcept nogil:
    if d.len:
        kc_add(&w.sh.buffered, -<int64_t>d.len)
        d.len = 0
    if d.pipe_r >= 0:
        close(d.pipe_r)
        close(d.pipe_w)
        d.pipe_r = d.pipe_w = -1


cdef void conn_end(Worker* w, Conn* c, bint reset) noexcept nogil:
    """Close both sides (with RST when `reset`), give back the endpoint, park the memory."""
    cdef int i
    if c.state == ST_DEAD:
        return
    kc_add(&c.svc.counters[CTR_ACTIVE], -1)
    kc_store(&w.active, w.active - 1)
    for i in range(2):
        if c.fd[i] >= 0:
            if reset:
                set_linger0(c.fd[i])
            close(c.fd[i])
            c.fd[i] = -1
        dir_drop(w, &c.d[i])
    list_unlink(w, c)
    if c.lis != NULL:
        flow_unhash(c)
        listener_unref(w.sh, c.lis)
        c.lis = NULL
    pthread_mutex_lock(&w.sh.lock)
    if c.ep != NULL:
        c.ep.active -= 1
        ep_unref(c.ep)
        c.ep = NULL
    svc_unref(c.svc)
    pthread_mutex_unlock(&w.sh.lock)
    c.svc = NULL
    c.state = ST_DEAD
    if w.n_dead == w.cap_dead:
        w.cap_dead *= 2
        w.dead = <Conn**>realloc_ptrs(w.dead, w.cap_dead)
    w.dead[w.n_dead] = c
    w.n_dead += 1


cdef inline void* realloc_ptrs(void* p, int n) noexcept nogil:
    return realloc(p, <size_t>n * sizeof(void*))


# ---------------------------------------------------------------- moving bytes

cdef int dir_splice_on(Dir* d) noexcept nogil:
    cdef int fds[2]
    if pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0:
        return -1
    fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE)
    d.pipe_r, d.pipe_w = fds[0], fds[1]
    return 0


cdef int flush_dir(Worker* w, Conn* c, Dir* d, int dst) noexcept nogil:
    """Send what `d` stages to side `dst`: 1 when empty, 0 when `dst` is full, -1 on error."""
    cdef ssize_t n
    while d.len > 0:
        if d.in_pipe:
            n = splice(d.pipe_r, NULL, c.fd[dst], NULL, d.len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
        else:
            n = send(c.fd[dst], d.buf + d.off, d.len, MSG_NOSIGNAL)
        if n > 0:
            d.off += <size_t>n
            d.len -= <size_t>n
            kc_add(&w.sh.buffered, -<int64_t>n)
            if d.len and not d.in_pipe:
                c.wr[dst] = 0  # a short send: the socket is full, EPOLLOUT will say when not
                return 0
        elif n < 0 and errno == EAGAIN:
            c.wr[dst] = 0
            return 0
        elif n < 0 and errno == EINTR:
            continue
        else:
            return -1
    return 1


cdef int stage(Worker* w, Dir* d, ssize_t sent, ssize_t n) noexcept nogil:
    """Keep bytes `sent`..`n` of the scratch buffer in the direction's own buffer (made on
    first need) until the other side takes them; -1 when out of memory."""
    if d.buf == NULL:
        d.buf = <char*>malloc(BUF_SIZE)
        if d.buf == NULL:
            return -1
    memcpy(d.buf, w.scratch + sent, <size_t>(n - sent))
    d.off, d.len, d.in_pipe = 0, <size_t>(n - sent), 0
    kc_add(&w.sh.buffered, <int64_t>d.len)
    return 0


cdef int pass_on(Worker* w, Conn* c, Dir* d, int dst, ssize_t n, int flags) noexcept nogil:
    """Send the `n` bytes just read into the scratch buffer to side `dst`; what does not fit
    is staged in the direction's own buffer. 1: go on, 0: `dst` is full, -1: error."""
    cdef ssize_t sent = send(c.fd[dst], w.scratch, <size_t>n, MSG_NOSIGNAL | flags)
    if sent == n:
        return 1
    if sent < 0:
        if errno != EAGAIN and errno != EINTR:
            return -1
        if errno == EAGAIN:
            c.wr[dst] = 0
        sent = 0
    else:
        c.wr[dst] = 0  # a short send: the socket is full
    if stage(w, d, sent, n) < 0:
        return -1
    return 1 if c.wr[dst] else 0


cdef int move(Worker* w, Conn* c, int src) noexcept nogil:
    """Move bytes from side `src` to the other until one of them would block; -1 on error.

    A bulk direction (one that filled a whole chunk) splices through its pipe from then on;
    otherwise a chunk goes through the worker's scratch buffer and is staged only if the
    other side cannot take all of it."""
    cdef int dst = 1 - src, r
    cdef Dir* d = &c.d[src]
    cdef ssize_t n
    while True:
        r = flush_dir(w, c, d, dst) if d.len else 1
        if r <= 0:
            return r
        if c.eof[src]:
            if not c.shut[dst]:
                if not c.eof[dst]:  # else close() says the same when both are done
                    shutdown(c.fd[dst], SHUT_WR)
                c.shut[dst] = 1
            return 0
        if not c.rd[src]:
            return 0
        if d.pipe_w >= 0:
            n = splice(c.fd[src], NULL, d.pipe_w, NULL, PIPE_SIZE,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
        else:
            n = recv(c.fd[src], w.scratch, BUF_SIZE, 0)
        if n > 0:
            kc_add(&c.svc.counters[CTR_BYTES_IN + src], n)
            if d.pipe_w >= 0:
                d.off, d.len, d.in_pipe = 0, <size_t>n, 1
                kc_add(&w.sh.buffered, n)
                continue
            if n < BUF_SIZE and c.fin[src]:
                # A short recv after the peer's FIN read the last bytes: the recv that would
                # say EOF is skipped, and the bytes wait (MSG_MORE) for the FIN that follows
                # at once (shutdown or close), so both leave in one segment, as the peer's did.
                c.eof[src] = 1
                r = pass_on(w, c, d, dst, n, MSG_MORE)
                if r <= 0:
                    return r
                continue
            if n < BUF_SIZE and not c.hup[src]:
                # A short recv drained the socket; the next arrival raises a new edge, so
                # skip the recv that would only say EAGAIN (not after a FIN: no edge then).
                c.rd[src] = 0
            elif n == BUF_SIZE:
                dir_splice_on(d)  # best effort: without a pipe the scratch path goes on
            r = pass_on(w, c, d, dst, n, 0)
            if r <= 0:
                return r
        elif n == 0:
            c.eof[src] = 1
        elif errno == EAGAIN:
            c.rd[src] = 0
            return 0
        elif errno != EINTR:
            return -1


cdef void pump(Worker* w, Conn* c) noexcept nogil:
    if move(w, c, 0) < 0 or move(w, c, 1) < 0:
        conn_end(w, c, True)
    elif c.shut[0] and c.shut[1]:
        conn_end(w, c, False)
    elif w.sh.idle_ms > 0 and c.deadline_ms != w.now + w.sh.idle_ms:
        list_append(w, c, 2, w.now + w.sh.idle_ms)


# ---------------------------------------------------------------- connecting

cdef int watch(Worker* w, int fd, Handle* h) noexcept nogil:
    cdef epoll_event ev
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET
    ev.data.ptr = h
    return epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev)


cdef void start_connect(Worker* w, Conn* c, ssize_t early) noexcept nogil:
    """Connect to `c.ep`, moving on to the next endpoint while connects fail at once.

    `early` bytes the client sent first wait in the worker's scratch buffer: they go out
    as soon as the connect returns (on loopback the handshake is done by then), what the
    backend cannot take yet is staged for its EPOLLOUT."""
    cdef sockaddr_in sa
    cdef int fd, r
    while c.ep != NULL:
        memset(&sa, 0, sizeof(sa))
        sa.sin_family = AF_INET
        sa.sin_port = htons(c.ep.port)
        sa.sin_addr.s_addr = htonl(c.ep.ip)
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
        if fd >= 0:
            set_nodelay(fd)
            set_rcvbuf(fd, w.sh.recv_buffer)
            set_loopback_congestion(fd, c.ep.ip, w.sh.congestion)
            r = connect(fd, <sockaddr*>&sa, sizeof(sa))
            if (r == 0 or errno == EINPROGRESS) and watch(w, fd, &c.h[1]) == 0:
                c.fd[1] = fd
                c.state = ST_CONNECTING
                list_append(w, c, 1, w.now + w.sh.connect_ms)
                if early > 0 and stage_early(w, c, early) < 0:
                    conn_end(w, c, True)
                return
            close(fd)
        next_endpoint(w, c)
    kc_add(&c.svc.counters[CTR_FAILED], 1)
    conn_end(w, c, True)


cdef int stage_early(Worker* w, Conn* c, ssize_t n) noexcept nogil:
    """Send the client's first `n` bytes (in the scratch buffer) to the backend still
    connecting; stage what it does not take. A failed send stages all of it: the connect's
    own ERR/HUP event moves on to the next endpoint, which gets the bytes."""
    cdef ssize_t sent = send(c.fd[1], w.scratch, <size_t>n, MSG_NOSIGNAL)
    if sent == n:
        return 0
    c.wr[1] = 0
    return stage(w, &c.d[0], max(sent, <ssize_t>0), n)


cdef void next_endpoint(Worker* w, Conn* c) noexcept nogil:
    """Count the failed attempt, mark the endpoint down, and pick one not tried yet (NULL
    when out of attempts or endpoints)."""
    kc_add(&c.svc.counters[CTR_CONNECT_ERRORS], 1)
    c.tried[c.attempts] = c.ep.uid
    c.attempts += 1
    pthread_mutex_lock(&w.sh.lock)
    c.ep.down_until_ms = w.now + DOWN_MS
    c.ep.active -= 1
    ep_unref(c.ep)
    c.ep = NULL
    if c.attempts < MAX_ATTEMPTS:
        c.ep = pick(c.svc, c.client_ip, w.now, c.tried, c.attempts)
    pthread_mutex_unlock(&w.sh.lock)


cdef void connect_failed(Worker* w, Conn* c) noexcept nogil:
    close(c.fd[1])
    c.fd[1] = -1
    next_endpoint(w, c)
    start_connect(w, c, 0)


cdef void on_backend_ready(Worker* w, Conn* c, uint32_t events) noexcept nogil:
    # A connecting socket reports EPOLLOUT alone once connected, ERR/HUP once failed; no
    # SO_ERROR round trip needed to tell them apart.
    if events & (EPOLLERR | EPOLLHUP):
        connect_failed(w, c)
        return
    c.state = ST_OPEN
    # Open connections stay listed (for close-all) even without an idle timeout.
    list_append(w, c, 2, w.now + w.sh.idle_ms if w.sh.idle_ms > 0 else NEVER)
    c.wr[1] = 1
    if events & EPOLLIN:
        c.rd[1] = 1
    if events & EPOLLRDHUP:
        c.hup[1] = 1
        c.fin[1] = 1
    pump(w, c)


cdef void on_side(Worker* w, Handle* h, uint32_t events) noexcept nogil:
    cdef Conn* c = <Conn*>h.conn
    if c.state == ST_DEAD:
        return
    if c.state == ST_CONNECTING and h.side == 1:
        if events & (EPOLLOUT | EPOLLERR | EPOLLHUP):
            on_backend_ready(w, c, events)
        return
    if events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR):
        c.hup[h.side] = 1
        if not events & EPOLLERR:
            c.fin[h.side] = 1
    if events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR):
        c.rd[h.side] = 1
    if events & (EPOLLOUT | EPOLLHUP | EPOLLERR):
        c.wr[h.side] = 1
    if c.state == ST_OPEN:
        pump(w, c)


# ---------------------------------------------------------------- accepting

cdef void on_accept(Worker* w, Service* s, int fd, uint32_t client) noexcept nogil:
    cdef Endpoint* ep
    cdef Conn* c
    cdef ssize_t n
    pthread_mutex_lock(&w.sh.lock)
    ep = pick(s, client, w.now, NULL, 0)
    if ep != NULL:
        s.refs += 1
    pthread_mutex_unlock(&w.sh.lock)
    if ep == NULL:
        kc_add(&s.counters[CTR_REJECTED], 1)
        reset_close(fd)
        return
    kc_add(&s.counters[CTR_CONNECTIONS], 1)
    kc_add(&s.counters[CTR_ACTIVE], 1)
    c = conn_alloc(w)
    if c == NULL:
        reset_close(fd)
        drop_pick(w, s, ep)
        return
    c.svc, c.ep, c.client_ip, c.fd[0] = s, ep, client, fd
    c.state = ST_CONNECTING
    kc_store(&w.active, w.active + 1)
    # The client's first bytes are often here by the time it is accepted: read them now,
    # before the socket is watched (so no event reports them again), and hand them to the
    # connect, which sends them as soon as it returns.
    n = recv(fd, w.scratch, BUF_SIZE, 0)
    if n > 0:
        kc_add(&s.counters[CTR_BYTES_IN], n)
        c.rd[0] = n == BUF_SIZE
    elif n == 0:
        c.eof[0] = 1
    elif errno != EAGAIN and errno != EINTR:
        conn_end(w, c, True)  # reset before it sent a byte: nothing to carry to a backend
        return
    watch(w, fd, &c.h[0])
    start_connect(w, c, n)


cdef void drop_pick(Worker* w, Service* s, Endpoint* ep) noexcept nogil:
    kc_add(&s.counters[CTR_ACTIVE], -1)
    kc_add(&s.counters[CTR_FAILED], 1)
    pthread_mutex_lock(&w.sh.lock)
    ep.active -= 1
    ep_unref(ep)
    svc_unref(s)
    pthread_mutex_unlock(&w.sh.lock)


cdef int64_t least_loaded(Worker* w) noexcept nogil:
    """The fewest connections any worker holds (the workers are contiguous in memory)."""
    cdef Worker* first = w - w.index
    cdef int64_t least = w.active
    cdef int i
    for i in range(w.n_workers):
        least = min(least, kc_load(&first[i].active))
    return least


cdef void on_listener(Worker* w, Listener* lis) noexcept nogil:
    cdef sockaddr_in sa
    cdef socklen_t n
    cdef int fd, k
    for k in range(ACCEPT_BURST):
        if k and w.active > least_loaded(w) + 1:
            return  # leave the rest of the backlog to an idler worker
        n = sizeof(sa)
        fd = accept4(lis.fd, <sockaddr*>&sa, &n, SOCK_NONBLOCK | SOCK_CLOEXEC)
        if fd >= 0:
            on_accept(w, lis.svc, fd, ntohl(sa.sin_addr.s_addr))
        elif errno == EMFILE or errno == ENFILE:
            shed(w, lis)
            return
        elif errno != ECONNABORTED and errno != EINTR:
            return


cdef void shed(Worker* w, Listener* lis) noexcept nogil:
    """Out of file descriptors: reset one pending connection with the spare descriptor kept
    for this, so the level-triggered listener does not spin with its backlog full."""
    cdef int fd
    if w.spare_fd < 0:
        return
    close(w.spare_fd)
    fd = accept4(lis.fd, NULL, NULL, SOCK_CLOEXEC)
    if fd >= 0:
        reset_close(fd)
    w.spare_fd = dup(w.wakefd)


# ---------------------------------------------------------------- UDP flows

cdef void listener_unref(Shared* sh, Listener* lis) noexcept nogil:
    """Drop one reference; the last one closes the socket and frees the listener."""
    if kc_add(&lis.refs, -1) != 1:
        return
    close(lis.fd)
    pthread_mutex_lock(&sh.lock)
    svc_unref(lis.svc)
    pthread_mutex_unlock(&sh.lock)
    free(lis.flows)
    free(lis)


cdef inline uint32_t flow_bucket(uint32_t ip, uint16_t port) noexcept nogil:
    return ((ip * <uint32_t>2654435761u) ^ (port * <uint32_t>40503u)) & (UDP_BUCKETS - 1)


cdef Conn* flow_find(Listener* lis, uint32_t ip, uint16_t port) noexcept nogil:
    cdef Conn* c = lis.flows[flow_bucket(ip, port)]
    while c != NULL and not (c.client_ip == ip and c.client_port == port):
        c = c.hnext
    return c


cdef void flow_unhash(Conn* c) noexcept nogil:
    cdef Conn** link = &c.lis.flows[flow_bucket(c.client_ip, c.client_port)]
    while link[0] != NULL and link[0] != c:
        link = &link[0].hnext
    if link[0] == c:
        link[0] = c.hnext
    c.hnext = NULL


cdef int64_t udp_idle(Worker* w) noexcept nogil:
    return w.sh.idle_ms if w.sh.idle_ms > 0 else UDP_IDLE_MS


cdef Conn* flow_open(Worker* w, Listener* lis, uint32_t ip, uint16_t port) noexcept nogil:
    """A new flow from client ip:port to an endpoint picked for it (NULL: dropped)."""
    cdef Service* s = lis.svc
    cdef Endpoint* ep
    cdef Conn* c
    cdef sockaddr_in sa
    cdef epoll_event ev
    cdef int fd
    pthread_mutex_lock(&w.sh.lock)
    ep = pick(s, ip, w.now, NULL, 0)
    if ep != NULL:
        s.refs += 1
    pthread_mutex_unlock(&w.sh.lock)
    if ep == NULL:
        kc_add(&s.counters[CTR_REJECTED], 1)
        return NULL
    c = conn_alloc(w)
    if c == NULL:
        drop_pick(w, s, ep)
        return NULL
    kc_add(&s.counters[CTR_CONNECTIONS], 1)
    kc_add(&s.counters[CTR_ACTIVE], 1)
    kc_store(&w.active, w.active + 1)
    c.svc, c.ep, c.client_ip, c.client_port, c.udp = s, ep, ip, port, 1
    c.state = ST_OPEN
    c.h[1].kind = KIND_UDP_FLOW
    c.lis = lis
    kc_add(&lis.refs, 1)
    c.hnext = lis.flows[flow_bucket(ip, port)]
    lis.flows[flow_bucket(ip, port)] = c
    list_append(w, c, 2, w.now + udp_idle(w))
    memset(&sa, 0, sizeof(sa))
    sa.sin_family = AF_INET
    sa.sin_port = htons(ep.port)
    sa.sin_addr.s_addr = htonl(ep.ip)
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    c.fd[1] = fd
    ev.events = EPOLLIN
    ev.data.ptr = &c.h[1]
    if (fd < 0 or connect(fd, <sockaddr*>&sa, sizeof(sa)) != 0
            or epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) != 0):
        flow_failed(w, c)
        return NULL
    return c


cdef void flow_failed(Worker* w, Conn* c) noexcept nogil:
    """The endpoint refused (ICMP port unreachable): mark it down, forget the flow; the
    client's next datagram opens a flow to another endpoint."""
    kc_add(&c.svc.counters[CTR_CONNECT_ERRORS], 1)
    pthread_mutex_lock(&w.sh.lock)
    c.ep.down_until_ms = w.now + DOWN_MS
    pthread_mutex_unlock(&w.sh.lock)
    conn_end(w, c, False)


cdef void on_datagrams(Worker* w, Listener* lis) noexcept nogil:
    """Client datagrams: each goes out on its flow's socket, a flow opened on first sight."""
    cdef sockaddr_in sa
    cdef socklen_t alen
    cdef ssize_t n
    cdef Conn* c
    cdef int _k
    for _k in range(UDP_BURST):
        alen = sizeof(sa)
        n = recvfrom(lis.fd, w.ubuf, 65536, MSG_DONTWAIT, <sockaddr*>&sa, &alen)
        if n < 0:
            return
        c = flow_find(lis, ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port))
        if c == NULL:
            c = flow_open(w, lis, ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port))
            if c == NULL:
                continue
        kc_add(&c.svc.counters[CTR_BYTES_IN], n)
        if send(c.fd[1], w.ubuf, <size_t>n, MSG_DONTWAIT) >= 0:
            if c.deadline_ms != w.now + udp_idle(w):
                list_append(w, c, 2, w.now + udp_idle(w))
        elif errno == ECONNREFUSED:
            flow_failed(w, c)


cdef void on_replies(Worker* w, Conn* c) noexcept nogil:
    """Endpoint datagrams: back to the client from the address it wrote to."""
    cdef sockaddr_in sa
    cdef ssize_t n
    cdef int _k
    if c.state == ST_DEAD:
        return
    memset(&sa, 0, sizeof(sa))
    sa.sin_family = AF_INET
    sa.sin_port = htons(c.client_port)
    sa.sin_addr.s_addr = htonl(c.client_ip)
    for _k in range(UDP_BURST):
        n = recv(c.fd[1], w.ubuf, 65536, MSG_DONTWAIT)
        if n < 0:
            if errno == ECONNREFUSED:
                flow_failed(w, c)
            return
        kc_add(&c.svc.counters[CTR_BYTES_OUT], n)
        sendto(c.lis.fd, w.ubuf, <size_t>n, MSG_DONTWAIT, <sockaddr*>&sa, sizeof(sa))
        if c.deadline_ms != w.now + udp_idle(w):
            list_append(w, c, 2, w.now + udp_idle(w))


# ---------------------------------------------------------------- the loop

cdef void expire(Worker* w) noexcept nogil:
    cdef Conn* c
    while w.lists[1].head != NULL and w.lists[1].head.deadline_ms <= w.now:
        connect_failed(w, w.lists[1].head)
    while w.lists[2].head != NULL and w.lists[2].head.deadline_ms <= w.now:
        c = w.lists[2].head
        conn_end(w, c, False)


cdef int wait_ms(Worker* w) noexcept nogil:
    cdef int64_t t = -1
    cdef int i
    for i in range(1, 3):
        if w.lists[i].head != NULL and (t < 0 or w.lists[i].head.deadline_ms < t):
            t = w.lists[i].head.deadline_ms
    if t < 0 or t - w.now > MAX_WAIT_MS:
        return -1 if t < 0 else MAX_WAIT_MS
    return <int>(t - w.now + 1) if t > w.now else 0


cdef void run_worker(Worker* w) noexcept nogil:
    cdef epoll_event evs[MAX_EVENTS]
    cdef int n, i, kind
    cdef uint64_t junk
    kc_store(&w.running, 1)
    while not kc_load(&w.stop):
        n = epoll_wait(w.epfd, evs, MAX_EVENTS, wait_ms(w))
        w.now = now_ms()
        for i in range(n):
            kind = (<int*>evs[i].data.ptr)[0]
            if kind == KIND_LISTENER:
                on_listener(w, <Listener*>evs[i].data.ptr)
            elif kind == KIND_SIDE:
                on_side(w, <Handle*>evs[i].data.ptr, evs[i].events)
            elif kind == KIND_UDP_LISTENER:
                on_datagrams(w, <Listener*>evs[i].data.ptr)
            elif kind == KIND_UDP_FLOW:
                on_replies(w, <Conn*>(<Handle*>evs[i].data.ptr).conn)
            else:
                read(w.wakefd, &junk, 8)
        expire(w)
        for i in range(w.n_dead):
            conn_free(w, w.dead[i])
        w.n_dead = 0
        kc_add(&w.epoch, 1)
    kc_store(&w.running, 0)


cdef void worker_close_all(Worker* w) noexcept nogil:
    """After the thread stopped: end every connection it still holds, free its memory."""
    cdef Conn* c
    cdef int i
    for i in range(1, 3):
        while w.lists[i].head != NULL:
            conn_end(w, w.lists[i].head, True)
    for i in range(w.n_dead):
        conn_free(w, w.dead[i])
    w.n_dead = 0
    while w.pool != NULL:
        c = w.pool
        w.pool = c.next
        free(c.d[0].buf)
        free(c.d[1].buf)
        free(c)
    close(w.epfd)
    close(w.wakefd)
    if w.spare_fd >= 0:
        close(w.spare_fd)
    free(w.ubuf)
    free(w.scratch)
    free(w.dead)


# ---------------------------------------------------------------- Python face

cdef int open_listener(uint32_t ip, uint16_t port, int proto, int rcvbuf,
                       const char* congestion) noexcept nogil:
    cdef sockaddr_in sa
    cdef int one = 1, err
    cdef int kind = SOCK_DGRAM if proto == PROTO_UDP else SOCK_STREAM
    cdef int fd = socket(AF_INET, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if fd < 0:
        return -errno
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))
    if proto == PROTO_TCP:
        set_nodelay(fd)  # accepted sockets inherit these
        set_rcvbuf(fd, rcvbuf)
        set_loopback_congestion(fd, ip, congestion)  # a loopback listener's peers are too
    memset(&sa, 0, sizeof(sa))
    sa.sin_family = AF_INET
    sa.sin_port = htons(port)
    sa.sin_addr.s_addr = htonl(ip)
    if (bind(fd, <sockaddr*>&sa, sizeof(sa)) != 0
            or (proto == PROTO_TCP and listen(fd, 4096) != 0)):
        err = errno
        close(fd)
        return -err
    return fd


cdef class Engine:
    """The data path: `workers` epoll threads and the service table they share.

    Threads are Python threads that call `run(i)`, which releases the GIL for the thread's
    life; `stop()` asks them to return. Services are keyed by a string; addresses are
    (IPv4 as int, port) pairs; policy is 0 round-robin or 1 least-connections;
    `affinity_ms` > 0 pins each client IP to its endpoint for that long after its last
    connection.
    """

    cdef Shared sh
    cdef Worker* ws
    cdef int n_workers
    cdef dict services        # key -> <size_t>Service*
    cdef dict listeners       # key -> {(ip, port): <size_t>Listener*}
    cdef dict protocols       # key -> PROTO_TCP | PROTO_UDP
    cdef bint closed

    def __cinit__(self, int workers, double connect_timeout, double idle_timeout,
                  int recv_buffer=0, bytes congestion=b""):
        cdef int i
        memset(&self.sh, 0, sizeof(Shared))
        pthread_mutex_init(&self.sh.lock, NULL)
        self.sh.connect_ms = max(1, <int64_t>(connect_timeout * 1000))
        self.sh.idle_ms = <int64_t>(idle_timeout * 1000) if idle_timeout > 0 else 0
        self.sh.next_uid = 1
        self.sh.recv_buffer = recv_buffer
        if len(congestion) >= sizeof(self.sh.congestion):
            raise ValueError(f"congestion control name too long: {congestion!r}")
        memcpy(self.sh.congestion, <const char*>congestion, len(congestion))
        self.services, self.listeners, self.protocols = {}, {}, {}
        self.ws = <Worker*>calloc(workers, sizeof(Worker))
        self.n_workers = workers
        for i in range(workers):
            self.ws[i].index, self.ws[i].n_workers = i, workers
            self._init_worker(&self.ws[i])

    cdef _init_worker(self, Worker* w):
        cdef epoll_event ev
        w.sh = &self.sh
        w.epfd = epoll_create1(EPOLL_CLOEXEC)
        w.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        if w.epfd < 0 or w.wakefd < 0:
            raise OSError(errno, "epoll/eventfd")
        w.wake.kind = KIND_WAKE
        ev.events = EPOLLIN
        ev.data.ptr = &w.wake
        epoll_ctl(w.epfd, EPOLL_CTL_ADD, w.wakefd, &ev)
        w.spare_fd = dup(w.wakefd)
        w.ubuf = <char*>malloc(65536)
        w.scratch = <char*>malloc(BUF_SIZE)
        w.cap_dead = 64
        w.dead = <Conn**>malloc(64 * sizeof(Conn*))
        w.now = now_ms()

    @property
    def workers(self) -> int:
        return self.n_workers

    cdef void _check(self) except *:
        if self.closed:
            raise RuntimeError("the proxy engine is closed")

    def run(self, int i):
        """Run worker `i` until `stop()` (call from a thread of its own)."""
        self._check()
        if not 0 <= i < self.n_workers:
            raise IndexError(i)
        with nogil:
            run_worker(&self.ws[i])

    def stop(self):
        cdef int i
        cdef uint64_t one = 1
        if self.closed:
            return
        for i in range(self.n_workers):
            kc_store(&self.ws[i].stop, 1)
            write(self.ws[i].wakefd, &one, 8)

    def close(self):
        """Free everything once the worker threads have returned from `run`."""
        cdef int i
        if self.closed:
            return
        for i in range(self.n_workers):
            if kc_load(&self.ws[i].running):
                raise RuntimeError("stop the workers and join their threads first")
        for key in list(self.services):
            self.remove(key)
        self.closed = True
        for i in range(self.n_workers):
            worker_close_all(&self.ws[i])
        free(self.ws)
        self.ws = NULL
        pthread_mutex_destroy(&self.sh.lock)

    def __dealloc__(self):
        # Running workers hold a reference (their bound `run`), so none runs by now.
        if not self.closed and self.ws != NULL:
            self.close()

    cdef void _quiesce(self):
        # Wait until every worker has finished the batch it was in (or woke up empty).
        cdef int i
        cdef int64_t e
        cdef uint64_t one = 1
        for i in range(self.n_workers):
            e = kc_load(&self.ws[i].epoch)
            write(self.ws[i].wakefd, &one, 8)
            while kc_load(&self.ws[i].epoch) == e and kc_load(&self.ws[i].running):
                _time.sleep(0.0001)

    def upsert(self, str key, list listen, list endpoints, int policy, int64_t affinity_ms,
               int protocol=PROTO_TCP):
        """Add or update a service: listeners first (so a bind error changes nothing).
        `protocol` is 0 TCP, 1 UDP; a key that changes protocol is replaced."""
        self._check()
        cdef Service* s
        if self.protocols.get(key, protocol) != protocol:
            self.remove(key)
        old = self.listeners.get(key, {})
        want = {(int(ip), int(port)) for ip, port in listen}
        if key not in self.services:
            s = <Service*>calloc(1, sizeof(Service))
            s.refs = 1
            self.services[key] = <size_t>s
        s = <Service*><size_t>self.services[key]
        try:
            opened = self._open_listeners(s, [a for a in want if a not in old], protocol)
        except OSError:
            if key not in self.listeners:
                self.remove(key)  # it was new: leave no trace
            raise
        self._swap_endpoints(s, endpoints, policy, affinity_ms)
        gone = [old.pop(a) for a in list(old) if a not in want]
        old.update(opened)
        self.listeners[key] = old
        self.protocols[key] = protocol
        self._close_listeners(gone)

    cdef _swap_endpoints(self, Service* s, list endpoints, int policy, int64_t affinity_ms):
        # The new endpoint array is built with the GIL; the table lock is then held for C
        # work only, so a worker never waits on a Python thread switch. Endpoints kept by
        # address keep their struct: active counts, down marks and affinity pins survive.
        # (Only this thread writes s.eps and an endpoint's address: reading them unlocked
        # is safe.)
        cdef int i, n = len(endpoints), n_gone
        cdef Endpoint** eps = <Endpoint**>calloc(max(n, 1), sizeof(Endpoint*))
        cdef Endpoint** gone
        cdef Endpoint** old
        cdef Affinity* old_aff = NULL
        cdef Endpoint* ep
        cdef bint reset_aff = s.affinity_ms != affinity_ms or s.policy != policy
        by_addr = {(s.eps[i].ip, s.eps[i].port): <size_t>s.eps[i] for i in range(s.n_eps)}
        for i, (ip, port) in enumerate(endpoints):
            addr = (int(ip), int(port))
            if addr in by_addr:
                ep = <Endpoint*><size_t>by_addr.pop(addr)
            else:
                ep = <Endpoint*>calloc(1, sizeof(Endpoint))
                ep.ip, ep.port, ep.refs = addr[0], addr[1], 1
                ep.uid = self.sh.next_uid
                self.sh.next_uid += 1
            eps[i] = ep
        n_gone = len(by_addr)
        gone = <Endpoint**>calloc(max(n_gone, 1), sizeof(Endpoint*))
        for i, p in enumerate(by_addr.values()):
            gone[i] = <Endpoint*><size_t>p
        with nogil:
            pthread_mutex_lock(&self.sh.lock)
            old = s.eps
            s.eps, s.n_eps = eps, n
            for i in range(n_gone):
                ep_unref(gone[i])
            if reset_aff:
                old_aff = s.aff
                s.aff, s.aff_cap, s.aff_used = NULL, 0, 0
            s.policy, s.affinity_ms = policy, affinity_ms
            pthread_mutex_unlock(&self.sh.lock)
        free(old)
        free(gone)
        free(old_aff)

    cdef dict _open_listeners(self, Service* s, list addrs, int proto):
        # TCP listeners are in every worker's set (EPOLLEXCLUSIVE); a UDP listener is in one
        # worker's only, which then owns its flow table without locks.
        cdef Listener* lis
        cdef epoll_event ev
        cdef int fd, i
        opened = {}
        for ip, port in addrs:
            fd = open_listener(ip, port, proto, self.sh.recv_buffer, self.sh.congestion)
            if fd < 0:
                self._close_listeners(list(opened.values()))
                raise OSError(-fd, f"listen on {ip >> 24 & 255}.{ip >> 16 & 255}."
                                   f"{ip >> 8 & 255}.{ip & 255}:{port}")
            lis = <Listener*>calloc(1, sizeof(Listener))
            lis.kind, lis.fd, lis.svc, lis.refs = KIND_LISTENER, fd, s, 1
            with nogil:
                pthread_mutex_lock(&self.sh.lock)
                s.refs += 1
                pthread_mutex_unlock(&self.sh.lock)
            ev.data.ptr = lis
            if proto == PROTO_UDP:
                lis.kind = KIND_UDP_LISTENER
                lis.flows = <Conn**>calloc(UDP_BUCKETS, sizeof(Conn*))
                ev.events = EPOLLIN
                epoll_ctl(self.ws[(ip ^ port) % self.n_workers].epfd, EPOLL_CTL_ADD, fd, &ev)
            else:
                ev.events = EPOLLIN | EPOLLEXCLUSIVE
                for i in range(self.n_workers):
                    epoll_ctl(self.ws[i].epfd, EPOLL_CTL_ADD, fd, &ev)
            opened[(ip, port)] = <size_t>lis
        return opened

    cdef _close_listeners(self, list ptrs):
        cdef Listener* lis
        cdef int i
        if not ptrs:
            return
        for p in ptrs:
            lis = <Listener*><size_t>p
            for i in range(self.n_workers):
                epoll_ctl(self.ws[i].epfd, EPOLL_CTL_DEL, lis.fd, NULL)
        self._quiesce()
        for p in ptrs:
            # A UDP listener lives on while flows still send replies from it.
            listener_unref(&self.sh, <Listener*><size_t>p)

    def remove(self, str key):
        """Stop listening for `key`; its established connections run to their end."""
        self._check()
        cdef Service* s
        if key not in self.services:
            return
        self._close_listeners(list(self.listeners.pop(key, {}).values()))
        self.protocols.pop(key, None)
        s = <Service*><size_t>self.services.pop(key)
        with nogil:
            pthread_mutex_lock(&self.sh.lock)
            s.removed = 1
            svc_unref(s)
            pthread_mutex_unlock(&self.sh.lock)

    def counters(self, str key):
        """(connections, active, bytes_in, bytes_out, connect_errors, rejected, failed)."""
        self._check()
        cdef Service* s = <Service*><size_t>self.services[key]
        cdef int i
        out = []
        for i in range(N_COUNTERS):
            out.append(kc_load(&s.counters[i]))
        return tuple(out)

    def keys(self):
        return list(self.services)

    def buffered_bytes(self) -> int:
        """Bytes staged in the proxy's buffers and pipes right now, all connections."""
        return kc_load(&self.sh.buffered)

    def endpoints(self, str key):
        """[(ip, port, active connections)] in table order."""
        self._check()
        cdef Service* s = <Service*><size_t>self.services[key]
        cdef int i, n
        cdef Endpoint* copy
        with nogil:
            pthread_mutex_lock(&self.sh.lock)
            n = s.n_eps
            copy = <Endpoint*>malloc(max(n, 1) * sizeof(Endpoint))
            for i in range(n):
                copy[i] = s.eps[i][0]
            pthread_mutex_unlock(&self.sh.lock)
        out = [(copy[i].ip, copy[i].port, copy[i].active) for i in range(n)]
        free(copy)
        return out

    def pick(self, str key, uint32_t client, int64_t now_ms):
        """The balancer alone, as the data path runs it: (ip, port) counted active, or None."""
        self._check()
        cdef Service* s = <Service*><size_t>self.services[key]
        cdef Endpoint* ep
        with nogil:
            pthread_mutex_lock(&self.sh.lock)
            ep = pick(s, client, now_ms, NULL, 0)
            if ep != NULL:
                ep.refs -= 1   # the table keeps it alive; only `active` models a connection
            pthread_mutex_unlock(&self.sh.lock)
        return None if ep == NULL else (ep.ip, ep.port)

    def fail(self, str key, uint32_t ip, uint16_t port, int64_t now_ms):
        """Mark (ip, port) down as a failed connect at `now_ms` would."""
        cdef Service* s
        cdef int i
        self._check()
        s = <Service*><size_t>self.services[key]
        with nogil:
            pthread_mutex_lock(&self.sh.lock)
            for i in range(s.n_eps):
                if s.eps[i].ip == ip and s.eps[i].port == port:
                    s.eps[i].down_until_ms = now_ms + DOWN_MS
            pthread_mutex_unlock(&self.sh.lock)

    def release(self, str key, uint32_t ip, uint16_t port):
        """Undo one `pick` of (ip, port): a connection to it closed."""
        self._check()
        cdef Service* s = <Service*><size_t>self.services[key]
        cdef int i
        with nogil:
            pthread_mutex_lock(&self.sh.lock)
            for i in range(s.n_eps):
                if s.eps[i].ip == ip and s.eps[i].port == port:
                    s.eps[i].active -= 1
            pthread_mutex_unlock(&self.sh.lock)
