"""hopwire: fast and correct HTTP/1.x parsing and connections.

The parser comes in two twins with the same names and behaviour: a Cython
extension and a pure-Python module. `EXTENSIONS_ACTIVE` says which one these
names come from. The pool's core modules are compiled from their Python source
when extensions are on: `COMPILED_MODULES` names those in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _select
from ._errors import HopwireError, ParseError
from ._select import choose as _choose

_impl, EXTENSIONS_ACTIVE = _choose()

if TYPE_CHECKING:  # the Python twin is the typed source of truth for both
    from ._events import Data, EndOfMessage, InformationalResponse, Request, Response
    from ._parser_py import (
        RequestParser,
        ResponseParser,
        connection_tokens,
        filter_hop_by_hop,
        parse_keep_alive,
    )
else:
    RequestParser = _impl.RequestParser
    ResponseParser = _impl.ResponseParser
    Request = _impl.Request
    Response = _impl.Response
    InformationalResponse = _impl.InformationalResponse
    Data = _impl.Data
    EndOfMessage = _impl.EndOfMessage
    filter_hop_by_hop = _impl.filter_hop_by_hop
    connection_tokens = _impl.connection_tokens
    parse_keep_alive = _impl.parse_keep_alive

__version__ = "0.1.0"

# The pool's core modules, compiled or not (see _select.py): after the parser's names,
# which they import, and before anything else imports them.
COMPILED_MODULES: tuple[str, ...] = _select.use_compiled(__name__)

# The pool imports the parser names above: it comes after them.
from ._errors import (  # noqa: E402
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    LocalProtocolError,
    NetworkError,
    PoolClosed,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportTimeout,
    TransportError,
    WriteError,
    WriteTimeout,
)
from ._models import ExchangeInfo, Response as HTTPResponse, Timeout  # noqa: E402
from ._sync import Pool  # noqa: E402
from ._writer import SizedBody  # noqa: E402
from ._async import AsyncPool  # noqa: E402

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
