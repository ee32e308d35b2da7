"""A real SMTP server for tests (aiosmtpd), optionally with STARTTLS/implicit TLS and AUTH,
a misbehaving QUIT (421, or the connection dropped), and a self-signed certificate made with
``cryptography``."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Recorder:
    """aiosmtpd handler keeping every message it accepts."""

    messages: list[Received] = field(default_factory=list)
    #: None: 221 Bye; "421": answer QUIT with 421; "drop": close the connection instead.
    quit_reply: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> Any:
        if self.quit_reply == "421":
            return "421 4.3.0 Service shutting down, closing channel"
        if self.quit_reply == "drop":
            server.transport.abort()  # no answer at all: the connection just goes
            return "221 Bye"
        from aiosmtpd.smtp import MISSING

        return MISSING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for localhost / 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Auth:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)


@contextlib.contextmanager
def smtp_server(
    *,
    tls: str = "none",
    cert: tuple[Path, Path] | None = None,
    user: str | None = None,
    password: str | None = None,
    port: int | None = None,
    quit_reply: str | None = None,
) -> Iterator[tuple[int, Recorder]]:
    """Run an SMTP server on 127.0.0.1; yield (port, recorder)."""
    handler = Recorder(quit_reply=quit_reply)
    port = port or free_port()
    kwargs: dict[str, Any] = {}
    if tls != "none":
        assert cert is not None
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        if tls == "starttls":
            kwargs.update(tls_context=server_ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=server_ctx)
    if user:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS socket is TLS anyway.
        kwargs.update(authenticator=_Auth(user, password or ""), auth_require_tls=tls == "starttls")
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()
