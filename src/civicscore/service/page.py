"""The service's own small page: choose a policy, read it, try a record, see the
impact of replacing another policy by it on a file of records.

``GET /`` is one static HTML page in Chinese and English; its one script is
served by the service itself (``/ui/app.js``) and the page's
Content-Security-Policy allows nothing else: no script or style from the
network, no inline script. The script calls the JSON API as any client
would, and writes every value it shows as text (``textContent``), never as
HTML, so a label or a reason from a policy cannot become markup.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; "
       "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>civicscore</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:2rem auto;
max-width:60rem;padding:0 1rem;color:#1b1b1b;line-height:1.5}
label{display:block;margin-top:.8rem;font-weight:600}
select,input,textarea{font:inherit;padding:.2rem}
textarea{width:100%;min-height:8rem;font-family:ui-monospace,monospace}
button{font:inherit;margin-top:.8rem;padding:.3rem 1rem}
pre{background:#f5f5f5;padding:.6rem;white-space:pre-wrap}
.muted{color:#666}.error{color:#a4161a}
nav a{margin-right:1rem}
</style>
<script src="/ui/app.js" defer></script>
</head>
<body>
<h1>civicscore</h1>
<p class="muted">政策即数据，每个决定都有解释。Policies as data, every decision explained.</p>
<label for="token">令牌（如服务要求）/ Token (if the service asks for one)</label>
<input id="token" type="password" autocomplete="off" size="48">
<label for="policy">选择政策 / Choose a policy</label>
<select id="policy"></select>
<p id="about" class="muted"></p>
<nav>
<a id="page-zh" href="#">阅读政策（中文）</a>
<a id="page-en" href="#">Read the policy (English)</a>
</nav>
<label for="scheme">方案 / Scheme</label>
<select id="scheme"></select>
<label for="as-of">评估日期 / As of</label>
<input id="as-of" type="date">
<label for="record">记录（JSON）/ Record (JSON)</label>
<textarea id="record" spellcheck="false">{}</textarea>
<button id="decide" type="button">决定并解释 / Decide and explain</button>
<h2>结果 / Decision</h2>
<pre id="result" class="muted">—</pre>
<h2>解释 / Explanation</h2>
<pre id="explanation" class="muted">—</pre>
<h2>一批记录 / A file of records</h2>
<label for="batch-file">记录文件（CSV、JSON、JSON Lines、Parquet）/ Records file</label>
<input id="batch-file" type="file" accept=".csv,.json,.jsonl,.ndjson,.parquet">
<button id="decide-file" type="button">逐条决定 / Decide every record</button>
<pre id="batch" class="muted">—</pre>
<h2>变更影响 / Impact of a change</h2>
<p class="muted">以上所选政策替换下面的旧政策时，谁会受影响（同一批记录，同一方案与日期）。
Who changes if the policy chosen above replaces the one below, on the same records.</p>
<label for="against">旧政策 / Old policy</label>
<select id="against"></select>
<label for="records">记录文件（CSV、JSON、JSON Lines、Parquet）/ Records file</label>
<input id="records" type="file" accept=".csv,.json,.jsonl,.ndjson,.parquet">
<button id="compare" type="button">比较 / Compare</button>
<pre id="impact" class="muted">—</pre>
<a id="impact-report" hidden>打开影响报告 / Open the impact report</a>
</body>
</html>
"""

