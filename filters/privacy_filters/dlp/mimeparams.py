"""Content-Type parameters as email.message.Message reads them, at a fraction of the cost.

`Message.get_content_charset()` finds the header twice (`in`, then `get`), runs it through
the policy, splits it (`_parseparam`), unquotes and re-quotes every parameter
(`utils.decode_params`, one regex match each) and unquotes again: about a tenth of the MIME
walk of small mail. For the usual header (plain ASCII, no backslash, no RFC 2231 `*`) every
one of those steps reduces to: the first header of that name, `_parseparam`, split at the
first `=`, one `utils.unquote`. Anything else (a Header object, 8-bit or non-ASCII text, an
escaped quote, RFC 2231 parameters) goes to the stdlib method itself, so the results are the
stdlib's in every case (tests/unit/dlp/test_dlp_mimeparams.py compares them).
"""

from __future__ import annotations

from email import utils
from email.message import Message, _parseparam  # type: ignore[attr-defined]

_ABSENT = object()   # no such header
_COMPLEX = object()  # a header the shortcut does not read: ask the stdlib


def _header(msg: Message, lname: str) -> object:
    """The first `lname` header as Message.get returns it, when it is a plain one."""
    value = _first(msg, lname)
    if value is _ABSENT:
        return _ABSENT
    if isinstance(value, str) and value.isascii() and "\\" not in value and "*" not in value:
        return value  # ASCII: no surrogates, so compat32's header_fetch_parse returns it as is
    return _COMPLEX


def _first(msg: Message, lname: str) -> object:
    """The stored value of the first `lname` header, as Message.get finds it, or _ABSENT."""
    for key, value in msg._headers:  # type: ignore[attr-defined]  # what Message.get loops over
        if key.lower() == lname:
            return value
    return _ABSENT


def header_str(msg: Message, lname: str) -> str:
    """str(msg.get(lname, "")): the first such header as text, "" when there is none.

    An ASCII value is what compat32's header_fetch_parse returns unchanged; any other value
    (8-bit bytes kept as surrogates become a Header object) is left to Message.get itself."""
    value = _first(msg, lname)
    if value is _ABSENT:
        return ""
    if isinstance(value, str) and value.isascii():
        return value
    return str(msg.get(lname, ""))


def _param(value: str, lparam: str) -> str | None:
    """Message.get_param(lparam) on a plain header value; None when it has no such parameter.

    The stdlib unquotes a parameter, quotes it again and unquotes the result; without a
    backslash in the value that is one unquote. The first parameter (the type itself) skips
    decode_params but is unquoted the same way by get_param."""
    for p in _parseparam(value):
        name, eq, val = p.partition("=")
        if eq:
            name, val = name.strip(), val.strip()
        else:
            name, val = p.strip(), ""
        if name.lower() == lparam:
            return utils.unquote(val)
    return None


def content_type(msg: Message) -> str:
    """msg.get_content_type()."""
    value = _header(msg, "content-type")
    if value is _ABSENT:
        return msg.get_default_type()
    if value is _COMPLEX:
        return msg.get_content_type()
    ctype = value.partition(";")[0].strip().lower()  # type: ignore[attr-defined]  # _splitparam
    return ctype if ctype.count("/") == 1 else "text/plain"


def content_charset(msg: Message) -> str | None:
    """msg.get_content_charset()."""
    value = _header(msg, "content-type")
    if value is _ABSENT:
        return None
    if value is _COMPLEX:
        return msg.get_content_charset()
    charset = _param(value, "charset")  # type: ignore[arg-type]
    return None if charset is None else charset.lower()  # ASCII: the us-ascii check passes


def boundary(msg: Message) -> str | None:
    """msg.get_boundary()."""
    value = _header(msg, "content-type")
    if value is _ABSENT:
        return None
    if value is _COMPLEX:
        return msg.get_boundary()
    found = _param(value, "boundary")  # type: ignore[arg-type]
    return None if found is None else utils.collapse_rfc2231_value(found).rstrip()
