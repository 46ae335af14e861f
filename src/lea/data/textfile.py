"""Raw text files with line numbers: ``.gz`` read transparently, UTF-8 checked, fields split and validated.

Every check works on whole columns (polars) and maps a bad row back to its line in the file (1-based, a header
counts as line 1), so strict mode can stop with ``file:line: what was expected`` and lenient mode can skip and
count. Per-line Python code runs only on the error path (non-UTF-8 bytes).
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from lea.errors import ConfigError, InputError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Report:
    """Strict mode raises at the first bad row; lenient mode counts skipped rows and repairs by reason."""

    strict: bool = True
    skipped: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)

    def reject(self, path: Path, reason: str, bad: pl.DataFrame, explain: Callable[[dict[str, Any]], str]) -> None:
        """``bad`` holds the offending rows (with a ``line`` column); raise for the first, or count them all."""
        if bad.height == 0:
            return
        if self.strict:
            first = bad.sort("line").row(0, named=True)
            raise InputError(first.get("file") or path, explain(first), line=first["line"])
        self.skipped[reason] += bad.height

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "skipped": {k: v for k, v in sorted(self.skipped.items()) if v},
            "repaired": {k: v for k, v in sorted(self.repaired.items()) if v},
        }


def resolve(raw_dir: Path, name: str) -> Path:
    """The file ``name`` in ``raw_dir``, or its ``.gz`` twin (or the plain twin of a ``.gz`` name)."""
    wanted = raw_dir / name
    twin = raw_dir / (name[:-3] if name.endswith(".gz") else f"{name}.gz")
    for candidate in (wanted, twin):
        if candidate.is_file():
            return candidate
    raise InputError(wanted, f"file not found (also looked for {twin.name})")


def role_path(raw_dir: Path, settings: dict[str, Any], role: str, default: str | None = None) -> Path:
    """The file that plays ``role`` (a key of the dataset's ``files``), resolved inside ``raw_dir``."""
    name = settings.get("files", {}).get(role, default)
    if name is None:
        have = ", ".join(settings.get("files", {})) or "none"
        raise ConfigError(
            f"datasets.{settings.get('name', '?')}.files",
            f"reader '{settings['reader']}' needs a file for role '{role}' (have: {have})",
        )
    return resolve(raw_dir, name)


def optional_role_path(raw_dir: Path, settings: dict[str, Any], role: str) -> Path | None:
    name = settings.get("files", {}).get(role)
    return None if name is None else resolve(raw_dir, name)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name says)."""
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(path, f"not a readable gzip file ({exc})") from None
    return data


def read_lines(path: Path, report: Report, expected: str) -> pl.DataFrame:
    """Non-blank lines as a frame of ``line`` (Int64, 1-based) and ``text`` (Utf8, no line ending).

    Non-UTF-8 lines are an error (strict) or skipped (lenient); blank lines are dropped and counted as repaired;
    a file with no non-blank line is always an error (there is nothing to skip to).
    """
    data = read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is not part of the first field
        data = data[3:]
    try:
        texts: list[str | None] = list(data.decode("utf-8").split("\n"))
    except UnicodeDecodeError as exc:
        texts = _decode_line_by_line(path, data, exc, report)
    if texts and texts[-1] == "":
        texts.pop()  # the final newline
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    frame = frame.with_row_index("line", offset=1).with_columns(
        pl.col("line").cast(pl.Int64), pl.col("text").str.strip_suffix("\r")
    )
    frame = frame.filter(pl.col("text").is_not_null())
    blank = frame.filter(pl.col("text").str.strip_chars() == "")
    if blank.height:
        report.repaired["blank_line"] += blank.height
        frame = frame.filter(pl.col("text").str.strip_chars() != "")
    if frame.height == 0:
        raise InputError(path, f"file is empty; expected {expected}")
    return frame


def _decode_line_by_line(path: Path, data: bytes, exc: UnicodeDecodeError, report: Report) -> list[str | None]:
    if report.strict:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(path, f"text is not valid UTF-8 (byte 0x{data[exc.start]:02x})", line=line)
    texts: list[str | None] = []
    for raw in data.split(b"\n"):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(None)
            report.skipped["non_utf8"] += 1
    return texts


def split_fields(
    lines: pl.DataFrame, path: Path, names: Sequence[str], report: Report, separator: str = "\t"
) -> pl.DataFrame:
    """Split each line into exactly ``len(names)`` fields; other lines are malformed. Keeps ``line``."""
    parts = lines.select("line", pl.col("text").str.split(separator).alias("parts"))
    counted = parts.with_columns(pl.col("parts").list.len().alias("n_fields"))
    bad = counted.filter(pl.col("n_fields") != len(names))
    report.reject(
        path,
        "malformed_line",
        bad,
        lambda row: (
            f"expected {len(names)} {_sep_name(separator)}-separated fields ({', '.join(names)}), got {row['n_fields']}"
        ),
    )
    good = counted.filter(pl.col("n_fields") == len(names))
    return good.select("line", *[pl.col("parts").list.get(i).alias(n) for i, n in enumerate(names)])


def _sep_name(separator: str) -> str:
    return {"\t": "tab", ",": "comma", " ": "space"}.get(separator, repr(separator))


def header_and_rows(lines: pl.DataFrame) -> tuple[list[str], pl.DataFrame]:
    """The first line split at tabs, and the remaining lines."""
    header = lines.row(0, named=True)["text"].split("\t")
    return [h.strip() for h in header], lines.slice(1)


def check_header(path: Path, header: Sequence[str], required: Sequence[str], expected: str) -> None:
    """A file whose header lacks a required column is the wrong format: always an error."""
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            path,
            f"wrong format: header has no column {', '.join(repr(m) for m in missing)}; "
            f"expected {expected} (got: {', '.join(header)})",
            line=1,
        )


def require(frame: pl.DataFrame, path: Path, columns: Sequence[str], report: Report) -> pl.DataFrame:
    """Rows whose required fields are present and non-blank; the others are errors or skipped."""
    for column in columns:
        missing = pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
        report.reject(
            path,
            "missing_field",
            frame.filter(missing),
            lambda row, c=column: f"required field '{c}' is missing or empty",
        )
        frame = frame.filter(~missing)
    return frame


def to_int(
    frame: pl.DataFrame, path: Path, column: str, report: Report, what: str, whole: bool = False
) -> pl.DataFrame:
    """Parse ``column`` as an integer; bad values are rejected.

    Times may be written as floats (RecBole's ``timestamp:float``, e.g. ``881250949.0``) and are floored;
    ``whole=True`` (positions) accepts integers only.
    """
    text = pl.col(column).str.strip_chars()
    if whole:
        parsed = text.cast(pl.Int64, strict=False)
    else:
        as_float = text.cast(pl.Float64, strict=False)
        parsed = pl.when(as_float.is_finite()).then(as_float.floor()).cast(pl.Int64, strict=False)
    frame = frame.with_columns(parsed.alias("_parsed"))
    report.reject(
        path,
        "bad_value",
        frame.filter(pl.col("_parsed").is_null()),
        lambda row: f"field '{column}' must be {what}, got {row[column]!r}",
    )
    return frame.filter(pl.col("_parsed").is_not_null()).with_columns(pl.col("_parsed").alias(column)).drop("_parsed")


def ensure_rows(frame: pl.DataFrame, path: Path, expected: str) -> None:
    """Lenient mode skipped every row: the file is not what the reader expects."""
    if frame.height == 0:
        raise InputError(path, f"no usable rows (wrong format?); expected {expected}")
