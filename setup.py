"""Declares the C extension only; all metadata lives in pyproject.toml.

With HOPWIRE_NO_EXTENSIONS=1 nothing is compiled and the package is pure Python.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("HOPWIRE_NO_EXTENSIONS", "") in ("", "0"):
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [
            Extension(
                "hopwire._parser_c",
                ["ext/hopwire/_parser_c.pyx"],
                include_dirs=["ext/hopwire"],
                extra_compile_args=os.environ.get("HOPWIRE_CFLAGS", "-O2").split(),
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
