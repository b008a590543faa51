"""The kinds of ledger refusal (issue 16) and the public statement-row formatter.

What is pinned: every refusal is a ``LedgerError`` of one kind (``LedgerInvalid``,
``LedgerUnknown``, ``LedgerConflict``, ``LedgerOverdraft``, ``LedgerRefused``,
``LedgerUnavailable``), on both backends, with the text it always had (``field:
message``); the package raises no bare ``LedgerError``; the service answers each kind
with the status it answered when it matched message prefixes; ``statement_row`` is the
line the CLI prints.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.errors import LedgerError
from civicscore.io import read_records
from civicscore.ledger import (
    Ledger,
    LedgerConflict,
    LedgerInvalid,
    LedgerOverdraft,
    LedgerRefused,
    LedgerUnavailable,
    LedgerUnknown,
    kind_of,
    open_ledger,
    statement_row,
)

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES
from .test_ledger_server import ledger_url, pg_server  # noqa: F401  (fixtures)

LEDGER_SRC = Path(civicscore.__file__).parent / "ledger"


@pytest.fixture
def posted(ledger_url: str) -> Any:  # noqa: F811
    with open_ledger(ledger_url, create=True) as book:
        book.migrate()
        book.post(civicscore.load(EXAMPLE_POLICY),
                  list(read_records(EXAMPLES / "volunteer-activities.csv")), as_of=AS_OF)
        yield book


def _refused(fn: Callable[[], object]) -> LedgerError:
    with pytest.raises(LedgerError) as info:
        fn()
    return info.value


CASES: list[tuple[str, type[LedgerError], str, Callable[[Ledger], object]]] = [
    ("a missing id", LedgerInvalid, "id",
     lambda b: b.redeem("V01", "1", id=" ", on="2025-10-10")),
    ("a negative amount", LedgerInvalid, "points",
     lambda b: b.redeem("V01", "-1", id="R1", on="2025-10-10")),
    ("a malformed date", LedgerInvalid, "date",
     lambda b: b.redeem("V01", "1", id="R1", on="10/10/2025")),
    ("an expiry before its day", LedgerInvalid, "expires_on",
     lambda b: b.hold("V01", "1", id="H1", on="2025-10-10", expires_on="2025-10-01")),
    ("an unknown volunteer", LedgerUnknown, "volunteer_id",
     lambda b: b.redeem("NOBODY", "1", id="R1", on="2025-10-10")),
    ("the balance of an unknown volunteer", LedgerUnknown, "volunteer_id",
     lambda b: b.balance("NOBODY", on="2025-10-10")),
    ("an unknown hold", LedgerUnknown, "hold", lambda b: b.capture("H404", on="2025-10-10")),
    ("an unknown transfer", LedgerUnknown, "transfer_id",
     lambda b: b.reverse("redeem:R404", on="2025-10-10", by="clerk", reason="typo")),
    ("a redemption over the balance", LedgerOverdraft, "points",
     lambda b: b.redeem("V01", "100000", id="R1", on="2025-10-10")),
    ("a hold over the balance", LedgerOverdraft, "points",
     lambda b: b.hold("V01", "100000", id="H1", on="2025-10-10")),
    ("a date before the account opened", LedgerRefused, "date",
     lambda b: b.redeem("V01", "1", id="R1", on="2000-01-01")),
]


@pytest.mark.parametrize(("what", "kind", "field", "call"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_refusal_is_of_its_kind(posted: Ledger, what: str, kind: type[LedgerError],
                                     field: str, call: Callable[[Ledger], object]) -> None:
    before = sum(1 for _ in posted.transfers())
    e = _refused(lambda: call(posted))
    assert type(e) is kind, (what, type(e), e)
    assert e.field == field and str(e) == f"{field}: {e.message}"
    assert kind_of(e) == kind.kind  # type: ignore[attr-defined]
    assert sum(1 for _ in posted.transfers()) == before  # nothing written


def test_conflicts_of_what_the_ledger_holds(posted: Ledger) -> None:
    posted.redeem("V01", "1", id="R1", on="2025-10-10")
    e = _refused(lambda: posted.redeem("V01", "2", id="R1", on="2025-10-10"))
    assert type(e) is LedgerConflict and e.field == "id"
    assert e.message.startswith("redeem id 'R1' is already in the ledger with other content")
    posted.hold("V01", "1", id="H1", on="2025-10-10")
    posted.capture("H1", on="2025-10-11")
    e = _refused(lambda: posted.release("H1", on="2025-10-12"))
    assert type(e) is LedgerConflict and e.field == "hold"
    posted.reverse("redeem:R1", on="2025-10-12", by="clerk", reason="returned")
    e = _refused(lambda: posted.reverse("redeem:R1", on="2025-10-13", by="clerk",
                                        reason="again"))
    assert type(e) is LedgerConflict and e.field == "transfer_id"
    e = _refused(lambda: posted.reverse("hold:H1", on="2025-10-13", by="clerk", reason="x"))
    assert type(e) is LedgerConflict and "is not reversed" in e.message


def test_an_unknown_thing_is_also_a_lookup_error(posted: Ledger) -> None:
    with pytest.raises(LookupError):
        posted.capture("H404", on="2025-10-10")
    with pytest.raises(ValueError):  # and still the ValueError every LedgerError is
        posted.capture("H404", on="2025-10-10")


@pytest.mark.parametrize("url", ["ftp://host/x", "sqlite://", "sqlite:///x.db?cache=big",
                                 "postgresql://u@localhost:notaport/db"])
def test_an_unusable_ledger_is_unavailable(url: str) -> None:
    e = _refused(lambda: open_ledger(url))
    assert type(e) is LedgerUnavailable and e.field == "db"


def test_a_file_that_is_not_a_ledger_yet_is_unavailable(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "new.db", create=True) as book:
        e = _refused(book.require_current)
    assert type(e) is LedgerUnavailable and "is not a ledger yet" in e.message


def test_the_package_raises_no_bare_ledger_error() -> None:
    """Every ``raise`` of the ledger package names a kind, so the service (and any other
    caller) can tell refusals apart without reading their words."""
    bare = []
    for path in sorted(LEDGER_SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name)
                    and node.exc.func.id == "LedgerError"):
                bare.append(f"{path.name}:{node.lineno}")
    assert bare == []


def test_a_bare_ledger_error_has_a_kind_by_its_field() -> None:
    assert kind_of(LedgerError("db", "gone")) == "unavailable"
    assert kind_of(LedgerError("points", "odd")) == "invalid"


def test_statement_row_is_the_line_the_cli_prints(posted: Ledger, ledger_url: str  # noqa: F811
                                                  ) -> None:
    posted.redeem("V01", "10", id="R001", on="2025-10-10")
    head, lines = posted.statement("V01", on="2025-12-31")
    rows = [statement_row(t, after) for t, after in lines]
    got = CliRunner().invoke(main, ["ledger", "statement", "V01", "--on", "2025-12-31",
                                    "--format", "json", "--db", ledger_url])
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["transfers"] == rows
    assert rows[-1]["id"] == "redeem:R001" and rows[-1]["points"] == "-10"
    assert rows[-1]["book_balance"] == str(head.book)
    earning = rows[0]
    assert earning["kind"] == "earn" and earning["policy"].startswith("example-district ")
