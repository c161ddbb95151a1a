from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t


cdef extern from "proxy_atomic.h" nogil:
    # C declarations for the proxy data path family (ext/proxy.pyx): libc/Linux externs in
    # one place, then the structs the epoll workers share (services, endpoints, listeners,
    # connections). proxy.pyx implements; nothing here allocates.
    int64_t kc_add(int64_t* p, int64_t v)
    int64_t kc_load(int64_t* p)
    void kc_store(int64_t* p, int64_t v)


cdef extern from "<errno.h>" nogil:
    int errno
    enum:
        EAGAIN
        EINPROGRESS
        EINTR
        ECONNRESET
        ECONNREFUSED
        EPIPE
        ETIMEDOUT
        EMFILE
        ENFILE
        ECONNABORTED


cdef extern from "<unistd.h>" nogil:
    int close(int fd)
    int dup(int fd)
    ssize_t read(int fd, void* buf, size_t n)
    ssize_t write(int fd, const void* buf, size_t n)


cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    enum:
        CLOCK_MONOTONIC
    int clock_gettime(int clk, timespec* ts)


cdef extern from "<sys/eventfd.h>" nogil:
    enum:
        EFD_NONBLOCK
        EFD_CLOEXEC
    int eventfd(unsigned int initval, int flags)


cdef extern from "<sys/epoll.h>" nogil:
    enum:
        EPOLLIN
        EPOLLOUT
        EPOLLERR
        EPOLLHUP
        EPOLLRDHUP
        EPOLLET
        EPOLLEXCLUSIVE
        EPOLL_CTL_ADD
        EPOLL_CTL_DEL
        EPOLL_CLOEXEC
    union epoll_data_t:
        void* ptr
        int fd
        uint64_t u64
    struct epoll_event:
        uint32_t events
        epoll_data_t data
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event* ev)
    int epoll_wait(int epfd, epoll_event* evs, int n, int timeout)


cdef extern from "<fcntl.h>" nogil:
    enum:
        O_NONBLOCK
        O_CLOEXEC
        SPLICE_F_MOVE
        SPLICE_F_NONBLOCK
        F_SETPIPE_SZ
    ssize_t splice(int fd_in, void* off_in, int fd_out, void* off_out, size_t n,
                   unsigned int flags)
    int pipe2(int* fds, int flags)
    int fcntl(int fd, int cmd, int arg)


cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    enum:
        AF_INET
        SOCK_STREAM
        SOCK_DGRAM
        SOCK_NONBLOCK
        SOCK_CLOEXEC
        SOL_SOCKET
        SO_ERROR
        SO_LINGER
        SO_REUSEADDR
        SO_RCVBUF
        SHUT_WR
        MSG_NOSIGNAL
        MSG_MORE
        MSG_DONTWAIT
    struct sockaddr:
        pass
    struct linger:
        int l_onoff
        int l_linger
    int socket(int domain, int kind, int proto)
    int bind(int fd, const sockaddr* addr, socklen_t n)
    int listen(int fd, int backlog)
    int accept4(int fd, sockaddr* addr, socklen_t* n, int flags)
    ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr, socklen_t* alen)
    ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr,
                   socklen_t alen)
    int connect(int fd, const sockaddr* addr, socklen_t n)
    int shutdown(int fd, int how)
    ssize_t recv(int fd, void* buf, size_t n, int flags)
    ssize_t send(int fd, const void* buf, size_t n, int flags)
    int setsockopt(int fd, int level, int name, const void* val, socklen_t n)
    int getsockopt(int fd, int level, int name, void* val, socklen_t* n)


cdef extern from "<netinet/in.h>" nogil:
    enum:
        IPPROTO_TCP
    struct in_addr:
        uint32_t s_addr
    struct sockaddr_in:
        int sin_family
        uint16_t sin_port
        in_addr sin_addr
    uint16_t htons(uint16_t v)
    uint16_t ntohs(uint16_t v)
    uint32_t htonl(uint32_t v)
    uint32_t ntohl(uint32_t v)


cdef extern from "<netinet/tcp.h>" nogil:
    enum:
        TCP_NODELAY
        TCP_CONGESTION


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    int pthread_mutex_init(pthread_mutex_t* m, void* attr)
    int pthread_mutex_destroy(pthread_mutex_t* m)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)


