"""Where each key of a TOML policy is written: key path -> line and column.

``tomllib`` hands us values and throws positions away, yet every problem we
report to a policy officer must say ``file:line:col``.  Writing (or vendoring)
a position-tracking TOML parser would be a second source of truth for what the
file *means*; instead the caller parses with ``tomllib`` (which owns syntax
errors) and this module makes one forgiving, linear pass over the same *text*
to record where each key path is written.  A validation error at loc
``("visits", "tiers", 2, "when")`` is then turned into a position with
:meth:`PositionMap.nearest`.

Path conventions (they mirror what ``tomllib.loads`` returns):

* keys are ``str`` (quotes removed, basic-string escapes decoded, literal
  strings taken as written); array indices, including the elements of an
  array of tables, are 0-based ``int``;
* ``[a.b]`` records ``("a", "b")`` at the column of the ``[``; the implicit
  parent ``("a",)`` is recorded at the column of its own key segment, unless
  already known (the first mention wins; an explicit ``[a]`` header later
  replaces a merely implicit mention);
* ``[[a.b]]`` records the array ``("a", "b")`` (first occurrence) and the
  element ``("a", "b", n)``, both at the column of the first ``[``; a later
  header through ``a.b`` (``[a.b.c]``, ``[[a.b.d]]``) refers to the *last*
  element, as in TOML;
* a dotted key ``x.y.z = 1`` records ``x``, ``x.y`` and ``x.y.z`` each at the
  column of its own segment; inline tables and arrays record their contents,
  array elements at the element itself.

Columns count Unicode code points, lines and columns are 1-based, and
``\\r\\n`` line endings are fine.  For a table (header, implicit parent or
array-of-tables element) the value position equals the key position.

The scanner never raises: on malformed text it records what it recognised and
resynchronises at the next line.  It runs in linear time (token regexes are
anchored and cannot backtrack catastrophically), and recursion is bounded:
arrays and inline tables nested deeper than :data:`MAX_DEPTH` are skipped
iteratively without recording their contents, and keys or headers with more
than :data:`MAX_DEPTH` dotted segments are skipped without being mapped.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import ItemsView, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["MAX_DEPTH", "Path", "PositionMap", "Span", "locate", "too_deep"]

Path: TypeAlias = tuple[str | int, ...]
"""A key path as ``tomllib`` would index it: strings for keys, ints for array indices."""

MAX_DEPTH = 100
"""Deepest nesting of arrays / inline tables whose contents get recorded.

