"""Hash-chained decision logs: each line carries the hash of the line before it.

A decision log is evidence: what a run decided, and what people did about it
afterwards (reviews). Replay re-makes decisions, but it cannot see an entry that
was deleted, a review that was removed, an input edited together with its result,
or entries put in another order. So every line a log is given (decisions and
reviews alike) ends with two fields:

* ``seq``: its place in the chain (1 for the first chained line, then one more
  per line, counting lines cut off by an interrupted run);
* ``prev``: ``sha256:`` and the SHA-256 of the exact bytes of the line before it
  (``GENESIS`` for a log's first line).

Changing a line changes its hash, so the next line no longer links to it;
deleting lines leaves a gap in ``seq``; moving lines puts ``seq`` out of order.
:func:`verify_chain` names the first broken link by line number, in English and
Chinese. The links are written while the log is locked for the append
(``audit.append_whole``), so concurrent runs still chain one after another.

What a chain cannot show by itself: the last line has no successor to vouch for
it, and whoever can rewrite the whole file can recompute every hash. Hence
:func:`verify_chain` reports the *head* (the hash of the last line): kept
elsewhere (a ticket, a register, a second system), ``verify-log --head HASH``
later proves that no entry up to it was changed or deleted.

Older logs, written before chaining, are read as they are and reported as
*unchained* (nothing to check), never as tampered; appending to one starts the
chain after its last line.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import click

from . import cli_json
from .provenance import Change, changes, software

GENESIS = "sha256:" + "0" * 64
"""The ``prev`` of a log's first line: there is no line before it."""

_BACK_LINES = 1000  # how many cut-off lines the appender looks past for the last link
_CHUNK = 1 << 16


