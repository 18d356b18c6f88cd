"""Sending one e-mail through the owner's SMTP server (SMMPANEL_SMTP_*).

Plain `smtplib`: STARTTLS when `smtp_starttls` is on (it is by default), a
login when a user name is set, and a timeout on every step so a silent server
cannot hold a worker.  Failures raise `MailNotSent`; the job that sends the
mail decides whether to retry.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from smmpanel.config import Settings

TIMEOUT_SECONDS = 20.0


class MailNotSent(Exception):
    """The SMTP server refused the message or could not be reached."""


def smtp_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host.strip())


def sender(settings: Settings) -> str:
    return settings.smtp_from.strip() or settings.smtp_username.strip()


def send_mail(settings: Settings, *, to: str, subject: str, body: str) -> None:
    """Send a plain-text message; MailNotSent when it could not be handed over."""
    if not smtp_configured(settings):
        raise MailNotSent("SMTP is not configured (SMMPANEL_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = sender(settings)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=_domain_of(sender(settings)))
    message.set_content(body)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    try:
        with smtplib.SMTP(
            settings.smtp_host.strip(), settings.smtp_port, timeout=TIMEOUT_SECONDS
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # The server's answer, never the message (it holds a one-time link).
        raise MailNotSent(f"{type(exc).__name__}: {exc}"[:500]) from None


def _domain_of(address: str) -> str | None:
    _, _, domain = address.rpartition("@")
    return domain.strip("> ") or None