Bounds the recursion of the scanner so hostile input cannot exhaust the stack;
anything deeper is still skipped correctly, just not mapped.
"""


@dataclass(frozen=True, slots=True)
class Span:
    """Where a key path is written (all numbers 1-based, columns in code points).

    ``line``/``col`` point at the key (for a table header or an array-of-tables
    element: at its ``[``; for an array element: at the element), so "unknown
    key" errors can underline the name.  ``value_line``/``value_col`` point at
    the first character of the value, so "bad value" errors can underline
    that instead; for tables they equal ``line``/``col``.
    """

    line: int
    col: int
    value_line: int
    value_col: int


_ORIGIN = Span(1, 1, 1, 1)


class PositionMap:
    """Read-only mapping from key paths to :class:`Span`, with prefix fallback.

    Validation errors sometimes name a path that is not written in the file
    (a missing key, a default); :meth:`nearest` then falls back to the closest
    enclosing thing that *is* written, so every error still gets a position.

    Maps built by :func:`locate` keep raw text offsets and turn them into
    spans on first use: an error report looks up a handful of paths, and
    building a ``Span`` for every key of a large file would cost more than
    scanning it.
    """

    __slots__ = ("_line_starts", "_offsets", "_spans")

    def __init__(self, spans: dict[Path, Span]) -> None:
        """Copy ``spans`` so later changes by the caller cannot alter the map."""
        self._spans: dict[Path, Span] = dict(spans)
        self._offsets: dict[Path, tuple[int, int]] | None = None
        self._line_starts: list[int] = []

    @classmethod
    def _from_offsets(
        cls, offsets: dict[Path, tuple[int, int]], line_starts: list[int]
    ) -> PositionMap:
        """Wrap ``path -> (key offset, value offset)``; ``line_starts`` ends with a sentinel."""
        positions = cls({})
        positions._offsets = offsets
        positions._line_starts = line_starts
        return positions

    def _span_at(self, key_pos: int, value_pos: int) -> Span:
        """Turn text offsets into a 1-based, code-point based span."""
        starts = self._line_starts
        line = bisect_right(starts, key_pos)
        col = key_pos - starts[line - 1] + 1
        if value_pos == key_pos:
            return Span(line, col, line, col)
        value_line = bisect_right(starts, value_pos)
        return Span(line, col, value_line, value_pos - starts[value_line - 1] + 1)

    def _lookup(self, path: Path) -> Span | None:
        """Span of exactly ``path`` (a tuple), converting and caching it on first use."""
        span = self._spans.get(path)
        if span is None and self._offsets is not None:
            offsets = self._offsets.get(path)
            if offsets is not None:
                span = self._spans[path] = self._span_at(*offsets)
        return span

    def _all(self) -> dict[Path, Span]:
        """Every span, converting whatever is still pending (once)."""
        offsets = self._offsets
        if offsets is not None:
            cached = self._spans
            spans: dict[Path, Span] = {}
            for path, (key_pos, value_pos) in offsets.items():
                span = cached.get(path)
                spans[path] = span if span is not None else self._span_at(key_pos, value_pos)
            self._spans, self._offsets, self._line_starts = spans, None, []
        return self._spans

    def _keys(self) -> dict[Path, Span] | dict[Path, tuple[int, int]]:
        """The dict whose keys are exactly the recorded paths (no conversion needed)."""
        return self._offsets if self._offsets is not None else self._spans

    def get(self, path: Path) -> Span | None:
        """Return the span of exactly ``path``, or ``None`` if it is not written."""
        return self._lookup(tuple(path))

    def nearest(self, path: Path) -> tuple[Path, Span]:
        """Return the longest prefix of ``path`` that is written, with its span.

        Falls back to ``((), Span(1, 1, 1, 1))`` (start of file) when not even
        the first key is written, so callers always have somewhere to point.
        """
        path = tuple(path)
        for end in range(len(path), 0, -1):
            prefix = path[:end]
            span = self._lookup(prefix)
            if span is not None:
                return prefix, span
        return (), _ORIGIN

    def items(self) -> ItemsView[Path, Span]:
        """All recorded ``(path, span)`` pairs, in the order they were first written."""
        return self._all().items()

    def __contains__(self, path: object) -> bool:
        """Whether exactly ``path`` is written in the file."""
        if not isinstance(path, Iterable):
            return False
        try:
            return tuple(path) in self._keys()
        except TypeError:  # an unhashable part
            return False

    def __iter__(self) -> Iterator[Path]:
        """Iterate over recorded paths, in the order they were first written."""
        return iter(self._keys())

    def __len__(self) -> int:
        """Number of recorded paths."""
        return len(self._keys())

    def __repr__(self) -> str:
        """Short summary; the full content can be large."""
        return f"PositionMap({len(self)} paths)"


def locate(text: str) -> PositionMap:
    """Scan TOML ``text`` once and map every key path to where it is written.

    Never raises on malformed input: whatever was recognised is returned.
    """
    scanner = _Scanner(text)
    try:
        scanner.run()
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps us far below
        pass
    return PositionMap._from_offsets(scanner.offsets, scanner.line_starts)


# --- tokens -----------------------------------------------------------------
# Every pattern is anchored with .match() and is built from character-class runs
# or "unrolled loops" with disjoint alternatives, so matching (and failing) is
# linear.  Patterns
# swallow the whitespace around their token to keep the number of regex calls
# per statement small: that is most of the running time.

_WS = re.compile(r"[ \t\r]*")
_WS_NL_COMMENTS = re.compile(r"(?:[ \t\r\n\ufeff]+|#[^\n]*)*")
# One key segment with the blanks around it and what follows it: group 1 bare,
# group 2 basic-string body, group 3 literal-string body, group 4 a dot (more
# segments follow), group 5 an equals sign (the value follows).
_KEY_SEGMENT = re.compile(
    r"""[ \t\r]*(?:([^\s=.\[\]{},"'#]+)|"([^"\\\n]*(?:\\.[^"\\\n]*)*)"|'([^'\n]*)')"""
    r"""[ \t\r]*(?:(\.)|(=)[ \t\r]*)?"""
)
_BASIC = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_LITERAL = re.compile(r"'[^'\n]*'")
# Content may hold one or two quotes in a row; up to two more quotes right
# after the closing delimiter still belong to the content (TOML allows this).
_ML_BASIC = re.compile(r'"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*""""{0,2}')
# Numbers, booleans, dates and times; "1979-05-27 07:32:00" is one value.
_SCALAR = re.compile(r"""[^\s,\[\]{}#"'=]+(?:(?<=\d{4}-\d\d-\d\d) \d\d:[^\s,\[\]{}#"'=]*)?""")
# Fast path for the most common statement, ``bare_key = scalar  # comment``:
# one regex call instead of five.  Anything else takes the general path.
_SIMPLE_STATEMENT = re.compile(
    r"""([A-Za-z0-9_-]+)[ \t]*=[ \t]*([^\s,\[\]{}#"'=]+|"[^"\\\n]*"(?!")|'[^'\n]*'(?!'))"""
    r"""[ \t\r]*(?:#[^\n]*)?(?:\n|\Z)"""
)
_END_OF_LINE = re.compile(r"[ \t\r]*(?:#[^\n]*)?(?:\n|\Z)")
_NESTING_CHARS = re.compile(r"""[\[\]{}"'#]""")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|[\s\S])")
_SIMPLE_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    '"': '"',
    "\\": "\\",
}


