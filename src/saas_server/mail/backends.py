"""Where mails go: the console (default, for development) or an SMTP server."""

from __future__ import annotations

import sys
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from saas_server.core.settings import Settings
from saas_server.mail.service import Mail


class MailBackend(Protocol):
    async def send(self, mail: Mail) -> None: ...


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    # Plain ASCII goes as 7bit so links and tokens stay readable in the raw message
    # (quoted-printable would turn "token=" into "token=3D" and may fold long lines).
    ascii_short = mail.text.isascii() and all(len(line) < 990 for line in mail.text.splitlines())
    message.set_content(mail.text, cte="7bit" if ascii_short else "quoted-printable")
    return message


class ConsoleBackend:
    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        header = f"From: {self.sender}\nTo: {mail.to}\nSubject: {mail.subject}\n\n"
        sys.stdout.write(header + mail.text + "\n" + "-" * 72 + "\n")
        sys.stdout.flush()


class SmtpBackend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        s = self.settings
        await aiosmtplib.send(
            build_message(mail, s.mail_from),
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_user,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            # Port 465 speaks TLS from the first byte; any other port upgrades with STARTTLS.
            use_tls=s.smtp_tls and s.smtp_port == 465,
            start_tls=s.smtp_tls and s.smtp_port != 465,
            timeout=s.smtp_timeout_seconds,
        )


def mail_backend(settings: Settings) -> MailBackend:
    if settings.mail_backend == "smtp":
        return SmtpBackend(settings)
    return ConsoleBackend(settings.mail_from)
