"""DKIM (issue 9): sign hosted customers' outbound mail and verify inbound mail, with dkimpy.

A self-contained capability with typed inputs; the pipeline wiring lives elsewhere:
- settings: `[filters.dkim]` of policy.toml read into frozen dataclasses (keys loaded and checked);
- keys: load, generate and publish keys, and check the published record before use;
- sign: DKIM-Signature headers over the message exactly as it leaves the milter;
- verify: every inbound signature, DNS through an injected async resolver;
- cli: `privacy-milter dkim keygen|check`.
"""
