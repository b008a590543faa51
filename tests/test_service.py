"""The HTTP service: through httpx against the app (ASGI), and once on a real uvicorn.

What is pinned: the service answers exactly what the command line writes for
the same records (rows, rejects, summary), whichever engine; every refusal is
problem+json naming what is wrong, never a traceback; bodies and batches are
bounded; policy files are read only under the policy roots; a plugin's
scheme is served like a built-in one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
httpx = pytest.importorskip("httpx", reason="the service tests need httpx")

import civicscore  # noqa: E402
from civicscore.cli import main  # noqa: E402
from civicscore.io import read_records  # noqa: E402
from civicscore.service import Limits, create_app  # noqa: E402

from .conftest import EXAMPLE_POLICY, EXAMPLES, ROOT  # noqa: E402
from .test_plugins import GREETING_POLICY, HOUSEHOLDS, greeting_plugin  # noqa: E402

POLICIES = ROOT / "policies"
AS_OF = "2025-12-31"
#: each scheme of the example policy, and the bundled example file of its records
EXAMPLE_INPUTS = {path.stem.split("-", 1)[0]: path for path in EXAMPLES.glob("*-*.csv")
                  if path.stem != "redemptions"}
RECORD = {"record_id": "A1", "volunteer_id": "V1", "activity": "cleanup",
          "start": "2025-10-01T09:00", "end": "2025-10-01T12:00", "confirmed": True,
          "submitted_at": "2025-10-01T13:00"}


class Client:
    """httpx over the ASGI app, called synchronously (each request its own loop)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://service.test") as client:
                return await client.request(method, url, **kw)

        return asyncio.run(go())

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(create_app([POLICIES]))


