"""What in a delivery needs a person, one line each (pure: counts and ids in, lines out)."""

from __future__ import annotations

from collections.abc import Sequence


def _ids(ids: Sequence[int], shown: int = 50) -> str:
    text = ", ".join(map(str, ids[:shown]))
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def delivery_problems(
    *,
    unrouted_ids: Sequence[int] = (),
    catch_all: str | None = None,
    retry_later: int = 0,
    failed_ids: Sequence[int] = (),
    errors: Sequence[str] = (),
    push_waiting_ids: Sequence[int] = (),
    push_failed_ids: Sequence[int] = (),
    push_errors: Sequence[str] = (),
) -> list[str]:
    """One line per thing that needs a person (pure): unrouted alerts without a catch-all
    recipient, digests and webhook pushes waiting for a retry, given up or refused."""
    out = []
    if unrouted_ids and not catch_all:
        out.append(
            f"{len(unrouted_ids)} open alerts reach no subscriber (alert ids "
            f"{_ids(unrouted_ids)}) and WATCHTOWER_DIGEST_CATCH_ALL is not set: set it, or "
            "subscribe their districts in models/subscriptions.yaml"
        )
    if retry_later:
        first = f": {errors[0]}" if errors else ""
        out.append(f"{retry_later} digests could not be sent and wait for a retry{first}")
    if failed_ids:
        out.append(
            f"{len(failed_ids)} digests were given up after their last attempt (outbox ids "
            f"{_ids(failed_ids)}): `watchtower digest --retry-failed` queues them again"
        )
    if push_waiting_ids:
        first = f": {push_errors[0]}" if push_errors else ""
        out.append(
            f"{len(push_waiting_ids)} webhook pushes could not be delivered and wait for a "
            f"retry (push ids {_ids(push_waiting_ids)}){first}"
        )
    if push_failed_ids:
        out.append(
            f"{len(push_failed_ids)} webhook pushes were refused or given up (push ids "
            f"{_ids(push_failed_ids)}): fix the webhook, then `watchtower digest "
            "--retry-failed` queues them again"
        )
    return out
