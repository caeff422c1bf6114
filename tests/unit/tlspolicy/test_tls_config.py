"""TlsPolicyConfig: safe defaults, validation at construction, pin lookup."""

from __future__ import annotations

import dataclasses

import pytest

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.model import Level


def test_tls_defaults_are_valid_and_frozen() -> None:
    config = TlsPolicyConfig()
    assert config.dane_enabled and config.mtasts_enabled
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.socket_path = "/tmp/x"  # type: ignore[misc]


def test_tls_pins_are_normalised_and_read_only() -> None:
    config = TlsPolicyConfig(pins={"Bank.Example.": "secure", ".corp.example": "dane-only", "x.example": Level.ENCRYPT})
    assert config.pins == {"bank.example": Level.SECURE, ".corp.example": Level.DANE_ONLY, "x.example": Level.ENCRYPT}
    with pytest.raises(TypeError):
        config.pins["new.example"] = Level.SECURE  # type: ignore[index]


@pytest.mark.parametrize("pins", [{"a.example": "may"}, {"a.example": "none"}, {"a.example": "dane"},
                                  {"": "secure"}, {"a b": "secure"}])
def test_tls_bad_pins_are_refused(pins: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="pins"):
        TlsPolicyConfig(pins=pins)


@pytest.mark.parametrize(("field", "value"), [
    ("dns_timeout", 0), ("request_timeout", -1), ("max_request_bytes", 0), ("cache_size", 0),
    ("mtasts_max_max_age", 31557601), ("socket_mode", 0o1000), ("socket_path", ""), ("probe_min_interval", -1),
])
def test_tls_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TlsPolicyConfig(**{field: value})  # type: ignore[arg-type]


def test_tls_pin_for_exact_then_parent() -> None:
    config = TlsPolicyConfig(pins={"corp.example": "secure", ".corp.example": "encrypt", "[relay.example]:587": "encrypt"})
    assert config.pin_for("corp.example") is Level.SECURE
    assert config.pin_for("mail.corp.example") is Level.ENCRYPT
    assert config.pin_for("a.b.corp.example") is Level.ENCRYPT
    assert config.pin_for(".corp.example") is Level.ENCRYPT
    assert config.pin_for("[relay.example]:587") is Level.ENCRYPT
    assert config.pin_for("[relay.example]") is None
    assert config.pin_for("other.example") is None
