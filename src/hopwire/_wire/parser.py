"""The parser and its events, from the twin chosen at import.

The C twin (`parser_c`, Cython) is used unless extensions are off or it does
not load; the Python twin (`parser_py`) behaves byte for byte the same (see
`hopwire._select`). Every other module takes these names from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._select import choose

_impl, EXTENSIONS_ACTIVE = choose()

if TYPE_CHECKING:  # the Python twin is the typed source of truth for both
    from .events import Data, EndOfMessage, InformationalResponse, Request, Response
    from .parser_py import (
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

__all__ = ["EXTENSIONS_ACTIVE", "Data", "EndOfMessage", "InformationalResponse", "Request",
           "RequestParser", "Response", "ResponseParser", "connection_tokens",
           "filter_hop_by_hop", "parse_keep_alive"]
