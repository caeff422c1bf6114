"""Real-format reports for the tests, written from the RFCs' examples and schemas:
TLS-RPT as RFC 8460 Appendix B (JSON, schema of §4.4), DMARC aggregate as RFC 7489
Appendix C (the XML schema), and the mails reporters send them in (RFC 8460 §5.3:
multipart/report with application/tlsrpt+gzip; DMARC: a zip or gzip attachment)."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zipfile
import zlib
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any


def tlsrpt_json(org: str, report_id: str, domain: str, successful: int,
                failures: dict[str, int], day: str = "2026-11-24") -> bytes:
    details: list[dict[str, Any]] = []
    for i, (kind, count) in enumerate(failures.items()):
        details.append({"result-type": kind, "sending-mta-ip": f"2001:db8:abcd:12::{i + 1}",
                        "receiving-mx-hostname": f"mx1.{domain}", "receiving-ip": "203.0.113.56",
                        "failed-session-count": count,
                        "additional-information": "https://reports.company-x.example/report_info?id=5065427c"})
    doc = {
        "organization-name": org,
        "date-range": {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"},
        "contact-info": f"sts-reporting@{org.lower().replace(' ', '')}.example",
        "report-id": report_id,
        "policies": [{
            "policy": {"policy-type": "sts",
                       "policy-string": ["version: STSv1", "mode: testing", f"mx: mx1.{domain}", "max_age: 86400"],
                       "policy-domain": domain, "mx-host": [f"mx1.{domain}"]},
            "summary": {"total-successful-session-count": successful,
                        "total-failure-session-count": sum(failures.values())},
            "failure-details": details,
        }],
    }
    return json.dumps(doc, indent=2).encode()


def dmarc_xml(org: str, report_id: str, domain: str, rows: list[tuple[str, int, str, str, str, str]],
              begin: int = 1763942400, end: int = 1764028799, ns: bool = False) -> bytes:
    """rows: (source_ip, count, header_from, dkim, spf, disposition)."""
    records = "".join(f"""
  <record>
    <row>
      <source_ip>{ip}</source_ip>
      <count>{count}</count>
      <policy_evaluated><disposition>{disp}</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated>
    </row>
    <identifiers><header_from>{hfrom}</header_from><envelope_from>{hfrom}</envelope_from></identifiers>
    <auth_results>
      <dkim><domain>{hfrom}</domain><selector>s1</selector><result>{dkim}</result></dkim>
      <spf><domain>{hfrom}</domain><scope>mfrom</scope><result>{spf}</result></spf>
    </auth_results>
  </record>""" for ip, count, hfrom, dkim, spf, disp in rows)
    xmlns = ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"' if ns else ""
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback{xmlns}>
  <version>1.0</version>
  <report_metadata>
    <org_name>{org}</org_name>
    <email>noreply-dmarc-support@{org}</email>
    <extra_contact_info>https://{org}/dmarc-help</extra_contact_info>
    <report_id>{report_id}</report_id>
    <date_range><begin>{begin}</begin><end>{end}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><fo>1</fo>
  </policy_published>{records}
</feedback>
""".encode()


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def tlsrpt_mail(org: str, sender: str, rcpt: str, domain: str, report: bytes, *, gz: bool = True) -> bytes:
    """RFC 8460 §5.3: multipart/report; report-type="tlsrpt", a text part and the report."""
    outer = MIMEMultipart("report", report_type="tlsrpt")
    outer["From"] = f"TLS reporting <{sender}>"
    outer["To"] = rcpt
    outer["Subject"] = f"Report Domain: {domain} Submitter: {org} Report-ID: <x@{org}>"
    outer["TLS-Report-Domain"] = domain
    outer["TLS-Report-Submitter"] = org
    outer.attach(MIMEText(f"This is an aggregate TLS report from {org}\n"))
    sub = "tlsrpt+gzip" if gz else "tlsrpt+json"
    part = MIMEApplication(gzip.compress(report) if gz else report, sub)
    part.add_header("Content-Disposition", "attachment",
                    filename=f"{org}!{domain}!1763942400!1764028799.json{'.gz' if gz else ''}")
    outer.attach(part)
    return outer.as_bytes()


def dmarc_mail(org: str, sender: str, rcpt: str, domain: str, attachment: bytes, filename: str,
               ctype: str = "application/zip") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"DMARC Aggregate Report <{sender}>"
    msg["To"] = rcpt
    msg["Subject"] = f"Report domain: {domain} Submitter: {org} Report-ID: 1"
    msg.set_content(f"DMARC aggregate report for {domain}\n")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def gzip_bomb(expanded: int) -> bytes:
    """A valid gzip stream of `expanded` zero bytes (a whole number of MiB), made in well
    under a second: after a full flush deflate's output for the same 1 MiB is the same
    bytes, so one compressed block is repeated."""
    block = b"\0" * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    count = expanded >> 20
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    tail = deflate.flush() + struct.pack("<II", crc, expanded & 0xFFFFFFFF)
    return header + piece * count + tail


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>
"""
