"""Subscriptions (models/subscriptions.yaml) and routing alerts to them by jurisdiction.

A subscriber's ``province`` names a district (辖区, see :mod:`watchtower.jurisdiction`): one of
the 31 provinces or one of the five cities with a bureau of their own, in any spelling; a list
of them is a set of districts. ``city`` narrows a district to one city, or, when it is itself
a 计划单列市 (``city: 深圳``), names that district. The file is checked when it is loaded:
unknown keys, a list where one value is expected, a district that is no district, and two
entries with one identity are errors naming the file and the line. An immediate subscriber
may name ``webhook`` channels (:class:`Webhook`) that each red alert is pushed to.

Routing places a manager by its registration district (supervision follows registration) or,
with ``WATCHTOWER_ROUTING_ADDRESS=office``, by its office's; see
:func:`watchtower.digest.collect.manager_places`. :meth:`Subscription.covers` and
:func:`unrouted` (the alerts no subscriber receives, which go to the catch-all recipient) state
the rule over plain data; the digests apply it in SQL (:func:`watchtower.warn.queries.
digest_alerts`, :func:`~watchtower.warn.queries.unrouted_alert_ids`), held equal by the tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from watchtower.config import ConfigError
from watchtower.jurisdiction import JURISDICTIONS, normalize_jurisdiction
from watchtower.store.alerts import TIERS
from watchtower.warn.policy import rank

Cadence = Literal["immediate", "daily", "weekly"]
WebhookFormat = Literal["wecom", "dingtalk", "json"]
#: Robot-message formats of a webhook: WeCom (企业微信) and DingTalk (钉钉) group robots, or
#: plain JSON for one's own systems.
WEBHOOK_FORMATS: tuple[str, ...] = ("wecom", "dingtalk", "json")
CADENCES: tuple[str, ...] = ("immediate", "daily", "weekly")
LANGUAGES: tuple[str, ...] = ("zh", "en")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Identity of the catch-all digest (alerts no subscriber receives).
CATCH_ALL_KEY = "catch-all"

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
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_KEYS = (
    "recipient",
    "province",
    "city",
    "min_tier",
    "cadence",
    "language",
    "name",
    "weekday",
    "webhook",
)
_SEPARATE = {j.zh: j.parent for j in JURISDICTIONS if j.parent}


class SubscriptionError(ConfigError):
    """The subscriptions file is malformed; the message names the file, line and key."""


def normalize_region(name: str | None) -> str:
    """Comparable form of a province or city name: 广东省 -> 广东, 上海市 -> 上海,
    广西壮族自治区 -> 广西; blank -> ''."""
    text = unicodedata.normalize("NFKC", name or "").strip().replace(" ", "")
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return text[: -len(suffix)]
    return text


@dataclass(frozen=True)
class Delivery:
    max_attempts: int = 8
    reclaim_after_minutes: int = 60


@dataclass(frozen=True)
class Webhook:
    """One push channel of a subscription: a robot's or a system's URL and its message format.
    The URL often carries the robot's secret (WeCom ``?key=``, DingTalk ``?access_token=``):
    it is never stored or printed; the push ledger keeps :attr:`key` and :attr:`target`."""

    url: str = field(repr=False)
    format: WebhookFormat = "json"

    @property
    def key(self) -> str:
        """The channel's identity in the push ledger (a hash: the URL holds a secret)."""
        raw = f"{self.format}\x1f{self.url}"
        return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]

    @property
    def target(self) -> str:
        """What may be shown of it: format, scheme, host and path, without query or login."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{self.format} {parts.scheme}://{parts.hostname}{port}{parts.path}"


@dataclass(frozen=True)
class Place:
    """Where routing puts a manager: its district (None: unknown jurisdiction) and its city
    as published (for subscribers narrowed to one city)."""

    district: str | None
    city: str | None = None


@dataclass(frozen=True)
class Subscription:
    """One supervisor's digest. ``province``: a district or a tuple of districts (any
    spelling); ``city``: one city of it, or a 计划单列市. At least one is set for a configured
    subscriber; ``everywhere`` is only for ``digest --to``; ``alert_ids`` makes the catch-all
    digest (exactly those alerts)."""

    recipient: str
    province: str | tuple[str, ...] | None = None
    city: str | None = None
    min_tier: str = "yellow"
    cadence: Cadence = "daily"
    language: str = "zh"
    name: str | None = None
    weekday: str = "fri"
    everywhere: bool = field(default=False)
    alert_ids: frozenset[int] | None = None
    #: Push channels (immediate subscriptions only): each red alert, new or escalated, is
    #: posted to each of them once (watchtower.digest.push).
    webhooks: tuple[Webhook, ...] = ()

    @cached_property
    def _provinces(self) -> tuple[str, ...]:
        if self.province is None:
            return ()
        given = (self.province,) if isinstance(self.province, str) else self.province
        return tuple(normalize_jurisdiction(p) or normalize_region(p) for p in given)

    @cached_property
    def districts(self) -> frozenset[str]:
        """The districts covered (empty: any district, narrowed by ``city``)."""
        own = normalize_jurisdiction(self.city)
        if own in _SEPARATE:
            return frozenset({own})
        return frozenset(self._provinces)

    @cached_property
    def city_filter(self) -> str | None:
        """The city a place must be in, or None (the whole district)."""
        if not self.city or normalize_jurisdiction(self.city) in _SEPARATE:
            return None
        return normalize_region(self.city)

    def covers(self, place: Place, alert_id: int | None = None) -> bool:
        """True when a manager at ``place`` (alert ``alert_id``) belongs to this digest."""
        if self.alert_ids is not None:
            return alert_id in self.alert_ids
        if self.everywhere:
            return True
        if self.districts and place.district not in self.districts:
            return False
        return not (self.city_filter and self.city_filter != normalize_region(place.city))

    def min_rank(self) -> int:
        """The lowest tier this digest shows (immediate digests: red only)."""
        return rank("red") if self.cadence == "immediate" else rank(self.min_tier)

    @property
    def jurisdiction(self) -> str:
        """Human label: 广东/广州, 上海, 广东、上海, 未路由 for the catch-all, * for everywhere."""
        if self.alert_ids is not None:
            return "未路由 unrouted"
        if self.everywhere:
            return "*"
        parts = ["、".join(self._provinces)] if self._provinces else []
        if self.city:
            parts.append(normalize_region(self.city))
        return "/".join(parts)

    @property
    def key(self) -> str:
        """Identity of the subscription in the outbox: its name, else a stable hash of its
        content (two entries for one address never share a digest)."""
        if self.alert_ids is not None:
            return CATCH_ALL_KEY
        if self.name and len(self.name) <= 100:
            return f"name:{self.name}"
        content = json.dumps(
            [
                self.recipient,
                sorted(self.districts),
                self.city_filter,
                self.min_tier,
                self.cadence,
                self.language,
                self.weekday,
                self.everywhere,
                self.name,
            ],
            ensure_ascii=False,
        )
        return "sha256:" + hashlib.sha256(content.encode()).hexdigest()[:40]


def adhoc_subscription(
    to: str, *, cadence: str = "daily", language: str = "zh", min_tier: str = "blue"
) -> Subscription:
    """A one-off subscription covering every jurisdiction (``digest --to ADDRESS``)."""
    return Subscription(
        recipient=to,
        min_tier=min_tier,
        cadence=cadence,  # type: ignore[arg-type]
        language=language,
        everywhere=True,
    )


def catch_all_subscription(recipient: str, alert_ids: Iterable[int]) -> Subscription:
    """The daily digest of the alerts no subscriber receives, to the catch-all recipient."""
    return Subscription(
        recipient=recipient,
        min_tier="blue",
        cadence="daily",
        name="Watchtower 未路由预警 / unrouted alerts",
        alert_ids=frozenset(alert_ids),
    )


def unrouted(
    alerts: Iterable[tuple[int, str, Place]], subscriptions: Sequence[Subscription]
) -> list[int]:
    """Ids of the open alerts (id, tier, place) that no subscription receives at any cadence
    for their tier, in id order."""
    subs = [s for s in subscriptions if s.alert_ids is None]
    return sorted(
        alert_id
        for alert_id, tier, place in alerts
        if not any(s.covers(place, alert_id) and rank(tier) >= s.min_rank() for s in subs)
    )


# --- the subscriptions file ------------------------------------------------------------------


def _scalar(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, list | dict):
        raise SubscriptionError(f"{where}: {key} must be one value, not {value!r}")
    text = str(value).strip()
    if _CONTROL.search(text):
        raise SubscriptionError(f"{where}: {key} {text!r} holds control characters")
    return text or None


def _provinces(entry: dict[str, Any], where: str) -> tuple[str, ...]:
    value = entry.get("province")
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, list | dict) or item is None:
            raise SubscriptionError(f"{where}: province {value!r}: a district or a list of them")
        district = normalize_jurisdiction(str(item))
        if district is None:
            raise SubscriptionError(
                f"{where}: province {str(item)!r} is not a district (辖区): one of the 31 "
                "provinces or 深圳, 大连, 宁波, 厦门, 青岛, in any spelling"
            )
        out.append(district)
    return tuple(dict.fromkeys(out))


def _webhook(item: Any, where: str) -> Webhook:
    if not isinstance(item, dict):
        # not the value itself: a bare URL would be printed with its robot key
        raise SubscriptionError(
            f"{where}: webhook takes {{url: ..., format: ...}} or a list of them, not a "
            f"{type(item).__name__}"
        )
    unknown = sorted(set(map(str, item)) - {"url", "format"})
    if unknown:
        raise SubscriptionError(f"{where}: webhook: unknown keys {unknown} (known: url, format)")
    url = item.get("url")
    if not isinstance(url, str) or _CONTROL.search(url):
        # not echoed: it may hold the robot's key
        raise SubscriptionError(f"{where}: webhook url must be one line of text")
    url = url.strip()
    parts = urlsplit(url)
    try:
        _ = parts.port  # raises on a port that is no port
    except ValueError:
        raise SubscriptionError(f"{where}: webhook url {parts.hostname}: a bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        shown = parts.hostname or url[:40]  # never the whole URL: it may hold a robot key
        raise SubscriptionError(
            f"{where}: webhook url must be an http(s) address, not {parts.scheme}://{shown}…"
        )
    fmt = (_scalar(item, "format", f"{where}: webhook") or "json").lower()
    if fmt not in WEBHOOK_FORMATS:
        raise SubscriptionError(
            f"{where}: webhook format {fmt!r} not one of {', '.join(WEBHOOK_FORMATS)}"
        )
    return Webhook(url=url, format=fmt)  # type: ignore[arg-type]


def _webhooks(entry: dict[str, Any], cadence: str, where: str) -> tuple[Webhook, ...]:
    """``webhook``: one channel (a mapping) or a list of them; immediate subscriptions only
    (a push is one red alert as it happens, not a digest)."""
    value = entry.get("webhook")
    if value is None or value == []:
        return ()
    if cadence != "immediate":
        raise SubscriptionError(
            f"{where}: webhook pushes red alerts as they turn red: give it to a subscriber "
            "with cadence: immediate"
        )
    items = value if isinstance(value, list) else [value]
    hooks = tuple(_webhook(item, where) for item in items)
    if len({h.key for h in hooks}) < len(hooks):
        raise SubscriptionError(f"{where}: the same webhook is named twice")
    return hooks


def _check(entry: dict[str, Any], where: str) -> Subscription:
    unknown = sorted(set(map(str, entry)) - set(_KEYS))
    if unknown:
        raise SubscriptionError(f"{where}: unknown keys {unknown} (known: {', '.join(_KEYS)})")
    recipient = _scalar(entry, "recipient", where) or ""
    if not _EMAIL.match(recipient):
        raise SubscriptionError(f"{where}: recipient {recipient!r} is not an e-mail address")
    provinces = _provinces(entry, where)
    city = _scalar(entry, "city", where)
    if not provinces and not city:
        raise SubscriptionError(f"{where}: set province and/or city (the jurisdiction)")
    own = normalize_jurisdiction(city)
    if city and own is not None and provinces:
        parent = _SEPARATE.get(own)
        if own not in provinces and parent not in provinces:
            raise SubscriptionError(f"{where}: city {city!r} is not in {'、'.join(provinces)}")
        if own in _SEPARATE and len(provinces) > 1:
            raise SubscriptionError(
                f"{where}: city {city!r} is a district of its own; give it alone"
            )
    values = {
        "min_tier": (_scalar(entry, "min_tier", where) or "yellow", TIERS),
        "cadence": (_scalar(entry, "cadence", where) or "daily", CADENCES),
        "language": (_scalar(entry, "language", where) or "zh", LANGUAGES),
        "weekday": ((_scalar(entry, "weekday", where) or "fri").lower()[:3], WEEKDAYS),
    }
    for key, (value, allowed) in values.items():
        if value not in allowed:
            raise SubscriptionError(f"{where}: {key} {value!r} not one of {', '.join(allowed)}")
    return Subscription(
        recipient=recipient,
        province=(provinces[0] if len(provinces) == 1 else provinces) or None,
        city=city,
        min_tier=values["min_tier"][0],
        cadence=values["cadence"][0],  # type: ignore[arg-type]
        language=values["language"][0],
        name=_scalar(entry, "name", where),
        weekday=values["weekday"][0],
        webhooks=_webhooks(entry, values["cadence"][0], where),
    )


def _lines(text: str) -> tuple[int | None, list[int]]:
    """Line of the 'subscribers' list and of each of its entries (1-based), from the YAML
    nodes; the values themselves come from safe_load."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return None, []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "subscribers":
            items = value.value if isinstance(value, yaml.SequenceNode) else []
            return value.start_mark.line + 1, [n.start_mark.line + 1 for n in items]
    return None, []


