"""The suite's set-up: plugins, hypothesis profiles, and a refusal to test stale builds.

Shared helpers, servers and fixtures live in the `support` package (tests/ is on
sys.path through ``pythonpath`` in pyproject.toml). Its fixture modules are
registered here as plugins: pytest takes `pytest_plugins` from the root
conftest only. tests/README.md says how the suite is laid out and run.
"""

from __future__ import annotations

import importlib
import os

import pytest

# Before any module of the package is imported: helpers' asserts get pytest's messages too.
pytest.register_assert_rewrite("support")

from hypothesis import settings  # noqa: E402

import hopwire  # noqa: E402

pytest_plugins = [
    "support.twins",  # twin, py_twin, c_twin
    # nginx, stdlib_http*, aiohttp_server, fault_server, dumb_proxy; h2_nginx, h2_hypercorn,
    # h2_hypercorn_limited, h2_fault_server
    "support.servers.fixtures",
    "support.embedded",  # embedded
    "support.proxies",  # proxies, hop_origin
    "support.tls",  # ca, origin, trusting
]

# The same hypothesis examples on every run, so that a red CI run is a
# regression and not a new draw; HOPWIRE_HYPOTHESIS_EXPLORE=1 draws afresh
# (run it locally, turn what it finds into an explicit test).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("HOPWIRE_HYPOTHESIS_EXPLORE", "") not in ("", "0")
                      else "repeatable")


def _stale_compiled_modules() -> list[str]:
    """Compiled pool-core modules older than their source, in a checkout's in-place build.

    Python prefers a compiled module to the .py beside it: after an edit of
    `_pool/connection.py` without a rebuild, the suite would test the old code.
    """
    package = os.path.dirname(os.path.abspath(hopwire.__file__))
    if not os.path.exists(os.path.join(package, "..", "..", "setup.py")):
        return []  # an installed hopwire: its files were written together
    stale = []
    for name in hopwire.COMPILED_MODULES:
        module = importlib.import_module(name)
        source = os.path.join(package, "..", *name.split(".")) + ".py"
        if module.__file__ and os.path.getmtime(source) > os.path.getmtime(module.__file__):
            stale.append(name)
    return stale


_STALE = _stale_compiled_modules()
if _STALE:
    raise pytest.UsageError(
        f"compiled modules older than their source: {', '.join(_STALE)}; "
        "rebuild (python setup.py build_ext --inplace) or set HOPWIRE_NO_EXTENSIONS=1")
