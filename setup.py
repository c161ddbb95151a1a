"""Build every Cython source under ext/ into kcore._ext.<name>.

KCORE_ANNOTATE=1 writes Cython's HTML annotation next to each source; KCORE_DEBUG=1 builds
with -O0 -g and Cython's line tracing, for gdb and profilers.

kcore is always built on the machine that runs it (ci/up, ci/test), so an optimized build
targets the highest x86-64 level this CPU has: v4 (AVX-512: the scheduler kernel's column
passes vectorise further, ~9% faster than v3 here) or v3 (AVX2, BMI2, FMA: about twice the
baseline's decisions/s); KCORE_PORTABLE=1 forces a baseline x86-64 build. Floating point
stays exact: -ffp-contract=off keeps FMA from fusing a multiply and an add (Go rounds both,
and the scores must match it bit for bit); -fno-trapping-math only lets the compiler
evaluate both sides of a branch, which changes no result.
"""

import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
DEBUG = os.environ.get("KCORE_DEBUG") == "1"
ANNOTATE = os.environ.get("KCORE_ANNOTATE") == "1"
PORTABLE = os.environ.get("KCORE_PORTABLE") == "1"
X86_64_V3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
X86_64_V4 = X86_64_V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


def cpu_flags() -> set[str]:
    """This CPU's feature flags (empty off Linux/x86, where no -march is chosen)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def optimize_args() -> list[str]:
    args = ["-O3", "-ffp-contract=off", "-fno-trapping-math"]
    flags = set() if PORTABLE else cpu_flags()
    if flags >= X86_64_V4:
        args.append("-march=x86-64-v4")
        if "avx512_vpopcntdq" in flags:  # vectorised popcounts (the kernels' taint counts)
            args.append("-mavx512vpopcntdq")
    elif flags >= X86_64_V3:
        args.append("-march=x86-64-v3")
    return args


def extensions() -> list[Extension]:
    compile_args = ["-O0", "-g"] if DEBUG else optimize_args()
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if DEBUG:
        macros.append(("CYTHON_TRACE_NOGIL", "1"))
    return [
        Extension(
            f"kcore._ext.{pyx.stem}",
            [str(pyx.relative_to(HERE))],
            include_dirs=[numpy.get_include(), "ext"],
            define_macros=macros,
            extra_compile_args=compile_args,
        )
        for pyx in sorted((HERE / "ext").glob("*.pyx"))
    ]


setup(
    ext_modules=cythonize(
        extensions(),
        language_level=3,
        annotate=ANNOTATE,
        compiler_directives={
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": DEBUG,
            "linetrace": DEBUG,
        },
    ),
)
