"""Declares the C extensions only; all metadata lives in pyproject.toml.

Two kinds: the parser, written in Cython (ext/hopwire/_parser_c.pyx, its twin is
_parser_py.py) with the sync pool's lock (ext/hopwire/_lock_c.pyx, its twin is
threading.Lock), and the pool's core modules compiled from their own Python source
(src/hopwire/X.py, typed by the X.pxd next to it, built next to it; _select.py loads
the source instead when extensions are off). With HOPWIRE_NO_EXTENSIONS=1 nothing is
compiled and the package is pure Python.
HOPWIRE_SANITIZE=1 builds the extension with AddressSanitizer and
UndefinedBehaviorSanitizer (scripts/sanitize.sh; never for a release).
"""

import os

from setuptools import Extension, setup

# What HOPWIRE_SANITIZE=1 adds: every UB report is fatal, frames stay walkable for the reports.
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer", "-g"]
sanitize = os.environ.get("HOPWIRE_SANITIZE", "") not in ("", "0")

# The modules of the pool's per-request path, compiled from their Python source: the
# import-time choice in _select.py must name the same ones.
COMPILED = ["_models", "_connection", "_client", "_pool_state", "_sync", "_async"]

# The C twins of the HTTP/2 codec (their Python twins are src/hopwire/_h2/*_py.py; the
# selectors _h2/frames.py and _h2/hpack.py load them through _select.c_twin).
H2_TWINS = ["_hpack_c", "_frames_c"]

ext_modules = []
if os.environ.get("HOPWIRE_NO_EXTENSIONS", "") in ("", "0"):
    from Cython.Build import cythonize

    compile_args = os.environ.get("HOPWIRE_CFLAGS", "-O2").split() + (SANITIZE_FLAGS if sanitize else [])
    link_args = SANITIZE_FLAGS if sanitize else []
    ext_modules = cythonize(
        [
            Extension(
                "hopwire._parser_c",
                ["ext/hopwire/_parser_c.pyx"],
                include_dirs=["ext/hopwire"],
                extra_compile_args=compile_args,
                extra_link_args=link_args,
            ),
            Extension("hopwire._lock_c", ["ext/hopwire/_lock_c.pyx"],
                      extra_compile_args=compile_args, extra_link_args=link_args),
        ] + [
            Extension(f"hopwire._h2.{name}", [f"ext/hopwire/_h2/{name}.pyx"],
                      include_dirs=["ext/hopwire/_h2"],
                      extra_compile_args=compile_args, extra_link_args=link_args)
            for name in H2_TWINS
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
            Extension(f"hopwire.{name}", [f"src/hopwire/{name}.py"],
                      extra_compile_args=compile_args, extra_link_args=link_args)
            for name in COMPILED
        ],
        include_path=["src", "ext"],  # (ext: the parser's .pxd, for its event types)
        build_dir="build/cython",
        # The Python source keeps Python's semantics: its annotations are for mypy, and
        # only the .pxd declares C types.
        compiler_directives={"language_level": "3", "annotation_typing": False},
    )

setup(ext_modules=ext_modules)
