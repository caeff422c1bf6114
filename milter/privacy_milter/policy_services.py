"""The old name of policy_sections.py (issue 25: these are settings, not services).

TEMPORARY, for code written against the old name while branches merge (doctor/policy_checks.py
imports smtp_warnings from here): import from policy_sections instead, then delete this file.
"""

from .policy_sections import smtp_warnings as smtp_warnings

__all__ = ["smtp_warnings"]
