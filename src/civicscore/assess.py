"""``civicscore assess POLICY``: an impact assessment record of a policy, in plain language.

Before a public body lets a system decide about people, the law asks it to write
down what the system decides, from which data, with which human review and which
recourse: Canada's Directive on Automated Decision-Making through its Algorithmic
Impact Assessment, China's PIPL Art. 55 (an assessment before personal
information is used for automated decisions or sensitive information is
processed) with Art. 56 (what it covers, and that it is kept three years). Most
of those answers are already fixed by a civicscore policy file: the schemes it
defines, the facts it declares (which are care needs, and which concept each
carries), the decisions a person must confirm. This module writes them out,
from the loaded policy only (nothing is scored, nothing is guessed), in Chinese
or English (:func:`assess`), and leaves the questions a file cannot answer
(purpose, legal basis, consultation, sign-off) as a section for the office.

A policy that does not load is not assessed: the loader's responsible-scoring
checks (visit tiers read declared care concepts only, triggers are care events,
no control categories, more often than weekly only for an intensive need with
consent, care needs refused in other schemes, protected characteristics refused)
are what make the safeguards this record states true. :func:`refusal` says why,
counting the problems of visit tiers and triggers apart.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import cli_json, completion
from .errors import PolicyError, Problem
from .messages import LANGS, POLICY_LANG, language, problem_line
from .policy.care import vocabulary
from .provenance import software
from .report.render import label_of

if TYPE_CHECKING:
    from .policy.compile import Policy
    from .policy.model import FactSpec

FORMAT = "civicscore-assessment/1"

#: The keys of a scheme's section whose text is an expression over facts (any scheme's,
#: a plugin's too), and the key whose table's keys are facts (appraisal raters).
_EXPRESSION_KEYS = ("when", "value", "event")
_FACT_KEYS = ("raters", "fields")  # appraisal raters, the fields an event type carries


@dataclass(frozen=True)
class _Say:
    """One language of the record: ``say(zh, en)`` picks the sentence."""

    lang: str

    def __call__(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def label(self, item: Any, fallback: str) -> str:
        """A thing's name in this language, else in the other, else its id (the policy
        page's ``label_of``)."""
        return label_of(item, self.lang, fallback)


def assess(policy: Policy, lang: str | None = None, today: dt.date | None = None) -> str:
    """The assessment record of ``policy`` (Markdown) in ``lang`` (``zh`` or ``en``; by
    default ``--lang``, else ``CIVICSCORE_LANG``, else the policy's ``locale``)."""
    say = _Say(record_language(policy, lang))
    lines: list[str] = []
    for part in (_heading, _decides, _data, _review, _recourse, _safeguards, _records,
                 _limits, _office):
        lines.extend(part(policy, say, today or dt.date.today()))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def record_language(policy: Policy | None, asked: str | None = None) -> str:
    """As asked, else the command's ``--lang`` or ``CIVICSCORE_LANG``, else the policy's
    locale (``zh-CN`` is Chinese), else English."""
    # messages.language holds the order; this policy stands in for the command's one
    token = POLICY_LANG.set(policy.model.policy.locale if policy is not None else None)
    try:
        return language(asked)
    finally:
        POLICY_LANG.reset(token)


# --- the parts -------------------------------------------------------------------------


