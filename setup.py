"""Declares the C extension only; all metadata lives in pyproject.toml.

With HOPWIRE_NO_EXTENSIONS=1 nothing is compiled and the package is pure Python.
HOPWIRE_SANITIZE=1 builds the extension with AddressSanitizer and
UndefinedBehaviorSanitizer (scripts/sanitize.sh; never for a release).
"""

import os

from setuptools import Extension, setup

# What HOPWIRE_SANITIZE=1 adds: every UB report is fatal, frames stay walkable for the reports.
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer", "-g"]
sanitize = os.environ.get("HOPWIRE_SANITIZE", "") not in ("", "0")

ext_modules = []
if os.environ.get("HOPWIRE_NO_EXTENSIONS", "") in ("", "0"):
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [
            Extension(
                "hopwire._parser_c",
                ["ext/hopwire/_parser_c.pyx"],
                include_dirs=["ext/hopwire"],
                extra_compile_args=os.environ.get("HOPWIRE_CFLAGS", "-O2").split()
                + (SANITIZE_FLAGS if sanitize else []),
                extra_link_args=SANITIZE_FLAGS if sanitize else [],
            )
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

setup(ext_modules=ext_modules)
