"""RSA signatures for dkimpy through OpenSSL (the `cryptography` package) instead of
Python big-integer arithmetic: about 13 ms of CPU per rsa-sha256 signature becomes well
under 1 ms, which counts against the throughput budget on every signed message.

RSASSA-PKCS1-v1_5 is deterministic, so the signature is the same bytes dkimpy would make
(tests/unit/dkim/test_dkim_fastrsa.py compares them). dkimpy looks its signing function up
in its module at call time; `install()` puts this one there, keeping dkimpy's own as the
fallback for anything unexpected (an unknown hash, a key cryptography refuses).

dkimpy also parses the PEM key (base64 and its own ASN.1 reader, in Python) on every
signature: about a tenth of a signature's CPU. `install()` puts a cached parse in its place
(the same function, its answer kept per key; each call gets its own copy of the dict).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

log = logging.getLogger("privacy_filters.dkim")

_HASHES = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}
_original = dkim.RSASSA_PKCS1_v1_5_sign
_original_parse = dkim.parse_pem_private_key


@functools.lru_cache(maxsize=64)
def _parsed(data: bytes) -> tuple[tuple[str, Any], ...]:
    return tuple(_original_parse(data).items())


def parse_pem_private_key(data: bytes) -> dict[str, Any]:
    """dkim.crypto.parse_pem_private_key, remembered per key (a failure is not remembered)."""
    return dict(_parsed(bytes(data)))


@functools.lru_cache(maxsize=64)
def _key(n: int, e: int, d: int, p: int, q: int, dmp1: int, dmq1: int, iqmp: int) -> rsa.RSAPrivateKey:
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, public).private_key()


def sign(hash_object: Any, private_key: dict[str, int]) -> bytes:
    """dkim.crypto.RSASSA_PKCS1_v1_5_sign's contract: a hashlib object, dkimpy's key dict."""
    algorithm = _HASHES.get(getattr(hash_object, "name", ""))
    if algorithm is None:
        return bytes(_original(hash_object, private_key))
    try:
        key = _key(private_key["modulus"], private_key["publicExponent"], private_key["privateExponent"],
                   private_key["prime1"], private_key["prime2"], private_key["exponent1"],
                   private_key["exponent2"], private_key["coefficient"])
    except (KeyError, ValueError) as exc:
        log.debug("dkim: OpenSSL refused the key (%s); signing in Python", type(exc).__name__)
        return bytes(_original(hash_object, private_key))
    return key.sign(hash_object.digest(), padding.PKCS1v15(), utils.Prehashed(algorithm()))


def install() -> None:
    dkim.RSASSA_PKCS1_v1_5_sign = sign
    dkim.parse_pem_private_key = parse_pem_private_key


def uninstall() -> None:
    dkim.RSASSA_PKCS1_v1_5_sign = _original
    dkim.parse_pem_private_key = _original_parse