SCRIPT = r"""'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  let policies = [];

  let answers = 0;

  function show(id, text, isError) {
    const el = $(id);
    el.textContent = text;
    el.className = isError ? 'error' : '';
  }

  function answered() {  // for people a new text appears; for tests, a count of answers
    answers += 1;
    document.body.dataset.answers = String(answers);
  }

  function problemText(p) {
    const lines = [(p.title_zh || '') + ' / ' + (p.title || '') + ': ' + (p.detail || '')];
    for (const q of p.problems || []) lines.push(q.text.zh + '\n' + q.text.en);
    for (const f of p.fields || []) lines.push(f.field + ': ' + f.message);
    return lines.join('\n');
  }

  function choose() {
    const p = policies.find((x) => x.name === $('policy').value);
    const schemes = $('scheme');
    schemes.replaceChildren();
    if (!p) return;
    const base = '/v1/policies/' + encodeURIComponent(p.name) + '.html';
    $('page-zh').href = base + '?lang=zh';
    $('page-en').href = base + '?lang=en';
    if (!p.ok) {
      $('about').textContent = p.name + ': ' + p.problems + ' problem(s) / 个问题';
      return;
    }
    $('about').textContent = p.id + ' ' + p.version + ' (sha256:' + p.hash.slice(0, 12) + ')';
    for (const s of p.schemes) {
      const o = document.createElement('option');
      o.value = s; o.textContent = s;
      schemes.append(o);
    }
  }

  function headers(extra) {  // the token stays in this page's memory, sent to this service
    const h = Object.assign({}, extra || {});
    if ($('token').value) h['Authorization'] = 'Bearer ' + $('token').value;
    return h;
  }

  async function load() {
    const select = $('policy');
    select.replaceChildren();
    const r = await fetch('/v1/policies', {headers: headers()});
    const answer = await r.json();
    if (!r.ok) {
      $('about').textContent = problemText(answer);
      document.body.dataset.ready = 'no';
      return;
    }
    policies = answer.policies;
    const against = $('against');
    against.replaceChildren();
    for (const p of policies) {
      const o = document.createElement('option');
      o.value = p.name;
      o.textContent = p.ok ? p.name + ' — ' + (p.title || p.id) : p.name + ' (!)';
      select.append(o);
      against.append(o.cloneNode(true));
    }
    const wanted = new URLSearchParams(location.search).get('policy');
    if (wanted && policies.some((p) => p.name === wanted)) select.value = wanted;
    choose();
    document.body.dataset.ready = 'yes';
  }

  async function decide() {
    let record;
    try {
      record = JSON.parse($('record').value);
    } catch (e) {
      show('result', '记录不是有效的 JSON / The record is not valid JSON: ' + e.message, true);
      answered();
      return;
    }
    const body = {record: record};
    if ($('as-of').value) body.as_of = $('as-of').value;
    const url = '/v1/policies/' + encodeURIComponent($('policy').value) + '/' +
      encodeURIComponent($('scheme').value) + '/decide';
    const r = await fetch(url, {method: 'POST',
                                headers: headers({'Content-Type': 'application/json'}),
                                body: JSON.stringify(body)});
    const answer = await r.json();
    if (!r.ok) {
      show('result', problemText(answer), true);
      show('explanation', '—', false);
      answered();
      return;
    }
    const lines = [answer.summary];
    for (const row of answer.rows) lines.push(JSON.stringify(row, null, 1));
    for (const rej of answer.rejected) lines.push('rejected / 未采用: ' + rej.reasons.join('; '));
    show('result', lines.join('\n'), answer.rejected.length > 0);
    show('explanation', answer.explanation || '—', false);
    answered();
  }

  const MEDIA = {csv: 'text/csv', json: 'application/json', jsonl: 'application/x-ndjson',
                 ndjson: 'application/x-ndjson', parquet: 'application/vnd.apache.parquet'};
  const SHOWN = 200;  // rows written into the page; the summary counts them all

  async function decideFile() {  // the batch route: what civicscore score writes
    const file = $('batch-file').files[0];
    if (!file) {
      show('batch', '请选择记录文件 / Choose a file of records', true);
      answered();
      return;
    }
    const media = MEDIA[file.name.split('.').pop().toLowerCase()] || file.type;
    const query = new URLSearchParams();
    if ($('as-of').value) query.set('as_of', $('as-of').value);
    const url = '/v1/policies/' + encodeURIComponent($('policy').value) + '/' +
      encodeURIComponent($('scheme').value) + '/batch?' + query;
    const r = await fetch(url, {method: 'POST', body: await file.arrayBuffer(),
                                headers: headers({'Content-Type': media})});
    const answer = await r.json();
    if (!r.ok) {
      show('batch', problemText(answer), true);
      answered();
      return;
    }
    const lines = [answer.summary];
    for (const row of answer.rows.slice(0, SHOWN)) {
      lines.push(JSON.stringify(row, null, 1));  // each row carries its reasons in words
    }
    if (answer.rows.length > SHOWN) {
      lines.push('… ' + (answer.rows.length - SHOWN) + ' more / 其余 ' +
                 (answer.rows.length - SHOWN) + ' 条');
    }
    for (const rej of answer.rejected) {
      lines.push('rejected / 未采用 (row ' + rej.row + '): ' + rej.reasons.join('; '));
    }
    show('batch', lines.join('\n'), false);
    answered();
  }

  async function compare() {  // the JSON report for the summary, its HTML page to open
    const file = $('records').files[0];
    $('impact-report').hidden = true;
    if (!file) {
      show('impact', '请选择记录文件 / Choose a file of records', true);
      answered();
      return;
    }
    const media = MEDIA[file.name.split('.').pop().toLowerCase()] || file.type;
    const query = new URLSearchParams({against: $('against').value});
    if ($('as-of').value) query.set('as_of', $('as-of').value);
    const url = '/v1/policies/' + encodeURIComponent($('policy').value) + '/' +
      encodeURIComponent($('scheme').value) + '/impact?';
    const body = await file.arrayBuffer();
    const send = (q) => fetch(url + q, {method: 'POST', body: body,
                                        headers: headers({'Content-Type': media})});
    const r = await send(query);
    const answer = await r.json();
    if (!r.ok) {
      show('impact', problemText(answer), true);
      answered();
      return;
    }
    const lines = [answer.changed + ' / ' + answer.compared + ' ' + answer.noun +
                   ' 有变化 / change (' + (100 * answer.share_changed).toFixed(1) + '%)'];
    for (const [name, f] of Object.entries(answer.fields)) {
      if (f.changed) lines.push('  ' + name + ': ' + f.changed);
    }
    show('impact', lines.join('\n'), false);
    query.set('format', 'html');
    const page = await send(query);
    if (page.ok) {
      const link = $('impact-report');
      link.href = URL.createObjectURL(await page.blob());
      link.target = '_blank';
      link.hidden = false;
    }
    answered();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('compare').addEventListener('click', compare);
    $('decide-file').addEventListener('click', decideFile);
    $('policy').addEventListener('change', choose);
    $('decide').addEventListener('click', decide);
    $('token').addEventListener('change', load);
    load();
  });
})();
"""


def install_page(app: FastAPI) -> None:
    """``GET /`` and its script."""

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(INDEX, headers={"Content-Security-Policy": CSP})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:  # browsers ask; "nothing" is an answer, a 404 is an error
        return Response(status_code=204)

    @app.get("/ui/app.js", include_in_schema=False)
    def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript",
                        headers={"Content-Security-Policy": CSP,
                                 "Cache-Control": "no-cache"})
