"""Scoring for the service: the same rows, rejects and summary as ``civicscore score``.

A client's records are written, byte for byte as they came, to a private
temporary file named by their format (``upload.csv``, ``upload.json``, ...),
and scored by the functions ``civicscore score`` runs (``cli._score_per_record``
and ``cli._batch_outcome``: the same reader, the same ``run`` of the compiled
scheme or its batch evaluator, the same writers, the same decision log) into a
staged output. The answer is what the command line would have written: the
output rows as its JSON Lines, the rejected rows as its ``--rejects``, its
summary line. ``engine`` changes the speed, never the answer (a test compares
the service with the command line for every scheme and both engines).

With a decision log (``civicscore serve --log FILE``), every decision is
appended to it by the command line's own :meth:`DecisionLog.write_run`: the same
entries, the same data minimisation (only declared facts and the fields the
scheme reads) and the same ``--redact`` rules, after the answer's outputs are
written and before the answer is sent; a decision that could not be logged is
not answered. As on the command line, a logged run is decided per record (the
log keeps every decision's reasons).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from ..audit import DecisionLog
    from ..policy.compile import Policy

#: The media types a batch upload may have, and the file format each is read as.
MEDIA_TYPES = {
    "text/csv": "csv",
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/vnd.apache.parquet": "parquet",
}

#: What a batch answer may be: one JSON document, or the command line's own file.
OUTPUT_KINDS = ("json", "jsonl", "csv")


@dataclass
class Scored:
    """A run as the command line would have written it."""

    rows_in: int
    engine: str
    summary: str
    output: bytes
    """The output rows in the asked-for kind, exactly as ``score -o FILE`` writes them
    (empty when they were left in a file: ``output_file``)."""
    rejected: list[dict[str, Any]]
    details: list[dict[str, Any]] | None = None
    logged: int | None = None
    """How many decisions were appended to the decision log (None: there is none)."""
    output_file: Path | None = None
    """Where the output rows were left, when ``score_file`` was given ``keep_in``."""

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.decode("utf-8").splitlines()
                if line.strip()]


def count_rows(path: Path) -> int:
    """How many rows the reader finds (unreadable ones count: they become rejects)."""
    from ..io import read_records

    return sum(1 for _ in read_records(path))


def choose_engine(compiled: Any, engine: str, rows: int, logging: bool = False) -> str:
    """``per-record`` or ``batch``, as ``score --engine`` chooses (``logging``: as with
    ``--log``, which decides per record)."""
    from ..cli import AUTO_BATCH_ROWS

    batchable = hasattr(compiled, "batch")
    has_polars = importlib.util.find_spec("polars") is not None
    if engine == "batch":
        if logging:
            raise UsageError("this service writes every decision to its decision log "
                             "(serve --log), which needs engine=per-record (or auto): the "
                             "log records every decision with its reasons")
        if not batchable:
            raise UsageError("this scheme has no batch evaluator; use engine=per-record "
                             "(or auto)")
        if not has_polars:
            raise UsageError("engine=batch needs polars, which this service lacks "
                             "(pip install 'civicscore[batch]')")
        return "batch"
    if engine == "auto" and batchable and has_polars and rows > AUTO_BATCH_ROWS \
            and not logging:
        return "batch"
    return "per-record"


def score_file(policy: Policy, scheme: str, path: Path, *, as_of: dt.date, engine: str,
               kind: str = "jsonl", details: bool = False, log: DecisionLog | None = None,
               extra: Mapping[str, Path] | None = None, keep_in: Path | None = None
               ) -> Scored:
    """Score the records of ``path`` as ``civicscore score`` does, into ``kind``; with
    ``log``, append every decision to it as ``score --log`` does; ``extra``: the files of
    the scheme's extra inputs by name, as ``--with NAME=FILE``. With ``keep_in`` (a
    private directory of the caller's), the output file is left there to be streamed
    from (``Scored.output_file``) rather than read into memory."""
    from ..io import CSV_ESCAPE, staged_outputs, write_rows
    from ..schemes.base import REJECT_COLUMNS

    compiled = policy.scheme(scheme)
    spec = policy.spec(scheme)
    chosen = choose_engine(compiled, engine, count_rows(path), logging=log is not None)
    files = {name: str(p) for name, p in (extra or {}).items()}
    outcome = _outcome(policy, scheme, compiled, spec, path, as_of, chosen, log, files)
    logged = None
    with tempfile.TemporaryDirectory(prefix="civicscore-out-") as tmp:
        out = (keep_in or Path(tmp)) / f"output.{kind}"
        rej, det = Path(tmp) / "rejects.jsonl", Path(tmp) / "details.jsonl"
        token = CSV_ESCAPE.set(True)
        try:
            with staged_outputs():
                outcome.write_output(str(out), kind)
                write_rows([{k: r[k] for k in REJECT_COLUMNS} for r in outcome.rejected],
                           str(rej), "jsonl")
                if details:
                    outcome.write_details(str(det), "jsonl")
                if outcome.log is not None:  # last: a run that cannot be logged is not answered
                    logged = _logged(outcome.log)
        finally:
            CSV_ESCAPE.reset(token)
        return Scored(outcome.rows_in, chosen, outcome.summary(),
                      b"" if keep_in else out.read_bytes(), _jsonl(rej),
                      _jsonl(det) if details else None, logged, out if keep_in else None)


def _outcome(policy: Policy, scheme: str, compiled: Any, spec: Any, path: Path,
             as_of: dt.date, chosen: str, log: DecisionLog | None,
             extra: dict[str, str]) -> Any:
    """The run, by the very functions ``civicscore score`` runs it with (its outcome:
    rows in, rejects, summary, writers, decision log), so that the two cannot drift."""
    from ..cli import _batch_outcome, _score_per_record

    if chosen == "batch":
        from ..batch import command

        # as cli._score_batch, but never a progress bar on the server's terminal
        result = command.run(compiled, str(path), as_of=as_of, extra=extra,
                             show_progress=False)
        return _batch_outcome(result, compiled, spec, policy.ref, as_of)
    return _score_per_record(policy, scheme, compiled, str(path), as_of, extra, log)


def _logged(log_run: Any) -> int:
    """Append the run to the decision log; a log that cannot be written is the service's
    trouble (503), and its path is the service's business: the server's log names it,
    the client's answer does not."""
    from .problems import LOG, Answer

    try:
        return int(log_run())
    except UsageError as e:  # cannot_write: the path and why
        LOG.error("decision log: %s", e)
        raise Answer(503, "the decision log could not be written, so nothing was decided "
                          "(the service's log says why); try again later",
                     kind="decision-log") from None


def streamed(directory: Path, path: Path, chunk: int = 1 << 16) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks, for a streamed answer; the private ``directory``
    it is in is removed when the answer is sent, cut short, or dropped."""
    import shutil

    try:
        with path.open("rb") as f:
            while block := f.read(chunk):
                yield block
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
