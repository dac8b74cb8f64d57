"""Fuzzing every catalogue entry's query: only 2xx or 4xx, never a byte from outside the data.

Hypothesis writes the raw query string of each request itself (so it controls the
percent-encoding): huge, negative and non-numeric numbers, unicode, NUL, double
encoding, repeated and unknown parameters, and path tricks in ``file``. The data
directory holds two small samples, a symlink that stays inside and several that
escape, a FIFO, a subdirectory and a dot file; next to it lies a canary file with a
unique marker. Every answer must be 2xx or 4xx, no answer may carry the canary's
marker (nor the dot file's or the subdirectory file's), and every file served must
be, byte for byte, a regular file of the data directory itself. A small cost budget
keeps each generated request cheap. The number of cases tried is printed at the end
(``pytest -s``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.params import FILE_NAME_PATTERN
from app.catalogue import CATALOGUE
from app.core.config import COST_BUDGET_ENV, get_settings
from app.samples import ensure_sample
from looplab.protocol import CatalogueEntry, ParamSpec
from tests.utils.catalogue import over_entries

from .routes.conftest import app_on

# Requests per catalogue entry: with ~30 entries, a few thousand cases in all.
EXAMPLES = 100
# Small enough that no generated request waits or computes for long (over it: 422).
BUDGET_MS = 50
# A valid `items` count costs no budget when `item_delay_ms=0`, yet 100,000 tokens
# with `source=thread` take ~20 s (one thread hop each): in-range counts stay small.
TAME_MAX = {"items": 300}

# Printable ASCII but the space: what "raw" leaves as typed (so `&`, `=`, `#`, `+`,
# `%` and `/` reach the URL unescaped); anything else is percent-encoded as UTF-8.
RAW_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the data directory and its neighbours -----------------------------------------


@dataclass
class Lab:
    """The app on a small data directory, the files it must never serve, and a tally."""

    client: TestClient
    root: Path
    # Markers of files no answer may contain: outside the directory, or not a plain name.
    forbidden: dict[str, bytes]
    # The sha256 of every regular file a `file` parameter may name.
    servable: frozenset[str]
    tricks: tuple[str, ...]
    cases: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    files_checked: int = 0

    def send(self, entry: CatalogueEntry, query: str) -> None:
        url = f"{entry.path}?{query}"
        self.cases += 1
        try:
            response = self.client.get(url)
        except Exception as exc:  # the app raised: say which request did it
            exc.add_note(f"GET {url!r}")
            raise
        status = response.status_code
        self.statuses[entry.family, status] += 1
        assert 200 <= status < 300 or 400 <= status < 500, (
            f"GET {url!r} answered {status}: {response.text[:500]!r}"
        )
        headers = b"\n".join(name + b": " + value for name, value in response.headers.raw)
        for what, marker in self.forbidden.items():
            assert marker not in response.content, f"GET {url!r} leaked {what} in its body"
            assert marker not in headers, f"GET {url!r} leaked {what} in its headers"
        if status < 300 and "file" in entry.params:
            self._check_served(url, response.content, response.headers.get("content-type", ""))

    def _check_served(self, url: str, body: bytes, content_type: str) -> None:
        self.files_checked += 1
        if content_type.startswith("application/json"):  # the read family: a report
            report = json.loads(body)
            path = (self.root / report["file"]).resolve(strict=True)
            assert path.parent == self.root and path.is_file(), f"GET {url!r} read {path}"
            digest = report["sha256"]
            assert digest == _sha256(path.read_bytes()), f"GET {url!r}: wrong sha256"
        else:  # the stream family: the file itself
            digest = _sha256(body)
        assert digest in self.servable, f"GET {url!r} served bytes not from the data directory"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("fuzz")
    marker = f"CANARY-{uuid.uuid4().hex}".encode()
    hidden = f"HIDDEN-{uuid.uuid4().hex}".encode()
    inner = f"INNER-{uuid.uuid4().hex}".encode()
    # The canary, outside the data directory: once beside it, once in a sibling directory.
    (base / "canary.txt").write_bytes(marker * 100)
    (base / "outside").mkdir()
    canary = base / "outside" / "canary.txt"
    canary.write_bytes(marker * 100)

    data = base / "data"
    small = ensure_sample(data, 4096)
    ensure_sample(data, 1 << 20)
    (data / ".hidden").write_bytes(hidden * 100)
    (data / "subdir").mkdir()
    (data / "subdir" / "inner.bin").write_bytes(inner * 100)
    os.symlink(canary, data / "escape.bin")
    os.symlink("../outside/canary.txt", data / "relative-escape.bin")
    os.symlink("../canary.txt", data / "sibling-escape.bin")
    os.symlink(base / "outside", data / "outside-dir")
    os.symlink(small, data / "alias.bin")
    os.symlink(data / "missing.bin", data / "dangling.bin")
    os.symlink(data / "loop.bin", data / "loop.bin")
    os.mkfifo(data / "pipe.bin")  # opening it would hang: must be refused first

    root = data.resolve()
    # What a plain name may serve: regular files that resolve into the directory itself.
    servable: set[str] = set()
    for item in root.iterdir():
        try:
            path = item.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, or a loop
            continue
        if item.name[0] != "." and path.parent == root and path.is_file():
            servable.add(_sha256(path.read_bytes()))
    assert len(servable) == 2  # the two samples (alias.bin is one of them)
    tricks = (
        str(canary),
        str(base / "canary.txt"),
        str(root),
        str(root / "sample-4KiB.bin"),
        str(root / "subdir" / "inner.bin"),
        str(root / ".hidden"),
        str(canary).replace("/", "\\"),
        "file://" + str(canary),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(COST_BUDGET_ENV, str(BUDGET_MS))
        get_settings.cache_clear()
        started = time.perf_counter()
        try:
            with TestClient(app_on(data)) as client:
                lab = Lab(
                    client,
                    root,
                    forbidden={"the canary": marker, "the dot file": hidden, "subdir/": inner},
                    servable=frozenset(servable),
                    tricks=tricks,
                )
                yield lab
        finally:
            get_settings.cache_clear()
    elapsed = time.perf_counter() - started
    by_family: dict[str, list[str]] = {}
    for (family, code), count in sorted(lab.statuses.items()):
        by_family.setdefault(family, []).append(f"{code}: {count}")
    statuses = "; ".join(f"{family} {', '.join(codes)}" for family, codes in by_family.items())
    print(
        f"\nfuzz: {lab.cases} cases tried over {len(CATALOGUE)} catalogue entries "
        f"in {elapsed:.1f} s; {lab.files_checked} served files checked against the data "
        f"directory; statuses by family: {statuses}"
    )


# --- values -------------------------------------------------------------------------

# Anything goes, for any parameter (and as the name of an unknown one).
GENERIC = (
    "",
    " ",
    "%00",
    "\x00",
    "%",
    "%%",
    "%zz",
    "%2",
    "%u002e",
    "&",
    "=",
    "==",
    "?",
    "#",
    "+",
    ";",
    "null",
    "None",
    "undefined",
    "[]",
    "{}",
    '{"$gt": ""}',
    "'",
    '"',
    "<script>",
    "${HOME}",
    "$(id)",
    "\r\nX-Injected: 1",
    "%0d%0aX-Injected:%201",
    "\u202e",
    "\ufeff",
    "\u200b",
    "\ud7ff",
    "\U0001f4a9",
    "\uff53\uff41\uff4d\uff50\uff4c\uff45",  # fullwidth "sample"
    "é",
    "e\u0301",
    "\u0130",
    "x" * 10_000,
    "%41" * 3000,
)

NUMBERS = (
    "-0",
    "+0",
    "00",
    "-1",
    "+5",
    "0x10",
    "0o17",
    "0b101",
    "1_000",
    "1,000",
    "1 000",
    "1e3",
    "1E3",
    "1e309",
    "-1e309",
    "1e-3",
    "0e0",
    "1.0",
    "1.5",
    ".5",
    "5.",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "\uff11\uff12",  # fullwidth 12
    "٣",
    "²",
    "Ⅷ",
    " 5",
    "5 ",
    "\t5",
    "5\n",
    "5%00",
    "5\x00",
    "--1",
    "+-1",
    "true",
    "9" * 400,
    "-" + "9" * 400,
    "9" * 5000,
    "1" + "0" * 4400,
    "0" * 300 + "1",
    str(2**31),
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
)

FLAGS = ("true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", "False", "t", "f", "y", "n")
FLAG_JUNK = (
    "2",
    "-1",
    "maybe",
    "True ",
    " false",
    "\uff54\uff52\uff55\uff45",  # fullwidth "true"
    "1.0",
    "on%00",
    "tru",
    "yess",
)

# Names of what the data directory holds: samples, links in and out, a pipe, a directory.
IN_THE_DIRECTORY = (
    "sample-4KiB.bin",
    "sample-1MiB.bin",
    "alias.bin",
    "escape.bin",
    "relative-escape.bin",
    "sibling-escape.bin",
    "outside-dir",
    "pipe.bin",
    "subdir",
)

# A `file` that names something, or tries to: in, out, up, encoded, or mangled.
FILE_TRICKS = (
    *IN_THE_DIRECTORY,
    "dangling.bin",
    "loop.bin",
    "missing.bin",
    ".hidden",
    "..",
    ".",
    "...",
    "/",
    "\\",
    "~",
    "../canary.txt",
    "../outside/canary.txt",
    "..%2Fcanary.txt",
    "..%2foutside%2fcanary.txt",
    "%2e%2e%2fcanary.txt",
    "%2E%2E/outside/canary.txt",
    "%252e%252e%252fcanary.txt",
    "..%5ccanary.txt",
    "..\\canary.txt",
    "..\\outside\\canary.txt",
    "....//canary.txt",
    "..;/canary.txt",
    "%c0%ae%c0%ae/canary.txt",
    "%c0%afcanary.txt",
    "\uff0e\uff0e/canary.txt",
    "\u2025/canary.txt",
    "outside-dir/canary.txt",
    "subdir/inner.bin",
    "subdir%2finner.bin",
    "subdir\\inner.bin",
    "./sample-4KiB.bin",
    "sample-4KiB.bin/",
    "sample-4KiB.bin/.",
    "sample-4KiB.bin/..",
    "sample-4KiB.bin%00",
    "sample-4KiB.bin%00.txt",
    "sample-4KiB.bin\x00",
    "sample-4KiB.bin\n",
    "escape.bin\n",
    "sample-4KiB.bin ",
    "sample-4KiB.bin.",
    "sample-4KiB.bin::$DATA",
    "SAMPLE-4KIB.BIN",
    "s\u0430mple-4KiB.bin",  # a Cyrillic a
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "/proc/self/environ",
    "/dev/zero",
    "/dev/stdin",
    "C:\\Windows\\win.ini",
    "CON",
    "nul",
    "a" * 128,
    "a" * 129,
    "a" * 5000,
)


def _number_values(name: str, spec: ParamSpec) -> st.SearchStrategy[str]:
    assert isinstance(spec.min, int) and isinstance(spec.max, int), (name, spec)
    tame = min(spec.max, TAME_MAX.get(name, spec.max))
    edges = [spec.min - 1, spec.min, spec.max, spec.max + 1, -spec.max]
    if tame == spec.max:
        valid = st.integers(spec.min, spec.max)
    else:  # the top of the range only with junk beside it (over the budget, or a 422)
        valid = st.integers(spec.min, tame)
        edges.remove(spec.max)
    return st.one_of(
        valid.map(str),
        st.sampled_from([str(edge) for edge in edges] + list(NUMBERS)),
        st.integers(-(10**600), 10**600).map(str),
        st.floats().map(repr),
    )


def _choice_values(spec: ParamSpec) -> st.SearchStrategy[str]:
    choices = [str(choice) for choice in spec.choices or ()]
    mangled = [
        variant
        for choice in choices
        for variant in (choice.upper(), f" {choice}", f"{choice} ", f"{choice}%00", choice[:-1])
    ]
    return st.sampled_from(choices + mangled + ["process", "0", "1"])


def _file_values(tricks: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(FILE_TRICKS + tricks),
        # Well-formed names that are not there: a 404 each.
        st.from_regex(FILE_NAME_PATTERN, fullmatch=True).filter(lambda name: len(name) <= 200),
        # Well-formed-looking names around the ones that are.
        st.tuples(
            st.sampled_from(["sample-4KiB.bin", "alias.bin", "escape.bin", "..", "subdir"]),
            st.sampled_from(["/", "\\", "%2f", "%5c", "%00", "/..", "/../", "\x00", "?", "#"]),
            st.sampled_from(["", "sample-4KiB.bin", "..", "canary.txt", "../canary.txt"]),
        ).map("".join),
    )


def _values(name: str, spec: ParamSpec, tricks: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Values for the parameter ``name``: its own kind of junk, valid ones, and anything."""
    if name == "file":
        own = _file_values(tricks)
    elif spec.choices == [False, True]:
        own = st.sampled_from(FLAGS + FLAG_JUNK)
    elif spec.choices is not None:
        own = _choice_values(spec)
    else:
        own = _number_values(name, spec)
    anything = st.one_of(
        st.sampled_from(GENERIC),
        st.text(max_size=40),
        # Arbitrary bytes, percent-encoded: invalid UTF-8 once decoded.
        st.binary(max_size=20).map(lambda raw: "".join(f"%{byte:02X}" for byte in raw)),
    )
    return st.one_of(_valid_values(name, spec), own, own, anything)


