"""The points ledger (issue 14): one suite, run on SQLite and on a real PostgreSQL.

* posting the example district's records gives the statements ``score`` gives;
* a re-post is a no-op, the same id with other content is refused and named;
* redemptions take the oldest unexpired lots, never more than the balance;
* expiry moves what is left of expired lots, once; adjustments need an author
  and a reason, and never take an account below zero;
* bad input names its field and writes nothing; ``verify`` names what broke;
* the ``civicscore ledger`` commands, with ``--db`` or ``CIVICSCORE_LEDGER``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.errors import LedgerError
from civicscore.io import read_records
from civicscore.ledger import SCHEMA_VERSION, Ledger, open_ledger

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES
from .test_ledger_server import ledger_url, pg_server  # noqa: F401  (fixtures)

D = Decimal


@pytest.fixture(scope="module")
def district() -> civicscore.Policy:
    return civicscore.load(EXAMPLE_POLICY, today=dt.date(2025, 1, 1))


@pytest.fixture(scope="module")
def records() -> list[Any]:
    return list(read_records(EXAMPLES / "volunteer-activities.csv"))


@pytest.fixture
def book(ledger_url: str) -> Any:  # noqa: F811
    with open_ledger(ledger_url, create=True) as ledger:
        ledger.migrate()
        yield ledger


@pytest.fixture
def posted(book: Ledger, district: civicscore.Policy, records: list[Any]) -> Ledger:
    book.post(district, records, as_of=AS_OF)
    return book


def counts(book: Ledger) -> int:
    return sum(1 for _ in book.transfers())


# --- schema ----------------------------------------------------------------------------------


def test_init_creates_the_schema_once(ledger_url: str) -> None:  # noqa: F811
    with open_ledger(ledger_url, create=True) as ledger:
        assert ledger.version() == 0
        with pytest.raises(LedgerError, match="not a ledger yet: create it with civicscore "
                                              "ledger init"):
            ledger.require_current()
        assert ledger.migrate() == (0, SCHEMA_VERSION)
        assert ledger.migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
        ledger.require_current()
        assert ledger.verify() == []


def test_a_sqlite_ledger_must_exist_unless_created(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match=r"db: no ledger at .*civicscore ledger init"):
        open_ledger(tmp_path / "none.db")
    with pytest.raises(LedgerError, match=r"db: directory .* does not exist"):
        open_ledger(tmp_path / "no" / "such.db", create=True)
    assert not (tmp_path / "none.db").exists()


# --- posting -----------------------------------------------------------------------------------


def test_posting_gives_the_statements_of_score(book: Ledger, district: civicscore.Policy,
                                               records: list[Any]) -> None:
    summary = book.post(district, records, as_of=AS_OF)
    assert (summary.posted, summary.unchanged, len(summary.rejected)) == (11, 0, 7)
    for vid, rid, on, points in (("V01", "R001", "2025-10-10", "10"),
                                 ("V04", "R003", "2025-12-01", "5")):
        book.redeem(vid, points, id=rid, on=on)
    with pytest.raises(LedgerError, match="points: redemption 'R002' asks for 50 points of "
                                          "volunteer 'V02' on 2025-06-01; only 5 unexpired"):
        book.redeem("V02", 50, id="R002", on="2025-06-01")
    scored = district.volunteer.decide_many(
        records, as_of=AS_OF, redemptions=list(read_records(EXAMPLES / "redemptions.csv")))
    for b in book.balances(on=AS_OF):
        s = scored.statements[b.volunteer_id]
        assert (b.earned, b.expired, b.redeemed, b.balance, b.hours) == (
            D(str(s.earned)), D(str(s.expired)), D(str(s.redeemed)), D(str(s.balance)),
            D(str(s.hours))), b.volunteer_id
    assert book.balance("V04", on=AS_OF).balance == 1
    assert book.verify() == []


def test_every_posting_names_its_policy_and_reasons(posted: Ledger,
                                                    district: civicscore.Policy) -> None:
    earn = next(t for t in posted.transfers() if t.id == "earn:A002")
    assert (earn.policy_id, earn.policy_version, earn.policy_hash) == (
        district.ref.id, district.ref.version, district.ref.hash)
    assert earn.reason_codes == ("ROUNDING", "RATE", "MULTIPLIER")
    assert earn.amount == D("11.25") and isinstance(earn.amount, Decimal)
    assert (earn.debit_account, earn.credit_account) == ("programme:issuance", "volunteer:V01")


def test_a_repost_is_a_no_op(posted: Ledger, district: civicscore.Policy,
                             records: list[Any]) -> None:
    before = [t.to_row() for t in posted.transfers()]
    again = posted.post(district, records, as_of=AS_OF)
    assert (again.posted, again.unchanged) == (0, 11)
    assert [t.to_row() for t in posted.transfers()] == before


def test_the_same_record_id_with_other_content_is_refused(posted: Ledger,
                                                          district: civicscore.Policy,
                                                          records: list[Any]) -> None:
    changed = [dict(r) for r in records]
    changed[0]["end"] = "2025-06-14T23:00"  # A001, one hour longer
    changed.append({**changed[1], "record_id": "NEW1", "start": "2025-11-20T09:00",
                    "end": "2025-11-20T10:00", "submitted_at": "2025-11-20T12:00"})
    n = counts(posted)
    with pytest.raises(LedgerError, match="record_id: record A001 is already in the ledger "
                                          "with other content; nothing was posted"):
        posted.post(district, changed, as_of=AS_OF)
    assert counts(posted) == n  # not even NEW1


# --- redemptions, expiry, adjustments ---------------------------------------------------------------


def test_redemption_takes_the_oldest_lots_first(posted: Ledger) -> None:
    posted.redeem("V01", "10", id="R001", on="2025-10-10")  # 9 of A001 and 1 of A002
    posted.redeem("V01", "10.25", id="R004", on="2025-10-11")  # the rest of A002
    # only A003 (3) and A004 (6) are left; after their expiry (2028) nothing is
    assert posted.balance("V01", on="2028-09-01").balance == 6
    assert posted.balance("V01", on="2028-10-01").balance == 0
    with pytest.raises(LedgerError, match="only 9 unexpired points are available"):
        posted.redeem("V01", "9.01", id="R005", on="2025-10-12")
    assert posted.verify() == []


def test_redemption_is_idempotent_by_id(posted: Ledger) -> None:
    first = posted.redeem("V01", "10", id="R001", on="2025-10-10")
    assert posted.redeem("V01", "10.0", id="R001", on="2025-10-10") == first
    n = counts(posted)
    with pytest.raises(LedgerError, match="id: redeem id 'R001' is already in the ledger "
                                          "with other content; nothing was written"):
        posted.redeem("V01", "11", id="R001", on="2025-10-10")
    assert counts(posted) == n
    assert posted.balance("V01", on=AS_OF).balance == D("19.25")


def test_expired_points_cannot_be_redeemed_and_expire_once(posted: Ledger) -> None:
    # V04's 2022 points (3 + 6) expired on 2025-09-05 and 2025-10-01
    assert posted.balance("V04", on="2025-09-04").balance == 15
    assert posted.balance("V04", on="2025-09-05").balance == 12
    with pytest.raises(LedgerError, match="only 6 unexpired points"):
        posted.redeem("V04", 7, id="R9", on="2025-12-01")
    before = posted.balance("V04", on=AS_OF)
    moved = posted.expire(on=AS_OF)
    assert [(t.id, t.amount, t.effective_on) for t in moved] == [
        ("expire:earn:A013", 3, dt.date(2025, 9, 5)),
        ("expire:earn:A014", 6, dt.date(2025, 10, 1))]
    assert posted.expire(on=AS_OF) == []
    after = posted.balance("V04", on=AS_OF)
    assert (after.balance, after.expired, after.book) == (before.balance, before.expired, 6)
    assert before.book == 15
    assert posted.verify() == []


def test_adjustments_need_an_author_and_a_reason(posted: Ledger) -> None:
    added = posted.adjust("V02", "3.5", id="A1", on="2025-12-01", by="clerk li",
                          reason="sheet of 2025-11 found", expires_on="2026-12-01")
    assert (added.author, added.memo, added.credit_account) == (
        "clerk li", "sheet of 2025-11 found", "volunteer:V02")
    assert posted.balance("V02", on=AS_OF).balance == D("20.5")
    assert posted.balance("V02", on="2026-12-01").balance == 17
    posted.adjust("V02", "-20.5", id="A2", on="2025-12-02", by="clerk li", reason="moved")
    assert posted.balance("V02", on=AS_OF).balance == 0
    with pytest.raises(LedgerError, match=r"points: adjustment 'A3' asks for 0\.01 points"):
        posted.adjust("V02", "-0.01", id="A3", on="2025-12-03", by="x", reason="y")
    for by, reason, field in (("", "why", "by"), ("who", " ", "reason")):
        with pytest.raises(LedgerError, match=f"{field}: is required and missing"):
            posted.adjust("V02", "1", id="A4", on="2025-12-03", by=by, reason=reason)
    assert posted.verify() == []


@pytest.mark.parametrize(("call", "message"), [
    (lambda b: b.redeem("V99", 1, id="X", on="2025-12-01"),
     "volunteer_id: unknown volunteer 'V99'"),
    (lambda b: b.adjust("V99", 1, id="X", on="2025-12-01", by="a", reason="b"),
     "volunteer_id: unknown volunteer 'V99'"),
    (lambda b: b.balance("V99"), "volunteer_id: unknown volunteer 'V99'"),
    (lambda b: b.redeem("V01", -1, id="X", on="2025-12-01"), "points: must be more than 0"),
    (lambda b: b.redeem("V01", 0, id="X", on="2025-12-01"), "points: must not be 0"),
    (lambda b: b.redeem("V01", "nan", id="X", on="2025-12-01"),
     "points: must be a finite number"),
    (lambda b: b.redeem("V01", float("inf"), id="X", on="2025-12-01"),
     "points: must be a finite number"),
    (lambda b: b.redeem("V01", "lots", id="X", on="2025-12-01"),
     "points: expected a number of points, got 'lots'"),
    (lambda b: b.redeem("V01", "0.0000001", id="X", on="2025-12-01"),
     "points: has more than 6 decimals"),
    (lambda b: b.redeem("V01", "1e20", id="X", on="2025-12-01"),
     "points: '1e20' is more than a ledger holds"),
    (lambda b: b.redeem("V01", 1, id="X", on="2025-06-13"),
     r"date: 2025-06-13 is before the account of volunteer 'V01' opened \(2025-06-14\)"),
    (lambda b: b.redeem("V01", 1, id="X", on="14/06/2025"),
     "date: expected a date YYYY-MM-DD, got '14/06/2025'"),
    (lambda b: b.redeem("V01", 1, id=" ", on="2025-12-01"), "id: is required and missing"),
    (lambda b: b.redeem("V01", 100, id="X", on="2025-12-01"),
     "points: redemption 'X' asks for 100 points"),
    (lambda b: b.adjust("V01", 1, id="X", on="2025-12-01", by="a", reason="b",
                        expires_on="2025-12-01"),
     "expires_on: 2025-12-01 is not after the adjustment's date"),
], ids=["unknown-redeem", "unknown-adjust", "unknown-balance", "negative", "zero", "nan",
        "inf", "text", "too-fine", "too-big", "before-opened", "bad-date", "blank-id",
        "over-balance", "expiry-not-after"])
def test_bad_input_names_its_field_and_writes_nothing(
        posted: Ledger, call: Callable[[Ledger], Any], message: str) -> None:
    n = counts(posted)
    with pytest.raises(LedgerError, match=message):
        call(posted)
    assert counts(posted) == n
    assert posted.verify() == []


# --- verify and append-only --------------------------------------------------------------------


def _raw(book: Ledger, sql: str, params: tuple[Any, ...] = ()) -> None:
    book._write(lambda tx: tx.execute(sql, params))


def test_rows_are_never_updated_or_deleted(posted: Ledger) -> None:
    posted.redeem("V01", "1", id="R1", on="2025-12-01")
    for sql in ("UPDATE transfers SET amount = '1' WHERE id = 'earn:A001'",
                "DELETE FROM lots WHERE id = 'earn:A001'",
                "DELETE FROM accounts WHERE code = 'volunteer:V01'",
                "UPDATE lot_uses SET amount = '0'"):
        with pytest.raises(Exception, match="append-only"):
            _raw(posted, sql)
    assert posted.balance("V01", on=AS_OF).earned == D("29.25")


def test_verify_names_what_broke(posted: Ledger) -> None:
    # a transfer written around the library: it overdraws V05 and uses no lot
    _raw(posted, "INSERT INTO transfers (id, kind, debit_account, credit_account, amount, "
                 "effective_on, volunteer_id, content_hash, posted_at) VALUES "
                 "('redeem:evil', 'redeem', 'volunteer:V05', 'programme:redemption', ?, ?, "
                 "'V05', 'x', 'now')", (D(3), dt.date(2025, 12, 20)))
    problems = posted.verify()
    assert "account 'volunteer:V05': balance -0.5 is below zero" in problems
    assert "transfer 'redeem:evil': takes 3 points but its lot uses add up to 0" in problems
    assert any("is not what is left of its lots (2.5)" in p for p in problems)


def test_verify_names_an_earning_without_policy(posted: Ledger) -> None:
    _raw(posted, "INSERT INTO transfers (id, kind, debit_account, credit_account, amount, "
                 "effective_on, volunteer_id, content_hash, posted_at) VALUES "
                 "('earn:bare', 'earn', 'programme:issuance', 'volunteer:V05', ?, ?, "
                 "'V05', 'x', 'now')", (D(1), dt.date(2025, 12, 20)))
    problems = posted.verify()
    assert "transfer 'earn:bare': an earning without its policy id, version and hash" \
        in problems
    assert "transfer 'earn:bare': an earning of points without its lot" in problems


# --- the command line -----------------------------------------------------------------------------


def _cli(args: list[str], db: str | None = None) -> Any:
    env = {"CIVICSCORE_LEDGER": db} if db else {}
    return CliRunner().invoke(main, ["ledger", *args], env=env)


def test_the_commands(ledger_url: str) -> None:  # noqa: F811
    policy, acts = str(EXAMPLE_POLICY), str(EXAMPLES / "volunteer-activities.csv")
    r = _cli(["balance"], ledger_url)
    assert r.exit_code == 2 and "create it with civicscore ledger init" in r.output
    assert _cli(["init", "--db", ledger_url]).output == \
        f"ledger at schema version {SCHEMA_VERSION} (created)\n"
    r = _cli(["post", policy, acts, "--as-of", "2025-12-31"], ledger_url)
    assert r.exit_code == 0, r.output
    assert "11 transfers posted, 0 already in the ledger, 7 records rejected" in r.output
    assert "rejected A006: OVERLAP" in r.output
    r = _cli(["redeem", "V01", "10", "--id", "R001", "--on", "2025-10-10"], ledger_url)
    assert r.output == "redeem:R001: 10 points of V01 on 2025-10-10; balance 19.25\n"
    r = _cli(["redeem", "V02", "-5", "--id", "R2", "--on", "2025-10-10"], ledger_url)
    assert (r.exit_code, r.output) == (2, "civicscore: error: points: must be more than 0, "
                                          "got '-5'\n")
    r = _cli(["adjust", "V02", "2", "--id", "A1", "--on", "2025-12-01"], ledger_url)
    assert r.exit_code == 2 and "Missing option '--by'" in r.output
    r = _cli(["adjust", "V02", "-2", "--id", "A1", "--on", "2025-12-01", "--by", "li",
              "--reason", "double count"], ledger_url)
    assert r.output == "adjust:A1: -2 points for V02 on 2025-12-01; balance 15\n"
    r = _cli(["expire", "--on", "2025-12-31"], ledger_url)
    assert r.output == "2 lots expired, 9 points\n"
    r = _cli(["balance", "V01", "--on", "2025-12-31", "--format", "json"], ledger_url)
    assert json.loads(r.output)["balances"][0]["balance"] == "19.25"
    r = _cli(["balance", "--on", "2025-12-31", "--format", "csv"], ledger_url)
    lines = r.output.splitlines()
    assert lines[0].startswith("volunteer_id,as_of,earned") and len(lines) == 5
    assert "V02,2025-12-31,17,-2,0,0,15,15,12.5,4,0" in lines  # held: 0
    r = _cli(["statement", "V04", "--on", "2025-12-31", "--format", "json"], ledger_url)
    data = json.loads(r.output)
    assert data["balance"]["balance"] == "6"
    assert [t["id"] for t in data["transfers"]] == [
        "earn:A013", "earn:A014", "earn:A015", "expire:earn:A013", "expire:earn:A014"]
    r = _cli(["statement", "V04", "--on", "2025-12-31"], ledger_url)
    assert r.exit_code == 0 and "expire:earn:A013" in r.output
    r = _cli(["verify"], ledger_url)
    assert (r.exit_code, r.output) == (0, "ok: 15 transfers, every invariant holds\n")
    r = _cli(["export", "--format", "csv"], ledger_url)
    assert r.output.splitlines()[0].startswith("seq,id,kind,debit_account,credit_account")
    assert len(r.output.splitlines()) == 16
    r = _cli(["migrate"], ledger_url)
    assert r.output == f"ledger already at schema version {SCHEMA_VERSION}\n"


def test_verify_exits_1_naming_the_break(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    _cli(["init", "--db", db])
    _cli(["post", str(EXAMPLE_POLICY), str(EXAMPLES / "volunteer-activities.csv"),
          "--as-of", "2025-12-31"], db)
    with open_ledger(db) as book:
        _raw(book, "INSERT INTO lot_uses (transfer_id, lot_id, amount) VALUES "
                   "('earn:A001', 'earn:A002', '100')")
    r = _cli(["verify"], db)
    assert r.exit_code == 1
    assert "broken: lot 'earn:A002': used 100 of its 11.25 points" in r.output
    assert "invariant(s) broken" in r.output


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://u@h/db", "db: malformed URL: 'mysql' is not a kind of ledger"),
    ("sqlite://", "db: malformed URL 'sqlite://': write sqlite:///PATH"),
    ("postgresql://u@h:notaport/db", "db: malformed PostgreSQL URL .*: the port 'notaport'"),
    ("postgresql://u:s3cret@h/db?nosuch=1", "db: malformed PostgreSQL URL .*nosuch"),
    ("postgresql://u:s3cret@127.0.0.1:9/db?connect_timeout=2",
     "db: cannot connect to PostgreSQL at postgresql://u:\\*\\*\\*@127.0.0.1:9/db"),
])
def test_bad_urls_are_named_without_the_password(url: str, message: str) -> None:
    with pytest.raises(LedgerError, match=message) as e:
        open_ledger(url)
    assert "s3cret" not in str(e.value)
    r = _cli(["balance", "--db", url])
    assert r.exit_code == 2 and "s3cret" not in r.output and "Traceback" not in r.output


def test_no_ledger_given_is_an_error() -> None:
    r = CliRunner().invoke(main, ["ledger", "balance"], env={"CIVICSCORE_LEDGER": ""})
    assert r.exit_code == 2
    assert "db: no ledger given: pass --db PATH_OR_URL or set CIVICSCORE_LEDGER" in r.output


def test_the_ledger_reads_the_schemes_rejected_status() -> None:
    """core.py spells the status out (importing the scheme would slow ``civicscore --help``)."""
    from civicscore.ledger import core
    from civicscore.schemes.volunteer import scheme as volunteer

    assert core.REJECTED == volunteer.REJECTED


def test_the_python_example_of_the_docs_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = EXAMPLE_POLICY.parents[1]
    text = (root / "docs" / "ledger.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    for name in ("policies", "examples"):
        (tmp_path / name).symlink_to(root / name)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/ledger.md", "exec"), {})
    assert capsys.readouterr().out == "19.25\n"


def test_a_second_post_of_a_month_warns_that_caps_did_not_see_the_first(
        book: Ledger, district: civicscore.Policy, records: list[Any]) -> None:
    first = book.post(district, records[:2], as_of=AS_OF)  # A001 (June), A002 (July)
    assert first.warnings == ()
    later = {**records[0], "record_id": "A100", "start": "2025-06-20T19:00",
             "end": "2025-06-20T20:00", "submitted_at": "2025-06-21T09:00"}
    second = book.post(district, [later, records[3]], as_of=AS_OF)  # June again, October
    assert second.posted == 2
    assert second.warnings == (
        "volunteer V01: 1 record(s) earned in 2025-06 were posted before; this post's caps "
        "and overlap check did not see them (post a month's records together)",)
    assert book.post(district, [later], as_of=AS_OF).warnings == ()  # nothing new: no-op
