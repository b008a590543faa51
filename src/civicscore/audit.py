"""Decision logs, replay, human review and appeals.

Every decision can be reproduced, reviewed and appealed:

* A **decision log** (opt-in, JSON Lines) keeps, for every decision of a run,
  its id, the time, the policy (id, version, content hash), the scheme, the
  as-of date, the input, the result and the reasons, and in a run's first entry
  the code that made it (civicscore's version, each plugin's version and code
  hash: ``civicscore.provenance``). Chosen input fields are
  *redacted* in the log (erased, or replaced by a salted hash); redaction only
  ever touches the log's copy, never the result returned to the caller.
* **Replay** re-runs logged runs with the policy of the same content hash and
  reports every decision that comes out differently.
* **Review**: a person may override a tier, stars, a title or a grade, with a
  reason and their name; the reviewed decision keeps the computed value beside
  the final one. A veto or quota demotion is a recommendation until a person
  confirms it.
* **Appeal**: the same run under the same policy version with corrected facts,
  and the difference it makes, decision by decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import stat
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from .cohort import CohortNote
from .errors import InputError, ReviewError, UsageError
from .logchain import GENESIS, ChainReport, Tail, chain_lines, verify_chain
from .messages import LANG, reasons_language
from .policy.compile import Policy
from .provenance import software
from .results import to_jsonable
from .schemes.base import SchemeSpec

LOG_FORMAT = "civicscore-decision-log/1"
REVIEW_FORMAT = "civicscore-review/1"  # a review entry in a decision log (civicscore.review)
ERASED = "[erased]"
Redaction = Literal["erase", "hash"]


# --- what a run decided, uniformly across schemes ------------------------------------


@dataclass(frozen=True)
class LoggedDecision:
    """One decision as the log sees it: what it is about, its input and its result."""

    kind: str  # "record", or a kind the scheme logs ("redemption", "statement")
    key: str  # the row number, or the value of ``key_field`` in the result
    row: int | None
    result: dict[str, Any]
    key_field: str | None = None  # for a decision of no one input row (a statement)


def decisions_of(spec: SchemeSpec, result: Any) -> list[LoggedDecision]:
    """Every decision of a run, as its scheme's registration says to log them (by
    default one per output row; volunteer runs decide per record, per redemption and
    per volunteer statement)."""
    return [LoggedDecision(kind, key, row, res, spec.log_keys.get(kind))
            for kind, key, row, res in spec.log(result)]


def _canonical(value: Any) -> Any:
    """JSON-ready, with dates as ISO text, so logged and replayed results compare equal."""
    return json.loads(json.dumps(to_jsonable(value), ensure_ascii=False, default=str))


def _scrub(value: Any, hidden: Mapping[str, str]) -> Any:
    """``value`` (a reason's text, or its parts) without the redacted values it quotes
    (values of at least 3 characters, where they stand on their own)."""
    if isinstance(value, str):
        for secret, shown in sorted(hidden.items(), key=lambda kv: -len(kv[0])):
            if len(secret) >= 3:
                value = re.sub(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])",
                               shown, value)
        return value
    if isinstance(value, list):
        return [_scrub(v, hidden) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, hidden) for k, v in value.items()}
    return value


def _short(key: str, d: LoggedDecision) -> str:
    """A decision keyed by a result field (a statement by volunteer id, which may be
    redacted) gets a short digest of it in its id."""
    return _digest(key)[:10] if d.key_field is not None else key


def _digest(*parts: Any) -> str:
    text = json.dumps(_canonical(list(parts)), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- writing -----------------------------------------------------------------------------


@dataclass
class DecisionLog:
    """Appends the decisions of runs to a JSON Lines file, or writes them to a stream.

    ``path`` is a file (appended to under a lock, each run whole or not at all, as
    :func:`append_chained` says), or any writable file-like object, text or binary (a
    socket's file, a pipe, ``sys.stdout``, a ``gzip`` or object-store stream): its
    lines are chained from the first run written to it, one run after another, and
    flushed after each run; a stream that cannot be read back cannot be appended to
    at a later run's tail, so each ``DecisionLog`` over a stream starts a chain.

    ``redact`` maps input field names to ``"erase"`` or ``"hash"`` (HMAC-SHA256
    with the secret key ``salt``, which must be given: equal values stay linkable
    without being readable, and without the key no one can hash every possible id
    to undo it). Only declared facts and the fields the scheme reads itself are
    copied from a record into the log. A run
    whose redacted fields feed a rule cannot be replayed exactly; replay says
    so instead of reporting a false difference.
    """

    path: Path | IO[Any]
    redact: Mapping[str, Redaction] = field(default_factory=dict)
    salt: str = ""
    _tail: Tail = field(default_factory=lambda: Tail(GENESIS, 1), init=False, repr=False)

    def __post_init__(self) -> None:
        if not hasattr(self.path, "write"):
            self.path = Path(self.path)
        for name, how in self.redact.items():
            if how not in ("erase", "hash"):
                raise UsageError(f"redaction of {name!r} must be 'erase' or 'hash', "
                                      f"got {how!r}")
            if how == "hash" and not self.salt:
                # an unkeyed hash of an id is reversed by hashing every possible id
                raise UsageError(f"--redact {name}=hash needs a secret key: set "
                                 f"CIVICSCORE_REDACT_KEY (an unkeyed hash of an id or a "
                                 f"phone number is undone by trying them all), or use "
                                 f"{name}=erase")

    def _redacted(self, record: Any, keep: frozenset[str] | None = None
                  ) -> tuple[Any, list[str]]:
        """The log's copy of a record or result row, and which fields were hidden.

        Results echo input fields (an id, a name), so they are redacted too. With
        ``keep``, only those fields are copied: a column the policy does not declare
        (``民族``, ``religion``) is never the log's business.
        """
        if not isinstance(record, Mapping):
            return _canonical(getattr(record, "message", repr(record))), []
        out: dict[str, Any] = {}
        hidden: list[str] = []
        hidden_values: dict[str, str] = {}
        for k, v in record.items():
            if keep is not None and str(k) not in keep:
                continue
            how = self.redact.get(str(k))
            if how is None or v is None or v == "":
                out[str(k)] = v
            else:
                hidden.append(str(k))
                out[str(k)] = ERASED if how == "erase" else "hmac-sha256:" + hmac.new(
                    self.salt.encode("utf-8"), str(v).encode("utf-8"),
                    hashlib.sha256).hexdigest()[:32]
                hidden_values[str(v)] = out[str(k)]
        logged = _canonical(out)
        if hidden_values and isinstance(logged.get("reasons"), list):
            # the reasons quote ids and values ("household H001 appears twice"): not in a log
            logged["reasons"] = [_scrub(r, hidden_values) for r in logged["reasons"]]
        return logged, hidden

    def logged(self, d: LoggedDecision) -> tuple[str, dict[str, Any]]:
        """The key and result of a decision as they are written to (and compared in) the log."""
        result, _ = self._redacted(d.result)
        key = str(result.get(d.key_field, d.key)) if d.key_field is not None else d.key
        return key, result

    def write_run(self, policy: Policy, scheme: str, as_of: dt.date, result: Any,
                  records: Sequence[Any], extra: Mapping[str, Sequence[Any]] | None = None,
                  now: dt.datetime | None = None) -> int:
        """Log every decision of one run; returns how many were written.

        ``extra`` holds the run's extra inputs by name (``{"redemptions": [...]}``):
        the decisions the scheme makes from their rows log those rows as input."""
        extra = dict(extra or {})
        spec = policy.spec(scheme)
        logged_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        # a fresh nonce: two identical runs in the same second are still two runs (they
        # shared an id, and replay then saw one run with every decision twice)
        run_id = _digest(policy.hash, scheme, as_of, [self._redacted(r)[0] for r in records],
                         *[[self._redacted(r)[0] for r in extra[k]] for k in sorted(extra)],
                         logged_at, secrets.token_hex(8))[:16]
        ref = {"id": policy.ref.id, "version": policy.ref.version, "hash": policy.ref.hash,
               "source": policy.ref.source}
        decisions = decisions_of(spec, result)
        # only declared facts and the fields the scheme reads itself reach the log
        entities = spec.entities_of(getattr(policy.model, scheme, None))
        declared = frozenset((*(f for e in entities for f in policy.model.facts.get(e, {})),
                              *spec.record_fields))
        lines = []
        for index, d in enumerate(decisions, start=1):
            source = extra.get(spec.log_inputs.get(d.kind, ""), records) \
                if d.kind != "record" else records
            data, hidden = (self._redacted(source[d.row - 1],
                                           declared if d.kind == "record" else None)
                            if d.row is not None and 0 < d.row <= len(source) else (None, []))
            key, logged_result = self.logged(d)
            entry = {
                "format": LOG_FORMAT,
                "decision_id": f"{run_id}-{d.kind[0]}{_short(key, d)}",
                "run_id": run_id, "logged_at": logged_at, "scheme": scheme,
                "policy": ref, "as_of": as_of.isoformat(), "kind": d.kind, "key": key,
                "row": d.row, "input": data, "redacted": hidden,
                "redaction": dict(self.redact), "result": logged_result,
                "run_index": index, "run_decisions": len(decisions),
            }
            if index == 1:  # the run's header: the code that made it, beside the policy
                entry["software"] = software(policy.plugins)
                # and the language its reasons are worded in (replay words them so)
                entry["lang"] = reasons_language(policy.model.policy.locale)
            lines.append(json.dumps(entry, ensure_ascii=False))
        if isinstance(self.path, Path):
            append_chained(self.path, lines)
        else:
            self._write_to_stream(self.path, lines)
        return len(lines)

    def _write_to_stream(self, sink: IO[Any], lines: Sequence[str]) -> None:
        """One run's lines, chained after the last run written to ``sink``, and flushed."""
        data, tail = chain_lines(lines, self._tail)
        try:
            mode = getattr(sink, "mode", None)  # 'w', 'ab'; gzip.GzipFile's is a number
            if isinstance(sink, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
                sink.write(data.decode("utf-8", "surrogateescape"))
            else:
                sink.write(data)
            sink.flush()
        except OSError as e:  # a stream cannot be cut back: say the run may be part-written
            name = getattr(sink, "name", None)
            raise UsageError(f"cannot write the decision log to "
                             f"{name if isinstance(name, str) else 'its stream'}: "
                             f"{e.strerror or e}; the run may be partly written there "
                             f"(replay reports it as incomplete)") from None
        self._tail = tail


def append_whole(path: Path, text: str) -> None:
    """Append ``text`` (whole JSON Lines, one object each) to a log, chained: see
    :func:`append_chained`."""
    append_chained(path, [line for line in text.split("\n") if line.strip()])


def append_chained(path: Path, bodies: Sequence[str]) -> Tail:
    """Append one run's lines (or one review) to a log as a whole, each line linked to the
    one before it (``civicscore.logchain``: ``seq`` and ``prev`` added to each), and
    return the link its first line got.

    Under an exclusive lock (two runs logging at once do not interleave, and each links
    to the true last line), on a line of their own (after a run that was killed
    mid-line), fsynced before returning. If the write fails (a full disk, a file size
    limit, an interrupt) the log is cut back to what it was, so it only ever holds whole
    runs; only a kill or a power cut can leave a run incomplete, and the run's last line
    (``run_index == run_decisions``) is its completion marker, which replay checks."""
    from .io import cannot_write
    from .logchain import chain_lines, read_tail

    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                     0o666)
    except OSError as e:
        raise cannot_write(path, e) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise cannot_write(path, OSError(errno.EINVAL, "not a regular file"))
        _lock(fd)
        start = os.fstat(fd).st_size
        try:
            tail = read_tail(fd, start)
            data, _ = chain_lines(bodies, tail)
            if start and _last_byte(fd, start) != b"\n":
                data = b"\n" + data  # the last run was cut mid-line: start on a new one
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException as e:
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
            except OSError:
                pass
            if isinstance(e, OSError):
                raise cannot_write(path, e) from None
            raise
    finally:
        os.close(fd)
    return tail


def _last_byte(fd: int, size: int) -> bytes:
    """The last byte of the file (with O_APPEND, writes still go to the end)."""
    os.lseek(fd, size - 1, os.SEEK_SET)
    return os.read(fd, 1)


def _lock(fd: int) -> None:
    """An exclusive lock on the log while a run is appended (released when it is closed);
    where there is no ``fcntl`` (Windows) appends rely on O_APPEND alone."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


# --- reading and replaying ----------------------------------------------------------------


_REQUIRED = ("decision_id", "run_id", "logged_at", "scheme", "policy", "as_of", "kind",
             "key", "row", "input", "result")
_RUN_ID = re.compile(r'"run_id": "([0-9a-f]{16})"')
MAX_LOG_BYTES = 4 << 30
"""Largest decision log replay reads (it is read whole): 4 GiB, checked before reading."""


@dataclass(frozen=True)
class Incomplete:
    """A run the log does not hold whole: interrupted (killed, a power cut) while it was
    being logged, or damaged since. ``run_id`` is None when a cut-off line does not say
    which run it was part of."""

    run_id: str | None
    lines: tuple[int, ...]
    message: str


@dataclass
class LogContents:
    """A decision log as read: the entries of its whole runs, and the runs that are not
    whole (each said exactly, so that the rest of the log can still be replayed)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    incomplete: list[Incomplete] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)  # civicscore.review entries


def _is_entry(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("format") == LOG_FORMAT
            and all(k in value for k in _REQUIRED) and isinstance(value["policy"], dict)
            and all(k in value["policy"] for k in ("id", "version", "hash", "source")))


def scan_log(path: str | Path) -> LogContents:
    """Read a decision log, telling whole runs from incomplete ones.

    A run logged by this version carries ``run_index`` and ``run_decisions`` in each
    entry; it is whole when every index up to ``run_decisions`` is there (older logs
    without them are taken as they are). A line that is not a log entry is a cut-off
    write: it marks the run it names (or the run around it) incomplete. A file with
    no log entry at all is not a decision log, and is refused naming its first line.
    """
    from .io import check_input_file

    info = check_input_file(path, "decision log")
    if info.st_size > MAX_LOG_BYTES:
        raise InputError(f"{path}: the decision log is larger than {MAX_LOG_BYTES >> 30} GiB "
                         f"(split it by run to replay it)")
    try:
        # split at newlines only, as they were written (and as verify_chain counts lines):
        # splitlines() also splits at U+2028 or U+0085, which JSON leaves unescaped in a value
        lines = Path(path).read_text(encoding="utf-8", errors="surrogateescape").split("\n")
    except OSError as e:
        raise InputError(f"{path}: cannot read the decision log ({e})") from None
    runs: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    damaged: list[tuple[int, str | None, str]] = []
    last_run: str | None = None
    reviews: list[dict[str, Any]] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError) as e:
            found = _RUN_ID.search(line)
            damaged.append((n, found.group(1) if found else last_run,
                            f"not a decision-log line ({getattr(e, 'msg', e)})"))
            continue
        if isinstance(entry, dict) and entry.get("format") == REVIEW_FORMAT:
            reviews.append(entry)  # a person's review of a decision (civicscore.review)
            continue
        if not _is_entry(entry):
            damaged.append((n, entry.get("run_id") if isinstance(entry, dict)
                            and isinstance(entry.get("run_id"), str) else last_run,
                            "not a civicscore decision-log entry"))
            continue
        runs[entry["run_id"]].append((n, entry))
        last_run = entry["run_id"]
    if not runs and damaged:
        n, _, why = damaged[0]
        raise InputError(f"{path}:{n}: {why}")
    if not runs and not reviews:  # "0 decisions replayed, 0 differ" would pass it as fine
        raise InputError(f"{path}: the decision log is empty: it holds no decision to "
                         f"replay (was it the right file, or was the log cut to nothing?)")
    out = LogContents(reviews=reviews)
    broken: dict[str | None, list[int]] = defaultdict(list)
    for n, run_id, _ in damaged:
        # a cut-off line after a whole run belongs to the next run, whose id it lost
        if run_id is not None and run_id in runs and _whole(runs[run_id]) \
                and isinstance(runs[run_id][-1][1].get("run_decisions"), int):
            run_id = None
        broken[run_id].append(n)
    for run_id, items in runs.items():
        numbers = [n for n, _ in items]
        if run_id in broken or not _whole(items):
            expected = items[-1][1].get("run_decisions")
            have = len(items)
            count = f"{have} of {expected}" if isinstance(expected, int) else f"{have}"
            bad = broken.pop(run_id, [])
            cut = f", line {', '.join(map(str, bad))} cut off" if bad else ""
            out.incomplete.append(Incomplete(run_id, tuple(sorted(numbers + bad)), (
                f"run {run_id} is incomplete: {count} decisions logged (lines "
                f"{min(numbers + bad)}-{max(numbers + bad)}{cut}); it was interrupted while "
                f"being logged, so it is not replayed")))
            continue
        out.entries.extend(e for _, e in items)
    for bad in broken.values():
        out.incomplete.append(Incomplete(None, tuple(bad), (
            f"line {', '.join(map(str, bad))}: a run cut off before its first decision was "
            f"written whole (an interrupted run); nothing of it is replayed")))
    return out


