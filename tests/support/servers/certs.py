"""Certificates for the HTTP/2 test servers: a trustme CA and a server certificate for
127.0.0.1 and localhost, written to files (nginx and hypercorn read them from disk).

trustme is a test dependency; `TLSFiles.create` raises `CertsUnavailable` without it, so
that a fixture can skip (or fail, under HOPWIRE_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CertsUnavailable(RuntimeError):
    """trustme is not installed."""


@dataclass(frozen=True)
class TLSFiles:
    ca: Any  # trustme.CA
    certfile: Path  # the server's chain, PEM
    keyfile: Path  # its private key, PEM
    cafile: Path  # the CA's certificate, PEM

    @classmethod
    def create(cls, directory: Path) -> TLSFiles:
        try:
            import trustme
        except ImportError:
            raise CertsUnavailable("trustme is a test dependency: pip install '.[test]'") from None
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        files = cls(ca, directory / "server.pem", directory / "server.key", directory / "ca.pem")
        files.certfile.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        files.keyfile.write_bytes(cert.private_key_pem.bytes())
        files.cafile.write_bytes(ca.cert_pem.bytes())
        for path in (directory, files.certfile, files.keyfile, files.cafile):
            path.chmod(0o755 if path.is_dir() else 0o644)  # nginx's workers read them
        return files

    def client_context(self) -> ssl.SSLContext:
        """A new client context that trusts the CA; no ALPN is set (the caller's choice)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def server_context(self, alpn: tuple[str, ...] = ("h2",)) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        context.set_alpn_protocols(list(alpn))
        return context