cdef enum:
    POLICY_ROUND_ROBIN = 0
    POLICY_LEAST_CONNECTIONS = 1
    MAX_ATTEMPTS = 3          # backend connects tried per client connection
    DOWN_MS = 5000            # how long a failed endpoint yields to the others
    BUF_SIZE = 65536          # per direction, when not splicing
    PIPE_SIZE = 1048576       # per direction, when splicing (fs.pipe-max-size's default)
    MAX_EVENTS = 256
    KIND_LISTENER = 1
    KIND_SIDE = 2
    KIND_WAKE = 3
    KIND_UDP_LISTENER = 4
    KIND_UDP_FLOW = 5
    PROTO_TCP = 0
    PROTO_UDP = 1
    UDP_BUCKETS = 1024        # flow hash buckets per UDP listener
    UDP_IDLE_MS = 30000       # a UDP flow without traffic this long is forgotten
    UDP_BURST = 64            # datagrams moved per readiness event
    ST_CONNECTING = 1
    ST_OPEN = 2
    ST_DEAD = 3
    CTR_CONNECTIONS = 0       # accepted with an endpoint picked
    CTR_ACTIVE = 1
    CTR_BYTES_IN = 2          # client -> backend
    CTR_BYTES_OUT = 3         # backend -> client
    CTR_CONNECT_ERRORS = 4    # backend connects refused or timed out
    CTR_REJECTED = 5          # accepted and reset: no endpoint (left)
    CTR_FAILED = 6            # every attempt failed: client reset
    N_COUNTERS = 7


cdef struct Endpoint:
    uint32_t ip               # host byte order
    uint16_t port
    uint64_t uid              # unique for the engine's life: affinity entries name it
    int64_t active            # connections picked to it and not yet closed
    int64_t down_until_ms     # a connect to it failed: others first until then
    int refs                  # 1 while in a table + 1 per connection holding it


cdef struct Affinity:
    uint32_t client           # 0 = empty slot
    uint64_t uid
    int64_t expires_ms


cdef struct Service:
    int64_t counters[N_COUNTERS]
    int policy
    int64_t affinity_ms       # 0 = no ClientIP affinity
    Endpoint** eps
    int n_eps
    uint64_t rr
    Affinity* aff
    uint32_t aff_cap          # power of two
    uint32_t aff_used
    int refs                  # 1 while in the table + 1 per listener/connection
    int removed


cdef struct Conn


cdef struct Listener:
    int kind                  # KIND_LISTENER or KIND_UDP_LISTENER; must stay first
    int fd
    Service* svc
    int64_t refs              # UDP: 1 while listening + 1 per flow (replies leave by fd)
    Conn** flows              # UDP: flows by client address, touched by one worker only


cdef struct Handle:
    int kind                  # KIND_SIDE or KIND_WAKE; must stay first
    int side                  # 0 client, 1 backend
    void* conn


cdef struct Dir:
    char* buf                 # recv/send staging, BUF_SIZE bytes (NULL when splicing)
    int pipe_r
    int pipe_w                # -1 until this direction switches to splice
    int in_pipe               # the staged bytes are in the pipe, not in buf
    size_t len                # bytes staged (in buf or in the pipe)
    size_t off


cdef struct Conn:
    Handle h[2]
    int fd[2]
    int state
    int rd[2]                 # edge-triggered readiness seen and not yet drained
    int hup[2]                # side i reported RDHUP/HUP/ERR: read it to the end
    int fin[2]                # side i reported RDHUP without ERR: its FIN came, no reset
    int wr[2]
    int eof[2]                # read end of side i reached
    int shut[2]               # SHUT_WR sent to side i
    Dir d[2]                  # d[0] client -> backend, d[1] backend -> client
    Service* svc
    Endpoint* ep
    uint32_t client_ip
    int attempts
    uint64_t tried[MAX_ATTEMPTS]
    int64_t deadline_ms
    Conn* prev
    Conn* next
    int on_list
    int udp                   # a UDP flow: fd[1] is a connected datagram socket, no fd[0]
    uint16_t client_port
    Listener* lis             # UDP: where the client's datagrams came in
    Conn* hnext               # UDP: next flow in the listener's bucket