def _unescape(match: re.Match[str]) -> str:
    """Decode one escape; unknown or invalid escapes are kept verbatim (tomllib reports them)."""
    code = match.group(1)
    if len(code) > 1:
        try:
            return chr(int(code[1:], 16))
        except (ValueError, OverflowError):
            return match.group(0)
    return _SIMPLE_ESCAPES.get(code, match.group(0))


def _decode_basic(raw: str) -> str:
    """Decode the escapes of a basic-string key so it equals tomllib's key."""
    return _ESCAPE.sub(_unescape, raw) if "\\" in raw else raw


_Segment: TypeAlias = tuple[str, int]
"""One key segment: its decoded name and the text offset where it starts."""


class _Scanner:
    """One forward pass over the text; fills ``offsets`` as keys are met."""

    __slots__ = ("aot_counts", "implicit", "line_starts", "n", "offsets", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        # path -> (offset of the key, offset of the value); line:col comes later.
        self.offsets: dict[Path, tuple[int, int]] = {}
        # Paths only mentioned on the way to something else (header parents,
        # dotted-key prefixes): a later explicit definition may take them over.
        self.implicit: set[Path] = set()
        # Resolved path of each array of tables -> number of elements so far.
        self.aot_counts: dict[Path, int] = {}
        starts = [0]
        find = text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        starts.append(self.n + 1)  # sentinel: every offset is before it
        self.line_starts = starts

    def _put(self, path: Path, key_pos: int, value_pos: int, *, implicit: bool = False) -> None:
        """Record ``path`` unless it is already known (first definition wins).

        An explicit definition does replace an earlier merely implicit one, so
        ``[a]`` written after ``[a.b]`` points at ``[a]``.
        """
        offsets = self.offsets
        if path in offsets:
            if implicit or path not in self.implicit:
                return
            self.implicit.discard(path)
        elif implicit:
            self.implicit.add(path)
        offsets[path] = (key_pos, value_pos)

    # -- driver ---------------------------------------------------------------

    def run(self) -> None:
        """Scan statements (headers and key/value pairs) until the end of text."""
        text, n = self.text, self.n
        skip, end_of_line = _WS_NL_COMMENTS.match, _END_OF_LINE.match
        simple = _SIMPLE_STATEMENT.match
        table: Path | None = ()  # None: inside a header too long to map
        while True:
            blank = skip(text, self.pos)
            assert blank is not None  # the pattern also matches the empty string
            start = self.pos = blank.end()
            if start >= n:
                return
            match = simple(text, start)
            if match is not None:
                if table is not None:
                    self._put((*table, match.group(1)), start, match.start(2))
                self.pos = match.end()
                continue
            if text[start] == "[":
                table = self._header(table)
            else:
                self._key_value(table, 0)
            # After a statement only a comment may follow; otherwise resync
            # at the next line.
            match = end_of_line(text, self.pos)
            if match is not None and self.pos != start:
                self.pos = match.end()
            else:
                eol = text.find("\n", self.pos)
                self.pos = n if eol < 0 else eol + 1

    # -- keys and headers -----------------------------------------------------

    def _key(self) -> tuple[list[_Segment], bool]:
        """Read a (possibly dotted) key and the blanks after it.

        Returns the segments (empty if there is no key here) and whether an
        ``=`` followed, in which case ``pos`` is already at the value.
        """
        text, pos = self.text, self.pos
        match_segment = _KEY_SEGMENT.match
        segments: list[_Segment] = []
        while True:
            match = match_segment(text, pos)
            if match is None:
                break
            bare, basic, literal, dot, equals = match.groups()
            if bare is not None:
                segments.append((bare, match.start(1)))
            elif basic is not None:
                segments.append((_decode_basic(basic), match.start(2) - 1))
            else:
                segments.append((literal, match.start(3) - 1))
            pos = match.end()
            if dot is None:
                self.pos = pos
                return segments, equals is not None
        self.pos = pos
        return segments, False

    def _header(self, current: Path | None) -> Path | None:
        """Handle ``[table]`` / ``[[array.of.tables]]``; return the new current table.

        Of a header with more than :data:`MAX_DEPTH` segments only the tables of
        its first segments are mapped (a problem found there, such as an unknown
        section, is located on its line), not the header's own table nor the keys
        under it: building all its paths would cost time and memory quadratic in
        its length.
        """
        text = self.text
        bracket = self.pos
        is_array = text.startswith("[[", bracket)
        self.pos = bracket + (2 if is_array else 1)
        segments, _ = self._key()
        if not segments:
            return current
        if len(segments) > MAX_DEPTH:
            self._prefixes((), segments[:MAX_DEPTH])
            return None
        resolved: Path = ()
        for name, at in segments[:-1]:
            resolved += (name,)
            self._put(resolved, at, at, implicit=True)
            count = self.aot_counts.get(resolved)
            if count:
                resolved += (count - 1,)  # a header through an array means its last element
        resolved += (segments[-1][0],)
        if is_array:
            self._put(resolved, bracket, bracket)
            index = self.aot_counts.get(resolved, 0)
            self.aot_counts[resolved] = index + 1
            resolved += (index,)
        self._put(resolved, bracket, bracket)
        closing = "]]" if is_array else "]"
        if text.startswith(closing, self.pos):
            self.pos += len(closing)
        return resolved

    def _prefixes(self, base: Path, segments: list[_Segment]) -> None:
        """Record the implicit tables ``base.a``, ``base.a.b``, ... of ``segments``."""
        path = base
        for name, at in segments:
            path += (name,)
            self._put(path, at, at, implicit=True)
            count = self.aot_counts.get(path)
            if count:
                path += (count - 1,)  # through an array means its last element

    def _key_value(self, base: Path | None, depth: int) -> bool:
        """Handle ``key = value`` under ``base``; False if no such statement is here.

        With ``base`` None, or a key of more than :data:`MAX_DEPTH` segments,
        the value is skipped without recording anything (see ``_header``).
        """
        segments, has_value = self._key()
        if not has_value:
            return False
        if base is None or len(segments) > MAX_DEPTH:
            if base is not None:  # the first segments' tables, as for a long header
                self._prefixes(base, segments[:MAX_DEPTH])
            self._value((), MAX_DEPTH)  # at the depth limit nothing is recorded
            return True
        path = base
        for name, at in segments[:-1]:
            path += (name,)
            self._put(path, at, at, implicit=True)
        name, at = segments[-1]
        path += (name,)
        self._put(path, at, self.pos)
        self._value(path, depth)
        return True

    # -- values ---------------------------------------------------------------

    def _value(self, path: Path, depth: int) -> None:
        """Skip the value at ``pos``, recording the contents of arrays and inline tables."""
        text, pos = self.text, self.pos
        if pos >= self.n:
            return
        char = text[pos]
        if char == '"' or char == "'":
            self.pos = self._string_end(pos)
        elif char == "[" or char == "{":
            if depth >= MAX_DEPTH:
                self._skip_nested()
            elif char == "[":
                self._array(path, depth + 1)
            else:
                self._inline_table(path, depth + 1)
        else:
            match = _SCALAR.match(text, pos)
            if match is not None:
                self.pos = match.end()

    def _array(self, path: Path, depth: int) -> None:
        """Record each element of ``[...]`` as ``path + (index,)`` (may span lines)."""
        text, n = self.text, self.n
        skip, scalar = _WS_NL_COMMENTS.match, _SCALAR.match
        self.pos += 1
        index = 0
        while True:
            blank = skip(text, self.pos)
            assert blank is not None  # the pattern also matches the empty string
            start = self.pos = blank.end()
            if start >= n:
                return
            char = text[start]
            if char == "]":
                self.pos += 1
                return
            if char == ",":
                self.pos += 1
                continue
            element = (*path, index)
            self._put(element, start, start)
            if char in "[{\"'":
                self._value(element, depth)
            else:  # inlined scalar case of _value: long arrays of numbers are common
                match = scalar(text, start)
                if match is not None:
                    self.pos = match.end()
            if self.pos == start:  # unrecognisable element: give up on this array
                return
            index += 1

    def _inline_table(self, path: Path, depth: int) -> None:
        """Record each ``key = value`` of ``{...}`` under ``path``."""
        text, n = self.text, self.n
        skip = _WS_NL_COMMENTS.match
        self.pos += 1
        while True:
            # Newlines and comments are lenient (TOML 1.1 allows them here).
            blank = skip(text, self.pos)
            assert blank is not None  # the pattern also matches the empty string
            self.pos = blank.end()
            if self.pos >= n:
                return
            char = text[self.pos]
            if char == "}":
                self.pos += 1
                return
            if char == ",":
                self.pos += 1
                continue
            if not self._key_value(path, depth):
                return

    def _string_end(self, pos: int) -> int:
        """Offset just past the string starting at ``pos`` (always > ``pos``)."""
        text, n = self.text, self.n
        if text.startswith('"""', pos):
            match = _ML_BASIC.match(text, pos)
            return match.end() if match is not None else n
        if text.startswith("'''", pos):
            close = text.find("'''", pos + 3)
            if close < 0:
                return n
            end = close + 3
            extra = 0
            while extra < 2 and end < n and text[end] == "'":
                end += 1
                extra += 1
            return end
        match = (_BASIC if text[pos] == '"' else _LITERAL).match(text, pos)
        if match is not None:
            return match.end()
        eol = text.find("\n", pos)  # unterminated: stop at the end of the line
        return n if eol < 0 else eol

    def _skip_nested(self) -> None:
        """Skip a too-deep array / inline table iteratively, minding strings and comments."""
        text, n = self.text, self.n
        pos = self.pos
        level = 0
        while True:
            match = _NESTING_CHARS.search(text, pos)
            if match is None:
                self.pos = n
                return
            pos = match.start()
            char = text[pos]
            if char == "[" or char == "{":
                level += 1
                pos += 1
            elif char == "]" or char == "}":
                level -= 1
                pos += 1
                if level <= 0:
                    self.pos = pos
                    return
            elif char == "#":
                eol = text.find("\n", pos)
                pos = n if eol < 0 else eol
            else:
                pos = self._string_end(pos)


def too_deep(text: str, limit: int = MAX_DEPTH) -> tuple[int, int]:
    """Where arrays and inline tables first nest deeper than ``limit``: (line, column),
    1-based, or (1, 1) if they never do. For TOML too deep for ``tomllib`` (whose
    RecursionError says nowhere), so the officer is sent to the line.

    One linear pass that skips comments and strings (basic, literal, multi-line)."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "[{":
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, i) + 1
                return line, i - (text.rfind("\n", 0, i) + 1) + 1
        elif c in "]}":
            depth = max(depth - 1, 0)
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if c == '"' and text[j] == "\\":
                    j += 1  # an escaped character
                elif len(quote) == 1 and text[j] == "\n":
                    break  # an unclosed one-line string ends at its line
                j += 1
            i = j + len(quote)
            continue
        i += 1
    return 1, 1
