"""UK bank details by the principle of issue 24: a sort code and an account number near each
other are a bank detail whatever their order, separators, line breaks, labels or language;
the words around only raise or lower the confidence. Each case names its principle; the
wordings are this file's own. All numbers are synthetic."""

import pytest

from privacy_milter.model import Confidence

from dlp_helpers import scan_text

H, M = Confidence.HIGH, Confidence.MEDIUM


def _uk(text: str):
    return next((f for f in scan_text(text).findings if f.category == "uk_bank_account"), None)


FOUND = [
    ("account first", "Account 40918273, sort code 30-11-52", H),
    ("labels on lines of their own", "Sort code:\n30-11-52\nAccount number:\n40918273", H),
    ("French labels", "code guichet 30-11-52 numéro de compte 40918273", H),
    ("Welsh labels", "Cod didoli: 30-11-52\nRhif cyfrif: 40918273", H),
    ("Italian, label after", "Numero di conto 40918273 codice 30-11-52 (sort code)", H),
    ("abbreviations", "SC 301152\nAC 40918273", H),
    ("account on the line above, a bank's name below", "40918273\n60-11-52\n(my Barclays)", M),
    # a sort code that is also a valid dd-mm-yy date needs a word for sort code or account
    ("a bank word labels the pair", "ma banque (UK) : 301152 40918273", M),
    ("a payment word, spaced sort code", "please pay to 30 11 52 40918273 thanks", M),
    ("a heading above, the pair on two lines", "Details for the transfer\n30-11-52\n40918273", M),
]


@pytest.mark.parametrize("principle,text,confidence", FOUND, ids=[p for p, _, _ in FOUND])
def test_pair_found(principle, text, confidence):
    finding = _uk(text)
    assert finding is not None, principle
    assert finding.confidence is confidence, (principle, finding)


QUIET = [
    ("a sort code alone", "Sort code 30-11-52"),
    ("an account number alone", "Account number 40918273"),
    ("a masked account", "Sort code 30-11-52, account ****8273"),
    ("a London number", "Call 020 79460958 or 020 7946 0958 about your bank account"),
    ("a date and an invoice", "Paid on 12-03-25, invoice 40918273"),
    ("next to a yyyymmdd date", "Bank export 20250314 30-11-52 done"),
    ("a date-shaped pair with a bank word far off", "Meeting 14-10-26 40918273 (bank holiday)"),
    ("a date-shaped pair with only a bank's name", "Lloyds AGM 14-10-26 40918273 shares voted"),
    ("labelled as other numbers", "Bestellnummer 301152, Sendungsnummer 40918273"),
]


@pytest.mark.parametrize("principle,text", QUIET, ids=[p for p, _ in QUIET])
def test_not_a_pair(principle, text):
    assert _uk(text) is None, principle


# Issue 29 defect (b): eight digits that are a yyyymmdd date or the subscriber part of a UK phone
# number written after its area code are not an account, whatever sort code stands near them.
NOT_A_PAIR = [
    ("a yyyymmdd date after a sort code", "Our sort code 30-11-52 changed on 20240611, nothing else."),
    ("a yyyymmdd date, bank words around", "Bank details: sort code 30-11-52 (updated 20240611)."),
    ("account words, then a date", "Sort code 30-11-52: account details changed on 20240611."),
    ("a date after the account word", "Account 30-11-52 updated 20240611"),
    ("a London number after its area code", "Sort code 30-11-52. Questions? Ring 020 79460958."),
    ("an area code in brackets", "Sort code 30-11-52, branch (020) 79460958"),
    ("a Manchester number", "sort code 30-11-52 / branch line 0161 4960123"),
]


@pytest.mark.parametrize("principle,text", NOT_A_PAIR, ids=[p for p, _ in NOT_A_PAIR])
def test_date_or_phone_is_not_an_account(principle, text):
    assert _uk(text) is None, principle


def test_account_after_sort_code_in_spaced_pairs_still_found():
    assert _uk("Sort code 20 00 00 40918273") is not None
