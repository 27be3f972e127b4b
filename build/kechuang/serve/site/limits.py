"""How many characters a search box may take, so that the address its form submits fits the request guard.

The guard (`kechuang.serve.security.guard`) refuses a query string longer than MAX_QUERY_BYTES with a
414. A form sends its words percent-encoded UTF-8: a Chinese character is 3 bytes, 9 once encoded
(`%E4%B8%AD`), and no UTF-16 code unit (what `maxlength` counts) takes more. A box whose `maxlength`
is the number of such characters that fit, after the other fields of the form, can never be refused.
"""

from __future__ import annotations

from kechuang.serve.security.guard import MAX_QUERY_BYTES

ENCODED_BYTES_PER_CHAR = len("%E4%B8%AD")  # the worst case per UTF-16 code unit: a CJK character
# the rest of a search form's query string: `q=` and the other fields (`type`, `place`, `lang`… with their values)
OTHER_FIELDS_BYTES = 256


def search_box_chars(max_query_bytes: int = MAX_QUERY_BYTES) -> int:
    """The `maxlength` of a search box: the most characters whose encoded form fits the guard's limit."""
    return (max_query_bytes - OTHER_FIELDS_BYTES) // ENCODED_BYTES_PER_CHAR
