"""HPACK (RFC 7541): `Encoder` and `Decoder` of the C twin if it may and can be used,
else of the pure-Python twin (`hopwire._select.c_twin` decides, as for the parser).

`EXTENSION_ACTIVE` says which. The Python twin, `_hpack_py`, is the typed source of
truth for both and documents the codec; both raise the errors of `_hpack_errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hopwire import _select

from . import _hpack_py
from ._hpack_errors import HeaderListTooLarge, HPACKError

_impl = _select.c_twin("_h2._hpack_c") or _hpack_py
EXTENSION_ACTIVE = _impl is not _hpack_py

if TYPE_CHECKING:
    from ._hpack_py import Decoder, Encoder
else:
    Decoder = _impl.Decoder
    Encoder = _impl.Encoder

__all__ = ["EXTENSION_ACTIVE", "Decoder", "Encoder", "HPACKError", "HeaderListTooLarge"]