def _whole(items: Sequence[tuple[int, Mapping[str, Any]]]) -> bool:
    """Whether a run's entries are all there (a run of an older log, without the
    counters, is taken as whole)."""
    total = items[-1][1].get("run_decisions")
    if not isinstance(total, int):
        return True
    return {e.get("run_index") for _, e in items} == set(range(1, total + 1))


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a decision log's whole runs (see :func:`scan_log` for the others);
    a file that is not a decision log is an error naming its first line."""
    return scan_log(path).entries


@dataclass(frozen=True)
class Difference:
    """A logged decision that came out differently (or could not be re-made)."""

    decision_id: str
    message: str
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass
class ReplayReport:
    replayed: int = 0
    differences: list[Difference] = field(default_factory=list)
    skipped: list[Difference] = field(default_factory=list)
    chain: ChainReport | None = None  # the log's hash chain (civicscore.logchain)

    @property
    def ok(self) -> bool:
        """Every decision re-made the same, and no entry deleted, changed or moved."""
        return not self.differences and not self.skipped and (
            self.chain is None or self.chain.ok)


def _rebuild(entries: Iterable[Mapping[str, Any]], kind: str) -> list[Any]:
    rows = sorted((e for e in entries if e["kind"] == kind), key=lambda e: e["row"])
    return [e["input"] for e in rows]


def replay(log: str | Path, policies: Mapping[str, Policy]) -> ReplayReport:
    """Re-run every logged run with the policy of the same hash and compare decisions.

    ``policies`` maps content hashes to loaded policies (see
    :func:`policies_by_hash`). A run whose policy is not available, or whose
    redacted inputs change what its rules decide (an erased id that made two
    households look alike), is reported as not replayed, never as equal. The log's
    hash chain is checked too (``report.chain``): a deleted, edited or reordered entry
    makes the report not ok even where every remaining decision replays.
    """
    contents = scan_log(log)
    report = ReplayReport(chain=verify_chain(log))
    if report.chain is not None and policies:
        # the plugins replay decides with (one engine loaded them all) against the logged
        report.chain.compare(software(next(iter(policies.values())).plugins))
    for gap in contents.incomplete:
        report.skipped.append(Difference(gap.run_id or f"line {gap.lines[0]}", gap.message))
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in contents.entries:
        runs[entry["run_id"]].append(entry)
    for run_id, entries in runs.items():
        first = entries[0]
        policy = policies.get(first["policy"]["hash"])
        if policy is None:
            report.skipped.append(Difference(run_id, f"run {run_id}: no policy with hash "
                                                     f"{first['policy']['hash'][:12]} "
                                                     f"({first['policy']['id']} "
                                                     f"{first['policy']['version']}) was given"))
            continue
        as_of = dt.date.fromisoformat(first["as_of"])
        scheme = policy.scheme(first["scheme"])
        extra = logged_inputs(policy.spec(first["scheme"]), entries)
        # worded in the logged run's language (a log without one was worded in English)
        token = LANG.set(next((e["lang"] for e in entries if "lang" in e), "en"))
        try:
            result = scheme.run(_rebuild(entries, "record"), as_of=as_of, **extra)
            plain = DecisionLog(Path(log))
            spec = policy.spec(first["scheme"])
            again = {(d.kind, key): res for d in decisions_of(spec, result)
                     for key, res in [plain.logged(d)]}
        finally:
            LANG.reset(token)
        # The inputs were rebuilt from the log, already redacted, and results only echo
        # them: the replayed results compare with the logged ones as they are.
        hidden = sorted({f for e in entries for f in e.get("redacted", ())})
        for e in entries:
            report.replayed += 1
            now = again.get((e["kind"], e["key"]))
            if now is None:
                report.differences.append(Difference(e["decision_id"], "no longer made"))
                continue
            changed = {k: (v, now.get(k)) for k, v in e["result"].items() if now.get(k) != v}
            if changed:
                note = (f" (input fields {', '.join(hidden)} were redacted in the log)"
                        if hidden else "")
                target = report.skipped if hidden else report.differences
                target.append(Difference(e["decision_id"],
                                         "differs in " + ", ".join(sorted(changed)) + note,
                                         changed))
    return report


def logged_inputs(spec: SchemeSpec, entries: Iterable[Mapping[str, Any]]
                  ) -> dict[str, list[Any]]:
    """A logged run's extra inputs, rebuilt from its decisions (``spec.log_inputs``)."""
    entries = list(entries)
    extra: dict[str, list[Any]] = {}
    for kind, name in spec.log_inputs.items():
        if any(e["kind"] == kind for e in entries):
            extra[name] = _rebuild(entries, kind)
    return extra