# Valid values that cost little, so that many cases get past validation to the work.
CHEAP = {
    "delay_ms": (0, 3),
    "item_delay_ms": (0, 2),
    "cpu_ms": (0, 5),
    "items": (1, 20),
    "chunk_size": (4096, 8 << 20),
}


def _valid_values(name: str, spec: ParamSpec) -> st.SearchStrategy[str]:
    """Well-formed values (for ``file``: names of what the data directory holds)."""
    if name == "file":
        return st.sampled_from(IN_THE_DIRECTORY)
    if spec.choices is not None:
        return st.sampled_from([str(choice).lower() for choice in spec.choices])
    assert isinstance(spec.min, int) and isinstance(spec.max, int), (name, spec)
    low, high = CHEAP.get(name, (spec.min, spec.min))
    return st.integers(max(low, spec.min), min(high, spec.max)).map(str)


def _encode(text: str, how: str) -> str:
    if how == "raw":
        return quote(text, safe=RAW_SAFE)
    if how == "plus":
        return quote_plus(text)
    if how == "keep-slashes":
        return quote(text, safe="/\\.:%")
    if how == "twice":
        return quote(quote(text, safe=""), safe="")
    return quote(text, safe="")


ENCODINGS = st.sampled_from(["raw", "raw", "quote", "plus", "keep-slashes", "twice"])

