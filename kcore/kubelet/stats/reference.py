"""The plain-Python twin of the Cython stats kernel (ext/cgstats.pyx), written to be obvious.

Same contract as `kcore._ext.cgstats.Reader`: for rows 0..n-1, pread every held file at
offset 0, pick the wanted keys, scale them into int64 columns (others stay -1), and record the
errno of a row whose read fails (skipping its remaining files). Tests compare the two on the
same fixture trees; benchmarks use it as the baseline; the sampler falls back to it when the
extension is not built. When a key repeats, its first line counts; numbers and their scaled
values saturate at INT64_MAX.
"""

from __future__ import annotations

import errno as errno_codes
import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Keys = Sequence[tuple[bytes, int, int]]
_BUF_SIZE = 16384
_INT64_MAX = (1 << 63) - 1


class ReferenceReader:
    def __init__(self, spec: Sequence[Keys]) -> None:
        self._spec = [dict((key, (column, scale)) for key, column, scale in keys) for keys in spec]

    def read(
        self,
        fds: npt.NDArray[np.int32],
        n: int,
        out: npt.NDArray[np.int64],
        errs: npt.NDArray[np.int32],
    ) -> int:
        """Read rows 0..n-1; returns how many rows failed."""
        failed = 0
        for i in range(n):
            out[i, :] = -1
            errs[i] = self._read_row(fds[i], out[i])
            failed += errs[i] != 0
        return failed

    def _read_row(self, fds: npt.NDArray[np.int32], row: npt.NDArray[np.int64]) -> int:
        for fd, keys in zip(fds.tolist(), self._spec, strict=True):
            if fd < 0:
                continue
            try:
                data = os.pread(fd, _BUF_SIZE, 0)
            except OSError as exc:
                return exc.errno or errno_codes.EIO
            _parse(data, keys, row)
        return 0


def _parse(data: bytes, keys: dict[bytes, tuple[int, int]], row: npt.NDArray[np.int64]) -> None:
    if b"" in keys:
        column, scale = keys[b""]
        row[column] = min(_leading_int(data) * scale, _INT64_MAX)
        return
    seen: set[bytes] = set()
    for line in data.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key in keys and key not in seen:
            seen.add(key)
            column, scale = keys[key]
            row[column] = min(_leading_int(value) * scale, _INT64_MAX)


def _leading_int(text: bytes) -> int:
    """The decimal digits after any spaces or tabs (0 if none), like the kernel's parser."""
    digits = text.lstrip(b" \t")
    end = 0
    while end < len(digits) and 48 <= digits[end] <= 57:
        end += 1
    return min(int(digits[:end]), _INT64_MAX) if end else 0
