"""Chinese names for the synthetic demo: places, roads, estates and people, from syllable lists.

Names are drawn with the caller's numpy Generator and are unique per :class:`NameFactory`
(one factory per build; the set of used names lives in the factory, never in the module), so
the same seed always gives the same names in the same order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gridmap.errors import ValidationError

# Two-syllable place words: first and second syllables of auspicious / landscape names such as
# 黎阳, 淇河, 朝歌, 华夏, 兴隆. Pairs with a repeated character are skipped.
PLACE_FIRST = "黎淇朝鹿金银华新兴福和安康泰嘉锦瑞祥春秋青翠松柳桃杏梅兰竹云天湖泉山明光文振建胜利长宏永丰"
PLACE_SECOND = "阳河歌鸣山苑华城兴安福和泰康园湾林源水桥岗台盛平宁昌隆光明德顺丰盈翠秀泽"
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜"
    "戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹易常武乔贺赖龚文"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玉萍红建华志国庆海波宁晓燕雪梅丹宇鑫浩然欣怡佳琪子涵梓轩"
VILLAGE_PREFIX = ("", "", "", "东", "西", "南", "北", "大", "小", "前", "后", "上", "下")
VILLAGE_SUFFIX = ("庄", "营", "寨", "屯", "店", "湾", "岗", "集", "楼", "桥", "寺", "窑", "堡")
ESTATE_SUFFIX_NEW = ("花园", "苑", "家园", "名城", "公馆", "华府", "小区", "嘉园", "雅居", "新城")
ESTATE_SUFFIX_OLD = ("小区", "新村", "家属院", "宿舍区")
WORK_UNITS = ("电厂", "煤业", "纺织厂", "化肥厂", "矿务局", "供电局", "粮食局", "机械厂", "水泥厂", "陶瓷厂")


class NameFactory:
    """Unique names of each kind for one demo build, drawn from ``rng``."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def unique(self, make: Callable[[], str], what: str, *, attempts: int = 500) -> str:
        """A name from ``make()`` not handed out before by this factory."""
        for _ in range(attempts):
            name = make()
            if name not in self._used:
                self._used.add(name)
                return name
        raise ValidationError(f"demo names: could not find a new {what} name after {attempts} attempts")

    def pick(self, chars: str | tuple[str, ...]) -> str:
        """One item of ``chars`` (a string of characters or a tuple of words)."""
        return str(chars[int(self._rng.integers(len(chars)))])

    def place_word(self) -> str:
        """Two syllables like 黎阳 or 淇河 (not unique on its own; the callers add a suffix)."""
        while True:
            a, b = self.pick(PLACE_FIRST), self.pick(PLACE_SECOND)
            if a != b:
                return a + b

    def place(self, suffixes: tuple[str, ...], what: str) -> str:
        """A unique place word + one of ``suffixes``: 锦华公园, 泰和大厦."""
        return self.unique(lambda: self.place_word() + self.pick(suffixes), what)

    def community(self) -> str:
        """An urban residents' committee: 黎阳社区."""
        return self.unique(lambda: self.place_word() + "社区", "community")

    def village(self) -> str:
        """A village (行政村) named after a family and a landform, as in Henan: 东王庄村, 李家营村."""

        def make() -> str:
            middle = "家" if self._rng.random() < 0.25 else ""
            return self.pick(VILLAGE_PREFIX) + self.pick(SURNAMES) + middle + self.pick(VILLAGE_SUFFIX) + "村"

        return self.unique(make, "village")

    def street(self) -> str:
        """An urban sub-district named after a road: 九州路街道 style, e.g. 黎阳路街道."""
        return self.unique(lambda: self.place_word() + "路街道", "street")

    def township(self) -> str:
        """A rural township: 钜桥镇 style; about one in four is a 乡."""
        return self.unique(lambda: self.place_word() + ("乡" if self._rng.random() < 0.25 else "镇"), "township")

    def road(self, kind: str) -> str:
        """Road names by kind: arterials 大道/路, locals 街/路, lanes 巷, country roads 公路/线."""
        suffix = {
            "arterial": ("大道", "路", "路"),
            "local": ("街", "路"),
            "lane": ("巷", "胡同"),
            "country": ("公路", "线"),
        }[kind]
        return self.unique(lambda: self.place_word() + self.pick(suffix), f"{kind} road")

    def estate(self, *, old: bool) -> str:
        """Estate (小区) names: new ones 锦华苑, 泰和花园; old ones 明德小区, 电厂家属院."""

        def make() -> str:
            if old and self._rng.random() < 0.3:
                return self.pick(WORK_UNITS) + self.pick(("家属院", "宿舍区"))
            return self.place_word() + self.pick(ESTATE_SUFFIX_OLD if old else ESTATE_SUFFIX_NEW)

        return self.unique(make, "estate")

    def person(self) -> str:
        """A person's name: surname + one or two given-name characters (not unique: people share names)."""
        given = self.pick(GIVEN) + (self.pick(GIVEN) if self._rng.random() < 0.6 else "")
        return self.pick(SURNAMES) + given
