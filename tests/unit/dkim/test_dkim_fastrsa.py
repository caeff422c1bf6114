"""The OpenSSL RSA path gives byte-identical signatures to dkimpy's own arithmetic, and
they verify."""

import hashlib

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from privacy_filters.dkim import fastrsa

MESSAGE = (b"From: Alice <alice@shop.example>\r\nTo: bob@far.example\r\nSubject: invoice\r\n"
           b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n\r\n" + b"Please find the invoice attached.\r\n" * 40)


def _pem(bits=2048):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption())
    pub = k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(pub)


def test_signatures_are_the_same_bytes_as_dkimpys_and_verify():
    pem, record = _pem()
    key = dkim.crypto.parse_pem_private_key(pem)
    for name in ("sha256", "sha1"):
        h = hashlib.new(name, b"the header hash")
        assert fastrsa.sign(h.copy(), key) == fastrsa._original(h.copy(), key)
    fastrsa.install()
    try:
        fast = dkim.sign(MESSAGE, b"s1", b"shop.example", pem)
        fastrsa.uninstall()
        slow = dkim.sign(MESSAGE, b"s1", b"shop.example", pem)
    finally:
        fastrsa.install()
    assert fast == slow
    assert dkim.verify(fast + MESSAGE, dnsfunc=lambda name, timeout=5: record)


def test_the_key_parse_is_remembered_and_gives_dkimpys_answer():
    pem, _ = _pem()
    first = fastrsa.parse_pem_private_key(pem)
    assert first == fastrsa._original_parse(pem)
    first["modulus"] = 0  # a caller changing its copy changes nothing for the next
    assert fastrsa.parse_pem_private_key(pem) == fastrsa._original_parse(pem)
    assert fastrsa._parsed.cache_info().hits >= 1
    import pytest
    with pytest.raises(dkim.crypto.UnparsableKeyError):
        fastrsa.parse_pem_private_key(b"not a key")
    fastrsa.install()
    assert dkim.parse_pem_private_key is fastrsa.parse_pem_private_key
