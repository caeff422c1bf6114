"""Issue 12 shapes: secrets described instead of named, in English, German and French.

Wordings here are this file's own (the held-out generator uses others). Every case asserts
the category, the confidence and the rule symbol. All values are synthetic.
"""

import io
import zipfile

import pytest

from privacy_milter.model import Confidence

from dlp_helpers import luhn_complete, message, scan_text
from privacy_filters.dlp import scan

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
CARD = luhn_complete("453914", 16)
SPACED = " ".join(CARD[i:i + 4] for i in range(0, 16, 4))

# (text, category, confidence, rule)
FOUND = [
    # a secret named by what it opens
    ("When you get there, the keypad on the garden gate takes 5821.", "password", M, "password.opens"),
    ("Alarm: punch 7734 then hit ENTER within 30 seconds.", "password", M, "password.opens"),
    ("the lock box for the spare keys is 4190", "password", M, "password.opens"),
    ("Combination for the filing cabinet: 30-12-44", "password", M, "password.opens"),
    ("Der Türcode für das Treppenhaus lautet 6613.", "password", M, "password.opens"),
    ("Die Alarmanlage schaltest du mit 2904 aus.", "password", M, "password.opens"),
    ("Le code du portail est le 8842.", "password", M, "password.opens"),
    ("Pour couper l'alarme : 1357 puis valider.", "password", M, "password.opens"),
    ("To get into the router admin page use Tr4il-Mix9", "password", H, "password.opens"),
    ("You'll get in to the CMS with Larch#2291 as the editor account.", "password", H, "password.opens"),
    ("Ins Kundenportal kommst du mit Wiese8Blau!", "password", H, "password.opens"),
    ("Tu accèdes au back-office avec Citron7Vert?", "password", H, "password.opens"),
    # temporary or first password followed by a note
    ("Temporary password: Quill7Stone - you must change it when you log on.", "password", H,
     "password.cand_kv_key"),
    ("Your first-time password is Brook2Fern; it stops working on Friday.", "password", H,
     "password.cand_label_same_line"),
    ("Vorübergehendes Passwort: Nebel4Turm. Bitte nach dem Login ändern.", "password", H,
     "password.cand_kv_key"),
    ("Mot de passe provisoire : Nuage5Pont, valable 24 heures.", "password", H, "password.cand_label_same_line"),
    # short labels
    ("user mkhan pw Gorse81Hill", "password", H, "password.cand_label_same_line"),
    ("server=db2;uid=report;pwd=Tansy40Moor", "password", H, "password.cand_kv_key"),
    ("it's the usual account, pass is Heron55Dale", "password", H, "password.cand_label_same_line"),
    ("Nutzer: lbauer PW Kiefer22See", "password", H, "password.cand_label_same_line"),
    ("identifiant: pdurand, mdp Sapin31Lac", "password", H, "password.cand_label_same_line"),
    # several words between the password word and "is"
    ("The password for the tablet we use at the front desk on Saturdays is Wren3Cliff", "password", H,
     "password.cand_label_same_line"),
    ("Das Passwort für den alten Rechner hinten im Lager neben der Tür ist Moos7Fels", "password", H,
     "password.cand_label_same_line"),
    ("Le mot de passe de l'ordinateur du stand au salon de Lyon est Givre8Mont", "password", H,
     "password.cand_label_same_line"),
    # a card alone with only its expiry
    (f"Flights for the Berlin trip, please:\n{SPACED}\n11/28", "payment_card", H, "card.luhn_iin_expiry"),
    (f"Für die Tagungsgebühr:\n{CARD}\ngültig bis 3/29", "payment_card", H, "card.luhn_iin_expiry"),
    (f"Pour la caution de la location :\n{SPACED}\n04.2029", "payment_card", H, "card.luhn_iin_expiry"),
    # UK sort code and account written bare
    ("bank 30-94-57 / 61528374", "uk_bank_account", M, "uk_account.bank_labelled"),
    ("acc 309457 61528374 please", "uk_bank_account", M, "uk_account.bank_labelled"),
    ("Bankverbindung UK: 30.94.57 61528374", "uk_bank_account", M, "uk_account.bank_labelled"),
    ("ma banque (UK) : 309457/61528374", "uk_bank_account", M, "uk_account.bank_labelled"),
    # issue 12 second pass: one case per new rule shape (this file's own wordings)
    ("Starter login for k.owusu: Heron4Marsh. Please pick your own on day one.", "password", H,
     "password.temporary"),
    ("Un mot de passe provisoire pour toi, Brume82Lac ; change-le demain.", "password", H,
     "password.temporary"),
    ("Temporary PIN for the new phone: 5820", "password", M, "password.temporary"),
    ('"Initial password";"Quarz-Linde-7"', "password", H, "password.temporary"),
    ("Vorläufiges Kennwort: pqzrtwvkmd (beim ersten Login ändern)", "password", M, "password.temporary"),
    ("Sein Startpasswort: Kiefer9Moor", "password", H, "password.cand_kv_key"),
    ("Einmalkennwort für t.berg@firma.example.de: Ahorn33Bach - nur heute gültig", "password", H,
     "password.cand_label_same_line"),
    ("fine, it's priya_r, pw Otter7Reef", "password", H, "password.cand_label_same_line"),
    ("login as d.moss; pass vbnkrtxzqw", "password", M, "password.cand_label_same_line"),
    ("Handy PIN 739104", "password", M, "password.cand_label_same_line"),
    ("PIN für die EC-Karte: 6092", "password", M, "password.cand_label_same_line"),
    ("ton mdp c'est Vague7Sable!", "password", H, "password.cand_label_same_line"),
    ("Das Kennwort am Scanner im Lager hinten lautet &Dune4Moss", "password", H, "password.cand_label_same_line"),
    ("Der Code für den Fahrradkeller ist 40719.", "password", M, "password.opens"),
    ("The code to the bin store is 2291", "password", M, "password.opens"),
    ("Keypad at the boiler room: 66120", "password", M, "password.opens"),
    ("Entry code for flat 3 - 80552#", "password", M, "password.opens"),
    ("Mit 9kstv2mqzr kommst du ins Lager-System.", "password", H, "password.opens"),
    ("You can log in to the shop backend with hKWQPZTRe today.", "password", H, "password.opens"),
    ("Sign in with Fern88 to see the rota.", "password", H, "password.opens"),
    (f"For the deposit:\n\n{SPACED}\n\nbis 07.2029", "payment_card", H,
     "card.luhn_iin_expiry"),
]


