from privacy_filters.dlp.validators import (card_groups_ok, card_scheme, iban_ok, luhn_ok)

from dlp_helpers import luhn_complete, make_iban


def test_luhn():
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")


def test_card_schemes_by_prefix_and_length():
    assert card_scheme(luhn_complete("4", 16)) == "visa"
    assert card_scheme(luhn_complete("2221", 16)) == "mastercard"
    assert card_scheme(luhn_complete("2720", 16)) == "mastercard"
    assert card_scheme(luhn_complete("2721", 16)) is None
    assert card_scheme(luhn_complete("55", 16)) == "mastercard"
    assert card_scheme(luhn_complete("37", 15)) == "amex"
    assert card_scheme(luhn_complete("37", 16)) is None
    assert card_scheme(luhn_complete("6011", 16)) == "discover"
    assert card_scheme(luhn_complete("3530", 16)) == "jcb"
    assert card_scheme(luhn_complete("36", 14)) == "diners"
    assert card_scheme(luhn_complete("62", 16)) == "unionpay"
    assert card_scheme(luhn_complete("6759", 18)) == "maestro"
    assert card_scheme(luhn_complete("94", 16)) is None


def test_iban_lengths_and_checksum():
    iban = make_iban("DE", "370400440532013000")
    assert iban_ok(iban)
    assert not iban_ok(iban[:-1])                      # wrong length for DE
    assert not iban_ok(iban[:2] + "00" + iban[4:])     # check digits out of range
    bad = iban[:-1] + ("1" if iban[-1] != "1" else "2")
    assert not iban_ok(bad)
    assert iban_ok(make_iban("NO", "86011117947"))
    assert iban_ok(make_iban("MT", "MALT011000012345MTLCAST001S"))
    assert not iban_ok(make_iban("ZZ", "12345678901234"))


def test_card_grouping():
    assert card_groups_ok([16])
    assert card_groups_ok([4, 4, 4, 4])
    assert card_groups_ok([4, 6, 5])
    assert card_groups_ok([4, 4, 4, 4, 3])
    assert not card_groups_ok([5, 3, 4, 4])
    assert not card_groups_ok([4, 4, 8])
