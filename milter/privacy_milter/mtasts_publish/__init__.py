"""MTA-STS for the hosted domains (RFC 8461, publishing side) and its TLS-RPT record (RFC 8460).

`settings` reads `[mta_sts]`; `publish` turns a domain's settings into its policy file and
DNS records (pure); `check` does what a sending MTA does and says what is wrong; `starttls`
fetches the certificate an MX presents; `command` is `privacy-milter mta-sts publish|check`.
The policy text parser and the MX pattern matcher are the outbound client's
(tlspolicy/mtasts_policy.py, tlspolicy/model.py): one piece of code reads policies.
"""
