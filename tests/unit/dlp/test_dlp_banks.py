import pytest

from privacy_milter.model import Confidence
from privacy_filters.dlp import scan

from dlp_helpers import categories, make_iban, message

DE = make_iban("DE", "500105175407324931")
FR = make_iban("FR", "30006000011234567890189")


def grouped(iban: str) -> str:
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


@pytest.mark.parametrize("body", [
    f"Please transfer to IBAN {DE}.",
    f"Bankverbindung: {grouped(DE)} BIC COBADEFFXXX",
    f"Kontoinhaber;IBAN\nMax;{grouped(FR)}\n",
    f"Merci de faire le virement sur {grouped(FR)}, merci",
])
def test_iban_found(scan_text, body):
    assert "iban" in categories(scan_text(body))


@pytest.mark.parametrize("body", [
    f"Reference: {DE[:4]}{(int(DE[4]) + 1) % 10}{DE[5:]}",           # checksum fails
    f"Reference {DE}1234",                                             # longer than DE allows
    "The example IBAN GB82 WEST 1234 5698 7654 32 from the standard.",
])
def test_iban_lookalikes_ignored(scan_text, body):
    assert "iban" not in categories(scan_text(body))


@pytest.mark.parametrize("body", [
    "Please pay into sort code 20-00-00, account 12345678. Thanks",
    "S/C 20-00-00 A/C 12345678",
    "Account number: 12345678\nSort code: 200000",
    "Sort Code\tAccount Number\n20 00 00\t12345678\n",
    "Our bank details changed: HSBC, 40.47.84 account no. 12345678",
    "Acc No: 12345678 Sort: 20-00-00",
    "Account Number | Sort Code\n12345678 | 20-00-00",
    "Bank details: Barclays 20-00-00 12345678",
    "Sort code 40 11 62 account number 2145 8732",
])
def test_uk_account_found(scan_text, body):
    assert "uk_bank_account" in categories(scan_text(body))


@pytest.mark.parametrize("body", [
    "Meeting on 12-11-26, your customer account number is 12345678.",
    "Sort code 20-00-00 is for the branch; no account given.",
    "Call 01632 960001 about order 12345678 on 20-03-24.",
    "Meeting 12-11-26 12345678 bank holiday",
    "Sort code 40-11-62 tel 0207 2145 8732",
])
def test_uk_lookalikes_ignored(scan_text, body):
    assert "uk_bank_account" not in categories(scan_text(body))


def _table(tmp_path, method="MOD10", weights="0 0 0 0 0 0 0 0 0 0 0 0 0 1"):
    # A synthetic one-row table: for 200000-200099 the last account digit times 1, mod 10.
    path = tmp_path / "valacdos.txt"
    path.write_text(f"200000 200099 {method} {weights}\n")
    return path


def test_modulus_pass_raises_and_fail_lowers(tmp_path):
    table = _table(tmp_path)
    passing = message("Account details: 20-00-01 account 12345670, please pay")
    failing = message("Account details: 20-00-01 account 12345678, please pay")
    assert scan(passing, modulus_table=table).findings[0].confidence is Confidence.HIGH
    low = scan(failing, modulus_table=table).findings[0].confidence
    assert low < scan(failing).findings[0].confidence


def test_modulus_unknown_sort_code_unchanged(tmp_path):
    table = _table(tmp_path)
    raw = message("Sort code 30-00-00, account 12345678")
    assert scan(raw, modulus_table=table).findings == scan(raw).findings


def test_modulus_missing_file_is_ignored(tmp_path):
    raw = message("Sort code 30-00-00, account 12345678")
    assert scan(raw, modulus_table=tmp_path / "absent.txt").findings == scan(raw).findings


def test_iban_wrapped_over_two_lines(scan_text):
    g = grouped(FR)
    assert "iban" in categories(scan_text(f"Please pay to IBAN {g[:14]}\n{g[15:]}\nThanks"))