def _cli(*args: object) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == 0, result.output
    return result


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["title_zh"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    return body


# --- what is offered ----------------------------------------------------------------


def test_health_openapi_and_the_policies_on_offer(client: Client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    for path in ("/v1/policies", "/v1/policies/{name}", "/v1/policies/{name}.html",
                 "/v1/policies/{name}/check", "/v1/check",
                 "/v1/policies/{name}/{scheme}/decide", "/v1/policies/{name}/{scheme}/explain",
                 "/v1/policies/{name}/{scheme}/batch", "/v1/schemes", "/healthz"):
        assert path in spec["paths"], path
    batch = spec["paths"]["/v1/policies/{name}/{scheme}/batch"]["post"]
    assert {"text/csv", "application/json"} <= set(batch["requestBody"]["content"])
    listed = {p["name"]: p for p in client.get("/v1/policies").json()["policies"]}
    policy = civicscore.load(EXAMPLE_POLICY)
    mine = listed["example-district"]
    assert (mine["id"], mine["version"], mine["hash"]) == (policy.id, policy.version,
                                                           policy.hash)
    assert mine["ok"] and set(mine["schemes"]) == set(policy.schemes)
    assert listed["baseline"]["origin"] == "installed"  # installed policies by name
    assert "civicscore-policy.schema" not in listed  # a .json, and not a policy anyway
    merged = client.get("/v1/policies/example-district").json()
    assert merged["hash"] == policy.hash
    assert merged["policy"]["policy"]["id"] == "example-district"
    schemes = {s["name"] for s in client.get("/v1/schemes").json()["schemes"]}
    assert set(policy.schemes) <= schemes
    decide = spec["paths"]["/v1/policies/{name}/{scheme}/decide"]["post"]
    assert decide["x-civicscore-roles"] == ["read"]
    problem = decide["responses"]["403"]["content"]["application/problem+json"]["schema"]
    assert problem["properties"]["type"]["enum"] == [
        "https://civicscore.invalid/problems/role"]


def test_the_policy_page_is_the_rendered_page_in_either_language(client: Client) -> None:
    from civicscore.report.layers import load_layers
    from civicscore.report.render import render_policy

    engine = civicscore.Engine()
    policy = engine.load(EXAMPLE_POLICY)
    layers = load_layers(EXAMPLE_POLICY, engine.registry.environment())
    for lang in ("zh", "en"):
        r = client.get(f"/v1/policies/example-district.html?lang={lang}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "script-src" not in r.headers["content-security-policy"]
        # the page of `civicscore render`, its file named as the service's root shows it
        page = render_policy(policy, layers, "html", lang)
        assert str(EXAMPLE_POLICY) in page and str(POLICIES) not in r.text
        assert r.text == page.replace(f"{POLICIES}/", "")
    _problem(client.get("/v1/policies/example-district.html?lang=fr"), 422)


# --- one output: the command line's -----------------------------------------------------


@pytest.mark.parametrize("scheme", sorted(EXAMPLE_INPUTS))
@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_batch_answers_what_the_cli_writes(client: Client, tmp_path: Path, scheme: str,
                                           engine: str) -> None:
    if engine == "batch":
        pytest.importorskip("polars")
    source = EXAMPLE_INPUTS[scheme]
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    cli = _cli("score", EXAMPLE_POLICY, source, "--scheme", scheme, "-o", out,
               "--rejects", rejects, "--as-of", AS_OF, "--engine", "per-record")
    body = source.read_bytes()
    url = f"/v1/policies/example-district/{scheme}/batch?as_of={AS_OF}&engine={engine}"
    r = client.post(url, content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["engine"] == engine
    assert answer["rows"] == _jsonl(out)
    assert answer["rejected"] == (_jsonl(rejects) if rejects.exists() else [])
    assert answer["summary"] in cli.stderr.splitlines()
    assert answer["rows_in"] == sum(1 for _ in read_records(source))
    # the CLI's own CSV, byte for byte, without the byte-order mark the CLI writes for
    # Excel by default: a service's answer is read by programs, which a BOM trips up
    csv_out = tmp_path / "out.csv"
    _cli("score", EXAMPLE_POLICY, source, "--scheme", scheme, "-o", csv_out,
         "--as-of", AS_OF, "--no-bom")
    r = client.post(url + "&format=csv", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.content == csv_out.read_bytes()


def test_a_file_answer_is_streamed_from_a_private_file_removed_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from civicscore.service import scoring

    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    chunks: list[int] = []
    whole = scoring.streamed

    def counted(directory: Path, path: Path, chunk: int = 1 << 16) -> Any:
        assert directory.parent == work and path.parent == directory
        for block in whole(directory, path, chunk=1024):  # small: several chunks
            chunks.append(len(block))
            yield block

    monkeypatch.setattr(scoring, "streamed", counted)
    source = EXAMPLE_INPUTS["visits"]
    csv_out = tmp_path / "out.csv"
    _cli("score", EXAMPLE_POLICY, source, "--scheme", "visits", "-o", csv_out,
         "--as-of", AS_OF, "--no-bom")
    r = Client(create_app([POLICIES])).post(
        f"/v1/policies/example-district/visits/batch?as_of={AS_OF}&format=csv",
        content=source.read_bytes(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.content == csv_out.read_bytes()
    assert int(r.headers["content-length"]) == len(r.content)
    assert len(chunks) > 1 and sum(chunks) == len(r.content)
    assert list(work.iterdir()) == []  # the answer's file and the upload's are gone
    # a run that fails leaves nothing behind either
    r = Client(create_app([POLICIES])).post(
        f"/v1/policies/example-district/visits/batch?as_of={AS_OF}&format=csv",
        content=b'household_id\n"H1\n', headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and list(work.iterdir()) == []


def test_a_json_array_upload_and_one_record_decide_match_the_cli(client: Client,
                                                                  tmp_path: Path) -> None:
    records = [RECORD, {**RECORD, "record_id": "A2", "activity": "patorl"}]
    source = tmp_path / "records.json"
    source.write_text(json.dumps(records), encoding="utf-8")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    cli = _cli("score", EXAMPLE_POLICY, source, "--scheme", "volunteer", "-o", out,
               "--rejects", rejects, "--as-of", AS_OF)
    r = client.post(f"/v1/policies/example-district/volunteer/batch?as_of={AS_OF}",
                    json=records)
    answer = r.json()
    assert answer["rows"] == _jsonl(out) and answer["rejected"] == _jsonl(rejects)
    assert answer["rejected"][0]["row"] == 2  # the record is named, and why
    assert answer["summary"] in cli.stderr.splitlines()
    # one record: the rows of a one-record file, and the words of `civicscore explain`
    one = tmp_path / "one.json"
    one.write_text(json.dumps([RECORD]), encoding="utf-8")
    _cli("score", EXAMPLE_POLICY, one, "--scheme", "volunteer", "-o", out, "--as-of", AS_OF)
    said = _cli("explain", EXAMPLE_POLICY, "--scheme", "volunteer", "--as-of", AS_OF,
                "--record", json.dumps(RECORD)).output
    r = client.post("/v1/policies/example-district/volunteer/decide",
                    json={"record": RECORD, "as_of": AS_OF})
    decided = r.json()
    assert r.status_code == 200 and decided["rows"] == _jsonl(out)
    assert decided["explanation"] == said.rstrip("\n")
    assert decided["policy"]["hash"] == civicscore.load(EXAMPLE_POLICY).hash
    r = client.post("/v1/policies/example-district/volunteer/explain",
                    json={"record": RECORD, "as_of": AS_OF})
    assert r.json()["explanation"] == said.rstrip("\n")


def test_a_plugin_scheme_is_served_like_a_built_in_one(tmp_path: Path) -> None:
    (tmp_path / "greetings.toml").write_text(GREETING_POLICY, encoding="utf-8")
    service = Client(create_app([tmp_path], plugins=[greeting_plugin()]))
    listed = {p["name"]: p for p in service.get("/v1/policies").json()["policies"]}
    assert listed["greetings"]["schemes"] == ["greeting"]
    r = service.post(f"/v1/policies/greetings/greeting/batch?as_of={AS_OF}",
                     content=HOUSEHOLDS.encode(), headers={"Content-Type": "text/csv"})
    answer = r.json()
    assert [(x["household_id"], x["card"]) for x in answer["rows"]] == [
        ("h1", "生日快乐"), ("h2", None), ("h3", None)]
    assert [x["row"] for x in answer["rejected"]] == [3]
    assert "2 of 3 households scored, 1 rejected" in answer["summary"]
    _problem(service.post("/v1/policies/greetings/greeting/batch?engine=batch",
                          content=HOUSEHOLDS.encode(), headers={"Content-Type": "text/csv"}),
             400)
    r = service.post("/v1/policies/greetings/greeting/explain",
                     json={"record": {"household_id": "h9", "age": 85}})
    assert r.json()["explanation"] == "household h9: a card saying '生日快乐'"


# --- checking ---------------------------------------------------------------------------


def test_check_locates_every_problem_in_both_languages(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text(
        '[policy]\nid = "b"\nversion = "1"\nextends = "baseline"\n\n'
        '[volunteer.capz]\nhours_per_day = 6\n', encoding="utf-8")
    service = Client(create_app([tmp_path]))
    listed = {p["name"]: p for p in service.get("/v1/policies").json()["policies"]}
    assert listed["broken"]["ok"] is False and listed["broken"]["problems"] >= 1
    answer = service.get("/v1/policies/broken/check").json()
    assert answer["ok"] is False
    (p,) = answer["problems"]
    assert (p["file"], p["line"]) == ("broken.toml", 6)  # never the server's path
    assert p["where"] == f"broken.toml:6:{p['col']}"
    assert "caps" in p["fix"]  # did you mean
    assert p["text"]["en"].startswith("broken.toml:6:")
    assert "第 6 行" in p["text"]["zh"] and "建议" in p["text"]["zh"]
    assert str(tmp_path) not in json.dumps(answer)
    # using it is refused the same way, as problem+json
    body = _problem(service.post("/v1/policies/broken/volunteer/decide",
                                 json={"record": RECORD}), 422)
    assert body["problems"][0]["where"] == p["where"]
    # a draft sent as text, checked without being stored
    draft = service.post("/v1/check?name=mine.toml",
                         content=b'[policy]\nid = "d"\nversion = "1"\nextends = "baseline"\n')
    assert draft.json()["ok"] is True and draft.json()["policy"]["id"] == "d"
    bad = service.post("/v1/check", content=b'[policy]\nid = "d"\nversoin = "1"\n').json()
    assert bad["ok"] is False and bad["problems"][0]["file"] == "draft.toml"
    assert service.get("/v1/policies/example-district/check").status_code == 404  # not here


def test_policy_files_are_read_only_under_the_roots(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.toml").write_text('[policy]\nid = "s"\nversion = "1"\n',
                                         encoding="utf-8")
    (root / "sneaky.toml").write_text(
        '[policy]\nid = "x"\nversion = "1"\nextends = "../outside/secret.toml"\n',
        encoding="utf-8")
    service = Client(create_app([root]))
    assert set(p["name"] for p in service.get("/v1/policies").json()["policies"]) >= {"sneaky"}
    answer = service.get("/v1/policies/sneaky/check").json()
    assert answer["ok"] is False and "root" in answer["problems"][0]["message"]
    for name in ("secret", "..%2Foutside%2Fsecret", "%2E%2E"):
        assert service.get(f"/v1/policies/{name}").status_code == 404
    draft = service.post("/v1/check", content=(root / "sneaky.toml").read_bytes()).json()
    assert draft["ok"] is False


# --- bad input ---------------------------------------------------------------------------


def test_bad_requests_are_problems_naming_what_is_wrong(client: Client) -> None:
    url = "/v1/policies/example-district/volunteer/decide"
    body = _problem(client.post(url, content=b'{"record": ', headers={
        "Content-Type": "application/json"}), 400)
    assert "not valid JSON" in body["detail"]
    body = _problem(client.post(url, json={"record": [1, 2]}), 422)
    assert body["fields"][0]["field"] == "record"
    body = _problem(client.post(url, json={"record": RECORD, "as_of": "31/12/2025"}), 422)
    assert body["fields"][0]["field"] == "as_of"
    body = _problem(client.post("/v1/policies/example-distrcit/volunteer/decide",
                                json={"record": RECORD}), 404)
    assert "example-district" in body["detail"]  # did you mean
    body = _problem(client.post("/v1/policies/example-district/volunter/decide",
                                json={"record": RECORD}), 404)
    assert "volunteer" in body["detail"]
    body = _problem(client.post("/v1/policies/example-district/volunteer/batch",
                                content=b"x", headers={"Content-Type": "text/plain"}), 415)
    _problem(client.get("/v1/nowhere"), 404)
    _problem(client.request("DELETE", "/v1/policies"), 405)
    # a record that cannot be used is rejected, naming the field; explain says so too
    bad = {**RECORD, "start": "yesterday"}
    answer = client.post(url, json={"record": bad, "as_of": AS_OF}).json()
    assert [(r["volunteer_id"], r["earned"]) for r in answer["rows"]] == [("V1", 0)]
    (rejected,) = answer["rejected"]
    assert (rejected["row"], rejected["id"]) == (1, "A1")
    assert rejected["reasons"] == ["record A1: field 'start': expected a date and time such "
                                   "as 2025-03-01T09:30, got 'yesterday'"]
    assert "rejected" in answer["explanation"] and "'start'" in answer["explanation"]
    r = client.post("/v1/policies/example-district/volunteer/explain",
                    json={"record": bad, "as_of": AS_OF})
    assert r.status_code == 200 and r.json()["explanation"] == answer["explanation"]
    # a CSV with an unclosed quote: the whole upload is refused, nothing is scored
    body = _problem(client.post("/v1/policies/example-district/volunteer/batch",
                                content=b'record_id,volunteer_id\n"A1,V1\n',
                                headers={"Content-Type": "text/csv"}), 422)
    assert "the uploaded records" in body["detail"] and "/tmp" not in body["detail"]


def test_bodies_and_batches_are_bounded() -> None:
    service = Client(create_app([POLICIES], limits=Limits(max_body_bytes=2000, max_rows=3)))
    url = f"/v1/policies/example-district/volunteer/batch?as_of={AS_OF}"
    body = _problem(service.post(url, json=[RECORD] * 4), 413)
    assert body["max_rows"] == 3
    assert service.post(url, json=[RECORD] * 3).status_code == 200
    big = b"[" + b",".join([json.dumps(RECORD).encode()] * 30) + b"]"
    body = _problem(service.post(url, content=big, headers={
        "Content-Type": "application/json"}), 413)
    assert body["max_bytes"] == 2000

    async def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield json.dumps(RECORD).encode()

    _problem(service.post(url, content=chunks(), headers={
        "Content-Type": "application/json"}), 413)
    _problem(service.post("/v1/check", content=b"#" * 5000), 413)


def test_an_internal_error_is_a_500_without_a_trace_or_the_data(tmp_path: Path, caplog,
                                                                 monkeypatch) -> None:
    (tmp_path / "greetings.toml").write_text(GREETING_POLICY, encoding="utf-8")
    plugin = greeting_plugin()
    service = Client(create_app([tmp_path], plugins=[plugin]))
    policy = service.app.state.catalog.load(service.app.state.catalog.get("greetings"))
    scheme = type(policy.scheme("greeting"))

    def broken(self: Any, record: Any, *, as_of: Any) -> str:
        raise RuntimeError(f"boom with {record['household_id']}")

    monkeypatch.setattr(scheme, "explain_record", broken)
    with caplog.at_level(logging.DEBUG):
        r = service.post("/v1/policies/greetings/greeting/explain",
                         json={"record": {"household_id": "SECRET-42", "age": 85}})
    _problem(r, 500)
    assert "SECRET-42" not in r.text and "boom" not in r.text
    assert "RuntimeError" in caplog.text and "SECRET-42" not in caplog.text


# --- a real server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(base: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll /healthz until it answers (bounded: a server that never comes up fails)."""
    for _ in range(300):
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stderr.read().decode()[-2000:]}"
                                 if proc.stderr else "the server exited")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} did not come up")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """``civicscore serve`` itself, on a free loopback port, stopped at the end."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "civicscore", "serve", "--port", str(port),
                             "--policy-root", str(POLICIES), "--max-body", "100000",
                             "--header-timeout", "1", "--body-timeout", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log = proc.stderr.read().decode() if proc.stderr else ""
        assert "Traceback" not in log, log
        assert "SECRET-7" not in log  # no record value reaches the server's log


def test_civicscore_serve_on_a_real_uvicorn(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        record = {**RECORD, "volunteer_id": "SECRET-7"}
        r = http.post("/v1/policies/example-district/volunteer/decide",
                      json={"record": record, "as_of": AS_OF})
        assert r.status_code == 200 and r.json()["rows"][0]["volunteer_id"] == "SECRET-7"
        r = http.post("/v1/policies/example-district/volunteer/batch?as_of=" + AS_OF,
                      content=(EXAMPLES / "volunteer-activities.csv").read_bytes(),
                      headers={"Content-Type": "text/csv"})
        assert r.status_code == 200 and r.json()["rows"]
        r = http.post("/v1/check", content=b"#" * 200_000)
        assert r.status_code == 413
    # a client that announces a body, sends half and goes away: the server carries on
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"POST /v1/policies/example-district/volunteer/decide HTTP/1.1\r\n"
                  b"Host: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
                  b'{"record": {"record_id"')
    with httpx.Client(base_url=served, timeout=30) as http:
        assert http.get("/v1/policies").status_code == 200
    # --header-timeout and --body-timeout reach the server: a trickling client is cut
    # (tests/test_service_slow.py drives the bounds themselves)
    for trickle in (b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
                    b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n#"):
        with socket.create_connection((host, int(port))) as s:
            s.settimeout(20)
            s.sendall(trickle)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 408") and b'"max_seconds":1.0' in data.replace(
            b" ", b""), data[:300]


def test_the_readme_serve_and_curl_example(served: str) -> None:
    """The README's ``civicscore serve`` / ``curl`` block, sent to a real server as
    written (by curl itself when this machine has it)."""
    import re
    import shlex
    import shutil

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```bash\n(civicscore serve .*?)```", readme, flags=re.S)
    serve, curl = block.replace("\\\n", " ").strip().splitlines()
    assert shlex.split(serve.split("#")[0]) == ["civicscore", "serve", "--policy-root",
                                                "policies", "--port", "8000"]
    words = shlex.split(curl.replace("http://127.0.0.1:8000", served))
    if shutil.which("curl"):
        out = subprocess.run(words, capture_output=True, text=True, check=True).stdout
    else:
        url = next(w for w in words if w.startswith("http"))
        out = httpx.post(url, content=words[words.index("-d") + 1].encode(),
                         headers={"Content-Type": "application/json"}, timeout=30).text
    answer = json.loads(out)
    assert answer["rows"][0]["volunteer_id"] == "V1" and answer["rejected"] == []
    assert "Record A1 (cleanup" in answer["explanation"]


# --- tokens -------------------------------------------------------------------------------


def tokens_of(tmp_path: Path, given: dict[str, tuple[str, list[str]]]) -> Any:
    """A tokens file under ``tmp_path`` of ``{token: (name, roles)}``, loaded."""
    from civicscore.service.tokens import Tokens, hash_token

    tmp_path.mkdir(exist_ok=True)
    file = tmp_path / "tokens.toml"
    file.write_text("".join(f'[[token]]\nname = "{name}"\nsha256 = "{hash_token(token)}"\n'
                            f"roles = {json.dumps(roles)}\n\n"
                            for token, (name, roles) in given.items()), encoding="utf-8")
    return Tokens.load(file)


def test_bearer_tokens_hashed_with_roles(tmp_path: Path) -> None:
    from civicscore.service.tokens import Tokens, hash_token

    file = tmp_path / "tokens.toml"
    file.write_text(f'[[token]]\nname = "case app"\nsha256 = "{hash_token("read-me-42")}"\n'
                    f'roles = ["read"]\n\n[[token]]\nname = "ledger clerk"\n'
                    f'sha256 = "{hash_token("ledger-43")}"\nroles = ["ledger"]\n',
                    encoding="utf-8")
    assert "read-me-42" not in file.read_text(encoding="utf-8")
    service = Client(create_app([POLICIES], tokens=Tokens.load(file)))
    # public: health, the API's description, the policy pages and the page that asks
    for url in ("/healthz", "/openapi.json", "/v1/policies/example-district.html", "/"):
        assert service.get(url).status_code == 200, url
    spec = service.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    decide = "/v1/policies/example-district/volunteer/decide"
    body = {"record": RECORD, "as_of": AS_OF}
    for url in ("/v1/policies", "/v1/schemes", "/v1/policies/example-district/check"):
        r = service.get(url)
        _problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    _problem(service.post(decide, json=body), 401)
    _problem(service.post(decide, json=body, headers={"Authorization": "Bearer guess"}), 401)
    _problem(service.post(decide, json=body, headers={"Authorization": "Basic read-me-42"}),
             401)
    r = service.post(decide, json=body, headers={"Authorization": "Bearer ledger-43"})
    assert _problem(r, 403)["role"] == "read"
    r = service.post(decide, json=body, headers={"Authorization": "Bearer read-me-42"})
    assert r.status_code == 200 and r.json()["rows"][0]["volunteer_id"] == "V1"
    r = service.post("/v1/policies/example-district/volunteer/batch", json=[RECORD],
                     headers={"Authorization": "Bearer read-me-42"})
    assert r.status_code == 200


def test_a_tokens_file_is_checked_and_serve_answers_other_hosts_only_with_one(
        tmp_path: Path) -> None:
    from civicscore.errors import UsageError
    from civicscore.service.tokens import Tokens

    file = tmp_path / "tokens.toml"
    file.write_text('[[token]]\nname = "app"\nsha256 = "plain-token"\nroles = ["read"]\n',
                    encoding="utf-8")
    with pytest.raises(UsageError, match="never the token itself"):
        Tokens.load(file)
    file.write_text('[[token]]\nname = "app"\nsha256 = "' + "a" * 64 + '"\nroles = ["admin"]\n',
                    encoding="utf-8")
    with pytest.raises(UsageError, match="roles: expected a list of read, ledger, review"):
        Tokens.load(file)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--policy-root",
                                       str(POLICIES)])
    assert result.exit_code == 2 and "give --tokens FILE" in result.output
    result = CliRunner().invoke(main, ["serve", "--tokens", str(file)])
    assert result.exit_code == 2 and "roles: expected" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("ask", "headers"), [
    ("?lang=zh", {}), ("", {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}),
    ("?lang=en", {"Accept-Language": "zh-CN"}),
])
def test_the_request_chooses_the_reasons_language(client: Client, ask: str,
                                                 headers: dict[str, str]) -> None:
    """``?lang=`` or Accept-Language words the reasons (and the explanation) of a
    decision and of a batch, in the worker thread that scores them too."""
    zh = "lang=en" not in ask
    r = client.post(f"/v1/policies/example-district/volunteer/decide{ask}",
                    json={"record": RECORD, "as_of": AS_OF}, headers=headers)
    assert r.status_code == 200, r.text
    word = "小时" if zh else "hour"  # every row here says its hours
    reasons = [m for row in r.json()["rows"] for m in row["reasons"]]
    assert reasons and any(word in m for m in reasons), reasons
    sep = "&" if ask else "?"
    r = client.post(f"/v1/policies/example-district/volunteer/batch{ask}{sep}as_of={AS_OF}",
                    json=[RECORD], headers=headers)
    reasons = [m for row in r.json()["rows"] for m in row["reasons"]]
    assert reasons and any(word in m for m in reasons), reasons
