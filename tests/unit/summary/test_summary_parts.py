"""The text and HTML parts: every figure, 80 columns, autoescape, no address, empty week."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from privacy_milter.summary.render import render

from summary_helpers import PLANTED, empty, synthetic

# every figure of synthetic(), as the reader must see it (formatted once, in both parts)
FIGURES = [
    "9,876", "2,469", "99.2%", "98.9%", "37", "+9.7%", "-1.2%", "+0.3 pt", "+2.9 pt", "-7.5%",
    "8,123", "82.2%", "1,677", "17.0%", "76", "0.8%",
    "1,502", "60.8%", "939", "38.0%", "28", "1.1%",
    "1,901", "77.0%", "402", "16.3%", "151", "6.1%", "15", "0.6%",
    "oldbank.example", "17", "leaky.example",
    "starttls-not-supported", "11", "68.8%", "certificate-expired", "25.0%",
    "refused because the recipient could not do TLS: 3; held: 2",
    "iban", "reject", "21", "card", "hold", "nino", "tag", "shop.example", "25", "accounts.example",
    "431", "clinic.example", "88", "Scanner errors: 4; time-outs: 6",
    "13", "19", "90 days", "Mon 31 Aug 2026 01:00", "5,432",
    "5,000", "1,800", "99.8%", "99.4%", "3,000", "500", "98.3%", "98.0%",
    "mx1.hosting.example", "8,000", "mx2.hosting.example", "4,345",
    "week 48 2026", "Europe/London", "Mon 23 Nov 2026", "Mon 30 Nov 2026",
]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.chunks.append(data)


def html_text(html: str) -> tuple[str, list[str]]:
    p = _Text()
    p.feed(html)
    return " ".join(" ".join(p.chunks).split()), p.tags


def test_subject_names_week_messages_and_share():
    assert render(synthetic()).subject == \
        ("Mail privacy summary, week 48 2026: ACTION NEEDED, 2 flagged messages sent in clear; "
         "12,345 messages, 99.2% encrypted")
    assert render(empty()).subject == "Mail privacy summary, week 48 2026: no mail"


def test_every_figure_is_in_both_parts():
    out = render(synthetic())
    text, _ = html_text(out.html)
    for fig in FIGURES:
        assert fig in out.text, fig
        assert fig in text, fig


def test_table_rows_line_up_in_the_text_part():
    lines = render(synthetic()).text.splitlines()
    row = next(ln for ln in lines if ln.strip().startswith("TLSv1.2"))
    head = next(ln for ln in lines if ln.strip().startswith("version"))
    assert row.index("1,677") + len("1,677") == head.index("count") + len("count")  # right-aligned
    assert re.search(r"^  shop\.example +5,000 +1,800 +99\.8% +99\.4% +25 +431 +2$", "\n".join(lines), re.M)


def test_no_text_line_is_over_80_columns_even_with_long_names():
    r = synthetic()
    from dataclasses import replace
    from privacy_milter.summary.model import Count
    long = "a-very-long-subdomain-name." * 6 + "example"
    r = replace(r, tls=replace(r.tls, clear_domains=(Count(long, 3),) + r.tls.clear_domains))
    for out in (render(r), render(empty())):
        assert max(len(ln) for ln in out.text.splitlines()) <= 80
    assert "a-very-long-subdomain-name.a-very" in render(r).text


def test_planted_addresses_show_only_their_domain():
    out = render(synthetic())
    for part in (out.text, out.html, out.subject):
        assert "alice.secret" not in part and "bob@" not in part and "@" not in part.replace(
            "@summary.invalid", "")
    assert PLANTED.split("@")[1] in out.text


def test_autoescape_turns_a_script_domain_and_a_tagged_reason_into_text():
    out = render(synthetic())
    assert "<script>" not in out.html and "<b>reason" not in out.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.example" in out.html
    text, tags = html_text(out.html)
    assert "<script>alert(1)</script>.example" in text and "bad <b>reason</b>" in text
    assert "script" not in tags and "b" not in tags


def test_html_is_self_contained_tables_inline_css_no_script():
    html = render(synthetic()).html
    assert "<style" not in html and "<link" not in html and "<script" not in html.lower()
    assert not re.search(r"(?i)\b(?:https?:)?//", html)           # no external URL at all
    assert re.findall(r'src="([^"]+)"', html) == [
        "cid:encrypted-share.png@summary.invalid", "cid:outbound-levels.png@summary.invalid"]
    assert 'style="' in html and "<table" in html and "<div" not in html


def test_charts_are_small_pngs():
    for chart in render(synthetic()).images:
        assert chart.png.startswith(b"\x89PNG\r\n\x1a\n") and 1000 < len(chart.png) < 100_000
        assert chart.png[16:24] == chart.width.to_bytes(4, "big") + chart.height.to_bytes(4, "big")


def test_an_empty_week_renders_cleanly():
    out = render(empty())
    assert "No mail this week." in out.text and "No mail this week." in html_text(out.html)[0]
    assert out.images == ()
    assert "TLS" not in out.text.split("HEALTH")[0]      # no empty TLS tables before health
    assert "RETENTION" in out.text


def test_the_customer_variant_covers_one_domain_only():
    r = synthetic().for_customer("Shop.Example")
    out = render(r)
    assert out.subject == ("Mail privacy summary for shop.example, week 48 2026: "
                           "6,800 messages, 99.7% encrypted")
    for other in ("clinic.example", "oldbank.example", "mx1.hosting.example", "accounts.example",
                  "HEALTH", "Scanner errors"):
        assert other not in out.text and other not in out.html, other
    assert "431" in out.text and "99.8%" in out.text and out.images == ()