def policies_by_hash(policies: Iterable[Policy]) -> dict[str, Policy]:
    return {p.hash: p for p in policies}


# --- human review ---------------------------------------------------------------------------

def _review_spec(decision: Any, policy: Policy | None = None) -> SchemeSpec | None:
    """The registration of the scheme that made ``decision`` (by its ``decision_type``):
    the policy's schemes when it is given, else the built-in ones."""
    if policy is not None:
        specs: Iterable[SchemeSpec] = policy.specs.values()
    else:
        from .schemes.builtins import BUILTIN_SCHEMES

        specs = BUILTIN_SCHEMES
    name = type(decision).__name__
    return next((s for s in specs if s.decision_type == name), None)


def overridable(decision: Any, policy: Policy | None = None) -> tuple[str, ...]:
    """Which values of this decision a person may override (from its scheme's
    registration: a tier, stars and a title, a grade)."""
    spec = _review_spec(decision, policy)
    return tuple(spec.overridable) if spec is not None else ()


@dataclass(frozen=True)
class Override:
    """A person's change to, or confirmation of, a computed value."""

    field: str
    computed: Any
    final: Any
    reason: str
    author: str
    at: dt.datetime
    kind: Literal["override", "confirmation"] = "override"


@dataclass(frozen=True)
class Reviewed:
    """A decision after human review: the computed decision is kept unchanged."""

    decision: Any
    overrides: tuple[Override, ...] = ()

    def final(self, name: str) -> Any:
        for o in reversed(self.overrides):
            if o.field == name:
                return o.final
        return getattr(self.decision, name)

    @property
    def awaiting_confirmation(self) -> bool:
        """True while a veto or quota demotion is only a recommendation."""
        if not getattr(self.decision, "needs_confirmation", False):
            return False
        return not any(o.field == "grade" for o in self.overrides)

    def to_row(self) -> dict[str, Any]:
        row = dict(self.decision.to_row())
        for name in overridable(self.decision):
            row[f"final_{name}"] = self.final(name)
        row["awaiting_confirmation"] = self.awaiting_confirmation
        row["overrides"] = [_canonical(dataclasses.asdict(o)) for o in self.overrides]
        return row

    def explain(self) -> str:
        lines = [self.decision.explain()]
        for o in self.overrides:
            verb = "confirmed" if o.kind == "confirmation" else "overrode"
            lines.append(f"  Review: {o.author} {verb} {o.field} on {o.at:%Y-%m-%d %H:%M}: "
                         f"computed {o.computed!r}, final {o.final!r} — {o.reason}")
        if self.awaiting_confirmation:
            lines.append("  This grade is a recommendation until a person confirms it.")
        return "\n".join(lines)


