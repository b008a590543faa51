"""``civicscore render``: a merged policy as a page an officer can read.

An officer who signs off a locality's policy should not have to merge TOML
layers in their head. The page shows, for the policy as it is applied:

* who wrote it: id, version, content hash, effective dates, references;
* its layers, and what each one added or changed against the policy it
  extends (a change needs ``[policy] overrides``; the page says which);
* the facts records carry, with their labels, types and ranges;
* every rule of every scheme, built-in or a plugin's, in words: the words are
  the policy format's own (each key's description from the model that
  defines it, each rule's labels, its condition as written with the label of
  every fact it reads), so the page says nothing the library does not;
* dated values as one timeline (a rate that changes by decree on a day);
* the policy's worked examples (``[[case]]``), run, and which rules they
  leave unexercised; the checker's warnings.

Nothing here evaluates a rule: scheme semantics live in the schemes. The
page is one static file (see :mod:`.html` for how text is escaped).
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..policy.dated import DatedValue
from .blocks import Doc, Run, to_html, to_markdown
from .layers import Layer

if TYPE_CHECKING:
    from ..policy.compile import Policy

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "policy": "政策", "version": "版本", "hash": "内容哈希", "locale": "语言",
        "effective": "生效", "review_by": "复审期限", "open": "长期", "references": "依据",
        "layers": "政策层级", "layer": "文件", "extends": "继承", "changes": "本层的改动",
        "against": "相对于", "key": "键", "what": "改动", "before": "原值", "after": "新值",
        "override": "已在 overrides 中声明", "added": "新增", "changed": "修改",
        "removed": "删除", "facts": "事实（记录字段）", "name": "名称", "label": "标签",
        "type": "类型", "allowed": "取值范围", "default": "默认值", "unit": "单位",
        "care_need": "照护需求", "yes": "是", "no": "否", "required": "必填",
        "never": "缺失表示从未", "rules": "规则", "value": "值", "meaning": "含义",
        "condition": "条件", "reads": "读取", "timeline": "定期调整的数值",
        "date": "日期", "rule": "规则", "from": "起", "cases": "算例", "scheme": "方案",
        "as_of": "评估日期", "expect": "预期", "result": "结果", "pass": "通过",
        "fail": "未通过", "coverage": "规则覆盖率", "not_exercised": "未被算例覆盖的规则",
        "no_cases": "本政策没有算例。", "notes": "检查提示", "none": "无",
        "no_changes": "本层只重申了上层的规则。", "start": "政策生效", "end": "政策失效",
        "root": "（根）", "rule_count": "条规则被算例覆盖", "input": "记录",
        "extra": "其他输入", "output": "结果",
    },
    "en": {
        "policy": "Policy", "version": "Version", "hash": "Content hash", "locale": "Locale",
        "effective": "In effect", "review_by": "Review by", "open": "open-ended",
        "references": "References", "layers": "Layers", "layer": "File",
        "extends": "Extends", "changes": "What this layer changes", "against": "against",
        "key": "Key", "what": "Change", "before": "Before", "after": "After",
        "override": "named in overrides", "added": "added", "changed": "changed",
        "removed": "removed", "facts": "Facts (record fields)", "name": "Name",
        "label": "Label", "type": "Type", "allowed": "Allowed", "default": "Default",
        "unit": "Unit", "care_need": "Care need", "yes": "yes", "no": "no",
        "required": "required", "never": "missing means never", "rules": "Rules",
        "value": "Value", "meaning": "Meaning", "condition": "Condition", "reads": "reads",
        "timeline": "Dated values", "date": "Date", "rule": "Rule", "from": "from",
        "cases": "Worked examples", "scheme": "Scheme", "as_of": "As of",
        "expect": "Expected", "result": "Result", "pass": "pass", "fail": "FAIL",
        "coverage": "Rule coverage", "not_exercised": "Rules no example exercises",
        "no_cases": "This policy has no worked examples.", "notes": "Checker notes",
        "none": "none", "no_changes": "This layer only restates its parent's rules.",
        "start": "policy in effect", "end": "policy ends", "root": "(root)",
        "rule_count": "rules exercised by the examples", "input": "Records",
        "extra": "other inputs", "output": "Decides",
    },
}

#: Keys whose text is prose (shown as is), never a condition.
TEXT_KEYS = frozenset({"id", "label", "label_en", "description", "title", "note", "url"})
LABEL_KEYS = ("label", "label_en", "description")
BRIEF = 160


def language_of(policy: Policy, lang: str | None) -> str:
    """``zh`` or ``en``: as asked, else the policy's own locale (labels are written in it)."""
    if lang in WORDS:
        return lang
    return "en" if policy.model.policy.locale.lower().startswith("en") else "zh"


