# cython: language_level=3
"""Cgroup stats kernel: one sampling pass over held file descriptors, parsed without the GIL.

`Reader(spec)` compiles a per-file key table (for each file slot, a list of
`(key, column, scale)`; key b"" means the whole file is one number). `Reader.read(fds, n, out,
errs)` preads every file of the first n rows at offset 0 (cgroup files regenerate on each
read), picks the wanted keys, multiplies by their scale and writes int64 columns into `out`.
Columns no file provides stay -1. When a key repeats, its first line counts; numbers and
their scaled values saturate at INT64_MAX. A row whose read fails gets its errno in `errs`
(a vanished cgroup answers ENODEV) and its remaining files are skipped; other rows are
unaffected.
kcore/kubelet/stats/reference.py is the plain-Python twin the tests compare against.
"""

from libc.stdint cimport INT64_MAX, int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy

from cgstats cimport *


cdef inline int64_t parse_uint(const char* p, const char* end) noexcept nogil:
    cdef int64_t v = 0
    cdef int d
    while p < end and (p[0] == b' ' or p[0] == b'\t'):
        p += 1
    while p < end and b'0' <= p[0] <= b'9':
        d = p[0] - 48
        v = INT64_MAX if v > (INT64_MAX - d) // 10 else v * 10 + d
        p += 1
    return v


cdef inline int64_t scaled(int64_t v, int64_t scale) noexcept nogil:
    return INT64_MAX if scale > 1 and v > INT64_MAX // scale else v * scale


cdef void parse_keys(const char* buf, ssize_t n, FileKeys* fk, int64_t* row) noexcept nogil:
    cdef const char* p = buf
    cdef const char* end = buf + n
    cdef const char* sp
    cdef int k, found = 0
    cdef uint64_t seen = 0
    cdef Key* key
    while p < end and found < fk.count:
        sp = p
        while sp < end and sp[0] != b' ' and sp[0] != b'\n':
            sp += 1
        for k in range(fk.count):
            key = &fk.keys[k]
            if key.len == sp - p and memcmp(key.name, p, key.len) == 0:
                if not (seen >> k) & 1:
                    row[key.column] = scaled(parse_uint(sp, end), key.scale)
                    seen |= (<uint64_t>1) << k
                    found += 1
                break
        while sp < end and sp[0] != b'\n':
            sp += 1
        p = sp + 1


cdef int read_file(int fd, char* buf, FileKeys* fk, int64_t* row) noexcept nogil:
    cdef ssize_t n = -1
    while n < 0:
        n = pread(fd, buf, BUF_SIZE, 0)
        if n < 0 and errno != EINTR:
            return errno
    if fk.count == 1 and fk.keys[0].len == 0:
        row[fk.keys[0].column] = scaled(parse_uint(buf, buf + n), fk.keys[0].scale)
    else:
        parse_keys(buf, n, fk, row)
    return 0


cdef class Reader:
    cdef FileKeys* files
    cdef int nfiles
    cdef char* buf

    def __cinit__(self, spec):
        self.nfiles = len(spec)
        self.files = <FileKeys*>calloc(self.nfiles, sizeof(FileKeys))
        self.buf = <char*>calloc(BUF_SIZE, 1)
        if self.files == NULL or self.buf == NULL:
            raise MemoryError()
        for f, keys in enumerate(spec):
            self._compile(&self.files[f], keys)

    cdef _compile(self, FileKeys* fk, keys):
        fk.count = len(keys)
        if fk.count > 64:
            raise ValueError("at most 64 keys per file")
        fk.keys = <Key*>calloc(max(fk.count, 1), sizeof(Key))
        if fk.keys == NULL:
            raise MemoryError()
        for k, (name, column, scale) in enumerate(keys):
            if len(name) >= MAX_KEY:
                raise ValueError(f"key too long: {name!r}")
            memcpy(fk.keys[k].name, <const char*>name, len(name))
            fk.keys[k].len = len(name)
            fk.keys[k].column = column
            fk.keys[k].scale = scale

    def __dealloc__(self):
        if self.files != NULL:
            for f in range(self.nfiles):
                free(self.files[f].keys)
            free(self.files)
        free(self.buf)

    def read(self, const int32_t[:, ::1] fds, Py_ssize_t n, int64_t[:, ::1] out,
             int32_t[::1] errs):
        """Read rows 0..n-1; returns how many rows failed."""
        if fds.shape[1] != self.nfiles:
            raise ValueError("fds has one column per file of the spec")
        if n > fds.shape[0] or n > out.shape[0] or n > errs.shape[0]:
            raise ValueError("n exceeds the arrays")
        cdef Py_ssize_t failed = 0
        with nogil:
            failed = self._read(fds, n, out, errs)
        return failed

    cdef Py_ssize_t _read(self, const int32_t[:, ::1] fds, Py_ssize_t n, int64_t[:, ::1] out,
                          int32_t[::1] errs) noexcept nogil:
        cdef Py_ssize_t i, j, failed = 0
        cdef int f, fd, err
        for i in range(n):
            for j in range(out.shape[1]):
                out[i, j] = -1
            err = 0
            for f in range(self.nfiles):
                fd = fds[i, f]
                if fd < 0:
                    continue
                err = read_file(fd, self.buf, &self.files[f], &out[i, 0])
                if err != 0:
                    break
            errs[i] = err
            if err != 0:
                failed += 1
        return failed
