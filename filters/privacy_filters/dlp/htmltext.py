"""HTML to the text a reader sees: entities decoded, markup gone, blocks kept apart.

Block elements become line breaks and table cells tabs, so two numbers in adjacent cells
are never glued into one, and inline markup (<b>, <span>) adds nothing, so a number
split by formatting tags stays whole.
"""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCK = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr ul "
    "title option".split())
_CELL = frozenset(("td", "th"))
_HIDDEN = frozenset(("script", "style", "head", "template"))


class _Text(HTMLParser):
    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.size = 0
        self.limit = limit
        self.hidden = 0

    def _emit(self, text: str) -> None:
        if self.size < self.limit:
            self.out.append(text)
            self.size += len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCK:
            self._emit("\n")
        elif tag in _CELL:
            self._emit("\t")
        elif tag == "input":
            # A pre-filled form field is visible text too: <input name=password value=...>.
            values = dict(attrs)
            if values.get("value"):
                self._emit(f" {values.get('name') or ''}: {values['value']} \n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self._emit("\n")
        elif tag in _CELL:
            self._emit("\t")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self._emit(data)


def html_to_text(html: str, limit: int) -> str:
    parser = _Text(limit)
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser's complaints about broken markup
        pass
    return "".join(parser.out)
