"""A veto or quota demotion is only proposed until a person confirms it (issue 11, item 6).

The scored file is often read on its own, without the explanation beside it, so each
row says in ``grade_status`` whether its ``grade`` stands ("final") or waits for a
person ("proposed", with ``needs_confirmation``), on both engines alike.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

import civicscore

POLICY = """[policy]
id = "grade-status"
version = "1"

[facts.subject]
done = { type = "decimal", min = 0, max = 100 }
incidents = { type = "int", min = 0, default = 0 }

[appraisal]
entity = "subject"

[[appraisal.indicators]]
id = "done"
weight = 1
value = "done"
normalise = { method = "none" }

[[appraisal.grades]]
id = "good"
min_score = 60

[[appraisal.grades]]
id = "poor"
min_score = 0

[[appraisal.vetoes]]
id = "incident"
when = "incidents > 0"
"""


def test_grade_status_says_which_grades_wait_for_a_person(tmp_path: Path) -> None:
    path = tmp_path / "grade-status.toml"
    path.write_text(POLICY, encoding="utf-8")
    scheme = civicscore.load(path).schemes["appraisal"]
    records = [{"subject_id": "s1", "done": "90", "incidents": "0"},
               {"subject_id": "s2", "done": "90", "incidents": "1"},
               {"subject_id": "s3", "done": "not a number", "incidents": "0"}]
    as_of = dt.date(2025, 12, 31)
    rows = [d.to_row() for d in scheme.decide_many(records, as_of=as_of).decisions]
    batch = scheme.batch(pl.DataFrame(records), as_of=as_of).output.to_dicts()
    for got in (rows, batch):
        assert [(r["status"], r["computed_grade"], r["grade"], r["grade_status"],
                 r["needs_confirmation"]) for r in got] == [
            ("scored", "good", "good", "final", False),
            ("scored", "good", "poor", "proposed", True),
            ("rejected", "", "", "", False)]
    assert list(rows[0]).index("grade_status") == list(rows[0]).index("grade_label") + 1