def label_of(item: Any, lang: str, fallback: str = "") -> str:
    """A rule's name in ``lang``, falling back to the other language, then to its id."""
    zh, en = getattr(item, "label", "") or "", getattr(item, "label_en", "") or ""
    first, second = (zh, en) if lang == "zh" else (en, zh)
    return first or second or fallback


def dated_text(value: DatedValue, w: Mapping[str, str]) -> str:
    if not value.is_dated:
        return _num(value.values[0])
    return "; ".join(f"{_num(v)} {w['from']} {d.isoformat()}"
                     for d, v in zip(value.starts, value.values, strict=True))


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


class _Page:
    """Builds the blocks of one policy's page."""

    def __init__(self, policy: Policy, layers: list[Layer], lang: str) -> None:
        self.policy = policy
        self.layers = layers
        self.lang = lang
        self.w = WORDS[lang]
        meta = policy.model.policy
        self.doc = Doc(meta.title or meta.id, lang)
        self.timeline: list[tuple[dt.date, str, str]] = []
        self.facts: dict[str, dict[str, Any]] = {
            entity: dict(specs) for entity, specs in policy.model.facts.items()}

    # -- sections -----------------------------------------------------------------------
    def build(self) -> Doc:
        self.header()
        self.layer_section()
        self.fact_section()
        for name in self.policy.schemes:
            self.scheme_section(name)
        self.timeline_section()
        self.case_section()
        self.notes_section()
        return self.doc

    def header(self) -> None:
        d, w, meta, ref = self.doc, self.w, self.policy.model.policy, self.policy.ref
        d.h(1, meta.title or meta.id)
        eff = meta.effective
        rows: list[list[Any]] = [[w["policy"], meta.id], [w["version"], meta.version],
                                 [w["hash"], f"sha256:{ref.hash}"], [w["locale"], meta.locale]]
        if eff is not None:
            rows.append([w["effective"], f"{eff.from_} – {eff.to or w['open']}"])
            self.timeline.append((eff.from_, meta.id, w["start"]))
            if eff.to is not None:
                self.timeline.append((eff.to, meta.id, w["end"]))
        if meta.review_by is not None:
            rows.append([w["review_by"], meta.review_by.isoformat()])
        d.table(["", ""], rows)
        if meta.description:
            for para in meta.description.strip().split("\n\n"):
                d.p(" ".join(para.split()))
        if meta.references:
            d.h(3, w["references"])
            # urls are shown as text, never as links: a policy cannot make a page link out
            d.table([w["name"], w["meaning"], "URL"],
                    [[r.title, r.note, r.url] for r in meta.references])

    def layer_section(self) -> None:
        d, w = self.doc, self.w
        d.h(2, w["layers"], "layers")
        d.table([w["layer"], w["policy"], w["version"], w["extends"]],
                [[x.source, x.id, x.version, x.extends or w["root"]] for x in self.layers])
        for child, parent in zip(self.layers, self.layers[1:], strict=False):
            d.h(3, f"{w['changes']}: {child.id} {w['against']} {parent.id}")
            if not child.changes:
                d.p(w["no_changes"], cls="muted")
                continue
            named = set(child.overrides)
            rows = []
            for c in child.changes:
                declared = any(c.path == o or c.path.startswith(o + ".") for o in named)
                rows.append([c.path, w[c.kind], self._brief(c.old), self._brief(c.new),
                             w["override"] if declared else ""])
            d.table([w["key"], w["what"], w["before"], w["after"], ""], rows)

    def fact_section(self) -> None:
        d, w = self.doc, self.w
        if not self.facts:
            return
        d.h(2, w["facts"], "facts")
        for entity, specs in self.facts.items():
            d.h(3, entity)
            rows = []
            for name, s in specs.items():
                allowed = ", ".join(s.values) if s.values else " – ".join(
                    _num(x) if x is not None else "" for x in (s.min, s.max)) \
                    if (s.min is not None or s.max is not None) else ""
                default = (w["never"] if s.optional else w["required"]) if s.default is None \
                    else self._value(s.default)
                rows.append([name, label_of(s, self.lang), s.type, allowed, default, s.unit,
                             w["yes"] if s.care_need else ""])
            d.table([w["name"], w["label"], w["type"], w["allowed"], w["default"], w["unit"],
                     w["care_need"]], rows)

    def scheme_section(self, name: str) -> None:
        d = self.doc
        section = getattr(self.policy.model, name, None)
        if not isinstance(section, BaseModel):
            return
        spec = self.policy.specs.get(name)
        entity = spec.entity_of(section) if spec is not None else None
        d.h(2, f"[{name}]", name)
        doc = (type(section).__doc__ or "").strip().split("\n\n")[0]
        if doc:
            d.p(" ".join(doc.split()))
        if spec is not None:
            fields = ", ".join(spec.record_fields)
            facts = ", ".join(f"[facts.{e}]" for e in spec.entities_of(section))
            d.p((self.w["input"] + ": ", "b"), (fields, "code") if fields else ("", ""),
                f" + {facts}" if facts and fields else facts,
                *([("; " + self.w["extra"] + ": ", ""), (", ".join(spec.extra_inputs), "code")]
                  if spec.extra_inputs else []))
            if spec.outputs:
                d.p((self.w["output"] + ": ", "b"), spec.outputs)
        self._model(section, (name,), entity, 3)

    def _model(self, obj: BaseModel, path: tuple[str, ...], entity: str | None,
               level: int) -> None:
        """One table for the scalar keys of ``obj``; a heading per table of rules."""
        d, w = self.doc, self.w
        scalars: list[list[Any]] = []
        nested: list[tuple[str, Any, str]] = []
        for key, info in type(obj).model_fields.items():
            value = getattr(obj, key)
            shown = info.alias or key
            about = info.description or ""
            if key in LABEL_KEYS or (key == "id" and isinstance(value, str)):
                continue  # shown in the rule's heading
            if isinstance(value, BaseModel) or (
                    isinstance(value, dict) and value
                    and all(isinstance(v, BaseModel) for v in value.values())) or (
                    isinstance(value, list) and value
                    and all(isinstance(v, BaseModel) for v in value)):
                nested.append((shown, value, about))
                continue
            if value is None or value == [] or value == {}:
                continue
            scalars.append([shown, self._shown(value, (*path, shown), entity), about])
        if scalars:
            d.table([w["key"], w["value"], w["meaning"]], scalars)
        for shown, value, about in nested:
            where = (*path, shown)
            d.h(level, ".".join(where))
            if about:
                d.p((about, "muted"))
            if isinstance(value, BaseModel):
                self._model(value, where, entity, level + 1)
            elif isinstance(value, dict):
                for rid, item in value.items():
                    self._rule(item, (*where, rid), rid, entity, level)
            else:
                for i, item in enumerate(value):
                    rid = getattr(item, "id", None) or str(i + 1)
                    self._rule(item, (*where, rid), rid, entity, level)

    def _rule(self, item: BaseModel, path: tuple[str, ...], rid: str, entity: str | None,
              level: int) -> None:
        """One rule: its name in both languages, its description, then its keys."""
        d = self.doc
        name = label_of(item, self.lang, rid)
        other = label_of(item, "en" if self.lang == "zh" else "zh", "")
        runs: list[Run] = [(name, "b")]
        if other and other != name:
            runs.append((f" ({other})", ""))
        runs += [("  ", ""), (f"[{'.'.join(path)}]", "muted")]
        d.p(*runs)
        description = getattr(item, "description", "")
        if isinstance(description, str) and description:
            d.p(" ".join(description.split()))
        self._model(item, path, entity, min(level + 1, 6))

    # -- values -----------------------------------------------------------------------
    def _shown(self, value: Any, path: tuple[str, ...], entity: str | None) -> str:
        key = path[-1]
        if isinstance(value, DatedValue):
            if value.is_dated:
                prev: str | None = None
                for start, v in zip(value.starts, value.values, strict=True):
                    change = f"{prev} → {_num(v)}" if prev is not None else _num(v)
                    self.timeline.append((start, ".".join(path), change))
                    prev = _num(v)
            return dated_text(value, self.w)
        if isinstance(value, str) and key not in TEXT_KEYS:
            reads = self._reads(value, entity)
            if reads is not None:
                names = ", ".join(f"{n} = {lbl}" if lbl else n for n, lbl in reads)
                return f"{value}" + (f"  ({self.w['reads']}: {names})" if names else "")
        return self._value(value)

    def _reads(self, text: str, entity: str | None) -> list[tuple[str, str]] | None:
        """The declared facts an expression reads, with their labels; None if not one."""
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        found = sorted((n.col_offset, n.id) for n in ast.walk(tree) if isinstance(n, ast.Name))
        names = list(dict.fromkeys(name for _, name in found))
        if isinstance(tree.body, ast.Name) and not self._fact(tree.body.id, entity):
            return None  # a single word that is no fact: prose, not a condition
        return [(n, label_of(f, self.lang)) for n in names
                if (f := self._fact(n, entity)) is not None]

    def _fact(self, name: str, entity: str | None) -> Any:
        if entity is not None and name in self.facts.get(entity, {}):
            return self.facts[entity][name]
        for specs in self.facts.values():
            if name in specs:
                return specs[name]
        return None

    def _brief(self, value: Any) -> str:
        """A changed value in a few words: a whole rule by its name (it is shown in full
        in its scheme's section), anything else as written, cut at a line's length."""
        if isinstance(value, dict) and ("label" in value or "label_en" in value):
            zh, en = str(value.get("label", "")), str(value.get("label_en", ""))
            return (zh if self.lang == "zh" else en) or zh or en
        text = self._value(value)
        return text if len(text) <= BRIEF else text[:BRIEF - 1] + "…"

    def _value(self, value: Any) -> str:
        if isinstance(value, DatedValue):
            return dated_text(value, self.w)
        if isinstance(value, BaseModel):
            value = value.model_dump(by_alias=True, exclude_defaults=True)
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{k} = {self._value(v)}" for k, v in value.items()) + " }"
        if isinstance(value, list):
            return "[" + ", ".join(self._value(v) for v in value) + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        if value is None:
            return ""
        return _num(value)

    # -- timeline, cases, notes ---------------------------------------------------------
    def timeline_section(self) -> None:
        d, w = self.doc, self.w
        dated = [t for t in self.timeline if t[0] != dt.date.min]
        if len(dated) <= 1:
            return
        d.h(2, w["timeline"], "timeline")
        d.table([w["date"], w["rule"], w["value"]],
                [[day.isoformat(), rule, value] for day, rule, value in sorted(dated)])

    def case_section(self) -> None:
        from ..cases import run_cases

        d, w = self.doc, self.w
        d.h(2, w["cases"], "cases")
        results, coverage = run_cases(self.policy)
        if not results:
            d.p(w["no_cases"], cls="muted")
        else:
            d.table([w["name"], w["scheme"], w["as_of"], w["expect"], w["result"]],
                    [[r.name, r.case.scheme, r.case.as_of.isoformat(),
                      self._value(r.case.expect),
                      w["pass"] if r.passed else w["fail"] + ": " + "; ".join(r.mismatches)]
                     for r in results])
        covered = len(coverage.rules) - len(coverage.missing)
        d.h(3, w["coverage"])
        d.p((f"{coverage.percent:.0f}%", "b"),
            f" ({covered} / {len(coverage.rules)} {w['rule_count']})")
        if coverage.missing:
            d.p(f"{w['not_exercised']}: ", *[(m, "code") if i % 2 == 0 else (m, "")
                                            for i, m in enumerate(_joined(coverage.missing))])

    def notes_section(self) -> None:
        if not self.policy.warnings:
            return
        self.doc.h(2, self.w["notes"], "notes")
        for note in self.policy.warnings:
            self.doc.p(str(note), cls="warn")


def _joined(items: list[str]) -> list[str]:
    """``[a, ", ", b, ", ", c]``: code spans with plain separators between them."""
    out: list[str] = []
    for i, item in enumerate(items):
        if i:
            out.append(", ")
        out.append(item)
    return out


def policy_doc(policy: Policy, layers: list[Layer], lang: str | None = None) -> Doc:
    """The blocks of a policy's page (``layers`` from :func:`.layers.load_layers`)."""
    return _Page(policy, layers, language_of(policy, lang)).build()


def render_policy(policy: Policy, layers: list[Layer], fmt: str = "html",
                  lang: str | None = None) -> str:
    """A policy's page as one HTML document or one Markdown file."""
    doc = policy_doc(policy, layers, lang)
    return to_html(doc) if fmt == "html" else to_markdown(doc)
