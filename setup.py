"""Declares the C extensions only; all metadata lives in pyproject.toml.

The modules compiled are listed once, in src/hopwire/_compiled.py (read here
without importing the package): the C twins written in Cython under ext/, and
the pool's core compiled from its own Python source (src/hopwire/_pool/X.py,
typed by the X.pxd next to it, built next to it; the selector loads the source
instead when extensions are off). With HOPWIRE_NO_EXTENSIONS=1 nothing is
compiled and the package is pure Python.
HOPWIRE_SANITIZE=1 builds the extensions with AddressSanitizer and
UndefinedBehaviorSanitizer (scripts/sanitize.sh; never for a release).
"""

import os
import runpy

from setuptools import Extension, setup

COMPILED = runpy.run_path(os.path.join("src", "hopwire", "_compiled.py"))

# What HOPWIRE_SANITIZE=1 adds: every UB report is fatal, frames stay walkable for the reports.
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer", "-g"]
sanitize = os.environ.get("HOPWIRE_SANITIZE", "") not in ("", "0")

ext_modules = []
if os.environ.get("HOPWIRE_NO_EXTENSIONS", "") in ("", "0"):
    from Cython.Build import cythonize

    compile_args = os.environ.get("HOPWIRE_CFLAGS", "-O2").split() + (SANITIZE_FLAGS if sanitize else [])
    link_args = SANITIZE_FLAGS if sanitize else []
    ext_modules = cythonize(
        [
            Extension(name, [source], include_dirs=[include],
                      extra_compile_args=compile_args, extra_link_args=link_args)
            for name, source, include in COMPILED["CYTHON"]
        ],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    )
    ext_modules += cythonize(
        [
            Extension(name, [os.path.join("src", *name.split(".")) + ".py"],
                      extra_compile_args=compile_args, extra_link_args=link_args)
            for name in COMPILED["POOL_CORE"]
        ],
        include_path=["src", "ext"],  # (ext: the parser's .pxd, for its event types)
        build_dir="build/cython",
        # The Python source keeps Python's semantics: its annotations are for mypy, and
        # only the .pxd declares C types.
        compiler_directives={"language_level": "3", "annotation_typing": False},
    )

setup(ext_modules=ext_modules)
