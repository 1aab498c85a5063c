"""TLS fixtures shared by the pool, proxy and httpx-transport tests: a trustme CA, an https
origin with a certificate from it (servers/proxy_double.py), and a client context that
trusts it.

A pytest plugin (tests/conftest.py registers it): `ca`, `origin`, `trusting`, each
module-scoped. A test that takes one is skipped where trustme is not installed.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from .servers.proxy_double import TLSOrigin


@pytest.fixture(scope="module")
def ca() -> Any:
    trustme = pytest.importorskip("trustme", reason="trustme is a test dependency: pip install '.[test]'")
    return trustme.CA()


@pytest.fixture(scope="module")
def origin(ca: Any) -> Iterator[TLSOrigin]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with TLSOrigin(context) as server:
        yield server


@pytest.fixture(scope="module")
def trusting(ca: Any) -> ssl.SSLContext:
    """A client context that trusts the test CA (and only the system's CAs besides)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
