"""Protected characteristics that no policy may read, however they are spelt.

Scores here recognise effort and allocate care. Sorting residents by who they
are (their ethnicity, religion, politics, record or origin) is not something a
policy file can be made to do: the loader refuses any text of a policy that
denotes such a characteristic, and there is deliberately no switch to turn
this off in TOML.

A determined author spells around a word list, so every text is *normalised*
before it is matched (:func:`forms`):

1. compatibility forms folded (NFKC: full-width ``ｒｅｌｉｇｉｏｎ``, ligatures),
   accents, zero-width and other format characters dropped (``rel\u200bigion``),
   Cyrillic and Greek look-alikes read as the Latin letters they imitate
   (``religiоn`` with a Cyrillic о), case folded;
2. Chinese read in Simplified characters (``黨員`` is ``党员``) and with anything
   but Chinese characters between them dropped (``民 族``, ``民-族``);
3. English split into words (``snake_case``, ``camelCase``, digits), plurals and
   digit-for-letter spellings read as the word (``r3ligions``), and words joined
   without a separator found (``partymember``);
4. pinyin (``minzu``, ``zheng_zhi_mian_mao``) and pinyin initials (``zzmm``) read
   as the Chinese they stand for.

The Traditional characters and the pinyin are tables in this module, so a check
needs no library at run time; ``tests/test_protected.py`` regenerates both from
OpenCC and pypinyin and fails when they drift.

What is matched is a *fact about a person*: a fact's name, label, description,
values or default; a string in a rule (``group == "维吾尔族"``); a label of a
tier, a trigger or a star; the data of a ``[[case]]``. A scheme may declare
tables whose names describe what people *do* (a volunteer activity called
党员志愿服务): a match there is a warning, not a refusal (see
``SchemeSpec.mentions``).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

# --- what is protected ---------------------------------------------------------------

ETHNICITY = "ethnicity or race (民族/种族)"
RELIGION = "religion or belief (宗教信仰)"
POLITICS = "political opinion or affiliation (政治面貌)"
UNION = "trade-union membership (工会会员)"
SEXUALITY = "sexual orientation or gender identity (性取向/性别认同)"
CRIME = "criminal record or community correction (犯罪记录/社区矫正)"
PETITION = "petitioning history (信访/上访)"
ORIGIN = "hukou or place of origin (户籍/籍贯)"
FOREIGN = "foreign ties (境外关系)"
SURNAME = "surname, a proxy for ethnicity or clan (姓氏)"
CONTROL = "a control or surveillance category (管控/重点人员)"
HEALTH = "health, which only a declared care need may carry (健康状况)"

#: English words that on their own denote a protected characteristic (singular forms).
WORDS: dict[str, str] = {
    **dict.fromkeys(("ethnicity", "ethnic", "race", "racial", "nationality", "tribe",
                     "tribal", "caste", "uyghur", "uighur", "uygur", "tibetan", "kazakh",
                     "ethnos", "minority"), ETHNICITY),
    **dict.fromkeys(("religion", "religious", "religiosity", "faith", "worship", "mosque",
                     "church", "temple", "prayer", "muslim", "moslem", "christian",
                     "catholic", "protestant", "buddhist", "buddhism", "islam", "islamic",
                     "hindu", "hinduism", "jewish", "judaism", "jew", "sikh", "atheist",
                     "atheism", "imam", "quran", "koran", "bible", "hajj", "ramadan", "halal",
                     "hijab", "creed", "believer", "taoist", "daoist", "falun", "falungong",
                     "pray", "praying", "headscarf", "veil", "niqab", "burqa", "beard",
                     "pastor", "mullah"),
                   RELIGION),
    **dict.fromkeys(("political", "politics", "ideology", "communist", "cpc", "ccp", "kmt",
                     "partisan"), POLITICS),
    **dict.fromkeys(("unionist", "unionised", "unionized"), UNION),
    **dict.fromkeys(("gay", "lesbian", "homosexual", "bisexual", "sexuality", "lgbt",
                     "lgbtq", "lgbtqia", "transgender", "transsexual", "queer", "nonbinary",
                     "intersex"), SEXUALITY),
    **dict.fromkeys(("criminal", "conviction", "convicted", "convict", "felon", "felony",
                     "inmate", "prisoner", "parolee", "incarcerated", "incarceration", "jail",
                     "prison", "offender", "exoffender", "addict", "addiction"), CRIME),
    **dict.fromkeys(("petition", "petitioner", "petitioning"), PETITION),
    **dict.fromkeys(("hukou", "birthplace", "hometown", "nonlocal"), ORIGIN),
    **dict.fromkeys(("surname", "clan"), SURNAME),
}

#: English word pairs, adjacent in any spelling (``party_member``, ``Party Member``).
PAIRS: dict[tuple[str, str], str] = {
    **dict.fromkeys((("party", "member"), ("party", "membership"), ("party", "affiliation"),
                     ("political", "party"), ("communist", "party"), ("youth", "league")),
                    POLITICS),
    **dict.fromkeys((("trade", "union"), ("labor", "union"), ("labour", "union"),
                     ("union", "member"), ("union", "membership")), UNION),
    **dict.fromkeys((("sexual", "orientation"), ("sex", "orientation"), ("gender", "identity"),
                     ("same", "sex")), SEXUALITY),
    **dict.fromkeys((("skin", "colour"), ("skin", "color"), ("ethnic", "group")), ETHNICITY),
    **dict.fromkeys((("criminal", "record"), ("community", "correction"), ("police", "record"),
                     ("arrest", "record"), ("released", "prisoner"), ("prior", "conviction"),
                     ("drug", "user"), ("drug", "use"), ("drug", "abuse"), ("drug", "addict")),
                    CRIME),
    **dict.fromkeys((("household", "registration"), ("place", "origin"), ("native", "place"),
                     ("place", "birth"), ("birth", "place"), ("floating", "population"),
                     ("migrant", "population")), ORIGIN),
    **dict.fromkeys((("foreign", "tie"), ("foreign", "contact"), ("foreign", "relative"),
                     ("overseas", "relative"), ("overseas", "tie"), ("foreign", "connection"),
                     ("relative", "abroad"), ("taiwan", "relative"), ("taiwan", "tie")),
                    FOREIGN),
    **dict.fromkeys((("family", "name"), ("last", "name"), ("clan", "name")), SURNAME),
}

#: Words long and specific enough to be found inside a joined word (``multiethnic``,
#: ``isMuslimHousehold`` written as one word); the pairs are found joined too.
JOINABLE = ("ethnicity", "ethnic", "religion", "religious", "muslim", "christian", "buddhist",
            "islamic", "uyghur", "uighur", "tibetan", "homosexual", "bisexual", "transgender",
            "lgbt", "hukou", "birthplace", "surname", "criminal", "convict", "prisoner",
            "petitioner", "communist", "sexuality", "political")

#: Chinese, matched as substrings of the Simplified text.
CHINESE: dict[str, str] = {
    **dict.fromkeys(("民族", "种族", "族别", "族裔", "汉族", "维吾尔", "回族", "藏族", "蒙古族",
                     "哈萨克", "少数民族", "壮族", "满族", "苗族", "彝族", "土家族", "朝鲜族",
                     "侗族", "瑶族", "傣族", "黎族", "畲族", "回民", "涉疆"), ETHNICITY),
    **dict.fromkeys(("宗教", "信教", "信仰", "礼拜", "清真", "穆斯林", "基督", "佛教", "伊斯兰",
                     "道教", "天主教", "教徒", "教会", "寺庙", "教堂", "念经", "法轮", "邪教",
                     "斋月"), RELIGION),
    **dict.fromkeys(("政治面貌", "政治", "党员", "党派", "入党", "团员", "党籍", "民主党派",
                     "共产党", "共青团", "党龄"), POLITICS),
    **dict.fromkeys(("工会会员", "工会成员", "是否工会", "工会身份"), UNION),
    **dict.fromkeys(("性取向", "同性恋", "跨性别", "性别认同", "双性恋", "性少数"), SEXUALITY),
    **dict.fromkeys(("前科", "犯罪", "刑满释放", "社区矫正", "服刑", "劳改", "判刑", "在押",
                     "吸毒", "涉罪", "案底"), CRIME),
    **dict.fromkeys(("上访", "信访", "访民", "缠访", "闹访"), PETITION),
    **dict.fromkeys(("户籍", "户口", "籍贯", "出生地", "原籍", "祖籍", "外地人", "流动人口",
                     "外来人口", "外地人口", "新疆籍", "老家"), ORIGIN),
    **dict.fromkeys(("境外关系", "海外关系", "涉外", "境外人员", "外国亲属", "海外亲属", "外籍",
                     "华侨", "侨眷", "归侨"), FOREIGN),
    **dict.fromkeys(("姓氏", "宗族"), SURNAME),
}

#: Control and surveillance wording, refused where a scheme allocates care (visit tiers).
CONTROL_WORDS: dict[str, str] = dict.fromkeys(
    ("surveillance", "watchlist", "blacklist"), CONTROL)
CONTROL_PAIRS: dict[tuple[str, str], str] = dict.fromkeys(
    (("watch", "list"), ("black", "list"), ("key", "person"), ("under", "control"),
     ("key", "household"), ("stability", "maintenance"), ("under", "watch"),
     ("key", "individual"), ("key", "population")), CONTROL)
CONTROL_CHINESE: dict[str, str] = dict.fromkeys(
    ("管控", "重点人员", "重点户", "重点人口", "稳控", "布控", "监控", "维稳", "重点关注", "黑名单",
     "盯防", "严管"), CONTROL)

#: Phrases whose pinyin initials stand for them in column names (``zjxy``), besides the
#: Chinese words above.
PHRASES = ("宗教信仰", "犯罪记录")

#: Two-character words whose pinyin is looked for too: the others spell common words
#: (``jidu`` is also 季度, a quarter; ``manzu`` 满足, satisfied; ``zhengzhi`` 整治).
PINYIN_TWO = ("民族", "宗教", "党员", "党派", "入党", "户口", "上访", "信访", "前科", "犯罪",
              "汉族", "回族", "藏族", "种族", "信教", "宗族", "吸毒", "管控", "信仰", "回民",
              "邪教", "华侨")

#: Health words: a fact that carries health must declare its care concept (then only
#: visit tiers read it, ``care.outside_care``); undeclared, it is refused wherever it is.
#: Not read in other texts: a tier may well be called 重病户 (households with a serious
#: illness), which is care, not sorting.
HEALTH_WORDS: dict[str, str] = dict.fromkeys(
    ("illness", "ill", "disease", "sick", "sickness", "diagnosis", "diagnosed", "disabled",
     "disability", "handicap", "handicapped", "pregnant", "pregnancy", "hiv", "aids",
     "mental", "psychiatric", "depression", "schizophrenia", "cancer", "dementia",
     "medical", "medication", "patient", "epilepsy", "bedridden"), HEALTH)
HEALTH_PAIRS: dict[tuple[str, str], str] = dict.fromkeys(
    (("health", "condition"), ("health", "status"), ("medical", "history")), HEALTH)
HEALTH_CHINESE: dict[str, str] = dict.fromkeys(
    ("疾病", "患病", "病史", "残疾", "残障", "怀孕", "孕妇", "艾滋", "精神病", "精神障碍", "抑郁",
     "病人", "癌症", "失智", "痴呆", "慢性病", "重病", "卧床", "失能", "健康状况"), HEALTH)

# --- generated tables (tests/test_protected.py regenerates them with OpenCC and pypinyin) ---

#: Traditional (and Taiwan and Hong Kong) characters of the Chinese words -> Simplified.
TRADITIONAL: dict[str, str] = dict(zip(
    '來係僑別動勞區員唸單嚴國團壯婦屬廟懷戀戶數會歸殘況滿漢爾牀狀瑤產癡監矯礙禮種穩經維纏臥華薩'
    '蘭親記訪認貫輪釋錄關雙鬧鬱鮮點黨齋齡',
    '来系侨别动劳区员念单严国团壮妇属庙怀恋户数会归残况满汉尔床状瑶产痴监矫碍礼种稳经维缠卧华萨'
    '兰亲记访认贯轮释录关双闹郁鲜点党斋龄', strict=True))

#: Pinyin of the Chinese words (syllables joined) -> the word.
PINYIN: dict[str, str] = {
    'shangfang': '上访', 'yisilan': '伊斯兰', 'xinyang': '信仰', 'xinjiao': '信教',
    'xinfang': '信访', 'dangyuan': '党员', 'dangpai': '党派', 'rudang': '入党',
    'gongchandang': '共产党', 'gongqingtuan': '共青团', 'chushengdi': '出生地',
    'xingmanshifang': '刑满释放', 'qianke': '前科', 'huaqiao': '华侨', 'shuangxinglian': '双性恋',
    'tongxinglian': '同性恋', 'xidu': '吸毒', 'hasake': '哈萨克', 'huizu': '回族',
    'huimin': '回民', 'tujiazu': '土家族', 'jingwairenyuan': '境外人员',
    'jingwaiguanxi': '境外关系', 'waiguoqinshu': '外国亲属', 'waidiren': '外地人',
    'waidirenkou': '外地人口', 'wailairenkou': '外来人口', 'tianzhujiao': '天主教',
    'zongjiao': '宗教', 'zongzu': '宗族', 'shaoshuminzu': '少数民族', 'gonghuihuiyuan': '工会会员',
    'gonghuichengyuan': '工会成员', 'gonghuishenfen': '工会身份', 'xingbierentong': '性别认同',
    'xingquxiang': '性取向', 'xingshaoshu': '性少数', 'hukou': '户口',
    'zhengzhimianmao': '政治面貌', 'xinjiangji': '新疆籍', 'shifougonghui': '是否工会',
    'chaoxianzu': '朝鲜族', 'minzhudangpai': '民主党派', 'minzu': '民族', 'hanzu': '汉族',
    'liudongrenkou': '流动人口', 'haiwaiqinshu': '海外亲属', 'haiwaiguanxi': '海外关系',
    'fanzui': '犯罪', 'shequjiaozheng': '社区矫正', 'zhongzu': '种族', 'musilin': '穆斯林',
    'guankong': '管控', 'weiwuer': '维吾尔', 'mengguzu': '蒙古族', 'zangzu': '藏族',
    'kuaxingbie': '跨性别', 'xiejiao': '邪教', 'zhongdianrenkou': '重点人口',
    'zhongdianrenyuan': '重点人员', 'zhongdianguanzhu': '重点关注', 'zhongdianhu': '重点户',
    'heimingdan': '黑名单',
}

#: Pinyin initials, in use as column names (``zzmm`` for 政治面貌) -> the word.
INITIALS: dict[str, str] = {
    'jkzk': '健康状况', 'xmsf': '刑满释放', 'jwry': '境外人员', 'jwgx': '境外关系',
    'wgqs': '外国亲属', 'wdrk': '外地人口', 'wlrk': '外来人口', 'zjxy': '宗教信仰',
    'ssmz': '少数民族', 'ghhy': '工会会员', 'ghcy': '工会成员', 'ghsf': '工会身份',
    'xbrt': '性别认同', 'zzmm': '政治面貌', 'sfgh': '是否工会', 'mzdp': '民主党派',
    'ldrk': '流动人口', 'hwqs': '海外亲属', 'hwgx': '海外关系', 'fzjl': '犯罪记录',
    'sqjz': '社区矫正', 'jsza': '精神障碍', 'zdrk': '重点人口', 'zdry': '重点人员',
    'zdgz': '重点关注',
}

#: Cyrillic and Greek letters that look like Latin ones (after Unicode's confusables).
LOOKALIKES: dict[str, str] = {**dict(zip("аеорсухіјѕԁһӏԛԝαιοκνρτυχϲ",
                                         "aeopcyxijsdhlqwaiokvptuxc", strict=True)),
                              **dict(zip("АЕОРСУХІЈЅНКМТВΑΕΙΟΚΝΡΤΥΧ",
                                         "AEOPCYXIJSHKMTBAEIOKNPTYX", strict=True))}

_DIGITS = str.maketrans("0134579@$", "oieastgas")

#: Little words between the two of a pair (``place_of_origin``).
_GLUE = frozenset(("of", "the", "a", "an", "and", "in", "by"))


# --- normalising ----------------------------------------------------------------------


def _is_han(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\uf900" <= c <= "\ufaff"


def _clean(text: str) -> str:
    """NFKC, without accents and format characters, look-alikes read as Latin letters."""
    if text.isascii():  # the common case: nothing to fold
        return text
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(LOOKALIKES.get(c, c) for c in text
                   if unicodedata.category(c) not in ("Mn", "Me", "Cf"))
    return unicodedata.normalize("NFKC", text)


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"[a-z0-9@$]+")


def _spellings(token: str) -> tuple[str, ...]:
    """A word as written, with digits read as letters (``r3ligion``) and in the singular."""
    out = [token]
    if any(not c.isalpha() for c in token) and any(c.isalpha() for c in token):
        read = token.translate(_DIGITS)
        out += [read, read.replace("i", "l")]
    for w in list(out):
        if w.endswith("ies") and len(w) > 4:
            out.append(w[:-3] + "y")
        if w.endswith("es") and len(w) > 3:
            out.append(w[:-2])
        if w.endswith("s") and len(w) > 3:
            out.append(w[:-1])
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Forms:
    """A text as the guard reads it: its Latin words, each with its spellings, and its
    Chinese characters in Simplified form, with nothing between them."""

    words: tuple[tuple[str, ...], ...]
    han: str


def forms(text: str) -> Forms:
    """``text`` normalised for matching (see the module docstring)."""
    text = _clean(text)
    han = "" if text.isascii() else "".join(TRADITIONAL.get(c, c) for c in text if _is_han(c))
    tokens = [t for t in _TOKEN.findall(_CAMEL.sub(" ", text).casefold()) if t not in _GLUE]
    return Forms(tuple(_spellings(t) for t in tokens), han)


# --- matching -------------------------------------------------------------------------


def _any_of(needles: Iterable[str]) -> re.Pattern[str]:
    """One pattern for many needles (longest first), searched in one pass."""
    return re.compile("|".join(map(re.escape, sorted(needles, key=len, reverse=True))))


@dataclass(frozen=True)
class _Vocabulary:
    words: dict[str, str]
    pairs: dict[tuple[str, str], str]
    chinese: dict[str, str]
    joined: bool  # look for joined words, pinyin and initials too

    @cached_property
    def chinese_pattern(self) -> re.Pattern[str]:
        return _any_of(self.chinese)

    @cached_property
    def joined_pattern(self) -> re.Pattern[str]:
        """The words and pairs that are found inside a joined word (``partymember``)."""
        return _any_of([*JOINABLE, *(a + b for a, b in self.pairs)])

    @cached_property
    def joined_meaning(self) -> dict[str, str]:
        return {**{w: self.words[w] for w in JOINABLE if w in self.words},
                **{a + b: why for (a, b), why in self.pairs.items()}}

    @cached_property
    def pinyin_pattern(self) -> re.Pattern[str]:
        """Pinyin of three characters or more, found inside a longer word."""
        return _any_of(sound for sound, word in PINYIN.items() if len(word) >= 3)

    def of_chinese(self, word: str) -> str | None:
        found = self.chinese_pattern.search(word)
        return self.chinese[found.group()] if found else None


_PROTECTED = _Vocabulary(WORDS, PAIRS, CHINESE, joined=True)
_CONTROL = _Vocabulary(CONTROL_WORDS, CONTROL_PAIRS, CONTROL_CHINESE, joined=False)
_HEALTH = _Vocabulary(HEALTH_WORDS, HEALTH_PAIRS, HEALTH_CHINESE, joined=False)


def _match(f: Forms, v: _Vocabulary) -> str | None:
    for a, b in itertools.pairwise(f.words):
        for pair in itertools.product(a, b):
            if pair in v.pairs:
                return v.pairs[pair]
    for spellings in f.words:
        for w in spellings:
            if w in v.words:
                return v.words[w]
    if f.han and (why := v.of_chinese(f.han)):
        return why
    for spellings in f.words:
        for w in spellings:
            if w in INITIALS and (why := v.of_chinese(INITIALS[w])):
                return why
    if v.joined:
        for spellings in f.words:
            for w in spellings:
                if len(w) >= 7 and (found := v.joined_pattern.search(w)):
                    return v.joined_meaning[found.group()]
    # pinyin, syllables written as one word or several (``min_zu``), never across a word
    plain = [s[0] for s in f.words]
    for i in range(len(plain)):
        glued = ""
        for word in plain[i:i + 6]:
            glued += word
            if glued in PINYIN and (why := v.of_chinese(PINYIN[glued])):
                return why
        if len(plain[i]) >= 8 and (found := v.pinyin_pattern.search(plain[i])):
            if why := v.of_chinese(PINYIN[found.group()]):
                return why
    return None


@lru_cache(maxsize=65536)
def _reason(text: str, vocabulary: str) -> str | None:
    return _match(forms(text), _VOCABULARIES[vocabulary])


_VOCABULARIES = {"protected": _PROTECTED, "control": _CONTROL, "health": _HEALTH}


def protected_reason(*texts: str | None) -> str | None:
    """The protected characteristic a text denotes, or ``None`` when it denotes none."""
    for text in texts:
        if text and (why := _reason(text, "protected")):
            return why
    return None


def control_reason(*texts: str | None) -> str | None:
    """Control or surveillance wording in a text (refused where care is allocated, and in
    any fact: no policy keeps a category of people to watch)."""
    for text in texts:
        if text and (why := _reason(text, "control")):
            return why
    return None


#: A health word followed by one of these names a service, not a person's condition
#: (a contract's "disability assistance", 残疾人服务): not read as health.
_SERVICE = re.compile(r"(?i)(?<![a-z])([a-z]+)[\s_-]*(?:assistance|services?|support|aid|care|"
                      r"outreach|programmes?|programs?|rehabilitation)(?![a-z])")
_SERVICE_ZH = re.compile("(" + "|".join(sorted(HEALTH_CHINESE, key=len, reverse=True))
                         + ")人?(?:服务|帮扶|救助|援助|关爱|康复|事业|工作)")


def _without_services(text: str) -> str:
    text = _SERVICE.sub(lambda m: "" if m.group(1).lower() in HEALTH_WORDS else m.group(0),
                        _clean(text))
    return _SERVICE_ZH.sub("", text)


def health_reason(*texts: str | None) -> str | None:
    """Health wording in a fact's texts (the name of a service aside): such a fact must
    declare its care concept."""
    for text in texts:
        if text and (why := _reason(_without_services(text), "health")):
            return why
    return None


def protected_in(values: Iterable[str]) -> tuple[str, str] | None:
    """The first value (of an enum) that names a protected group, with the reason."""
    for v in values:
        why = protected_reason(v)
        if why:
            return v, why
        han = forms(v).han
        if han.endswith("族") and 2 <= len(han) <= 6 and han not in ("家族", "亲族"):
            return v, f"{ETHNICITY}: the name of an ethnic group"
    return None