def _check_review(decision: Any, reason: str, author: str) -> tuple[Any, tuple[Override, ...]]:
    base, previous = (decision.decision, decision.overrides) if isinstance(
        decision, Reviewed) else (decision, ())
    if getattr(base, "status", "") == "rejected":
        raise ReviewError("a rejected record has no value to override: correct the "
                              "record and appeal instead")
    if not reason.strip() or not author.strip():
        raise ReviewError("an override needs a reason and the name of the person making it")
    return base, previous


def override(decision: Any, name: str, value: Any, *, reason: str, author: str,
             policy: Policy | None = None, at: dt.datetime | None = None) -> Reviewed:
    """Record a person's decision to change a computed tier, stars, title or grade.

    With ``policy``, the new value is checked against it (a tier or grade the
    policy defines; stars within 0..the number of stars).
    """
    base, previous = _check_review(decision, reason, author)
    allowed = overridable(base, policy)
    if name not in allowed:
        raise ReviewError(f"{type(base).__name__} allows overriding "
                              f"{', '.join(allowed) or 'nothing'}, not {name!r}")
    if policy is not None:
        _validate_value(policy, name, value, base)
    computed = Reviewed(base, previous).final(name)
    stamp = at or dt.datetime.now(dt.UTC)
    return Reviewed(base, (*previous, Override(name, computed, value, reason, author, stamp)))


