"""One section of benchmarks/RESULTS.md per benchmark script, each rewritten alone.

Several scripts record their figures in the same file (bench.py the scheme
targets, service_bench.py the HTTP service, ...). Each writes only its own
section, between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``, so a run of
one never drops another's figures. A section not in the file yet is appended.
"""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` as section ``name`` of the markdown file ``path`` (made if missing)."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        new = head + block + (("\n" + tail) if tail else "")
    else:
        new = old.rstrip() + ("\n\n" if old.strip() else "") + block
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)
