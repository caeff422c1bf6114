"""Issue 29: a number is the same number however its digit groups are separated and in
whichever script its digits are written. Each case names its principle."""

import unicodedata

import pytest

from privacy_milter.model import Confidence

from dlp_helpers import categories, luhn_complete, scan_text

VISA = luhn_complete("4929", 16)


def grouped(number: str, sep: str, size: int = 4) -> str:
    return sep.join(number[i:i + size] for i in range(0, len(number), size))


def in_script(number: str, zero: int) -> str:
    """The digits written with the script whose zero is the code point `zero`."""
    return "".join(chr(zero + int(d)) for d in number)


@pytest.mark.parametrize("sep", ["·", "•", "/", "_", "|", ",", " / ", " | "])
def test_card_groups_with_any_separator(sep):
    report = scan_text(f"My card number: {grouped(VISA, sep)}")
    assert "payment_card" in categories(report), sep


def test_card_with_a_space_between_every_digit():
    assert "payment_card" in categories(scan_text(f"Card number: {' '.join(VISA)}"))


def test_card_in_two_groups_of_eight():
    report = scan_text(f"Visa card {grouped(VISA, ' ', 8)}")
    assert "payment_card" in categories(report)
    assert report.findings[0].confidence is Confidence.HIGH


ZEROS = {"arabic-indic": 0x0660, "extended arabic-indic": 0x06F0, "devanagari": 0x0966,
         "bengali": 0x09E6, "thai": 0x0E50, "tamil": 0x0BE6}


@pytest.mark.parametrize("script", sorted(ZEROS))
def test_card_in_digits_of_another_script(script):
    zero = ZEROS[script]
    assert unicodedata.digit(chr(zero + 7)) == 7
    report = scan_text(f"Card number: {grouped(in_script(VISA, zero), ' ')}")
    assert "payment_card" in categories(report), script


def test_every_unicode_decimal_digit_is_folded():
    from privacy_filters.dlp.scanner import normalise

    for cp in range(0x110000):
        ch = chr(cp)
        if unicodedata.category(ch) == "Nd":
            assert normalise(ch) == str(unicodedata.digit(ch)), hex(cp)


@pytest.mark.parametrize("body", [
    "Dates: 2024/06/11, 2024/07/12 and 2024/08/13",
    "Scores 4929|1234|5678|9012 in the table",   # Luhn-invalid (checked below)
    "Version 4.9.2.9_1.2.3.4_5.6.7.8_9.0.1.2",
])
def test_separators_do_not_make_cards_of_other_numbers(body):
    assert "payment_card" not in categories(scan_text(body))


from dlp_helpers import make_iban  # noqa: E402

IBAN = make_iban("GB", "WEST12345698765432")


@pytest.mark.parametrize("sep", ["·", "•", "/", "_", "|", ".", ","])
def test_iban_groups_with_any_separator(sep):
    body = f"IBAN: {grouped(IBAN, sep)}"
    assert "iban" in categories(scan_text(body)), body


@pytest.mark.parametrize("sep", ["·", "•", "_", "|"])
def test_sort_code_with_any_separator(sep):
    body = f"Sort code: 30{sep}11{sep}52\nAccount number: 40918273"
    assert "uk_bank_account" in categories(scan_text(body)), body


def test_account_written_nnnn_dash_nnnn():
    assert "uk_bank_account" in categories(scan_text("Sort code: 30-11-52\nAccount number: 4091-8273"))


# Credentials on a command line: a password option's value (glued -pX, --password=X,
# sshpass -p X) or the secret half of -u user:secret.
@pytest.mark.parametrize("body", [
    "Connect with: mysql -u admin -pKq7vR2mZx9 -h db.internal",
    "curl -u deploy:Wq8#nL4pZt2v https://api.internal.acme.co.uk/v1",
    "sshpass -p 'Tz6!mQ2wLx9c' ssh root@10.0.0.5",
    "pg_dump --password=Rf5tG7yHq2Lk -h db1 sales",
])
def test_command_line_password_option(body):
    assert "password" in categories(scan_text(body)), body


@pytest.mark.parametrize("body", [
    "mkdir -p /var/lib/privacy-milter && cp -p notes.txt backup/",
    "ssh -p 2222 admin@host.internal",
    "mysql -u admin -p -h db.internal   (it asks for the password)",
    "curl -u $USER:$TOKEN https://api.internal.acme.co.uk",
    "mysql --password=\"$DB_PASS\" -h db",
    "tar -cvf - . | gzip -9 > out.tgz; python -m pytest -p no:cacheprovider",
])
def test_command_line_without_a_secret(body):
    assert "password" not in categories(scan_text(body)), body
