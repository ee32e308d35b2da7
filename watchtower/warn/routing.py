"""Subscriptions (models/subscriptions.yaml) and routing alerts to them by jurisdiction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from watchtower.config import ConfigError
from watchtower.store.alerts import TIERS

Cadence = Literal["immediate", "daily", "weekly"]
CADENCES: tuple[str, ...] = ("immediate", "daily", "weekly")
LANGUAGES: tuple[str, ...] = ("zh", "en")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Longest first, so 广西壮族自治区 loses the whole suffix, not just 区.
_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "自治州",
    "地区",
    "省",
    "市",
)
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class SubscriptionError(ConfigError):
    """The subscriptions file is malformed; the message names the entry and key."""


def normalize_region(name: str | None) -> str:
    """Comparable form of a province or city name: 广东省 -> 广东, 上海市 -> 上海,
    广西壮族自治区 -> 广西; blank -> ''."""
    text = (name or "").strip().replace(" ", "")
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return text[: -len(suffix)]
    return text


@dataclass(frozen=True)
class Delivery:
    max_attempts: int = 8
    reclaim_after_minutes: int = 60


@dataclass(frozen=True)
class Subscription:
    """One supervisor's digest. ``province``/``city`` None = any (at least one is set for
    a configured subscriber; ``everywhere`` is only for ``digest --to``)."""

    recipient: str
    province: str | None = None
    city: str | None = None
    min_tier: str = "yellow"
    cadence: Cadence = "daily"
    language: str = "zh"
    name: str | None = None
    weekday: str = "fri"
    everywhere: bool = field(default=False)

    def covers(self, province: str | None, city: str | None) -> bool:
        """True when a manager in (province, city) belongs to this jurisdiction."""
        if self.everywhere:
            return True
        if self.province and normalize_region(self.province) != normalize_region(province):
            return False
        return not (self.city and normalize_region(self.city) != normalize_region(city))

    @property
    def jurisdiction(self) -> str:
        """Human label: 广东/广州, 上海, or * for everywhere."""
        if self.everywhere:
            return "*"
        return "/".join(p for p in (self.province, self.city) if p)


def _check(entry: dict[str, object], where: str) -> Subscription:
    recipient = str(entry.get("recipient") or "").strip()
    if not _EMAIL.match(recipient):
        raise SubscriptionError(f"{where}: recipient {recipient!r} is not an e-mail address")
    province = str(entry["province"]).strip() if entry.get("province") else None
    city = str(entry["city"]).strip() if entry.get("city") else None
    if not province and not city:
        raise SubscriptionError(f"{where}: set province and/or city (the jurisdiction)")
    min_tier = str(entry.get("min_tier", "yellow"))
    cadence = str(entry.get("cadence", "daily"))
    language = str(entry.get("language", "zh"))
    weekday = str(entry.get("weekday", "fri")).lower()[:3]
    for key, value, allowed in (
        ("min_tier", min_tier, TIERS),
        ("cadence", cadence, CADENCES),
        ("language", language, LANGUAGES),
        ("weekday", weekday, WEEKDAYS),
    ):
        if value not in allowed:
            raise SubscriptionError(f"{where}: {key} {value!r} not one of {', '.join(allowed)}")
    unknown = set(entry) - {
        "recipient", "province", "city", "min_tier", "cadence", "language", "name", "weekday",
    }  # fmt: skip
    if unknown:
        raise SubscriptionError(f"{where}: unknown keys {sorted(unknown)}")
    return Subscription(
        recipient=recipient,
        province=province,
        city=city,
        min_tier=min_tier,
        cadence=cadence,  # type: ignore[arg-type]
        language=language,
        name=str(entry["name"]) if entry.get("name") else None,
        weekday=weekday,
    )


def load_subscriptions(path: Path) -> tuple[list[Subscription], Delivery]:
    """Subscribers and delivery settings from ``path`` (models/subscriptions.yaml).
    A missing file means nobody subscribes."""
    if not path.exists():
        return [], Delivery()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SubscriptionError(f"{path}: expected a mapping with a 'subscribers' list")
    subs = []
    for i, entry in enumerate(data.get("subscribers") or [], start=1):
        if not isinstance(entry, dict):
            raise SubscriptionError(f"{path}: subscriber #{i} is not a mapping")
        subs.append(_check(entry, f"{path.name}: subscriber #{i}"))
    d = data.get("delivery") or {}
    delivery = Delivery(
        max_attempts=int(d.get("max_attempts", 8)),
        reclaim_after_minutes=int(d.get("reclaim_after_minutes", 60)),
    )
    return subs, delivery
