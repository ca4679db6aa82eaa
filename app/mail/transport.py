"""Sending one message over SMTP with the configured server (no Flask)."""
from __future__ import annotations

import mimetypes
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from app.mail.models import OutboxMessage

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand messages over: SMTP_* and MAIL_FROM from the config."""

    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    mail_from: str = "noreply@localhost"
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "SmtpSettings | None":
        """The settings, or None when no SMTP server is configured."""
        host = (config.get("SMTP_HOST") or "").strip()
        if not host:
            return None
        return cls(host=host, port=int(config.get("SMTP_PORT") or 25), user=config.get("SMTP_USER") or "",
                   password=config.get("SMTP_PASSWORD") or "", starttls=bool(config.get("SMTP_STARTTLS")),
                   mail_from=config.get("MAIL_FROM") or "noreply@localhost",
                   timeout=float(config.get("SMTP_TIMEOUT") or 30))


def build_email(settings: SmtpSettings, message: OutboxMessage) -> EmailMessage:
    """The MIME message for an outbox row (UTF-8 text, a stable Message-ID)."""
    email = EmailMessage()
    name, address = parseaddr(settings.mail_from)
    email["From"] = formataddr((name, address)) if name else address
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    # base64: Chinese text arrives intact even through a server that does not accept 8-bit data.
    email.set_content(message.body, charset="utf-8", cte="base64")
    if message.attachment_name:
        kind = (XLSX_TYPE if message.attachment_name.endswith(".xlsx")
                else mimetypes.guess_type(message.attachment_name)[0] or "application/octet-stream")
        maintype, subtype = kind.split("/", 1)
        email.add_attachment(message.attachment, maintype=maintype, subtype=subtype,
                             filename=message.attachment_name)
    return email


def send(settings: SmtpSettings, message: OutboxMessage) -> None:
    """Hand one message to the SMTP server; returns only when the server accepted it, else raises."""
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password)
        refused = smtp.send_message(build_email(settings, message))
    if refused:  # some recipients refused while others were accepted; ours is the only one
        raise smtplib.SMTPRecipientsRefused(refused)


def describe(err: BaseException) -> str:
    """A short text of why sending failed, for the outbox page."""
    if isinstance(err, smtplib.SMTPResponseException):
        text = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        return f"SMTP {err.smtp_code} {text}"
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        parts = []
        for rcpt, (code, text) in err.recipients.items():
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            parts.append(f"{rcpt}: SMTP {code} {text}")
        return "; ".join(parts)
    return f"{type(err).__name__}: {err}"