def confirm(decision: Any, *, reason: str, author: str,
            at: dt.datetime | None = None) -> Reviewed:
    """Accept a recommended grade (a veto or quota demotion) so that it takes effect."""
    base, previous = _check_review(decision, reason, author)
    if not getattr(base, "needs_confirmation", False):
        raise ReviewError("this decision needs no confirmation")
    stamp = at or dt.datetime.now(dt.UTC)
    return Reviewed(base, (*previous, Override("grade", base.computed_grade, base.grade, reason,
                                               author, stamp, "confirmation")))


def _validate_value(policy: Policy, name: str, value: Any, base: Any) -> None:
    spec = _review_spec(base, policy)
    check = spec.overridable.get(name) if spec is not None else None
    if spec is not None and check is not None:
        check(policy, base, value)


# --- appeals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Appeal:
    """What changes when a run is decided again with corrected facts."""

    policy: str
    as_of: dt.date
    changes: Mapping[str, Mapping[str, tuple[Any, Any]]]  # decision key -> field -> (old, new)
    before: Any
    after: Any
    notes: tuple[CohortNote, ...] = ()  # how its cohort differs from the run's (cohort.py)

    def explain(self) -> str:
        from .logchain import languages

        lines = [f"Warning: {n.en}" if code == "en" else f"注意：{n.zh}"
                 for n in self.notes for code in languages(None)]
        if not self.changes:
            return "\n".join([*lines, f"With the corrected facts, no decision changes "
                                      f"(policy {self.policy})."])
        lines.append(f"With the corrected facts (policy {self.policy}, as of {self.as_of}):")
        for key, fields in self.changes.items():
            diffs = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(fields.items()))
            lines.append(f"  {key}: {diffs}")
        return "\n".join(lines)