def _heading(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    meta = policy.model.policy
    yield say(f"# 算法影响评估记录：{meta.title or meta.id}",
              f"# Algorithmic impact assessment record: {meta.title or meta.id}")
    yield ""
    yield say("本记录依据政策文件本身写成，参照加拿大《自动化决策指令》的算法影响评估（AIA）"
              "和《个人信息保护法》第五十五、五十六条的个人信息保护影响评估；文件无法回答的问题"
              "见第 8 节，由主管部门填写。",
              "Written from the policy file itself, on the model of Canada's Algorithmic "
              "Impact Assessment (Directive on Automated Decision-Making) and the personal "
              "information protection impact assessment of PIPL Art. 55 and 56; what a file "
              "cannot answer is section 8, for the office to complete.")
    yield ""
    effective = meta.effective
    span = (f"{effective.from_} – {effective.to or say('长期有效', 'open-ended')}"
            if effective is not None else say("未规定", "not stated"))
    rows = [
        (say("政策", "Policy"), f"{meta.id} {meta.version}"),
        (say("内容哈希", "Content hash"), policy.hash),
        (say("来源", "Source"), policy.ref.source),
        (say("继承", "Extends"), meta.extends or say("无", "none")),
        (say("有效期", "In effect"), span),
        (say("复审期限", "Review by"), str(meta.review_by or say("未规定", "not stated"))),
        (say("语言", "Locale"), meta.locale),
        (say("软件", "Software"), _software_line(policy)),
        (say("照护需求词表", "Care-need vocabulary"),
         f"{vocabulary().id} {vocabulary().version}"),
        (say("记录格式 / 生成日期", "Record format / made on"), f"{FORMAT} / {today}"),
    ]
    yield from _table((say("项目", "Item"), say("内容", "Value")), rows)


def _software_line(policy: Policy) -> str:
    record = software(policy.plugins)
    plugins = ", ".join(f"{p['name']} {p['version'] or '?'} ({p['code'][:19] or '-'})"
                        for p in record["plugins"])
    calendars = f"; holidays {record['holidays']}" if record["holidays"] else ""
    return f"civicscore {record['civicscore']}{calendars}" + (f"; {plugins}" if plugins else "")


def _decides(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 1. 本政策决定什么", "## 1. What the policy decides")
    for name in policy.schemes:
        section = getattr(policy.model, name, None)
        spec = policy.specs[name]
        yield ""
        describe = _SCHEMES.get(name)
        if describe is None or spec.plugin not in ("", "civicscore"):
            yield f"### {name}"
            yield ""
            yield say(f"插件 {spec.plugin or '?'} 的方案：对每条 {spec.noun} 记录作出决定"
                      f"（{spec.outputs}）。",
                      f"A scheme of plugin {spec.plugin or '?'}: it decides about each of its "
                      f"{spec.noun} ({spec.outputs}).")
            continue
        yield from describe(policy, section, say)


def _volunteer(policy: Policy, section: Any, say: _Say) -> Iterator[str]:
    yield from _opening(say, "志愿服务积分（volunteer）", "Volunteer points (volunteer)",
                        "为每条志愿服务记录计算计入的时长和积分，并为每位志愿者出具积分账单"
                        "（获得、过期、兑换、余额、星级）。它认可人们做了什么，不评价人是谁。",
                        "For each volunteer activity record, the hours and points counted; "
                        "for each volunteer, a statement (earned, expired, redeemed, balance, "
                        "star level). It recognises what people do, not who they are.")
    yield _listed(say, "活动 {n} 项", "{n} activities",
                  [say.label(a, aid) for aid, a in section.activities.items()])
    yield _listed(say, "加成规则 {n} 条", "{n} multipliers",
                  [say.label(m, m.id) for m in section.multipliers])
    if section.point_expiry_months:
        yield say(f"- 积分 {section.point_expiry_months} 个月后过期",
                  f"- points expire after {section.point_expiry_months} months")
    yield _effects(say, "记录被拒（理由写明）、时长或积分受上限限制、积分过期。",
                   "a record rejected (with the reason), hours or points capped, points "
                   "expiring.")


def _civility(policy: Policy, section: Any, say: _Say) -> Iterator[str]:
    yield from _opening(say, "文明家庭星级（civility）", "Household civility stars (civility)",
                        f"为每户家庭按文明行为标准评定星级和称号，{section.review_years} 年复核"
                        f"一次；撤销后 {section.bar_years} 年内不再评星。",
                        f"For each household, the stars its civic conduct earns and a title; "
                        f"reviewed every {section.review_years} year(s); after a revocation "
                        f"no stars for {section.bar_years} year(s).")
    yield _listed(say, "星级标准 {n} 项", "{n} star criteria",
                  [say.label(s, s.id) for s in section.stars])
    yield _listed(say, "称号 {n} 个", "{n} titles",
                  [f"{say.label(t, str(t.min_stars))} (≥{t.min_stars})"
                   for t in section.titles])
    yield _effects(say, "未获星或称号、星级被撤销；照护需求不能影响星级。",
                   "stars or a title not given, stars revoked; care needs cannot affect "
                   "stars.")


def _visits(policy: Policy, section: Any, say: _Say) -> Iterator[str]:
    yield from _opening(say, "关爱探访分级（visits）", "Care visit tiers (visits)",
                        "为每户家庭确定探访等级、探访频次和下次探访日期，只依据已声明的照护需求："
                        "这是分配关怀，不是监控，也不是给家庭打分。",
                        "For each household, its care tier, how often a care liaison visits "
                        "and when the next visit is due, from declared care needs only: care "
                        "is allocated, nobody is watched or rated.")
    facts = policy.model.facts.get(section.entity, {})
    for t in section.tiers:
        needs = _needs_read(t.when, facts, say)
        when = needs or say("默认等级（不符合其他等级时）",
                            "the default tier (when no other applies)")
        yield say(f"- 等级「{say.label(t, t.id)}」：{_cadence(t.cadence, say)}；"
                  f"依据：{when}",
                  f"- tier '{say.label(t, t.id)}': {_cadence(t.cadence, say)}; "
                  f"reads: {when}")
    for tr in section.triggers:
        event = _needs_read(tr.event, facts, say)
        yield say(f"- 触发「{say.label(tr, tr.id)}」：{event}"
                  f"后 {tr.within_days} 天内探访",
                  f"- trigger '{say.label(tr, tr.id)}': a visit within "
                  f"{tr.within_days} day(s) of {event}")
    cap = section.capacity.households_per_liaison
    if cap:
        yield say(f"- 每名联络员约负责 {cap} 户（工作量按联络员汇总）",
                  f"- about {cap} households per liaison (the caseload is summed per liaison)")
    yield _effects(say, "等级过低导致探访不足；每个等级的理由写明，可申诉更正事实。",
                   "a tier too low, so too few visits; every tier says why, and the facts "
                   "can be corrected on appeal.")


def _appraisal(policy: Policy, section: Any, say: _Say) -> Iterator[str]:
    yield from _opening(say, "考评（appraisal）", "Appraisal (appraisal)",
                        f"为每个考评对象（{section.entity}）按指标计算总分并评定等级；"
                        f"一票否决和名额限制的降级只是建议，须经人工确认后生效。",
                        f"For each subject ({section.entity}), a total over the indicators "
                        f"and a grade; a veto or a quota demotion is a recommendation until a "
                        f"person confirms it.")
    yield _listed(say, "指标 {n} 项（权重）", "{n} indicators (weight)",
                  [f"{say.label(i, i.id)} ({i.weight:g})"
                   for i in section.indicators])
    yield _listed(say, "等级 {n} 个", "{n} grades",
                  [f"{say.label(g, g.id)} (≥{g.min_score:g})"
                   for g in section.grades])
    yield _listed(say, "一票否决 {n} 项", "{n} vetoes",
                  [say.label(v, v.id) for v in section.vetoes])
    if section.quota is not None:
        q = section.quota
        grade = next((say.label(g, g.id) for g in section.grades
                      if g.id == q.grade), q.grade)
        yield say(f"- 名额：评为「{grade}」的至多占 {q.max_share:.0%}，超出者降一等（须人工确认）",
                  f"- quota: at most {q.max_share:.0%} may be graded '{grade}'; the others "
                  f"move one grade down (confirmed by a person)")
    yield _effects(say, "等级降低（否决、名额）——均须人工确认；照护需求不能进入考评。",
                   "a lower grade (veto, quota), each confirmed by a person first; care needs "
                   "cannot enter an appraisal.")


def _events(policy: Policy, section: Any, say: _Say) -> Iterator[str]:
    yield from _opening(say, "事件规则（events）", "Rules over time (events)",
                        "依据事件记录中的期限、连续、未活动和周期规则给出提醒或任务；"
                        "未活动只能给出温和提醒，不能处罚。",
                        "Notices and tasks from deadlines, streaks, inactivity and periods in "
                        "a log of events; inactivity may only give a gentle notice, never a "
                        "penalty.")
    for r in section.rules:
        yield say(f"- 规则「{say.label(r, r.id)}」（{r.form}）："
                  f"{r.effect}，{r.action}",
                  f"- rule '{say.label(r, r.id)}' ({r.form}): {r.effect}, "
                  f"{r.action}")


def _opening(say: _Say, title_zh: str, title_en: str, text_zh: str, text_en: str
             ) -> Iterator[str]:
    """A scheme's heading and what it decides, in a paragraph."""
    yield say(f"### {title_zh}", f"### {title_en}")
    yield ""
    yield say(text_zh, text_en)
    yield ""


def _listed(say: _Say, zh: str, en: str, names: Sequence[str]) -> str:
    """A counted list: '- 活动 7 项：甲、乙' / '- 7 activities: A, B' (``{n}`` the count)."""
    return say(f"- {zh.format(n=len(names))}：{'、'.join(names) or '无'}",
               f"- {en.format(n=len(names))}: {', '.join(names) or 'none'}")


def _effects(say: _Say, zh: str, en: str) -> str:
    """What a scheme's decisions may do against someone (AIA: the impacts to assess)."""
    return say(f"- 可能的不利影响：{zh}", f"- Effects that may disadvantage someone: {en}")


#: How each built-in scheme is described; a plugin's scheme is described from its
#: registration (its noun and outputs), since only its author knows its words.
_SCHEMES = {"volunteer": _volunteer, "civility": _civility, "visits": _visits,
            "appraisal": _appraisal, "events": _events}


def _data(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 2. 依据哪些数据", "## 2. From which data")
    yield ""
    yield say("政策只读取下列已声明的事实；输入文件中未声明的列（如民族、宗教）不被读取，也不写入"
              "决定日志。涉及民族、宗教、政治面貌、工会、性取向、犯罪记录、信访、户籍、境外关系等受"
              "保护特征的事实，载入时即被拒绝。",
              "The policy reads only the declared facts below; a column of an input file "
              "that is not declared (ethnicity, religion) is neither read nor written to "
              "the decision log. Facts denoting a protected characteristic (ethnicity, "
              "religion, political affiliation, trade-union membership, sexual orientation, "
              "criminal record, petitioning, hukou, foreign ties, ...) are refused at load.")
    readers = _readers(policy)
    vocab = vocabulary().concepts
    for entity, facts in policy.model.facts.items():
        yield ""
        yield f"### {entity}"
        yield ""
        rows = []
        for name, spec in facts.items():
            concept = vocab.get(spec.concept or "")
            care = (say("是：", "yes: ") + say.label(concept, concept.id)
                    + (f" ({concept.standard})" if concept.standard else "")
                    if concept is not None else
                    say("是（未声明概念，探访等级不能读取）", "yes (no concept: visit tiers "
                                                  "cannot read it)") if spec.care_need
                    else say("否", "no"))
            used = ", ".join(readers.get((entity, name), ())) or say("无规则读取", "no rule")
            rows.append((f"`{name}`", spec.type, say.label(spec, "-"),
                         care, used))
        yield from _table((say("事实", "Fact"), say("类型", "Type"), say("含义", "Meaning"),
                           say("照护需求", "Care need"), say("读取它的方案", "Read by")), rows)
    needs = [n for facts in policy.model.facts.values() for n, s in facts.items()
             if s.care_need]
    yield ""
    if needs:
        yield say(f"照护需求（健康、残疾、高龄、困难等，属于《个人信息保护法》"
                  f"第二十八条的敏感个人信息）共 {len(needs)} 项，只由探访等级和触发读取，"
                  f"不能进入积分、星级、考评或事件规则。",
                  f"{len(needs)} care-need facts (health, disability, age, hardship: sensitive "
                  f"personal information under PIPL Art. 28) are read by visit tiers and "
                  f"triggers only, never by points, stars, appraisals or event rules.")
    else:
        yield say("本政策不声明照护需求。", "The policy declares no care need.")


def _review(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 3. 人工复核", "## 3. Human review")
    yield ""
    appraisal = getattr(policy.model, "appraisal", None)
    if appraisal is not None and (appraisal.vetoes or appraisal.quota is not None):
        yield say("- 一票否决或名额限制造成的降级在人工确认前只是建议：决定显示计算等级、建议等级和"
                  "“需确认”（needs_confirmation），确认命令为 `civicscore review LOG ID confirm "
                  "--by 姓名 --reason 理由`。",
                  "- A demotion by a veto or the quota is a proposal until a person confirms "
                  "it: the decision shows the computed grade, the proposed grade and "
                  "needs_confirmation; `civicscore review LOG ID confirm --by NAME --reason "
                  "TEXT` confirms it.")
    for name in policy.schemes:
        fields = list(policy.specs[name].overridable)
        if fields:
            yield say(f"- {name}：工作人员可改定 {', '.join(fields)}（`civicscore review LOG ID "
                      f"override --set 字段=值 --by 姓名 --reason 理由`），计算值与最终值并存。",
                      f"- {name}: a person may override {', '.join(fields)} (`civicscore "
                      f"review LOG ID override --set FIELD=VALUE --by NAME --reason TEXT`); "
                      f"the computed value is kept beside the final one.")
    yield say("- 每次确认和改定都作为条目写入决定日志，记录人、时间（UTC）、理由和前后取值；"
              "无名姓或无理由的复核被拒绝。",
              "- Every confirmation and override is an entry of the decision log with who, "
              "when (UTC), why and the values before and after; a review without a name or "
              "a reason is refused.")


def _recourse(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 4. 救济途径", "## 4. Recourse")
    yield ""
    yield say("- 每项决定都说明适用了哪些规则、依据哪些事实、哪个政策版本和哈希。",
              "- Every decision says which rules applied, to which facts, under which policy "
              "version and hash.")
    yield say("- 如何申诉：当事人认为事实有误或决定不当的，可向实施本政策的社区或主管部门提出；"
              "工作人员用 `civicscore appeal LOG ID --set 字段=值` 以同一政策版本、更正后的事实"
              "重新决定，并逐项显示差别（同一批次的其他记录不同时会提示）。",
              "- How to contest: a person who thinks a fact is wrong or a decision unfair "
              "asks the community office that applies this policy; the office re-decides "
              "with `civicscore appeal LOG ID --set FIELD=VALUE` under the same policy "
              "version with the corrected facts, and sees every difference it makes (with "
              "a warning when the cohort differs).")
    yield say("- `civicscore replay LOG` 以同一政策重做日志中的全部决定并报告差异；"
              "`civicscore verify-log LOG` 检查日志未被删改。",
              "- `civicscore replay LOG` re-makes every logged decision with the same "
              "policy and reports differences; `civicscore verify-log LOG` checks that no "
              "entry was deleted or changed.")
    refs = policy.model.policy.references
    if refs:
        yield say("- 政策依据：", "- What the policy encodes:")
        for r in refs:
            yield f"  - {r.title}" + (f" <{r.url}>" if r.url else "")


def _safeguards(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 5. 生成本记录时已通过的检查", "## 5. Checks this policy passed")
    yield ""
    visits = getattr(policy.model, "visits", None)
    checks = [
        say("探访等级和触发只读取声明了照护概念的事实，不读取其他方案的结果或插件函数",
            "visit tiers and triggers read only facts that declare a care concept, never "
            "another scheme's result or a plugin's function"),
        say("触发的日期只来自照护事件（出院、丧亲、跌倒等），不是 as_of 或任意日期",
            "a trigger's date is a care event's (discharge, bereavement, fall, ...), never "
            "as_of or an arbitrary date"),
        say("等级、触发和标签不使用管控、重点人员等监控用语",
            "no tier, trigger or label names control or surveillance (管控, 重点人员, key "
            "person, ...)"),
        say("每周一次以上的探访须要求重度照护需求和住户记录在案的同意",
            "visits more often than weekly require an intensive care need and the "
            "household's recorded consent"),
        say("积分、星级、考评和事件规则不能读取照护需求",
            "points, stars, appraisals and event rules cannot read care needs"),
        say("受保护特征在事实、标签、取值、规则文字和案例中均被拒绝",
            "protected characteristics are refused in facts, labels, values, rule texts "
            "and cases"),
    ]
    for c in checks:
        yield f"- [x] {c}"
    if visits is not None:
        facts = policy.model.facts.get(visits.entity, {})
        frequent = [t for t in visits.tiers if _days(t.cadence) < 7]
        for t in frequent:
            yield say(f"- 等级「{say.label(t, t.id)}」每周多于一次，其条件要求："
                      f"{_needs_read(t.when, facts, say)}",
                      f"- tier '{say.label(t, t.id)}' visits more often "
                      f"than weekly; its condition requires: {_needs_read(t.when, facts, say)}")


def _records(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 6. 记录的保存", "## 6. Records kept")
    yield ""
    yield say("- 决定日志（`score --log`）逐条记录输入（仅已声明事实，可删除或加密脱敏）、"
              "结果和理由；条目以哈希链相连，删除、修改或调换均可发现；"
              "每次运行的首条记录写明 civicscore 版本和各插件的版本与代码哈希。",
              "- The decision log (`score --log`) keeps each decision's input (declared "
              "facts only; fields may be erased or keyed-hashed), result and reasons; its "
              "entries are hash-chained, so a deleted, changed or moved entry is found; "
              "each run's first entry names civicscore's version and each plugin's version "
              "and code hash.")
    yield say("- 《个人信息保护法》第五十六条：个人信息保护影响评估报告和处理情况记录"
              "应当至少保存三年。",
              "- PIPL Art. 56: the impact assessment report and the processing records are "
              "kept for at least three years.")


def _limits(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 7. 局限", "## 7. Limits")
    yield ""
    yield say("- 照护概念是声明：检查的是等级只读取声明的概念，"
              "而不是数据列真的装着概念所说的内容。",
              "- A care concept is a declaration: the checks prove that tiers read declared "
              "concepts, not that a column really holds what its concept says.")
    yield say("- 同意规则检查条件要求同意事实，无法检查同意如何取得；签署的同意书应随记录保存。",
              "- The consent rule checks that a condition requires a consent fact, not how "
              "consent was obtained; keep the signed agreement with the record.")
    yield say("- 本记录不评估目的是否合法、正当、必要，也不评估数据来源的质量。",
              "- This record does not assess whether the purpose is lawful, legitimate and "
              "necessary, nor the quality of the data sources.")


def _office(policy: Policy, say: _Say, today: dt.date) -> Iterator[str]:
    yield say("## 8. 由主管部门填写", "## 8. To be completed by the office")
    yield ""
    questions = [
        say("处理目的、处理方式及其合法性、正当性和必要性（第五十六条第一项）",
            "The purpose and the means of processing, and why they are lawful, legitimate "
            "and necessary (PIPL Art. 56(1))"),
        say("对个人权益的影响及安全风险；受影响的人数和群体（第五十六条第二项；AIA 影响等级）",
            "The effects on people's rights and the security risks; how many people, and "
            "who, are affected (PIPL Art. 56(2); the AIA impact level)"),
        say("保护措施是否合法、有效并与风险程度相适应（第五十六条第三项）",
            "Whether the protective measures are lawful, effective and proportionate to the "
            "risk (PIPL Art. 56(3))"),
        say("征求意见的对象和结果（居民、联络员、法律顾问）",
            "Who was consulted, and what they said (residents, liaisons, legal counsel)"),
        say("数据来源及其准确性", "Where the data come from, and how accurate they are"),
        say("批准人、批准日期", "Approved by, on"),
    ]
    review_by = policy.model.policy.review_by
    for q in questions:
        yield say(f"- {q}：______", f"- {q}: ______")
    yield say(f"- 下次复审：{review_by or '______'}", f"- Next review: {review_by or '______'}")


# --- helpers ---------------------------------------------------------------------------


def _names(text: str | None) -> list[str]:
    """The names an expression reads (the checker has already accepted it), in order."""
    if not text:
        return []
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return []
    return list(dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name)))


def _expression_names(value: Any) -> Iterator[str]:
    """Every name read by the expressions of a section (dumped as plain data)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k in _EXPRESSION_KEYS and isinstance(v, str):
                yield from _names(v)
            elif k in _FACT_KEYS and isinstance(v, (Mapping, list)):
                yield from (str(f) for f in v)
            else:
                yield from _expression_names(v)
    elif isinstance(value, list):
        for v in value:
            yield from _expression_names(v)


def _readers(policy: Policy) -> dict[tuple[str, str], list[str]]:
    """(entity, fact) -> the schemes whose rules read it."""
    out: dict[tuple[str, str], list[str]] = {}
    for name in policy.schemes:
        section = getattr(policy.model, name, None)
        data = section.model_dump(by_alias=True) if section is not None else {}
        read = dict.fromkeys(_expression_names(data))
        for entity in policy.specs[name].entities_of(section) or ("",):
            declared = policy.model.facts.get(entity, {})
            for fact in read:
                if fact in declared:
                    out.setdefault((entity, fact), []).append(name)
    return out


def _needs_read(text: str | None, facts: Mapping[str, FactSpec], say: _Say) -> str:
    """The care needs an expression of [visits] reads, in words (``age_oldest`` is
    '年龄 (`age_oldest`)'), from the visited entity's ``facts``."""
    if not text:
        return ""
    vocab = vocabulary().concepts
    words = []
    for name in _names(text):
        spec = facts.get(name)
        if spec is None:
            continue
        concept = vocab.get(spec.concept or "")
        what = (say.label(concept, concept.id) if concept is not None
                else say.label(spec, name))
        words.append(f"{what} (`{name}`)")
    return ("、" if say.lang == "zh" else ", ").join(words)


def _cadence(text: str, say: _Say) -> str:
    from .schemes.visits.scheme import parse_cadence

    c = parse_cadence(text)
    if say.lang != "zh":
        return c.describe()
    m, d = c.months, c.days
    if d == 0:
        return "每年" if m == 12 else "每月" if m == 1 else f"每 {m} 个月"
    if m == 0:
        return "每周" if d == 7 else "每日" if d == 1 else (
            f"每 {d // 7} 周" if d % 7 == 0 else f"每 {d} 天")
    return f"每 {m} 个月零 {d} 天"


def _days(text: str) -> float:
    from .schemes.visits.scheme import parse_cadence

    return parse_cadence(text).approx_days


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    yield "| " + " | ".join(cell(h) for h in head) + " |"
    yield "|" + "---|" * len(head)
    for r in rows:
        yield "| " + " | ".join(cell(c) for c in r) + " |"


# --- refusing --------------------------------------------------------------------------


def refusal(problems: Sequence[Problem], lang: str) -> list[str]:
    """Why no assessment is written: every problem, then a summary that counts those of
    visit tiers and triggers (the responsible-scoring checks of docs/responsible-use.md)."""
    care = [p for p in problems if p.severity == "error" and _is_care_check(p)]
    lines = [problem_line(p, lang) for p in problems]
    if lang == "zh":
        lines.append(f"civicscore assess：未生成评估记录：政策有 {len(problems)} 处问题，其中 "
                     f"{len(care)} 处是探访等级或触发未通过负责任评分检查（照护需求词表、照护事件、"
                     f"无管控类别，见 docs/responsible-use.md）；政策通过检查后才能评估。")
    else:
        lines.append(f"civicscore assess: no assessment written: the policy has "
                     f"{len(problems)} problem(s), {len(care)} of them visit tiers or "
                     f"triggers failing the responsible-scoring checks (care-need "
                     f"vocabulary, care events, no control categories: "
                     f"docs/responsible-use.md); a policy is assessed once it passes them.")
    return lines


def _is_care_check(p: Problem) -> bool:
    path = p.path or ""
    return path.startswith("visits.") or path.endswith((".concept", ".care_need"))


@click.command("assess")
@click.argument("policy_source", metavar="POLICY", shell_complete=completion.policies)
@click.option("--lang", type=click.Choice(list(LANGS)), default=None,
              help="Language of the record (default: CIVICSCORE_LANG, else the policy's "
                   "locale).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the record to this file (Markdown); default stdout.")
@cli_json.format_option
def assess_command(policy_source: str, lang: str | None, output: str | None) -> None:
    """Write an impact assessment record of POLICY: what it decides, from which data, with
    which human review and recourse; refuse a policy that fails the checks."""
    from .engine import Engine

    try:
        policy = Engine().load(policy_source)
    except PolicyError as e:
        lines = refusal(e.problems, record_language(None, lang))
        if cli_json.wanted():
            cli_json.emit_error(e, "assessment_refused", refusal=lines[-1])
        for line in lines:
            click.echo(line, err=True)
        raise SystemExit(1) from None
    text = assess(policy, lang)
    if cli_json.wanted():
        written = bool(output and output != "-")
        if written:
            from .io import cannot_write

            try:
                Path(str(output)).write_text(text, encoding="utf-8")
            except OSError as e:
                raise cannot_write(Path(str(output)), e) from None
        cli_json.emit("assess", {
            "policy": cli_json.policy_ref(policy.ref), "format": FORMAT,
            "lang": record_language(policy, lang), "output": output if written else None,
            "record": None if written else text})
        return
    if output and output != "-":
        from .io import cannot_write

        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise cannot_write(Path(output), e) from None
        click.echo(f"{output}: {FORMAT} {policy.ref}", err=True)
    else:
        click.echo(text, nl=False)
