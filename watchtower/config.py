"""Typed settings: the one place that reads environment variables.

- WATCHTOWER_HOME: working folder (embedded database, outbox, data docs, models); ./var
- WATCHTOWER_DB_URL: SQLAlchemy URL of the store; sqlite:///$WATCHTOWER_HOME/watchtower.db
- WATCHTOWER_CONFIG_DIR: folder holding features/, models/, expectations/; the source checkout
- WATCHTOWER_LANDING_DIR: landing folder the scheduled pipeline ingests; $WATCHTOWER_HOME/landing
- WATCHTOWER_LANDING_SETTLE_SECONDS: a landing file without a ``<name>.done`` marker is read
  once unmodified this long (a file still being written is not); 60 (docs/data-quality.md)
- WATCHTOWER_LANDING_MAX_FILE_MB: the hard size limit of one landing file; 4096
- WATCHTOWER_SMTP_HOST, _PORT, _TLS (none, starttls, ssl), _USER, _PASSWORD and
  WATCHTOWER_MAIL_FROM: outgoing mail; localhost, 25 (465 with ssl), none
- WATCHTOWER_FETCH_ENABLED (1/true): the daily DAG fetches AMAC's public lists into the
  landing folder before ingesting; off. WATCHTOWER_FETCH_OFFICE_PROVINCE (e.g. 陕西省) and
  WATCHTOWER_FETCH_REGISTER_PROVINCE narrow the manager list; WATCHTOWER_FETCH_WHAT (a
  comma-separated list, see `watchtower fetch amac --help`)
- WATCHTOWER_SMTP_ALLOW_CLEARTEXT_AUTH (1/true): allow SMTP AUTH over a connection without
  TLS (tls=none); off, so a password never crosses the network in clear text by default
- WATCHTOWER_ROUTING_ADDRESS (registered, office): which address places a manager in a
  district for the digests; registered (supervision follows registration)
- WATCHTOWER_DIGEST_CATCH_ALL: the address that receives every alert no subscriber does; unset,
  `watchtower digest` fails while such alerts exist (docs/delivery.md)
- WATCHTOWER_MODEL_KEY (at least 32 characters) or WATCHTOWER_MODEL_KEY_FILE: the secret that
  signs model registry records (docs/model-registry.md); default the file
  $XDG_CONFIG_HOME/watchtower/model.key (~/.config/...), created 0600 on first use
- WATCHTOWER_CONSOLE_SECRET (at least 32 characters): signs the console's cookies; default the
  file console.secret beside the model key, created 0600 on first use (docs/console.md)
- WATCHTOWER_CONSOLE_SECURE_COOKIES (1/true): mark the console's cookies Secure even when the
  request reached it over plain HTTP (a TLS proxy in front that does not say so); off, and
  they are Secure whenever the request is HTTPS
- WATCHTOWER_CONSOLE_URL (http(s)://host[:port][/prefix]): where supervisors open the console;
  when set, every alert in the digests and the webhook pushes links to <url>/alerts/<id>;
  unset, no link (docs/console.md)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

TlsMode = Literal["none", "starttls", "ssl"]
RoutingAddress = Literal["registered", "office"]

_SOURCE_ROOT = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    tls: TlsMode = "none"
    user: str | None = None
    password: str | None = None
    mail_from: str = "watchtower@localhost"
    allow_cleartext_auth: bool = False


@dataclass(frozen=True)
class DigestSettings:
    """Routing of the digests: which address places a manager, and who gets the rest."""

    routing_address: RoutingAddress = "registered"
    catch_all: str | None = None


def check_smtp(smtp: SmtpSettings) -> SmtpSettings:
    """``smtp``, refused when it would log in over a clear-text connection (tls=none)
    without WATCHTOWER_SMTP_ALLOW_CLEARTEXT_AUTH."""
    if smtp.user and smtp.tls == "none" and not smtp.allow_cleartext_auth:
        raise ConfigError(
            "SMTP login over a clear-text connection is refused: set WATCHTOWER_SMTP_TLS to "
            "starttls or ssl (or WATCHTOWER_SMTP_ALLOW_CLEARTEXT_AUTH=1 to allow it)"
        )
    return smtp


@dataclass(frozen=True)
class FetchSettings:
    """The scheduled fetch of AMAC's public lists (``watchtower fetch amac`` does it by hand)."""

    enabled: bool = False
    office_province: str | None = None
    register_province: str | None = None
    what: tuple[str, ...] = ()  # empty: the fetcher's default lists


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    config_dir: Path
    landing_dir: Path
    smtp: SmtpSettings
    fetch: FetchSettings = FetchSettings()
    digest: DigestSettings = DigestSettings()
    #: The registry's signing key when given in the environment (WATCHTOWER_MODEL_KEY), else
    #: None and the key lives in ``model_key_file``. Outside the store and the artifacts
    #: folder on purpose: whoever can write those must not be able to sign a model.
    model_key: str | None = field(default=None, repr=False)
    model_key_file: Path = Path("~/.config/watchtower/model.key")
    #: landing protocol: seconds a file must be unmodified (or carry a .done marker) to be read
    landing_settle_seconds: float = 60.0
    landing_max_file_mb: int = 4096
    #: The console's cookie secret when given in the environment, else None (a file beside
    #: the model key, see watchtower.console.secret).
    console_secret: str | None = field(default=None, repr=False)
    console_secure_cookies: bool = False
    #: The console's public address without a trailing slash (WATCHTOWER_CONSOLE_URL), for the
    #: links in digests and pushes; None: no links.
    console_url: str | None = None

    @property
    def features_dir(self) -> Path:
        return self.config_dir / "features"

    @property
    def models_dir(self) -> Path:
        return self.config_dir / "models"

    @property
    def expectations_dir(self) -> Path:
        return self.config_dir / "expectations"

    @property
    def aliases_file(self) -> Path:
        """Header spellings of the landing contract (expectations/aliases.yaml)."""
        return self.expectations_dir / "aliases.yaml"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def data_docs_dir(self) -> Path:
        return self.home / "data_docs"

    @property
    def artifacts_dir(self) -> Path:
        """Trained model artifacts (the registry's files)."""
        return self.home / "models"

    def with_db(self, db_url: str | None) -> Settings:
        return self if not db_url else replace(self, db_url=db_url)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default ``os.environ``)."""
    env = os.environ if env is None else env
    home = Path(env.get("WATCHTOWER_HOME") or "var").expanduser().resolve()
    db_url = env.get("WATCHTOWER_DB_URL") or f"sqlite:///{home / 'watchtower.db'}"
    config_dir = Path(env.get("WATCHTOWER_CONFIG_DIR") or _SOURCE_ROOT).expanduser().resolve()
    landing = Path(env.get("WATCHTOWER_LANDING_DIR") or home / "landing").expanduser().resolve()
    settle_text = env.get("WATCHTOWER_LANDING_SETTLE_SECONDS") or "60"
    max_mb_text = env.get("WATCHTOWER_LANDING_MAX_FILE_MB") or "4096"
    try:
        settle, max_mb = float(settle_text), int(max_mb_text)
        if not (0 <= settle < float("inf")) or max_mb <= 0:
            raise ValueError
    except ValueError as exc:
        raise ConfigError(
            "WATCHTOWER_LANDING_SETTLE_SECONDS must be a number of seconds >= 0 and "
            "WATCHTOWER_LANDING_MAX_FILE_MB a whole number > 0, not "
            f"{settle_text!r} and {max_mb_text!r}"
        ) from exc
    tls = (env.get("WATCHTOWER_SMTP_TLS") or "none").lower()
    if tls not in ("none", "starttls", "ssl"):
        raise ConfigError(f"WATCHTOWER_SMTP_TLS must be none, starttls or ssl, not {tls!r}")
    port_text = env.get("WATCHTOWER_SMTP_PORT") or ("465" if tls == "ssl" else "25")
    try:
        port = int(port_text)
    except ValueError as exc:
        raise ConfigError(f"WATCHTOWER_SMTP_PORT must be a number, not {port_text!r}") from exc
    smtp = SmtpSettings(
        host=env.get("WATCHTOWER_SMTP_HOST") or "localhost",
        port=port,
        tls=tls,  # type: ignore[arg-type]
        user=env.get("WATCHTOWER_SMTP_USER") or None,
        password=env.get("WATCHTOWER_SMTP_PASSWORD") or None,
        mail_from=env.get("WATCHTOWER_MAIL_FROM") or "watchtower@localhost",
    )
    cleartext = (env.get("WATCHTOWER_SMTP_ALLOW_CLEARTEXT_AUTH") or "").strip().lower()
    smtp = check_smtp(replace(smtp, allow_cleartext_auth=cleartext in ("1", "true", "yes")))
    routing = (env.get("WATCHTOWER_ROUTING_ADDRESS") or "registered").strip().lower()
    if routing not in ("registered", "office"):
        raise ConfigError(
            f"WATCHTOWER_ROUTING_ADDRESS must be registered or office, not {routing!r}"
        )
    catch_all = (env.get("WATCHTOWER_DIGEST_CATCH_ALL") or "").strip() or None
    if catch_all is not None and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", catch_all):
        raise ConfigError(
            f"WATCHTOWER_DIGEST_CATCH_ALL must be an e-mail address, not {catch_all!r}"
        )
    digest = DigestSettings(
        routing_address=routing,  # type: ignore[arg-type]
        catch_all=catch_all,
    )
    enabled = (env.get("WATCHTOWER_FETCH_ENABLED") or "").strip().lower()
    if enabled not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"WATCHTOWER_FETCH_ENABLED must be 1/true or 0/false, not {enabled!r}")
    what = tuple(
        w.strip() for w in (env.get("WATCHTOWER_FETCH_WHAT") or "").split(",") if w.strip()
    )
    fetch = FetchSettings(
        enabled=enabled in ("1", "true", "yes"),
        office_province=env.get("WATCHTOWER_FETCH_OFFICE_PROVINCE") or None,
        register_province=env.get("WATCHTOWER_FETCH_REGISTER_PROVINCE") or None,
        what=what,
    )
    secure = (env.get("WATCHTOWER_CONSOLE_SECURE_COOKIES") or "").strip().lower()
    if secure not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ConfigError(
            f"WATCHTOWER_CONSOLE_SECURE_COOKIES must be 1/true or 0/false, not {secure!r}"
        )
    console_url = console_url_setting(env.get("WATCHTOWER_CONSOLE_URL"))
    config_home = Path(env.get("XDG_CONFIG_HOME") or "~/.config").expanduser()
    key_file = env.get("WATCHTOWER_MODEL_KEY_FILE") or config_home / "watchtower" / "model.key"
    return Settings(
        digest=digest,
        home=home,
        db_url=db_url,
        config_dir=config_dir,
        landing_dir=landing,
        smtp=smtp,
        fetch=fetch,
        model_key=env.get("WATCHTOWER_MODEL_KEY") or None,
        model_key_file=Path(key_file).expanduser().resolve(),
        landing_settle_seconds=settle,
        landing_max_file_mb=max_mb,
        console_secret=env.get("WATCHTOWER_CONSOLE_SECRET") or None,
        console_secure_cookies=secure in ("1", "true", "yes"),
        console_url=console_url,
    )


# A link goes into HTML attributes and markdown ``[text](url)``: no whitespace, quotes, angle
# brackets, parentheses or backslashes, and no query or fragment (``/alerts/<id>`` is appended).
_CONSOLE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?")


def console_url_setting(value: str | None) -> str | None:
    """WATCHTOWER_CONSOLE_URL checked: an http(s) address, returned without its trailing
    slash; blank -> None."""
    text = (value or "").strip()
    if not text:
        return None
    if not _CONSOLE_URL.fullmatch(text):
        raise ConfigError(
            "WATCHTOWER_CONSOLE_URL must be an http(s) address such as "
            f"https://watchtower.example.gov.cn (no query, quotes or spaces), not {text!r}"
        )
    return text.rstrip("/")
