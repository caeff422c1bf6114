import pytest

from privacy_milter.model import Confidence

from dlp_helpers import categories, luhn_complete

VISA = luhn_complete("4929", 16)
MC2 = luhn_complete("2305", 16)
AMEX = luhn_complete("3741", 15)


def spaced(number: str, groups: tuple[int, ...] = (4, 4, 4, 4), sep: str = " ") -> str:
    out, i = [], 0
    for g in groups:
        out.append(number[i:i + g])
        i += g
    return sep.join(out)


@pytest.mark.parametrize("body", [
    f"Please charge my Visa {spaced(VISA)} expiring 09/28.",
    f"card: {VISA}",
    f"Kreditkarte {spaced(MC2, sep='-')}, gültig bis 10/27",
    f"Amex {spaced(AMEX, (4, 6, 5))} CVV 1234",
    f"Numéro de carte : {spaced(VISA, sep='.')}",
    f"name,card,expiry\nJo Bloggs,{VISA},01/29\n",
    f"CC# {VISA}",
])
def test_cards_found(scan_text, body):
    report = scan_text(body)
    assert "payment_card" in categories(report)
    assert report.findings[0].confidence >= Confidence.MEDIUM


@pytest.mark.parametrize("body", [
    f"Your order number is {VISA} and it ships tomorrow.",
    f"Tracking number {spaced(VISA)} 5521",                  # part of a longer run
    "Use the test card 4111 1111 1111 1111 in the sandbox.",
    "Card ending 1234: **** **** **** 1234",
    f"Reference {VISA[:-1] + str((int(VISA[-1]) + 1) % 10)} card",  # fails Luhn
    "Call 0800 123 4567 8901 today",
    f"Meeting ID {spaced(VISA)}",
    f"Fixes: https://fuzz.example.org/testcase-detail/{VISA}",
    f"Crash {VISA} in src/main.cc",          # "cc" the file extension, not a card word
])
def test_card_lookalikes_ignored(scan_text, body):
    assert "payment_card" not in categories(scan_text(body))


def test_html_entities_and_tags_do_not_split_numbers(scan_text):
    html = f"<p>Visa&nbsp;card: <b>{VISA[:8]}</b>{VISA[8:]}</p><p>exp 01/30</p>"
    assert "payment_card" in categories(scan_text("see html", html=html))


def test_same_card_in_text_and_html_counts_once(scan_text):
    body = f"My card is {spaced(VISA)}"
    report = scan_text(body, html=f"<p>{body}</p>")
    assert report.findings[0].count == 1


def test_two_cards_count_two(scan_text):
    report = scan_text(f"card {spaced(VISA)}\nand the other card {spaced(MC2)}")
    assert report.findings[0].count == 2


def test_grouped_card_without_words_is_low(scan_text):
    report = scan_text(f"My number is {spaced(VISA)}")
    assert report.findings[0].confidence is Confidence.LOW


def test_a_card_word_and_an_expiry_outweigh_an_order_word_between_them():
    """Found by the metrics scrape test: 'Card for the order: N exp 09/27' was accepted."""
    from privacy_filters.dlp import scan
    from privacy_milter.model import Confidence

    def cards(text):
        raw = ("From: a@b\r\nSubject: x\r\n\r\n" + text + "\r\n").encode()
        return [(f.confidence, f.rules) for f in scan(raw).findings if f.category == "payment_card"]

    assert cards("Card for the order: 4539 1488 0343 6467 exp 09/27") == [(Confidence.HIGH, ("card.luhn_iin_context",))]
    assert cards("Order 4539 1488 0343 6467") == []                      # an order number stays one
    assert cards("Order number 4539148803436467 placed 09/27") == []     # a date is not an expiry word's card


# Issue 29: an ordinary word (booking, membership, ticket, policy, phone, test) next to the word
# card may lower the confidence of a Luhn-valid number with a real issuer prefix; it must never
# erase the finding.
@pytest.mark.parametrize("body", [
    f"Here is the card for the hotel booking: {VISA}",
    f"Use my card for the membership renewal, {spaced(MC2)}",
    f"Card to pay the ticket: {spaced(VISA, sep='-')}",
    f"The card on the insurance policy is {VISA}",
    f"As I said about the card on the phone: {spaced(VISA)}",
    f"You can test it with my card {spaced(MC2)}",
    f"card for the booking reference {spaced(AMEX, (4, 6, 5))}",
])
def test_ordinary_word_next_to_card_never_vetoes(scan_text, body):
    report = scan_text(body)
    assert "payment_card" in categories(report), body
