"""Routing that cannot drop a red (issue 11, item 3): district names in every spelling, the
subscriptions file checked with file and line, routing on the registration district, and
every alert nobody subscribes to sent to the catch-all recipient and reported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.store_rows import loaded_batch
from tests.warn.scores import NOW, insert_scores, score_row
from watchtower import pipeline
from watchtower.cli import app
from watchtower.clock import FixedClock
from watchtower.config import Settings, load_settings
from watchtower.jurisdiction import JURISDICTIONS, jurisdiction_of, normalize_jurisdiction
from watchtower.store import open_store
from watchtower.store.alerts import alerts, outbox
from watchtower.store.schema import manager_snapshots
from watchtower.warn.routing import (
    Place,
    Subscription,
    SubscriptionError,
    load_subscriptions,
    unrouted,
)

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2024, 6, 28)
CLOCK = FixedClock(NOW)
runner = CliRunner()


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["廣東省", "Guangdong", "guangdong sheng", "广东", "广东省", " GUANGDONG  Province", "廣東"],
)
def test_guangdong_in_every_spelling_is_one_district(spelling: str) -> None:
    assert normalize_jurisdiction(spelling) == "广东"


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("深圳市", "深圳"),
        ("深圳市(计划单列市)", "深圳"),
        ("Shenzhen", "深圳"),
        ("大連市", "大连"),
        ("Shaanxi", "陕西"),
        ("陝西省", "陕西"),
        ("shanxi", "山西"),
        ("內蒙古自治區", "内蒙古"),
        ("Inner Mongolia Autonomous Region", "内蒙古"),
        ("广西壮族自治区", "广西"),
        ("新疆维吾尔自治区", "新疆"),
        ("Beijing Shi", "北京"),
        ("上海市", "上海"),
        ("青島", "青岛"),
        ("", None),
        (None, None),
        ("   ", None),
        ("火星", None),
        ("广州", None),
        ("省", None),
    ],
)
def test_district_spellings(text: str | None, district: str | None) -> None:
    assert normalize_jurisdiction(text) == district


def test_the_36_districts_each_name_themselves() -> None:
    assert len(JURISDICTIONS) == 36  # 31 provinces + 深圳 大连 宁波 厦门 青岛
    assert {j.zh for j in JURISDICTIONS if j.parent} == {"深圳", "大连", "宁波", "厦门", "青岛"}
    for j in JURISDICTIONS:
        for name in (j.zh, j.official, j.en, j.en.upper(), *j.aliases):
            assert normalize_jurisdiction(name) == j.zh, name


def test_district_of_an_address() -> None:
    assert jurisdiction_of("深圳市", "广东省", "深圳市") == "深圳"  # AMAC's aggregate first
    assert jurisdiction_of(None, "广东省", "深圳市") == "深圳"  # 计划单列市 from the city
    assert jurisdiction_of(None, "广东省", "广州市") == "广东"
    assert jurisdiction_of(None, "吉林省", "吉林市") == "吉林"
    assert jurisdiction_of("", "Guangdong", None) == "广东"
    assert jurisdiction_of(None, None, None) is None  # unknown jurisdiction
    assert jurisdiction_of(None, None, "广州") is None


def test_real_amac_aggregates_are_all_districts() -> None:
    seen: set[str] = set()
    for path in (REPO / "tests" / "fixtures" / "real_amac").rglob("*.json"):
        text = path.read_text("utf-8", errors="replace")
        seen |= set(re.findall(r'"(?:regAdrAgg|officeAdrAgg)"\s*:\s*"([^"]+)"', text))
    assert {"广东省", "深圳市", "上海市"} <= seen
    assert {v: normalize_jurisdiction(v) for v in seen if normalize_jurisdiction(v) is None} == {}


def test_subscriptions_cover_by_district() -> None:
    gd = Subscription(recipient="a@b.cn", province="廣東省")
    assert gd.covers(Place("广东", "佛山市")) and not gd.covers(Place("深圳", "深圳市"))
    assert not gd.covers(Place(None))
    both = Subscription(recipient="a@b.cn", province=("广东", "Shanghai"))
    assert (
        both.covers(Place("上海")) and both.covers(Place("广东")) and not both.covers(Place("北京"))
    )
    sz = Subscription(recipient="a@b.cn", province="广东", city="深圳")  # the 计划单列市's own
    assert sz.districts == {"深圳"} and sz.covers(Place("深圳", "深圳市"))
    gz = Subscription(recipient="a@b.cn", province="广东", city="广州")
    assert gz.covers(Place("广东", "广州市")) and not gz.covers(Place("广东", "佛山市"))


def test_unrouted_is_per_tier_and_any_cadence() -> None:
    subs = [
        Subscription(recipient="a@b.cn", province="广东", min_tier="orange"),
        Subscription(recipient="r@b.cn", province="上海", cadence="immediate"),  # red only
    ]
    got = unrouted(
        [
            (1, "red", Place("广东")),
            (2, "yellow", Place("广东")),
            (3, "red", Place("上海")),
            (4, "orange", Place("上海")),
            (5, "red", Place(None)),
            (6, "red", Place("浙江")),
        ],
        subs,
    )
    assert got == [2, 4, 5, 6]


# --- the subscriptions file ----------------------------------------------------------------


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(body, encoding="utf-8")
    return path


SUB = "subscribers:\n  - recipient: a@b.cn\n    province: 广东\n"


@pytest.mark.parametrize(
    ("extra", "line", "words"),
    [
        ("    provnice: 上海\n", 2, "unknown keys ['provnice']"),
        ("    city: [广州, 佛山]\n", 2, "city must be one value"),
        ("    min_tier: [red]\n", 2, "min_tier must be one value"),
        ("  - recipient: b@b.cn\n    province: 火星省\n", 4, "'火星省' is not a district"),
        ("  - recipient: b@b.cn\n    province: [上海, Atlantis]\n", 4, "'Atlantis' is not a"),
        ("  - recipient: b@b.cn\n    province: 广东\n    city: 上海\n", 4, "not in 广东"),
        ("    name: 局\n  - {recipient: a@b.cn, name: 局, province: 上海}\n", 5, "same recipient"),
    ],
)
def test_subscription_errors_name_the_file_and_line(
    tmp_path: Path, extra: str, line: int, words: str
) -> None:
    path = _file(tmp_path, SUB + extra)
    with pytest.raises(SubscriptionError) as err:
        load_subscriptions(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: ") and words in message, message
    assert "\n" not in message


def test_a_list_of_districts_is_a_set_of_them(tmp_path: Path) -> None:
    path = _file(tmp_path, "subscribers:\n  - recipient: a@b.cn\n    province: [广东, 上海市]\n")
    (sub,), _ = load_subscriptions(path)
    assert sub.districts == {"广东", "上海"} and sub.jurisdiction == "广东、上海"


def test_the_shipped_subscriptions_load() -> None:
    subs, _ = load_subscriptions(REPO / "models" / "subscriptions.yaml")
    by = {s.recipient: s for s in subs}
    assert by["sz-analyst@example.gov.cn"].districts == {"深圳"}
    assert by["gd-jianguan@example.gov.cn"].districts == {"广东"}
    assert len({(s.recipient, s.cadence, s.key) for s in subs}) == len(subs)


# --- the scripted world ----------------------------------------------------------------------

# (register_no, registered (agg, province, city), office (province, city)): 31 managers.
_GD = ["廣東省", "Guangdong", "guangdong sheng", "广东", "广东省", "GUANGDONG", "廣東", "广东省"]
_SH = ["上海市", "Shanghai", "上海", "shanghai shi", "上海市", "SHANGHAI"]
WORLD: list[tuple[str, tuple[str | None, str | None, str | None], tuple[str, str]]] = (
    # 广东 registered in every spelling; the last three have their office in 上海
    [
        (
            f"P41000{i:02d}",
            (None, p, "广州市"),
            ("上海市", "上海市") if i >= 5 else ("广东省", "广州市"),
        )
        for i, p in enumerate(_GD)
    ]
    + [(f"P42000{i:02d}", (None, p, "上海市"), ("上海市", "上海市")) for i, p in enumerate(_SH)]
    # 深圳: AMAC's aggregate, or the city; offices in 广州 for two of them
    + [
        ("P4300000", ("深圳市", "广东省", "深圳市"), ("广东省", "广州市")),
        ("P4300001", (None, "广东省", "深圳市"), ("广东省", "广州市")),
        ("P4300002", (None, "Guangdong", "Shenzhen"), ("广东省", "深圳市")),
        ("P4300003", ("深圳市", None, None), ("广东省", "深圳市")),
    ]
    + [
        (f"P44000{i:02d}", (None, p, "北京市"), ("北京市", "北京市"))
        for i, p in enumerate(["北京市", "Beijing", "北京", "天津市"])
    ]
    # nobody subscribes to 浙江; no registered address at all; a district that does not exist
    + [(f"P45000{i:02d}", (None, "浙江省", "杭州市"), ("上海市", "上海市")) for i in range(3)]
    + [(f"P46000{i:02d}", (None, None, None), ("广东省", "广州市")) for i in range(3)]
    + [(f"P47000{i:02d}", (None, "火星", "火星市"), ("北京市", "北京市")) for i in range(3)]
)
UNROUTED = {reg for reg, _, _ in WORLD if reg[:3] in ("P45", "P46", "P47")}
SUBSCRIBERS = """\
subscribers:
  - {recipient: gd@example.gov.cn, name: 广东证监局, province: 广东, min_tier: blue}
  - {recipient: sh@example.gov.cn, name: 上海证监局, province: Shanghai, min_tier: blue}
  - {recipient: sz@example.gov.cn, name: 深圳证监局, province: 广东, city: 深圳, min_tier: blue}
  - {recipient: jj@example.gov.cn, name: 京津, province: [北京, 天津], min_tier: red}