def line_hash(raw: bytes) -> str:
    """The link to a line: the SHA-256 of its bytes, without the newline."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# --- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tail:
    """What the next line written to a log links to."""

    prev: str
    seq: int


def chain_lines(bodies: Sequence[str], tail: Tail) -> tuple[bytes, Tail]:
    """``bodies`` (each one JSON object, serialised on one line) as the bytes of chained
    lines after ``tail``, and the tail after them. The fields are added to the text, not
    by serialising again, so an entry reads exactly as its writer made it."""
    out = []
    prev, seq = tail.prev, tail.seq
    for body in bodies:
        if not (body.startswith("{") and body.endswith("}")) or "\n" in body:
            raise ValueError("a chained log line is one JSON object on one line")
        link = f'"seq": {seq}, "prev": "{prev}"'
        text = (body[:-1] + ", " + link + "}") if body != "{}" else "{" + link + "}"
        raw = text.encode("utf-8", "surrogateescape")
        out.append(raw)
        prev, seq = line_hash(raw), seq + 1
    return b"".join(r + b"\n" for r in out), Tail(prev, seq)


def read_tail(fd: int, size: int) -> Tail:
    """Where a log of ``size`` bytes open as ``fd`` continues the chain: after its last
    line (a cut-off line too: its successor vouches for its bytes), numbered one after
    the last chained line before it; a log that is empty, or whose last entry is an
    older unchained one, starts a chain (``seq`` 1)."""
    prev: str | None = None
    count = 0
    for raw in _lines_backward(fd, size):
        if not raw.strip():
            continue
        if prev is None:
            prev = line_hash(raw)
        count += 1
        entry = _parse(raw)
        if entry is not None:
            link = _link(entry)
            if isinstance(link, tuple):
                return Tail(prev, link[0] + count)
            return Tail(prev, 1)  # an unchained entry of an older log: the chain starts
        if count >= _BACK_LINES:
            break
    return Tail(prev or GENESIS, 1)


def _lines_backward(fd: int, size: int) -> Iterator[bytes]:
    """The lines of the first ``size`` bytes of ``fd``, last first (read in chunks, so
    a log of gigabytes is not read to append one line)."""
    pos, rest = size, b""
    while pos > 0:
        step = min(_CHUNK, pos)
        pos -= step
        os.lseek(fd, pos, os.SEEK_SET)
        chunk = b""
        while len(chunk) < step:
            got = os.read(fd, step - len(chunk))
            if not got:
                break
            chunk += got
        parts = (chunk + rest).split(b"\n")
        rest = parts[0]
        yield from reversed(parts[1:])
    yield rest


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _link(entry: dict[str, Any]) -> tuple[int, str] | str | None:
    """An entry's link (seq, prev); None when it has none (an older log); a text saying
    what is wrong when it has a damaged one."""
    if "seq" not in entry and "prev" not in entry:
        return None
    seq, prev = entry.get("seq"), entry.get("prev")
    if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 \
            and isinstance(prev, str) and prev.startswith("sha256:"):
        return seq, prev
    return "malformed"


# --- verifying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """Something verification found at a line, said in English and in Chinese."""

    line: int
    en: str
    zh: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass
class ChainReport:
    """What :func:`verify_chain` found in a log."""

    path: str
    lines: int = 0  # non-empty lines read
    chained: int = 0  # lines whose link holds
    unchained: int = 0  # lines written before the log was chained (an older civicscore)
    first_chained: int | None = None  # the line number where the chain begins
    cut: list[int] = field(default_factory=list)  # lines an interrupted run cut off
    broken: Finding | None = None  # the first broken link
    head: str | None = None  # the hash of the last line: the value to keep elsewhere
    head_line: int = 0
    anchor_line: int | None = None  # where the line with the ``head`` asked for is
    #: (line, record) of each distinct ``software`` record (civicscore.provenance) the
    #: log's runs were made with, at its first line
    software: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: how the code at hand differs from that (:meth:`compare`): warnings, not breaks
    changes: list[Change] = field(default_factory=list)

    def compare(self, now: Mapping[str, Any]) -> None:
        """Note where ``now`` (the ``software`` record of the code that replays, or of the
        installed plugins) is not the code the log's runs were made with: a changed
        plugin function changes results while the policy hash stays. The chain's state
        does not change; each plugin is named once, at the first run it concerns."""
        seen: set[tuple[str, str]] = set()
        for line, logged in self.software:
            for change in changes(logged, now, f"the run at line {line}",
                                  f"第 {line} 行的运行"):
                key = (change.plugin, json.dumps(logged, sort_keys=True))
                if key not in seen:
                    seen.add(key)
                    self.changes.append(change)

    @property
    def ok(self) -> bool:
        """No broken link (an unchained log has nothing to break)."""
        return self.broken is None

    @property
    def status(self) -> Literal["empty", "unchained", "intact", "broken"]:
        if self.broken is not None:
            return "broken"
        if not self.lines:
            return "empty"
        return "intact" if self.first_chained is not None else "unchained"

    def findings(self) -> list[Finding]:
        """What to tell a person, first the state of the chain, then its notices."""
        out: list[Finding] = []
        if self.broken is not None:
            out.append(self.broken)
        elif self.status == "empty":
            out.append(Finding(0, "the log holds no entries", "日志中没有任何条目"))
        elif self.status == "unchained":
            out.append(Finding(0, (
                f"not chained: its {self.lines} lines were written by a civicscore from "
                f"before decision logs were hash-chained, so a deleted or changed entry "
                f"cannot be detected in them (nothing here says it was); entries "
                f"appended from now on are chained"), (
                f"未链接：这 {self.lines} 行由尚未对决定日志做哈希链接的旧版 civicscore 写入，"
                f"无法检测其中条目是否被删除或修改（这并不表示已被修改）；此后追加的条目将被链接")))
        else:
            before = (f"lines before line {self.first_chained} were written before the log "
                      f"was chained and are not checked; " if self.unchained else "")
            before_zh = (f"第 {self.first_chained} 行之前的内容写于日志链接之前，未作检查；"
                         if self.unchained else "")
            out.append(Finding(0, (
                f"chain intact: {self.chained} chained entries, none deleted, changed or "
                f"moved; {before}head {self.head} (line {self.head_line}): keep it "
                f"elsewhere, and a later `verify-log --head` proves nothing up to it was "
                f"removed (the last line is vouched for by nothing else)"), (
                f"哈希链完整：{self.chained} 条已链接条目，无删除、修改或移动；{before_zh}"
                f"链头 {self.head}（第 {self.head_line} 行）：请另行保存，日后用 "
                f"`verify-log --head` 可证明此前的条目未被删除（最后一行没有其他条目为其作证）")))
        for n in self.cut:
            out.append(Finding(n, (
                f"line {n} was cut off while it was being written (a run interrupted by a "
                f"kill or a power cut; replay names that run): an interruption, not a "
                f"change"), (
                f"第 {n} 行在写入时被截断（运行被强行终止或断电中断，重放会指出该次运行）："
                f"属于中断，不是篡改")))
        return out


def verify_chain(path: str | Path, head: str | None = None) -> ChainReport:
    """Check every link of a log, reading it once as bytes (line numbers count every
    line, as an editor shows them). With ``head`` (a hash :func:`verify_chain` reported
    earlier, ``sha256:...`` or at least 16 of its hex digits), also check that the line
    it names is still there with the chain intact up to it."""
    report = ChainReport(str(path))
    want = _anchor(head) if head is not None else None
    prev: str | None = None
    prev_line = 0
    last_seq: int | None = None
    since = 0  # cut-off lines since the last chained one
    missing: tuple[int, int] | None = None  # seq numbers absent at the break
    moved_to: int | None = None
    try:
        f = open(path, "rb")  # closed by the with below (the loop is long)
    except OSError as e:
        from .errors import InputError

        raise InputError(f"{path}: cannot read the decision log ({e.strerror or e})") from None
    with f:
        for n, raw in enumerate(f, start=1):
            raw = raw[:-1] if raw.endswith(b"\n") else raw
            if not raw.strip():
                continue
            h = line_hash(raw)
            report.lines += 1
            entry = _parse(raw)
            if entry is not None and isinstance(entry.get("software"), dict):
                record = entry["software"]
                if not any(record == known for _, known in report.software):
                    report.software.append((n, record))
            link = _link(entry) if entry is not None else None
            if report.broken is not None:  # only refine the message of the first break
                if missing is not None and moved_to is None and isinstance(link, tuple) \
                        and missing[0] <= link[0] <= missing[1]:
                    moved_to = n
                prev, prev_line = h, n
                continue
            if want is not None and h.startswith(want) and report.anchor_line is None:
                report.anchor_line = n
            if link is None:
                if entry is None and report.first_chained is not None:
                    report.cut.append(n)  # its successor's link vouches for its bytes
                    since += 1
                elif report.first_chained is not None:
                    report.broken = Finding(n, (
                        f"line {n} has no chain link, though the chain began at line "
                        f"{report.first_chained}: it was inserted, or its link removed"), (
                        f"第 {n} 行没有链接字段，而哈希链始于第 {report.first_chained} 行："
                        f"该行是被插入的，或其链接被删除"))
                else:
                    report.unchained += 1
            elif isinstance(link, str):
                report.broken = Finding(n, (
                    f"line {n}: its chain link (seq, prev) was altered and is not valid"), (
                    f"第 {n} 行：其链接字段（seq、prev）被改动，已无效"))
            else:
                seq, link_prev = link
                expected = (last_seq + since + 1) if last_seq is not None else 1
                if link_prev != (prev or GENESIS):
                    report.broken = _broken_link(n, prev_line, seq, expected,
                                                 report.first_chained)
                    if seq > expected:
                        missing = (expected, seq - 1)
                elif seq != expected:
                    report.broken = Finding(n, (
                        f"line {n}: its sequence number was changed ({seq}, where the chain "
                        f"says {expected})"), (
                        f"第 {n} 行：其序号被改动（为 {seq}，按链应为 {expected}）"))
                else:
                    report.chained += 1
                    last_seq, since = seq, 0
                    if report.first_chained is None:
                        report.first_chained = n
            prev, prev_line = h, n
    report.head, report.head_line = prev, prev_line
    if report.broken is not None and missing is not None and moved_to is not None:
        b = report.broken
        report.broken = Finding(b.line, (
            f"{b.en}; entry {missing[0]} is at line {moved_to}, so entries were moved "
            f"(the order of the log was changed)"), (
            f"{b.zh}；第 {missing[0]} 号条目出现在第 {moved_to} 行，"
            f"说明条目被移动（日志顺序被改变）"))
    if want is not None and report.broken is None and report.anchor_line is None:
        report.broken = Finding(report.head_line, (
            f"the entry recorded as the head ({head}) is no longer in the log: entries were "
            f"deleted from its end, or the entry that was last then was changed"), (
            f"记录的链头（{head}）已不在日志中：日志末尾的条目被删除，或当时的最后一条被修改"))
    return report


def _broken_link(n: int, before: int, seq: int, expected: int,
                 first: int | None) -> Finding:
    """The first link that does not hold, said as what most likely happened (read from
    the sequence numbers, which the link itself protects)."""
    if before == 0:
        if seq > 1:
            return Finding(n, (
                f"line {n} is entry {seq} of the chain, but it is the first line: "
                f"{seq - 1} entr{'y was' if seq == 2 else 'ies were'} deleted from the start "
                f"of the log"), (
                f"第 {n} 行是链中第 {seq} 号条目，却是日志的第一行：日志开头的 {seq - 1} 条被删除"))
        return Finding(n, (
            f"line {n} links to a line before it, but it is the first line: the start of "
            f"the log was removed"), (
            f"第 {n} 行链接到它之前的一行，但它已是第一行：日志的开头被删除"))
    if seq > expected:
        k = seq - expected
        return Finding(n, (
            f"line {n}: {k} entr{'y is' if k == 1 else 'ies are'} missing between line "
            f"{before} and line {n} (line {n} is entry {seq} of the chain, {expected} was "
            f"expected): deleted"), (
            f"第 {n} 行：第 {before} 行与第 {n} 行之间缺少 {k} 条（第 {n} 行是链中第 {seq} 号，"
            f"应为第 {expected} 号）：已被删除"))
    if seq < expected:
        return Finding(n, (
            f"line {n} is out of place: it is entry {seq} of the chain, which belongs "
            f"before line {before} (entries were moved or copied)"), (
            f"第 {n} 行位置不对：它是链中第 {seq} 号条目，应位于第 {before} 行之前"
            f"（条目被移动或复制）"))
    if first is None:
        return Finding(n, (
            f"line {n} starts the chain but does not link to line {before}: a line before "
            f"it was changed or inserted"), (
            f"第 {n} 行是链的开头，却未链接到第 {before} 行：其前面的一行被修改或插入"))
    return Finding(n, (
        f"line {before} was changed after it was written: line {n} holds the hash that "
        f"line had then, and it no longer matches"), (
        f"第 {before} 行在写入后被修改：第 {n} 行保存着该行当时的哈希，现已不符"))


def _anchor(head: str) -> str:
    """A head as given (``sha256:HEX`` or HEX, at least 16 digits) as a hash prefix."""
    digits = head.strip().lower().removeprefix("sha256:")
    if len(digits) < 16 or any(c not in "0123456789abcdef" for c in digits):
        from .errors import UsageError

        raise UsageError(f"--head {head!r}: give the head verify-log printed (sha256: and "
                         f"at least 16 hexadecimal digits)")
    return "sha256:" + digits


# --- telling people -----------------------------------------------------------------------


def languages(lang: str | None) -> tuple[str, ...]:
    """``--lang``, else ``CIVICSCORE_LANG``, else both (a log is read by officers and by
    the residents it concerns)."""
    chosen = (lang or os.environ.get("CIVICSCORE_LANG", "")).lower()[:2]
    return (chosen,) if chosen in ("zh", "en") else ("en", "zh")


def report_lines(report: ChainReport, lang: str | None = None) -> list[str]:
    """``verify-log``'s lines: ``LOG:LINE: text`` where a line is concerned (as compilers
    say it, so an editor jumps there), ``LOG: text`` for the log as a whole."""
    out = []
    for f in report.findings():
        where = f"{report.path}:{f.line}" if f.line else report.path
        lead = "the chain is broken: " if f is report.broken else ""
        lead_zh = "哈希链断裂：" if f is report.broken else ""
        for code in languages(lang):
            out.append(f"{where}: {lead_zh if code == 'zh' else lead}{f.text(code)}")
    for c in report.changes:
        for code in languages(lang):
            out.append(f"{report.path}: {'注意：' if code == 'zh' else 'warning: '}"
                       f"{c.text(code)}")
    return out


def chain_object(report: ChainReport) -> dict[str, Any]:
    """The chain's state as JSON (``verify-log --format json``, ``replay``): its status,
    what was found (each with its line, 0 for the log as a whole, in both languages), the
    head to keep, and how the code at hand differs from the code the runs were made with."""
    return {
        "ok": report.ok and report.status != "empty", "status": report.status,
        "path": report.path, "lines": report.lines, "chained": report.chained,
        "unchained": report.unchained, "first_chained": report.first_chained,
        "cut": list(report.cut), "head": report.head,
        "head_line": report.head_line or None, "anchor_line": report.anchor_line,
        "broken": ({"line": report.broken.line, "en": report.broken.en,
                    "zh": report.broken.zh} if report.broken is not None else None),
        "findings": [{"line": f.line, "en": f.en, "zh": f.zh} for f in report.findings()],
        "code_changes": [{"plugin": c.plugin, "en": c.en, "zh": c.zh}
                         for c in report.changes]}


def replay_lines(report: ChainReport | None, lang: str | None = None) -> list[str]:
    """What ``replay`` says of the chain: a broken link (replay then exits non-zero),
    an unchained log, or the head to keep."""
    if report is None or report.status == "empty":
        return []
    code_changed = [f"WARNING CODE CHANGED {c.plugin}: {c.text(code)}" for c in report.changes
                    for code in languages(lang)]
    if report.broken is not None:
        b = report.broken
        return [f"CHAIN BROKEN line {b.line}: {b.text(code)}"
                for code in languages(lang)] + code_changed
    if report.status == "unchained":
        return [f"NOT CHAINED: {f.text(code)}" for f in report.findings()[:1]
                for code in languages(lang)] + code_changed
    return [f"CHAIN INTACT: {report.chained} entries, head {report.head} (line "
            f"{report.head_line})", *code_changed]


@click.command("verify-log")
@click.argument("log_file", metavar="LOG", type=click.Path(dir_okay=False))
@click.option("--head", metavar="HASH",
              help="A head verify-log printed earlier (kept elsewhere): check that its "
                   "line is still in LOG, with nothing before it deleted or changed.")
@click.option("--lang", type=click.Choice(["zh", "en"]),
              help="Say it in one language (default: CIVICSCORE_LANG, else both).")
@cli_json.format_option
def verify_log_command(log_file: str, head: str | None, lang: str | None) -> None:
    """Check the hash chain of decision log LOG: name the first deleted, changed or moved
    entry by line."""
    from .io import check_input_file

    check_input_file(log_file, "decision log")
    report = verify_chain(log_file, head)
    if report.software:  # the installed plugins against the code the runs were made with
        from .plugins import registry

        report.compare(software(p.code() for p in registry().plugins))
    if cli_json.wanted():
        cli_json.emit("verify-log", chain_object(report))
    else:
        for line in report_lines(report, lang):
            click.echo(line)
    if not report.ok or report.status == "empty":  # nothing vouched for: not a pass
        raise SystemExit(1)
