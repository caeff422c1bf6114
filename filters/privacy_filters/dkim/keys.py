"""DKIM keys: load and check a private key file, generate one, and check its DNS record.

Key files use the formats the DKIM tools share: RSA as PEM (PKCS#1 "RSA PRIVATE KEY", as
opendkim-genkey and dknewkey write it, or PKCS#8), Ed25519 as dknewkey writes it (the
base64 of the 32-byte seed, one line) or as PKCS#8 PEM. keygen writes PKCS#1 for RSA and
the base64 seed for Ed25519, so keys move to and from dkimpy-milter unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from .dns import DnsNameError, DnsTemporaryError, TxtResolver

Algorithm = Literal["rsa-sha256", "ed25519-sha256"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa-sha256", "ed25519-sha256")
RSA_MIN_BITS = 2048
RSA_KEYGEN_BITS = 2048


class KeyProblem(Exception):
    """A key file that cannot be used; the message names the file and says what to do."""


@dataclass(frozen=True)
class SigningKey:
    """A private key ready for dkimpy, with what an admin and the DNS need to know."""

    selector: str
    algorithm: Algorithm
    key_file: Path
    bits: int
    public: bytes = field(repr=False)         # RSA: DER SubjectPublicKeyInfo; Ed25519: 32 raw bytes
    material: bytes = field(repr=False, compare=False)  # what dkimpy's sign() takes as privkey
    active: bool = True                       # False: configured and checked, not yet signing


def _check_file_mode(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyProblem(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyProblem(f"cannot read key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyProblem(f"key file {path} is not a regular file")
    if st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode)
        raise KeyProblem(f"key file {path} is readable or writable by group or others (mode {mode:04o}); "
                         f"a private key must be the daemon user's alone: chmod 600 {path}")


def load_key(path: Path, algorithm: Algorithm, selector: str, active: bool = True) -> SigningKey:
    """Read and check a private key file. Raises KeyProblem with an admin-readable message."""
    _check_file_mode(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyProblem(f"cannot read key file {path}: {exc.strerror}") from None
    if algorithm == "rsa-sha256":
        return _load_rsa(path, data, selector, active)
    return _load_ed25519(path, data, selector, active)


def _load_rsa(path: Path, data: bytes, selector: str, active: bool) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyProblem(f"key file {path} is not an unencrypted PEM private key "
                         "(algorithm rsa-sha256)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyProblem(f"key file {path} does not hold an RSA key, but the algorithm is rsa-sha256")
    if key.key_size < RSA_MIN_BITS:
        raise KeyProblem(f"key file {path} holds a {key.key_size}-bit RSA key; at least "
                         f"{RSA_MIN_BITS} bits are required (make a new one with dkim keygen)")
    pkcs1 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return SigningKey(selector, "rsa-sha256", path, key.key_size, public, pkcs1, active)


def _load_ed25519(path: Path, data: bytes, selector: str, active: bool) -> SigningKey:
    key: ed25519.Ed25519PrivateKey | None = None
    if b"-----BEGIN" in data:
        try:
            loaded = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            loaded = None
        if isinstance(loaded, ed25519.Ed25519PrivateKey):
            key = loaded
    else:
        try:
            seed = base64.b64decode(data.strip(), validate=True)
            if len(seed) == 32:
                key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        except (binascii.Error, ValueError):
            key = None
    if key is None:
        raise KeyProblem(f"key file {path} is not an Ed25519 private key (the base64 seed dknewkey "
                         "writes, or PKCS#8 PEM), but the algorithm is ed25519-sha256")
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(selector, "ed25519-sha256", path, 256, public, base64.b64encode(seed), active)


def dns_record(key: SigningKey) -> str:
    """The TXT record text to publish at SELECTOR._domainkey.DOMAIN."""
    k = "rsa" if key.algorithm == "rsa-sha256" else "ed25519"
    return f"v=DKIM1; k={k}; p={base64.b64encode(key.public).decode('ascii')}"


def zone_line(domain: str, selector: str, record: str) -> str:
    """The record as a zone-file line, split into strings of at most 255 characters (RFC 1035)."""
    chunks = [record[i:i + 250] for i in range(0, len(record), 250)]
    quoted = " ".join(f'"{c}"' for c in chunks)
    return f"{selector}._domainkey.{domain}. IN TXT ( {quoted} )"


def keygen(domain: str, selector: str, algorithm: Algorithm, directory: Path) -> tuple[Path, str]:
    """Write a new private key, mode 0600, to DIRECTORY/DOMAIN.SELECTOR.key; never overwrite.

    Returns the path and the TXT record text. Run it as the daemon user (or chown the file
    afterwards): the daemon refuses a key file that group or others can read.
    """
    path = Path(directory) / f"{domain}.{selector}.key"
    if algorithm == "rsa-sha256":
        rkey = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEYGEN_BITS)
        data = rkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption())
    else:
        ekey = ed25519.Ed25519PrivateKey.generate()
        seed = ekey.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())
        data = base64.b64encode(seed) + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyProblem(f"{path} exists already; keygen never overwrites a key "
                         "(pick a new selector, or move the old file away)") from None
    except OSError as exc:
        raise KeyProblem(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask said
        os.write(fd, data)
    finally:
        os.close(fd)
    key = load_key(path, algorithm, selector)
    return path, dns_record(key)


# --- is the record published? ------------------------------------------------------------

CheckStatus = Literal["published", "missing", "mismatch", "dns_error"]


@dataclass(frozen=True)
class CheckResult:
    domain: str
    selector: str
    status: CheckStatus
    detail: str

    @property
    def ready(self) -> bool:
        return self.status == "published"


def _tags(record: bytes) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.decode("ascii", "replace").split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip()] = "".join(value.split())
    return tags


def _published_public(tags: dict[str, str]) -> tuple[str, bytes | None]:
    """(key type, public key bytes in our form) from a record's tags; bytes None if unreadable."""
    k = tags.get("k", "rsa")
    try:
        raw = base64.b64decode(tags.get("p", ""), validate=True)
    except (binascii.Error, ValueError):
        return k, None
    if k == "rsa" and raw:
        try:
            pub = serialization.load_der_public_key(raw)
        except ValueError:
            return k, None
        return k, pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return k, raw or None