"""


def _world(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str | None = None,
    **env: str,
) -> Settings:
    config = tmp_path / "config"
    config.mkdir()
    for name in ("features", "expectations"):
        (config / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "models", config / "models")
    (config / "models" / "subscriptions.yaml").write_text(SUBSCRIBERS, encoding="utf-8")
    monkeypatch.setenv("WATCHTOWER_CONFIG_DIR", str(config))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = load_settings().with_db(db_url or settings.db_url)
    engine = open_store(s.db_url)
    with engine.begin() as c:
        batch = loaded_batch(
            c, source="managers", at=NOW, name="m.json", path="/m.json", content_hash="w", rows=31
        )
        for i, (reg, (agg, prov, city), (oprov, ocity)) in enumerate(WORLD):
            c.execute(
                manager_snapshots.insert().values(
                    batch_id=batch,
                    row_number=i + 1,
                    known_from=DAY,
                    register_no=reg,
                    manager_name=f"测试{reg}",
                    reg_adr_agg=agg,
                    register_province=prov,
                    register_city=city,
                    office_province=oprov,
                    office_city=ocity,
                )
            )
    # as the scoring stage stores them: the office's province and city
    insert_scores(
        engine,
        [score_row(reg, 95, as_of=DAY, province=o[0], city=o[1]) for reg, _, o in WORLD],
    )
    pipeline.warn(s, DAY, clock=CLOCK)
    return s


def _ids(settings: Settings, regs: set[str]) -> list[int]:
    with open_store(settings.db_url).connect() as c:
        rows = c.execute(sa.select(alerts.c.id, alerts.c.register_no)).all()
    return sorted(i for i, reg in rows if reg in regs)


def _regs_in(eml: Path) -> set[str]:
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    (att,) = list(msg.iter_attachments())
    rows = list(csv.reader(io.StringIO(att.get_content().lstrip("\ufeff"))))
    return {r[2] for r in rows[1:]}


def _digests(settings: Settings) -> dict[str, set[str]]:
    with open_store(settings.db_url).connect() as c:
        rows = c.execute(sa.select(outbox.c.recipient, outbox.c.eml_path)).all()
    return {r: _regs_in(Path(p)) for r, p in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_red_is_lost_and_the_rest_go_to_the_catch_all(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    s = _world(
        settings, tmp_path, monkeypatch, url, WATCHTOWER_DIGEST_CATCH_ALL="ops@example.gov.cn"
    )
    with open_store(s.db_url).connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one() == 31
    summary = pipeline.digest(s, DAY, clock=CLOCK)
    # nobody is missed for a spelling: only 浙江, no address and 火星 reach no subscriber
    assert summary.unrouted_ids == _ids(s, UNROUTED) and summary.unrouted == 9
    assert summary.catch_all == "ops@example.gov.cn" and summary.problems == []
    got = _digests(s)
    assert got["ops@example.gov.cn"] == UNROUTED
    # routing follows registration: 广东's three with an office in 上海 are 广东's
    assert got["gd@example.gov.cn"] == {f"P41000{i:02d}" for i in range(8)}
    assert got["sh@example.gov.cn"] == {f"P42000{i:02d}" for i in range(6)}
    assert got["sz@example.gov.cn"] == {f"P43000{i:02d}" for i in range(4)}
    assert got["jj@example.gov.cn"] == {f"P44000{i:02d}" for i in range(4)}
    again = pipeline.digest(s, DAY, clock=CLOCK)  # once per (recipient, period, subscription)
    assert again.rendered == 0 and again.unrouted == 9


def test_office_routing_is_a_setting(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _world(
        settings,
        tmp_path,
        monkeypatch,
        WATCHTOWER_ROUTING_ADDRESS="office",
        WATCHTOWER_DIGEST_CATCH_ALL="ops@example.gov.cn",
    )
    assert s.digest.routing_address == "office"
    pipeline.digest(s, DAY, clock=CLOCK)
    got = _digests(s)
    offices_in_guangzhou = {f"P41000{i:02d}" for i in range(5)} | {"P4300000", "P4300001"}
    no_registered_address = {f"P46000{i:02d}" for i in range(3)}
    assert got["gd@example.gov.cn"] == offices_in_guangzhou | no_registered_address
    assert {"P4100005", "P4500000"} <= got["sh@example.gov.cn"]


def test_without_a_catch_all_the_command_fails_and_lists_them(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _world(settings, tmp_path, monkeypatch)
    monkeypatch.setenv("WATCHTOWER_DB_URL", s.db_url)
    ids = _ids(s, UNROUTED)
    r = runner.invoke(app, ["digest", "--as-of", str(DAY)])
    assert r.exit_code == 1, r.output
    assert f"unrouted alerts: 9 (ids {', '.join(map(str, ids))})" in r.stdout
    (err,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert "9 open alerts reach no subscriber" in err and "WATCHTOWER_DIGEST_CATCH_ALL" in err
    r = runner.invoke(app, ["digest", "--as-of", str(DAY), "--json"])
    assert r.exit_code == 1
    got = json.loads(r.stdout)
    assert got["unrouted"] == 9 and got["unrouted_ids"] == ids and got["catch_all"] is None
    # the DAG's render task: raises, so it fails, retries and mails the data engineers
    from watchtower.digest import DeliveryError

    with pytest.raises(DeliveryError, match="9 open alerts reach no subscriber"):
        pipeline.digest(s, DAY, cadence="daily", strict=True, clock=CLOCK)
