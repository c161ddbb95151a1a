"""Build every Cython source under ext/ into kcore._ext.<name>.

KCORE_ANNOTATE=1 writes Cython's HTML annotation next to each source; KCORE_DEBUG=1 builds
with -O0 -g and Cython's line tracing, for gdb and profilers.
"""

import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
DEBUG = os.environ.get("KCORE_DEBUG") == "1"
ANNOTATE = os.environ.get("KCORE_ANNOTATE") == "1"


def extensions() -> list[Extension]:
    compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
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