async def check(domain: str, selector: str, key: SigningKey, resolver: TxtResolver,
                timeout: float = 5.0) -> CheckResult:
    """Whether SELECTOR._domainkey.DOMAIN publishes the public half of `key`."""
    name = f"{selector}._domainkey.{domain}"

    def result(status: CheckStatus, detail: str) -> CheckResult:
        return CheckResult(domain, selector, status, detail)

    try:
        records = await asyncio.wait_for(resolver(name), timeout)
    except DnsNameError:
        return result("missing", f"{name} does not exist")
    except (DnsTemporaryError, TimeoutError) as exc:
        return result("dns_error", f"lookup of {name} failed, try again: {exc or 'time-out'}")
    keys = [r for r in records if b"p=" in r]
    if not keys:
        return result("missing", f"{name} has no DKIM key record")
    if len(keys) > 1:
        return result("mismatch", f"{name} has {len(keys)} DKIM key records; publish exactly one")
    tags = _tags(keys[0])
    if tags.get("v", "DKIM1") != "DKIM1":
        return result("mismatch", f"{name}: v= must be DKIM1")
    k, public = _published_public(tags)
    want = "rsa" if key.algorithm == "rsa-sha256" else "ed25519"
    if k != want:
        return result("mismatch", f"{name} publishes k={k}, the key file is {want}")
    if public is None:
        return result("mismatch", f"{name}: p= is empty (revoked) or not a valid key")
    if public != key.public:
        return result("mismatch", f"{name} publishes a different public key than {key.key_file}")
    return result("published", f"{name} publishes this key")
