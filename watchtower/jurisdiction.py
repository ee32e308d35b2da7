"""Jurisdictions (辖区): the districts of the CSRC's local bureaus, and the one normaliser of
their names.

A private fund manager is supervised by the bureau of the district it is registered in: one of
the 31 provinces, autonomous regions and municipalities, or one of the five cities with a
bureau of their own (计划单列市: 深圳, 大连, 宁波, 厦门, 青岛), which are not part of their
province's district. AMAC publishes the district of both addresses (``regAdrAgg``,
``officeAdrAgg``: ``广东省``, ``深圳市``, ``上海市``); addresses without it are placed from their
province and city.

Names come spelled every way people type them (``廣東省``, ``Guangdong``, ``guangdong sheng``,
``广东``, ``广东省``, ``深圳市(计划单列市)``); :func:`normalize_jurisdiction` maps each to the
district's short simplified name (``广东``), or None when it names no district. Everything that
compares districts (routing digests, the supervisor console) goes through this module.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["JURISDICTIONS", "Jurisdiction", "jurisdiction_of", "normalize_jurisdiction"]


@dataclass(frozen=True)
class Jurisdiction:
    """One district: short simplified name (the key), official name, English/pinyin name,
    and other spellings (traditional characters, common English forms)."""

    zh: str
    official: str
    en: str
    aliases: tuple[str, ...] = ()
    #: For a 计划单列市: the province it lies in (whose district it is not part of).
    parent: str | None = None


JURISDICTIONS: tuple[Jurisdiction, ...] = (
    Jurisdiction("北京", "北京市", "Beijing", ("peking",)),
    Jurisdiction("天津", "天津市", "Tianjin"),
    Jurisdiction("河北", "河北省", "Hebei"),
    Jurisdiction("山西", "山西省", "Shanxi"),
    Jurisdiction("内蒙古", "内蒙古自治区", "Inner Mongolia", ("內蒙古", "neimenggu", "nei mongol")),
    Jurisdiction("辽宁", "辽宁省", "Liaoning", ("遼寧",)),
    Jurisdiction("吉林", "吉林省", "Jilin"),
    Jurisdiction("黑龙江", "黑龙江省", "Heilongjiang", ("黑龍江",)),
    Jurisdiction("上海", "上海市", "Shanghai"),
    Jurisdiction("江苏", "江苏省", "Jiangsu", ("江蘇",)),
    Jurisdiction("浙江", "浙江省", "Zhejiang"),
    Jurisdiction("安徽", "安徽省", "Anhui"),
    Jurisdiction("福建", "福建省", "Fujian"),
    Jurisdiction("江西", "江西省", "Jiangxi"),
    Jurisdiction("山东", "山东省", "Shandong", ("山東",)),
    Jurisdiction("河南", "河南省", "Henan"),
    Jurisdiction("湖北", "湖北省", "Hubei"),
    Jurisdiction("湖南", "湖南省", "Hunan"),
    Jurisdiction("广东", "广东省", "Guangdong", ("廣東", "canton")),
    Jurisdiction("广西", "广西壮族自治区", "Guangxi", ("廣西", "guangxi zhuang")),
    Jurisdiction("海南", "海南省", "Hainan"),
    Jurisdiction("重庆", "重庆市", "Chongqing", ("重慶",)),
    Jurisdiction("四川", "四川省", "Sichuan"),
    Jurisdiction("贵州", "贵州省", "Guizhou", ("貴州",)),
    Jurisdiction("云南", "云南省", "Yunnan", ("雲南",)),
    Jurisdiction("西藏", "西藏自治区", "Xizang", ("tibet",)),
    Jurisdiction("陕西", "陕西省", "Shaanxi", ("陝西", "陜西")),
    Jurisdiction("甘肃", "甘肃省", "Gansu", ("甘肅",)),
    Jurisdiction("青海", "青海省", "Qinghai"),
    Jurisdiction("宁夏", "宁夏回族自治区", "Ningxia", ("寧夏", "ningxia hui")),
    Jurisdiction("新疆", "新疆维吾尔自治区", "Xinjiang", ("xinjiang uygur", "xinjiang uyghur")),
    # 计划单列市: a bureau of their own, apart from their province's.
    Jurisdiction("深圳", "深圳市", "Shenzhen", (), parent="广东"),
    Jurisdiction("大连", "大连市", "Dalian", ("大連",), parent="辽宁"),
    Jurisdiction("宁波", "宁波市", "Ningbo", ("寧波",), parent="浙江"),
    Jurisdiction("厦门", "厦门市", "Xiamen", ("廈門", "amoy"), parent="福建"),
    Jurisdiction("青岛", "青岛市", "Qingdao", ("青島", "tsingtao"), parent="山东"),
)

# Traditional -> simplified, only for the characters these names and their suffixes use
# (no dependency: a full converter would be overkill for 36 names).
_T2S = str.maketrans(
    # each traditional (or variant) character, then its simplified one at the same place
    "廣東遼寧龍蘇慶貴雲陝陜肅內連廈門島區壯維爾計劃單轄別黨屬",
    "广东辽宁龙苏庆贵云陕陕肃内连厦门岛区壮维尔计划单辖别党属",
)

# Administrative suffixes, longest first (so 广西壮族自治区 loses all of it, not just 区).
_ZH_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "计划单列市",
    "自治区",
    "证监局",
    "辖区",
    "省",
    "市",
)
_EN_SUFFIXES = (
    "specialadministrativeregion",
    "autonomousregion",
    "municipality",
    "province",
    "zizhiqu",
    "sheng",
    "city",
    "shi",
)
_NOISE = re.compile(r"[\s()（）\[\]【】,，.。·・'’_\-]+")


def _plain(text: str) -> str:
    """NFKC, traditional -> simplified, lower case, without spaces and punctuation."""
    folded = unicodedata.normalize("NFKC", text).translate(_T2S).casefold()
    return _NOISE.sub("", folded)


def _strip_suffixes(text: str) -> str:
    # Repeatedly: 深圳市计划单列市 -> 深圳市 -> 深圳; never down to nothing.
    changed = True
    while changed:
        changed = False
        for suffix in _ZH_SUFFIXES + _EN_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                changed = True
                break
    return text


def _index() -> dict[str, str]:
    out: dict[str, str] = {}
    for j in JURISDICTIONS:
        for name in (j.zh, j.official, j.en, *j.aliases):
            out[_plain(name)] = j.zh
            out[_strip_suffixes(_plain(name))] = j.zh
    return out


_BY_NAME = _index()
_SEPARATE_CITIES = frozenset(j.zh for j in JURISDICTIONS if j.parent)


def normalize_jurisdiction(text: str | None) -> str | None:
    """The district ``text`` names, as its short simplified name (``廣東省``, ``Guangdong``,
    ``guangdong sheng``, ``广东省`` -> ``广东``; ``深圳市`` -> ``深圳``), or None when it is
    blank or names no district."""
    if text is None:
        return None
    plain = _plain(str(text))
    if not plain:
        return None
    return _BY_NAME.get(plain) or _BY_NAME.get(_strip_suffixes(plain))


def jurisdiction_of(reg_adr_agg: str | None, province: str | None, city: str | None) -> str | None:
    """The district of one address: AMAC's own aggregate (``regAdrAgg`` / ``officeAdrAgg``)
    when it names one, else the city when it is a 计划单列市, else the province; None when
    none of them names a district (an unknown jurisdiction)."""
    agg = normalize_jurisdiction(reg_adr_agg)
    if agg is not None:
        return agg
    own = normalize_jurisdiction(city)
    if own in _SEPARATE_CITIES:
        return own
    return normalize_jurisdiction(province)