def appeal(policy: Policy, scheme: str, records: Sequence[Mapping[str, Any]],
           corrections: Mapping[int, Mapping[str, Any]], *, as_of: dt.date,
           expected_hash: str | None = None,
           logged: Sequence[Mapping[str, Any]] | None = None, **extra: Sequence[Any]) -> Appeal:
    """Re-run ``records`` with ``corrections`` (1-based row -> field -> value).

    ``expected_hash`` guards that the appeal runs under the same policy version
    as the decision appealed against. ``logged`` (the decision-log entries of the
    run's record decisions) lets an appeal of a decision that depends on its cohort
    (a quota, a rank, a caseload) say how its cohort differs from the run's
    (``Appeal.notes``), instead of comparing silently.
    """
    if expected_hash is not None and policy.hash != expected_hash:
        raise ReviewError(f"the appeal must run under the policy that decided "
                              f"(sha256:{expected_hash[:12]}), not {policy.ref}")
    for row in corrections:
        if not 1 <= row <= len(records):
            raise ReviewError(f"there is no row {row} to correct (rows 1..{len(records)})")
    corrected = [{**r, **corrections.get(i, {})} for i, r in enumerate(records, start=1)]
    run = policy.scheme(scheme).run
    before = run(list(records), as_of=as_of, **extra)
    after = run(corrected, as_of=as_of, **extra)
    spec = policy.spec(scheme)
    old = {f"{d.kind} {d.key}": _canonical(d.result) for d in decisions_of(spec, before)}
    new = {f"{d.kind} {d.key}": _canonical(d.result) for d in decisions_of(spec, after)}
    changes: dict[str, dict[str, tuple[Any, Any]]] = {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, {}), new.get(key, {})
        # The reason sentences quote the facts, so they change with any correction;
        # a change is what the decision is (tier, grade, codes ...), not its wording.
        diff = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
                if k != "reasons" and a.get(k) != b.get(k)}
        if diff:
            changes[key] = diff
    from .cohort import cohort_notes

    def rows(result: Any) -> list[tuple[int, Mapping[str, Any]]]:
        return [(d.row, _canonical(d.result)) for d in decisions_of(spec, result)
                if d.kind == "record" and d.row is not None]

    notes = cohort_notes(spec, records, corrected, corrections, logged, rows(before),
                         rows(after))
    return Appeal(str(policy.ref), as_of, changes, before, after, tuple(notes))

