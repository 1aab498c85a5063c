"""What the HPACK twins raise, and why: one exception type, and every reason once.

Both twins raise `HPACKError(reason, offset)` with a reason below and the
offset, in the header block, of the first octet of the representation that
broke the rule (0 for a rule about the block as a whole). Tests compare the
two twins on both.

Every `HPACKError` but one is a decoding error: the block cannot be read, the
decoder's dynamic table no longer matches the peer's encoder, and the
connection must end with COMPRESSION_ERROR (RFC 9113 §4.3); the decoder is not
to be used again. The exception is `HeaderListTooLarge`: the whole block was
decoded (the dynamic table is in step), only the list is longer than our
SETTINGS_MAX_HEADER_LIST_SIZE, so the stream can be refused and the connection
kept (RFC 9113 §6.5.2, §10.5.1).
"""

from __future__ import annotations

from hopwire._errors import HopwireError

# RFC 7541 §5.1 and our limits on integers (_hpack_tables.MAX_INTEGER*).
INTEGER_TRUNCATED = "integer cut off by the end of the block"
INTEGER_OVERFLOW = "integer too large"
# RFC 7541 §5.2.
STRING_TRUNCATED = "string longer than the rest of the block"
HUFFMAN_EOS = "EOS in a Huffman-coded string"
HUFFMAN_PADDING_TOO_LONG = "Huffman padding longer than 7 bits"
HUFFMAN_PADDING_NOT_ONES = "Huffman padding not all ones"
# RFC 7541 §6.1, §2.3.3.
INDEX_ZERO = "index 0"
INDEX_OUT_OF_RANGE = "index beyond the tables"
# RFC 7541 §4.2, §6.3.
SIZE_UPDATE_AFTER_FIELD = "table size update after a field"
SIZE_UPDATE_TOO_LARGE = "table size update above the allowed size"
SIZE_UPDATE_MISSING = "table size update missing after the allowed size shrank"
# RFC 9113 §6.5.2.
HEADER_LIST_TOO_LARGE = "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE"


class HPACKError(HopwireError, ValueError):
    """A header block broke RFC 7541 (or one of our limits).

    `reason` is one of the constants of this module; `offset` is where, in the
    block, the representation that broke it starts.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} (at byte {offset} of the block)")
        self.reason = reason
        self.offset = offset


class HeaderListTooLarge(HPACKError):
    """The block decoded, but its fields add up to more than the allowed list size.

    The decoder stays usable: only the stream fails. `offset` is where the field
    that crossed the limit starts; `size` is the size of the whole list
    (RFC 9113 §6.5.2: name + value + 32 per field).
    """

    def __init__(self, reason: str, offset: int, size: int = 0) -> None:
        super().__init__(reason, offset)
        self.size = size
