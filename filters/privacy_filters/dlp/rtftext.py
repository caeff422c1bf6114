"""RTF to plain text: enough of the format to read what a letter or form says.

Control words are dropped (``\\par`` and ``\\line`` become line breaks, ``\\tab`` and
``\\cell`` tabs), ``\\'xx`` hex escapes are decoded as cp1252 and ``\\uN`` as Unicode
(skipping the one fallback character after it), and destination groups that hold no
visible text (font and colour tables, ``{\\*\\...}``, pictures, styles, info) are skipped.
One forward pass over the text: linear, no backtracking, never raises (except what
`check`, called every few thousand tokens, raises to stop at the scan's deadline).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|\r?\n",
                    re.DOTALL)
_SKIP = frozenset(("fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "header",
                   "footer", "listtable", "listoverridetable", "rsidtbl", "generator",
                   "themedata", "colorschememapping", "datastore", "latentstyles", "xmlnstbl"))
_BREAK = {"par": "\n", "line": "\n", "row": "\n", "sect": "\n", "page": "\n", "tab": "\t",
          "cell": "\t", "emdash": "-", "endash": "-", "lquote": "'", "rquote": "'",
          "ldblquote": '"', "rdblquote": '"', "bullet": "*"}


def _no_check() -> None:
    return None


def rtf_to_text(rtf: str, limit: int, check: Callable[[], None] = _no_check) -> str:
    out: list[str] = []
    size = 0
    depth = 0
    skip_depth = -1          # inside a skipped destination while depth >= skip_depth
    pending_star = False
    uc_skip = 0              # fallback characters still to drop after \uN
    for n, m in enumerate(_TOKEN.finditer(rtf[:limit * 4])):
        if n % 4096 == 0:
            check()
        word, arg, hexa, sym, brace, text = m.groups()
        if brace == "{":
            depth += 1
            continue
        if brace == "}":
            if skip_depth != -1 and depth <= skip_depth:
                skip_depth = -1
            depth -= 1
            continue
        if word is not None:
            if pending_star or word in _SKIP:
                if skip_depth == -1:
                    skip_depth = depth
                pending_star = False
                continue
            if skip_depth != -1:
                continue
            if word == "u" and arg is not None:
                code = int(arg) % 65536
                out.append(chr(code) if code < 0xD800 or code > 0xDFFF else " ")
                uc_skip = 1
            elif word in _BREAK:
                out.append(_BREAK[word])
            continue
        if sym is not None:
            if sym == "*":
                pending_star = True
            elif skip_depth == -1 and sym in "\\{}":
                out.append(sym)
            elif skip_depth == -1 and sym == "~":
                out.append(" ")
            elif skip_depth == -1 and sym in "-_":
                out.append("-" if sym == "_" else "")
            continue
        if skip_depth != -1:
            continue
        if hexa is not None:
            if uc_skip:
                uc_skip -= 1
                continue
            out.append(bytes((int(hexa, 16),)).decode("cp1252", "replace"))
        elif text is not None:
            if uc_skip:
                text = text[1:]
                uc_skip = 0
            out.append(text)
        size += len(out[-1]) if out else 0
        if size > limit:
            break
    return "".join(out)[:limit]