@pytest.mark.parametrize("text,category,confidence,rule", FOUND)
def test_shape_found(text, category, confidence, rule):
    finding = {f.category: f for f in scan_text(text).findings}.get(category)
    assert finding is not None, text
    assert (finding.confidence, rule in finding.rules) == (confidence, True), finding


NOT_FOUND = [
    "Meeting ID: 812 4471 9023\nPasscode: 770214",
    "Join by phone: +44 20 3051 2222, conference code 4417 9902#",
    "Teams-Besprechung, Konferenz-ID: 552 118 907#, Kennung: hT62pQ",
    "Réunion Zoom, ID : 845 2231 0098, code secret : 413377",
    "Your order 302-4417785-1190356 has been dispatched.",
    "Sendungsverfolgung: 00340434161094042557",
    "Tracking 1Z 999 AA1 01 2345 6784 is on its way",
    "Asset 7c9e6679-7425-40de-944b-e07fc1f90ae7 assigned to you.",
    "IMEI 356938035643809 registered to the handset",
    "Invoice INV-2026-118842 and ticket #440912 are both closed.",
    "Facture n° 2025-771203 du 12.03.2026",
    "Your new PIN is in the post.",
    "Die neue PIN schicken wir Ihnen per Post.",
    "Le nouveau code d'accès vous parviendra par courrier.",
    "The gate code is changing next week; ask security for it.",
    "Passwords expire after 60 days and must contain a digit.",
    "Kennwörter müssen alle 90 Tage geändert werden.",
    "Les mots de passe doivent être changés tous les 90 jours.",
    "Reset it here: https://accounts.example.net/reset?t=Qx81Lm20Zp",
    "Bank holiday: closed 25.12.26 and 26.12.26, reopening 02.01.27.",
    "acc. to the contract dated 01.02.2026, 30 days net.",
    "Please log in with your staff number and the code we texted you.",
    "Use code WINTER25 at checkout for 25% off.",
    "Badge 448812, valid 09/27",
    f"Order {CARD[:12]} shipped 11/28",
    # hard negatives fixed in the second pass
    "Meeting ID: 815 220 4471\nPasscode: Gx7kQ2",           # alphanumeric meeting passcode
    "Webinar ID 902 113 8840  Password: rT5vLm9",            # password of a call, same line
    "ID de réunion : 330 881 2290\nCode secret : Hm4Tz8",
    "Your one-time code is 448210, it expires in 10 minutes.",
    "Your temporary password will be sent by text message.",
    "Le mot de passe provisoire est envoyé par SMS.",
    "Initial login: 09:00 on Monday at reception.",
    "Temporary PIN: 0000",
    "Sign in with Office365 as usual, or with LinkedIn.",
    "The code for the gate: 2024 renovation works start soon.",
    "Our sort code will change on 08-04-25; your account number stays the same.\nTel +31 6 56284207",
    "Door code for room 12 is on the wiki.",
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_hard_negative_quiet(text):
    assert scan_text(text).findings == ()


def _zip(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, text)
    return buf.getvalue()


def _docx(text: str) -> bytes:
    paras = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in text.split("\n"))
    doc = ('<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
           f'wordprocessingml/2006/main"><w:body>{paras}</w:body></w:document>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", doc)
    return buf.getvalue()


def _pdf(text: str) -> bytes:
    lines = " ".join(f"({ln}) Tj T*" for ln in text.split("\n"))
    stream = f"BT /F1 10 Tf 40 800 Td 12 TL {lines} ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


ATTACHED = [
    (lambda: ("host,user,pwd\nnas01,backup,Sedge42Pool\n".encode(), "text", "csv", "hosts.csv"),
     "password", H),
    (lambda: (_zip("handover.txt", "Keypad on the loading dock: 6028"), "application", "zip", "h.zip"),
     "password", M),
    (lambda: (_docx(f"Für die Messe:\n{SPACED}\n10/29"), "application",
              "vnd.openxmlformats-officedocument.wordprocessingml.document", "m.docx"), "payment_card", H),
    (lambda: (_pdf("Payroll: bank 30-94-57 / 61528374"), "application", "pdf", "p.pdf"),
     "uk_bank_account", M),
]


@pytest.mark.parametrize("make,category,confidence", ATTACHED)
def test_shapes_in_attachments(make, category, confidence):
    report = scan(message("see attached", attachments=[make()]))
    finding = {f.category: f for f in report.findings}[category]
    assert (finding.confidence, finding.where) == (confidence, "attachment")


def test_a_model_number_after_a_lock_word_is_not_a_code():
    """Real ham (SpamAssassin easy-ham-2): "a combination like a EUR 160 Nokia 6310i"."""
    from privacy_filters.dlp import scan

    raw = b"From: a@b\r\nSubject: x\r\n\r\nA combination like a EUR 160 Nokia 6310i talking to a Palm m515.\r\n"
    assert scan(raw).findings == ()
    raw = b"From: a@b\r\nSubject: x\r\n\r\nThe padlock combination is 4821.\r\n"
    assert [f.rules for f in scan(raw).findings] == [("password.opens",)]
