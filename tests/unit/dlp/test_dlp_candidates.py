"""Candidate-first passwords (candidates.py): each case names the principle it tests, in
wordings of this file's own. The first group are the misses issue 24 names (`pw X`,
`passwd X` on the line after `login Y`, a key for a named device, an access code in German
or French without the word for password), each in other words than the issue's; the rest
hold each kind of evidence and each kind of evidence against. All values are synthetic."""

import pytest

from privacy_milter.model import Confidence

from dlp_helpers import scan_text

H, M = Confidence.HIGH, Confidence.MEDIUM


def _password(text: str):
    return next((f for f in scan_text(text).findings if f.category == "password"), None)


# (principle, text, confidence, symbol)
FOUND = [
    # a short label with no separator: the value's shape carries it
    ("short label, no separator", "new one: pw Kettle8Drum", H, "password.cand_label_same_line"),
    ("short label, no separator", "ta pwd ici Bruyere4Lac", H, "password.cand_label_same_line"),
    # a user on one line, the secret on the next, each under its own short label
    ("user line above", "login dkaur\npasswd Tundra5-Fig", H, "password.cand_label_same_line"),
    ("user line above", "uid: m.ortega\n\npwd Marble+Oak72", H, "password.cand_label_same_line"),
    # a key named by the device it opens: an ambiguous word with a word of access
    ("key for a named device", "the key for the NAS in the cupboard is Vq7-Lemon-33",
     H, "password.cand_label_same_line"),
    ("key for a named device", "Schlüssel für den Router: Hafen7Kran", H,
     "password.cand_label_same_line"),
    # an access code in German or French with no word for password
    ("access code, German", "Ihr Zugangscode lautet Wolke3Zaun", H, "password.cand_label_same_line"),
    ("access code, French", "Votre code d'accès : Ecluse5Pin", H, "password.cand_kv_key"),
    ("door code, French, digits", "le digicode de l'immeuble est 4719", M,
     "password.cand_label_same_line"),
    # the label after the value
    ("label after the value", "Gravel9Mint is the new wifi password", H,
     "password.cand_label_after"),
    # the heading above, the value alone on its line
    ("heading above", "Dein neues Kennwort:\n\n    Eule4Moor-Tal\n", H, "password.cand_header_above"),
    # a CSV column named by its header
    ("column header", "name;email;passwort\nAnna;anna@firma.example;Rabe7Stein\n", H,
     "password.cand_table_column"),
    # a key=value setting whose key names the secret
    ("key=value", "DB_PASS=Quartz-81-Wren", H, "password.cand_kv_key"),
    # other lexicon languages than English, German and French
    ("Polish, inflected", "Zaloguj się hasłem Sosna5Brzeg", H, "password.cand_label_same_line"),
    ("Welsh", "Y cyfrinair yw Draig7Mor", H, "password.cand_label_same_line"),
    ("Finnish, suffix", "Salasanasi on Kuusi4Jarvi", H, "password.cand_label_same_line"),
    ("Irish", "An pasfhocal: Tonn3Cnoc", H, "password.cand_kv_key"),
    # a PIN of a named device
    ("PIN with its device", "Die PIN für die SIM lautet 8306", M, "password.cand_label_same_line"),
]


@pytest.mark.parametrize("principle,text,confidence,symbol", FOUND,
                         ids=[f"{p}: {t[:30]}" for p, t, _, _ in FOUND])
def test_found(principle, text, confidence, symbol):
    finding = _password(text)
    assert finding is not None, principle
    assert (finding.confidence, symbol in finding.rules) == (confidence, True), (principle, finding)


# (principle, text): a secret-shaped value the evidence does not make a password
QUIET = [
    ("promo code", "Use code SPRING24X at checkout for 20% off."),
    ("reset notice", "Forgot your password? Reset it at https://example.org/reset?t=Zx81Qp"),
    ("policy text", "Passwords must include a digit, e.g. Summer2024 is too weak."),
    ("example value", "Password: Abcd1234 (example only)"),
    ("sent another way", "Your password will be sent separately by SMS."),
    ("conference passcode", "Meeting ID: 845 991 2203\nPasscode: Qr7Tz2"),
    ("conference, French", "ID de réunion : 612 004 7781\nMot de passe : Lm4Kx9"),
    ("order number under a code word", "code: ORD-2025-88412"),
    ("tracking number", "Tracking code 1Z999AA10123456784 out for delivery"),
    ("a word glued to a secret word", "the passenger list is Alpha7Bravo"),
    ("a setting named after something else", "password_min_length = 12chars"),
    ("ambiguous word alone", "PASS: unit2test suite"),
    ("version after key", "key: v2.4.1"),
    ("hash after key", "key = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    ("GUID after code", "code 7c9e6679-7425-40de-944b-e07fc1f90ae7"),
    ("year then a word", "The code for the gate: 2025 works start soon."),
    ("user name is not the password", "Username: jsmith42"),
    ("masked value", "Password: ********"),
    # shapes from real ham (SpamAssassin public corpus), reworded: each was flagged once
    ("a key ID in hexadecimal", "--\nJo Bloggs  jo@example.net  GPG key ID: 7D3E90AC"),
    ("a value of one letter repeated", "> Your address: xxxx@xxxx.xx\n> password: xxxxxxxxx"),
    ("a code inside a link", "Order now: https://shop.example.com/buy?promo_code=7QX428"),
    ("a code inside a link, on its own line", "click here now:\nhttp://shop.example.com/b.htm?promo_code=1QE728"),
    ("a word with a symbol at its edge", "support for an external passphrase agent (+patch)"),
    ("a key word in prose, nothing linking", "covers the key Oracle9i features in depth"),
    ("a code word in a headline", "Vendor donates its curve code to OpenSSL?"),
    ("a registry path", "registry key HKLM\\Software\\Vendor\\Key7"),
]


@pytest.mark.parametrize("principle,text", QUIET, ids=[p for p, _ in QUIET])
def test_quiet(principle, text):
    assert _password(text) is None, principle


def test_no_value_leaves_the_scanner():
    """The finding says which evidence fired; the value itself is nowhere in the report."""
    report = scan_text("login dkaur\npasswd Tundra5-Fig")
    assert "Tundra5-Fig" not in repr(report)
    from privacy_filters.dlp.scanner import detect
    hits = list(detect("login dkaur\npasswd Tundra5-Fig"))
    assert hits and all("Tundra5-Fig" not in repr(h) and h.shown == "T•••••••••g" for h in hits)
