"""hopwire: fast and correct HTTP/1.x parsing and connections.

The parser comes in two twins with the same names and behaviour: a Cython
extension and a pure-Python module. `EXTENSIONS_ACTIVE` says which one these
names come from. The pool's core modules are compiled from their Python source
when extensions are on: `COMPILED_MODULES` names those in use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._errors import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    HopwireError,
    LocalProtocolError,
    NetworkError,
    ParseError,
    PoolClosed,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StreamReset,
    TransportError,
    TransportTimeout,
    WriteError,
    WriteTimeout,
)
from ._pool import COMPILED_MODULES
from ._pool.aio import AsyncPool
from ._pool.models import ExchangeInfo, Timeout
from ._pool.models import Response as HTTPResponse
from ._pool.sync import Pool
from ._wire.parser import (
    EXTENSIONS_ACTIVE,
    Data,
    EndOfMessage,
    InformationalResponse,
    Request,
    RequestParser,
    Response,
    ResponseParser,
    connection_tokens,
    filter_hop_by_hop,
    parse_keep_alive,
)
from ._wire.writer import SizedBody

__all__ = [
    "EXTENSIONS_ACTIVE",
    "COMPILED_MODULES",
    "AsyncPool",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "Data",
    "EndOfMessage",
    "ExchangeInfo",
    "HTTPResponse",
    "HopwireError",
    "LocalProtocolError",
    "NetworkError",
    "Pool",
    "PoolClosed",
    "PoolTimeout",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "SizedBody",
    "StreamReset",
    "Timeout",
    "TransportError",
    "TransportTimeout",
    "WriteError",
    "WriteTimeout",
    "InformationalResponse",
    "ParseError",
    "Request",
    "RequestParser",
    "Response",
    "ResponseParser",
    "connection_tokens",
    "filter_hop_by_hop",
    "parse_keep_alive",
]
