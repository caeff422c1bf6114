import pytest

from privacy_milter.model import Confidence

HIGH, MEDIUM, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

from dlp_helpers import categories

# Every credential below is made up for these tests.
FOUND = [  # (text, confidence of the password finding)
    ('Your new password is: Harb0ur!Lights', HIGH),
    ('The wifi password for the meeting room is Falcon1957', HIGH),
    ('the guest wi-fi key is BlueSky42', HIGH),
    ('Login details for the CRM:\nuser: jdoe\npass: river-maple-harbour5', HIGH),
    ("I've reset the router admin login, it's admin / Copper1997", MEDIUM),
    ('Username: office\nPassword:\nQwerty!234', HIGH),
    ('Das Passwort lautet Sommer2024!', HIGH),
    ('Kennwort: Xk7#pq9Lm', HIGH),
    ('Le mot de passe est : Soleil#2025', HIGH),
    ('La contraseña es Perro-Azul-77', HIGH),
    ('Het wachtwoord is Fietsen99!', HIGH),
    ('La password è Mare2023?', HIGH),
    ('A senha é Praia#4455', HIGH),
    ('I changed the password to Kestrel#88 so you can log in', HIGH),
    ('Username\tPassword\nbob\tS3cretPass!', HIGH),
    ('email,password\nbob@example.org,Winter2020!\n', HIGH),
    ('db url: postgres://app:Sup3rS3cret9@db.internal.corp:5432/prod', MEDIUM),
    ('key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn\n', HIGH),
    ('aws_access_key_id = AKIAZ7Q3LMN4PQRS8TUV', HIGH),
    ('here is the token ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5', HIGH),
    ('slack bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', HIGH),
    ('stripe sk_live_51HxYzAbCdEfGhIjKlMnOpQrSt', HIGH),
    ('Passwort für das WLAN: Sommer2024', HIGH),
    ('Password (case sensitive): Falcon1957', HIGH),
    ("my password's Falcon1957", HIGH),
    ('Login: jsmith\nPwd: Falcon1957', HIGH),
    ('Password - Falcon1957', HIGH),
    ('Your temporary password is below:\n\nFalcon1957\n\nThanks', HIGH),
    ('パスワード: Sakura2024!', HIGH),
    ('Wifi: GuestNet / BlueSky42', MEDIUM),
    ('API key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0', HIGH),
    ("client_secret = 'Zx81kLm29QpR7sT4uV6wX'", HIGH),
    ('WLAN-Passwort: Sommer2024', HIGH),
    ('Can you log in as admin with password Falcon1957?', HIGH),
    ('the password to the shared mailbox is Falcon1957', HIGH),
    ("Password for Wi-Fi network 'Office5G' is Falcon1957", HIGH),
    ('Zugangsdaten: Benutzer mmeier, Passwort Sommer2024', HIGH),
    ('Usuario: jlopez Contraseña: Perro-Azul-77', HIGH),
    ('Username\njsmith\nPassword\nFalcon1957\n', HIGH),
    ('Password :\nFalcon1957\n', HIGH),
]

NOT_FOUND = [
    "Forgot your password? Use the reset link on the login page to choose a new one.",
    "Your password must be at least 12 characters and include a number.",
    "Password: ********",
    "Password: <your password>",
    "Password: [redacted]",
    "The password field on the form is greyed out, can you take a look?",
    "I've sent the password-protected PDF; I'll text you the password separately.",
    "Please never send your password by email. We will never ask for it.",
    "For example, password: Summer2024 would be rejected as too weak.",
    "The password is case-sensitive.",
    "The password for the VPN is the same as before.",
    "Password: see attached",
    "Dial-in 0800 123 456, conference passcode: 482913",
    "We pass the ball to John at 10:30.",
    "PASS: addr2line -f option",
    "The default password hashing algorithm is now Argon2id.",
    "The aws key in the docs is AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN RSA PRIVATE KEY----- is how the file starts.",
    "Connect with https://user:secret@example.com/ as in the manual",
    "Our passenger list and the compass are attached.",
    "Dial-in: 1-800-555-0199\nPasscode: 482913",
    "Password: temporary",
    "Password: Welcome to the team",
    "The password's strength matters",
    "PASSWD  - Elliot's account management",
    "password required\tpam_deny.so",
    "Password:\nThanks,\nBob",
    "Password:\nConfirm password:",
    "API key: <your key here>",
    "the api key is in the vault",
    "smtp_sasl_password_maps = hash:/etc/postfix/sasl",
    "Use multi-pass: x265 --pass 2",
    "Password\nKeep it secret",
    "Password\n\nChange2024 is the campaign name",
]


@pytest.mark.parametrize("body,confidence", FOUND)
def test_credentials_found(scan_text, body, confidence):
    finding = {f.category: f for f in scan_text(body).findings}["password"]
    assert finding.confidence is confidence and finding.rules


@pytest.mark.parametrize("body", NOT_FOUND)
def test_credential_lookalikes_ignored(scan_text, body):
    assert scan_text(body).findings == ()


def test_password_in_subject_reports_subject(scan_text):
    report = scan_text("see subject", subject="wifi password: Tr0ub4dor&3")
    assert report.findings[0].where == "subject"


def test_rfc2047_subject_is_decoded(scan_text):
    from email.header import Header
    subject = Header("Passwort: Sommer2024!", "utf-8").encode()
    assert "password" in categories(scan_text("x", subject=subject))


def test_quoted_reply_still_counts(scan_text):
    body = "Thanks!\n\nOn Monday Bob wrote:\n> The wifi password is Falcon1957\n"
    assert "password" in categories(scan_text(body))


def test_key_material_is_high(scan_text):
    report = scan_text("token ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5")
    assert report.findings[0].confidence is Confidence.HIGH


def test_html_form_layout(scan_text):
    html = "<table><tr><td>wifi network</td><td>Guest</td></tr>" \
           "<tr><td>wifi key</td><td><b>BlueSky42</b></td></tr></table>"
    assert "password" in categories(scan_text("see html", html=html))
