"""Digest: render per subscriber (pure), queue in the outbox, send by SMTP exactly once."""

from watchtower.digest.collect import collect_digest, period_for
from watchtower.digest.mask import mask_name
from watchtower.digest.model import DigestAlert, DigestData, RenderedDigest
from watchtower.digest.outbox import build_message, requeue_failed, send_pending
from watchtower.digest.render import render_digest
from watchtower.digest.send import Mailer, SmtpMailer, mailer_for, smtp_settings_from_url
from watchtower.digest.steps import (
    DeliveryError,
    DigestSummary,
    SendSummary,
    adhoc_subscription,
    run_digest,
)
from watchtower.text import neutralize_cell  # re-exported: one neutraliser for every CSV

__all__ = [
    "DeliveryError",
    "DigestAlert",
    "DigestData",
    "DigestSummary",
    "Mailer",
    "RenderedDigest",
    "SendSummary",
    "SmtpMailer",
    "adhoc_subscription",
    "build_message",
    "collect_digest",
    "mailer_for",
    "mask_name",
    "neutralize_cell",
    "period_for",
    "render_digest",
    "requeue_failed",
    "run_digest",
    "send_pending",
    "smtp_settings_from_url",
]
