"""MTA-STS text formats (RFC 8461): the `_mta-sts` TXT record and the policy file.
Pure functions, no I/O."""

from __future__ import annotations

import re

from privacy_milter.tlspolicy.model import Mode, MtaStsError, MtaStsPolicy

_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_MAX_AGE = re.compile(r"[0-9]{1,10}")


def parse_txt(records: list[str]) -> str | None:
    """The policy id from the TXT strings of `_mta-sts.DOMAIN`, or None when the domain has
    no usable record (RFC 8461 §3.1: records not starting with v=STSv1 are discarded; not
    exactly one left, or that one malformed, means no policy)."""
    candidates = [r for r in records if r.startswith("v=STSv1")]
    if len(candidates) != 1:
        return None
    fields: dict[str, str] = {}
    for part in candidates[0].split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key:
            return None
        fields.setdefault(key, value)
    if fields.get("v") != "STSv1":
        return None
    policy_id = fields.get("id", "")
    return policy_id if _ID.fullmatch(policy_id) else None


def valid_mx_pattern(pattern: str) -> bool:
    host = pattern.removeprefix("*.")
    labels = host.split(".")
    return len(host) <= 253 and len(labels) >= 2 and all(_LABEL.fullmatch(lab) for lab in labels)


def parse_policy(text: str, *, max_max_age: int = 31557600) -> MtaStsPolicy:
    """Parse and validate a policy file. Raises MtaStsError naming the first problem."""
    fields: dict[str, str] = {}
    mx: list[str] = []
    for raw in re.split(r"\r?\n", text):
        line = raw.strip(" \t")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise MtaStsError(f"policy line without ':': {line[:60]!r}")
        key, value = key.strip(" \t"), value.strip(" \t")
        if key == "mx":
            mx.append(value.lower().rstrip("."))
        else:
            fields.setdefault(key, value)  # the first occurrence counts; unknown keys are ignored
    if fields.get("version") != "STSv1":
        raise MtaStsError("policy version is not STSv1")
    try:
        mode = Mode(fields.get("mode", ""))
    except ValueError:
        raise MtaStsError(f"policy mode {fields.get('mode', '')[:20]!r} is not enforce, testing or none") from None
    max_age_text = fields.get("max_age", "")
    if not _MAX_AGE.fullmatch(max_age_text):
        raise MtaStsError("policy max_age is missing or not a number")
    max_age = int(max_age_text)
    if max_age > max_max_age:
        raise MtaStsError(f"policy max_age {max_age} exceeds {max_max_age}")
    for pattern in mx:
        if not valid_mx_pattern(pattern):
            raise MtaStsError(f"policy mx {pattern[:80]!r} is not a host name or *.domain pattern")
    if mode is not Mode.NONE and not mx:
        raise MtaStsError(f"policy in mode {mode.value} lists no mx")
    return MtaStsPolicy(mode=mode, mx=tuple(dict.fromkeys(mx)), max_age=max_age)
