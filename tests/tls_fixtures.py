"""TLS fixtures shared by the pool and httpx-transport tests: a trustme CA, an https origin
with a certificate from it (tests/proxy_double.py), and a client context that trusts it.

A test module uses them with `from tls_fixtures import ca, origin, trusting`.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from proxy_double import TLSOrigin

trustme = pytest.importorskip("trustme", reason="trustme is a test dependency: pip install '.[test]'")


@pytest.fixture(scope="module")
def ca() -> Any:
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