def load_subscriptions(path: Path) -> tuple[list[Subscription], Delivery]:
    """Subscribers and delivery settings from ``path`` (models/subscriptions.yaml), checked.
    A missing file means nobody subscribes."""
    if not path.exists():
        return [], Delivery()
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
        list_line, lines = _lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise SubscriptionError(f"{path}{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise SubscriptionError(f"{path}: expected a mapping with a 'subscribers' list")
    unknown = sorted(set(map(str, data)) - {"subscribers", "delivery"})
    if unknown:
        raise SubscriptionError(f"{path}: unknown keys {unknown} (known: subscribers, delivery)")
    entries = data.get("subscribers") or []
    if not isinstance(entries, list):
        raise SubscriptionError(f"{path}:{list_line}: 'subscribers' must be a list")
    subs = _subscribers(path, entries, list_line, lines)
    return subs, _delivery(path, data.get("delivery") or {})


def _subscribers(
    path: Path, entries: list[Any], list_line: int | None, lines: list[int]
) -> list[Subscription]:
    """Each subscriber checked (named by its line); (recipient, cadence, name) is unique."""
    subs: list[Subscription] = []
    seen: dict[tuple[str, str, str], str] = {}
    for i, entry in enumerate(entries, start=1):
        line = lines[i - 1] if i <= len(lines) else list_line
        where = f"{path}:{line}: subscriber #{i}"
        if not isinstance(entry, dict):
            raise SubscriptionError(f"{where} is not a mapping")
        sub = _check(entry, where)
        identity = (sub.recipient, sub.cadence, sub.key)
        if identity in seen:
            raise SubscriptionError(
                f"{where}: same recipient, cadence and name as {seen[identity]}: give it "
                "another name"
            )
        seen[identity] = f"line {line}"
        subs.append(sub)
    return subs


def _delivery(path: Path, d: Any) -> Delivery:
    if not isinstance(d, dict) or set(map(str, d)) - {"max_attempts", "reclaim_after_minutes"}:
        raise SubscriptionError(
            f"{path}: delivery takes max_attempts and reclaim_after_minutes only"
        )
    try:
        delivery = Delivery(
            max_attempts=int(d.get("max_attempts", 8)),
            reclaim_after_minutes=int(d.get("reclaim_after_minutes", 60)),
        )
    except (TypeError, ValueError):
        raise SubscriptionError(f"{path}: delivery values must be whole numbers") from None
    if delivery.max_attempts < 1:
        raise SubscriptionError(f"{path}: delivery.max_attempts must be at least 1")
    return delivery
