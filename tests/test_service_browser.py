"""The service's pages in a real browser: Debian's chromium, driven by Playwright.

An officer opens the service, chooses a policy, clicks through to the policy's
page in Chinese and in English and reads it, then tries a record and reads
the decision's explanation, then decides every record of a file (the rows and
summary ``civicscore score`` writes), then compares it with the baseline on a file of
records and opens the impact report; the browser reports no console error. Without
chromium (``/usr/bin/chromium``) or Playwright the test is skipped saying
why, unless ``CIVICSCORE_REQUIRE_BROWSER=1`` (set by .ci/run, which installs
chromium), where it fails. A screenshot goes to ``$CIVICSCORE_SCREENSHOTS``
when that is set (else to the test's temporary directory).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.impact import compare
from civicscore.io import read_records

from .conftest import EXAMPLES, ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
RECORD = {"record_id": "A1", "volunteer_id": "V1", "activity": "cleanup",
          "start": "2025-10-01T09:00", "end": "2025-10-01T12:00", "confirmed": True,
          "submitted_at": "2025-10-01T13:00"}


def _missing() -> str | None:
    for module, extra in (("fastapi", "serve"), ("uvicorn", "serve"),
                          ("playwright", "dev")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[{extra}]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no browser at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    return None


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CIVICSCORE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test is required here: {reason}")
        pytest.skip(reason)
    import uvicorn

    from civicscore.service import create_app

    from .test_service import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app([ROOT / "policies"]), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    from .test_service import wait_until_up

    wait_until_up(base)
    yield base
    server.should_exit = True
    thread.join(timeout=30)


def test_an_officer_reads_a_policy_and_tries_a_record(base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    shots = Path(os.environ.get("CIVICSCORE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base_url}/?policy=example-district")
            page.wait_for_selector("body[data-ready=yes]")
            assert page.locator("#about").inner_text().startswith("example-district 2025.2")

            # the policy page, in Chinese: what the officer reads
            page.click("#page-zh")
            page.wait_for_selector("h1")
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            text = page.locator("body").inner_text()
            assert "示例街道志愿积分办法" in text
            assert "政策层级" in text and "规则" in text and "夜间服务" in text
            page.screenshot(path=str(shots / "policy-zh.png"), full_page=False)

            # and in English
            page.go_back()
            page.wait_for_selector("body[data-ready=yes]")
            page.click("#page-en")
            page.wait_for_selector("h1")
            assert page.locator("html").get_attribute("lang") == "en"
            text = page.locator("body").inner_text()
            assert "Layers" in text and "Rules" in text and "Night-time service" in text

            # try a record: the decision and its explanation appear
            page.go_back()
            page.wait_for_selector("body[data-ready=yes]")
            page.select_option("#scheme", "volunteer")
            page.fill("#as-of", "2025-12-31")
            page.fill("#record", json.dumps(RECORD))
            page.click("#decide")
            page.wait_for_selector("body[data-answers='1']")
            result = page.locator("#result").inner_text()
            assert "1 of 1 activity records scored" in result and '"volunteer_id": "V1"' in result
            explanation = page.locator("#explanation").inner_text()
            assert "A1" in explanation
            page.screenshot(path=str(shots / "decision.png"), full_page=True)

            # a mistake in the record is shown to the person, not thrown
            page.fill("#record", "{not json")
            page.click("#decide")
            page.wait_for_selector("body[data-answers='2']")
            assert page.locator("#result").get_attribute("class") == "error"
            assert "JSON" in page.locator("#result").inner_text()

            # a file of records: every decision, with its reasons, and the rejected rows
            page.select_option("#scheme", "visits")
            page.set_input_files("#batch-file", str(EXAMPLES / "visits-households.csv"))
            page.click("#decide-file")
            page.wait_for_selector("body[data-answers='3']")
            decided = page.locator("#batch").inner_text()
            out = tmp_path / "visits.jsonl"
            cli = CliRunner().invoke(main, ["score", str(ROOT / "policies" /
                                                          "example-district.toml"),
                                            str(EXAMPLES / "visits-households.csv"),
                                            "--scheme", "visits", "--as-of", "2025-12-31",
                                            "-o", str(out)])
            assert cli.exit_code == 0, cli.output
            assert decided.splitlines()[0] in cli.stderr.splitlines()  # score's summary
            for line in out.read_text(encoding="utf-8").splitlines():
                assert f'"household_id": "{json.loads(line)["household_id"]}"' in decided
            assert '"reasons"' in decided
            page.screenshot(path=str(shots / "batch.png"), full_page=True)

            # the impact of replacing the baseline by this policy, on a file of records
            page.select_option("#against", "baseline")
            page.set_input_files("#records", str(EXAMPLES / "visits-households.csv"))
            page.click("#compare")
            page.wait_for_selector("body[data-answers='4']")
            summary = page.locator("#impact").inner_text()
            assert page.locator("#impact").get_attribute("class") == ""
            engine = civicscore.Engine()
            want = compare(engine.load("baseline"),
                           engine.load(ROOT / "policies" / "example-district.toml"),
                           "visits", list(read_records(EXAMPLES / "visits-households.csv")),
                           as_of=dt.date(2025, 12, 31))
            assert summary.startswith(f"{want['changed']} / {want['compared']} households")
            assert want["changed"] > 0
            for name, f in want["fields"].items():
                assert (f"{name}: {f['changed']}" in summary) == bool(f["changed"]), name
            with page.expect_popup() as opened:
                page.click("#impact-report")
            report = opened.value
            report.wait_for_load_state()
            assert "baseline" in report.locator("body").inner_text()
            report.screenshot(path=str(shots / "impact.png"), full_page=False)
        finally:
            browser.close()
    assert errors == []