# Names beside the entry's own: unknown, or an entry's name in disguise.
ODD_NAMES = (
    "FILE",
    "File",
    "file ",
    " file",
    "file[]",
    "file[0]",
    "file.name",
    "fil%65",
    "file%00",
    "%66ile",
    "delay_ms",
    "delay-ms",
    "DELAY_MS",
    "cold",
    "chunk_size",
    "items",
    "cpu_ms",
    "source",
    "__proto__",
    "constructor",
    "",
    "=",
    "&",
    "\u00fcber",
    "x" * 2000,
)


SHAPES = st.sampled_from(["{k}={v}", "{k}={v}", "{k}={v}", "{k}", "{k}=={v}", "={v}"])
# The encodings that leave a well-formed value as it is, once decoded.
FAITHFUL = st.sampled_from(["raw", "quote", "plus", "keep-slashes"])


@st.composite
def _queries(draw: st.DrawFn, entry: CatalogueEntry, tricks: tuple[str, ...]) -> str:
    """A raw query string for ``entry``.

    A third of the cases are junk throughout; the others keep every parameter absent
    or well formed but one (or none), so that the junk in that one meets the work
    and the file checks instead of another parameter's 422.
    """
    mode = draw(st.sampled_from(["junk", "one-bad", "one-bad", "valid"]))
    names = list(entry.params)
    bad = draw(st.sampled_from(names)) if names and mode == "one-bad" else None
    # (name, value, whether to keep it well formed on the wire)
    pairs: list[tuple[str, str, bool]] = []
    for name, spec in entry.params.items():
        if mode == "junk" or name == bad:
            # Absent (unless the bad one), once, or repeated (FastAPI takes the last).
            least = 1 if name == bad else 0
            values = draw(st.lists(_values(name, spec, tricks), min_size=least, max_size=3))
            pairs += [(name, value, False) for value in values]
        else:
            values = draw(st.lists(_valid_values(name, spec), max_size=1))
            pairs += [(name, value, True) for value in values]
    extra_names = st.one_of(st.sampled_from(ODD_NAMES), st.text(max_size=12))
    extra_values = st.one_of(st.sampled_from(GENERIC + NUMBERS + FILE_TRICKS), st.text())
    pairs += [
        (name, value, False)
        for name, value in draw(st.lists(st.tuples(extra_names, extra_values), max_size=3))
    ]
    parts = []
    for name, value, faithful in draw(st.permutations(pairs)):
        if faithful:
            parts.append(f"{_encode(name, 'quote')}={_encode(value, draw(FAITHFUL))}")
        else:
            key, text = _encode(name, draw(ENCODINGS)), _encode(value, draw(ENCODINGS))
            parts.append(draw(SHAPES).format(k=key, v=text))
    separators = ["&", "&&"] if mode != "junk" else ["&", "&", "&&", ";", "&amp;"]
    separator = draw(st.sampled_from(separators))
    return draw(st.sampled_from(["", "&"])) + separator.join(parts)


# --- the test -----------------------------------------------------------------------


@over_entries(CATALOGUE)
def test_bad_queries_get_2xx_or_4xx_and_nothing_from_outside(
    lab: Lab, entry: CatalogueEntry
) -> None:
    before = lab.cases

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(query=_queries(entry, lab.tricks))
    def fuzz(query: str) -> None:
        lab.send(entry, query)

    fuzz()
    # Not a test that passes without fuzzing.
    assert lab.cases - before >= EXAMPLES
