from libc.stdint cimport int32_t, int64_t


cdef extern from "<errno.h>" nogil:
    # C declarations for the cgroup stats family (ext/cgstats.pyx): the libc externs in one
    # place, then the compiled key table the reader walks. cgstats.pyx implements; nothing
    # here allocates. (Comments stay inside blocks: cython-lint cannot parse top-level ones.)
    int errno
    enum:
        EINTR


cdef extern from "<unistd.h>" nogil:
    ssize_t pread(int fd, void* buf, size_t n, long offset)


cdef enum:
    BUF_SIZE = 16384
    MAX_KEY = 48


cdef struct Key:
    # One wanted "key value" line of a file; len 0 means the file is a single number.
    char name[MAX_KEY]
    int len
    int column
    int64_t scale


cdef struct FileKeys:
    Key* keys
    int count
