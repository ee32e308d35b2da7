"""Digest: render per subscriber (pure), queue in the outbox, send by SMTP exactly once; and
push each red alert once to the immediate subscriptions' webhooks (:mod:`watchtower.digest.push`).

The steps (:mod:`watchtower.digest.steps`): :func:`run_digest` renders what is due into the
outbox, :func:`run_send` sends it; :func:`delivery_problems` says what needs a person.
"""

from watchtower.digest.collect import collect_digest, period_for
from watchtower.digest.demo import DEMO_RECIPIENT, DemoAlerts, demo_digest_path, top_lines
from watchtower.digest.mask import mask_name
from watchtower.digest.model import DigestAlert, DigestData, RenderedDigest
from watchtower.digest.outbox import build_message, requeue_failed
from watchtower.digest.problems import delivery_problems
from watchtower.digest.push import markdown_text, push_body, requeue_failed_pushes
from watchtower.digest.queries import pending_count
from watchtower.digest.render import render_digest
from watchtower.digest.send import Mailer, SmtpMailer, mailer_for, smtp_settings_from_url
from watchtower.digest.steps import (
    DeliveryError,
    DigestSummary,
    SendSummary,
    run_digest,
    run_send,
)
from watchtower.digest.webhook import HttpAnswer, HttpPoster, Poster, poster_for
from watchtower.text import neutralize_cell  # re-exported: one neutraliser for every CSV

__all__ = [
    "DEMO_RECIPIENT",
    "DeliveryError",
    "DemoAlerts",
    "DigestAlert",
    "DigestData",
    "DigestSummary",
    "HttpAnswer",
    "HttpPoster",
    "Mailer",
    "Poster",
    "RenderedDigest",
    "SendSummary",
    "SmtpMailer",
    "build_message",
    "collect_digest",
    "delivery_problems",
    "demo_digest_path",
    "mailer_for",
    "markdown_text",
    "mask_name",
    "neutralize_cell",
    "pending_count",
    "period_for",
    "poster_for",
    "push_body",
    "render_digest",
    "requeue_failed",
    "requeue_failed_pushes",
    "run_digest",
    "run_send",
    "smtp_settings_from_url",
    "top_lines",
]
