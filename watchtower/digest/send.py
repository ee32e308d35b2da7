"""Sending mail: a small ``Mailer`` interface, its SMTP implementation, and the one place that
chooses it (:func:`mailer_for`)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from watchtower.config import ConfigError, SmtpSettings, check_smtp

log = logging.getLogger(__name__)


class Mailer(Protocol):
    """Delivers one RFC 5322 message. Raises on failure (the outbox keeps the message)."""

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None: ...


class SmtpMailer:
    """SMTP over a plain connection, STARTTLS or implicit TLS (``smtp.tls``: none, starttls,
    ssl); logs in when a user is set, never over a clear-text connection unless the settings
    allow it (:func:`watchtower.config.check_smtp`). ``ssl_context`` defaults to the system's
    trust store.

    A message is sent once the server accepted it after DATA (250): what happens at QUIT (a
    421, a dropped connection) is logged, never raised, so the outbox does not send it again.
    """

    def __init__(
        self,
        smtp: SmtpSettings,
        *,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.smtp = check_smtp(smtp)
        self.timeout = timeout
        self.ssl_context = ssl_context

    def _connect(self) -> smtplib.SMTP:
        s = self.smtp
        context = self.ssl_context or ssl.create_default_context()
        if s.tls == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
        client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        if s.tls == "starttls":
            client.ehlo()
            client.starttls(context=context)
            client.ehlo()
        return client

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        client = self._connect()
        try:
            if self.smtp.user:
                client.login(self.smtp.user, self.smtp.password or "")
            refused = client.sendmail(sender, list(recipients), message)
        except BaseException:
            client.close()
            raise
        # Accepted (250 after DATA): from here on the message is the server's. Not `with`:
        # SMTP.__exit__ raises on a QUIT answered 421, which would make the outbox resend.
        try:
            client.quit()
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("SMTP QUIT failed after the message was accepted: %s", exc)
        finally:
            client.close()
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)


def mailer_for(smtp: SmtpSettings) -> Mailer:
    """The mailer the pipeline uses for ``smtp`` settings."""
    return SmtpMailer(smtp)


def smtp_settings_from_url(url: str, mail_from: str | None = None) -> SmtpSettings:
    """SMTP settings from a connection URL, e.g. an Airflow connection's URI:
    ``smtp://user:pass@mail.example.gov.cn:587?tls=starttls&from=watchtower@example.gov.cn``
    (scheme ``smtps`` means tls=ssl). The DAG turns its connection into this; the package
    itself never imports Airflow."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    tls = query.get("tls") or ("ssl" if parts.scheme == "smtps" else "none")
    if tls not in ("none", "starttls", "ssl"):
        raise ConfigError(f"SMTP URL: tls must be none, starttls or ssl, not {tls!r}")
    allow = query.get("allow_cleartext_auth", "").lower() in ("1", "true", "yes")
    return check_smtp(
        SmtpSettings(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if tls == "ssl" else 25),
            tls=tls,  # type: ignore[arg-type]
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            mail_from=mail_from or query.get("from") or "watchtower@localhost",
            allow_cleartext_auth=allow,
        )
    )
