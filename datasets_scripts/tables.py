# Copyright 2026 The D-BETA reimplementation authors.
# Licensed under the Apache License, Version 2.0.
"""
The data sets' CSV tables (MIMIC-IV-ECG's `record_list.csv` and `machine_measurements.csv`, PTB-XL's
`ptbxl_database.csv`, CODE-test's `gold_standard.csv`), read one way by every tool that reads them (the builders and
`train/build_n3s_index.py`), so that no two tools decode the same file differently.

- Encoding: a byte-order mark selects UTF-8, UTF-16 or UTF-32; without one the text is UTF-8, and undecodable bytes
  become U+FFFD (dropped and counted as `non_utf8_text` where the text is used, see `modeling_dbeta.recording`). A
  file with NUL bytes and no byte-order mark (UTF-16 saved without one) is refused with the fix.
- Compression: a file that starts with gzip's magic bytes is decompressed (`machine_measurements.csv.gz`, or a
  `.csv` that is in fact compressed); `find_table` accepts `NAME.csv` or `NAME.csv.gz`.
- Line endings `\\n`, `\\r\\n` and `\\r`; quoted fields may span lines; blank lines are not rows.
- Rows: a row with another number of fields than the header is a bad row, never read into the wrong columns:
  `truncated_row` when it is the last one and the file ends without a line break (a cut download or copy),
  `malformed_row` otherwise. A last row that is complete but lacks its line break is kept.
- Ids: `parse_id` reads `40689238`, ` 40689238 ` and `40689238.0`; blank (`blank_id`) and other text
  (`non_numeric_id`) are bad rows.

What cannot be read at all (a directory, no permission, an empty file, a header without the required columns)
raises a `ValueError` / `OSError` naming the file, what is wrong and what was expected.
"""

import codecs
import csv
import gzip
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


GZIP_MAGIC = b"\x1f\x8b"
BYTE_ORDER_MARKS = [  # longest first: UTF-32 LE starts with UTF-16 LE's mark
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
SNIFF_BYTES = 4096


def find_table(directory: Path, name: str) -> Path:
    """`directory/name`, or its gzip-compressed `name.gz`; a clear error when neither is a file."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    path = directory / name
    if path.exists():
        raise ValueError(f"{path} is not a file (a directory?); expected the CSV table {name} (docs/DATA.md).")
    raise FileNotFoundError(f"Expected the CSV table {name} (or {name}.gz) at {path}; see docs/DATA.md.")


def open_text(path: Path) -> io.TextIOBase:
    """The file as text: gzip undone, the encoding taken from its byte-order mark (UTF-8 otherwise)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a table or text file.")
    with open(path, "rb") as handle:
        magic = handle.read(2)
    raw = gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")  # noqa: SIM115 (the caller closes it)
    try:
        head = raw.read(SNIFF_BYTES)
        raw.seek(0)
    except (OSError, EOFError) as error:  # a .gz that is cut or not gzip after all
        raw.close()
        raise ValueError(f"{path} is not a readable gzip file ({error}); decompress or download it again.") from None
    encoding = next((name for mark, name in BYTE_ORDER_MARKS if head.startswith(mark)), None)
    if encoding is None:
        if b"\x00" in head:
            raw.close()
            raise ValueError(
                f"{path} holds NUL bytes but no byte-order mark: UTF-16 / UTF-32 saved without one, or not a text "
                f"file. Save it as UTF-8 (e.g. `iconv -f UTF-16LE -t UTF-8 {path.name} > fixed.csv`)."
            )
        encoding = "utf-8"
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")


class _LineTracker:
    """The lines of a text stream, remembering whether the last one ended with a line break."""

    def __init__(self, stream):
        self.stream = stream
        self.ended_with_newline = True

    def __iter__(self):
        for line in self.stream:
            self.ended_with_newline = line.endswith(("\n", "\r"))
            yield line


@dataclass
class Table:
    """The requested columns of a CSV table, row by row, with the rows that could not be read marked."""

    path: Path
    header: list[str]
    columns: dict[str, list[str]]
    lines: list[int] = field(default_factory=list)  # the line each row starts on (the header is line 1)
    problems: dict[int, str] = field(default_factory=dict)  # row index -> "truncated_row" | "malformed_row"

    def __len__(self) -> int:
        return len(self.lines)

    def row(self, index: int) -> dict[str, str]:
        return {name: values[index] for name, values in self.columns.items()}


def read_header(path: Path) -> list[str]:
    """The column names of a CSV table (byte-order mark and surrounding spaces removed)."""
    with _open_or_explain(path) as stream:
        try:
            header = next(csv.reader(stream), None)
        except csv.Error as error:
            raise ValueError(f"{path}: the header line is not CSV ({error}).") from None
    if not header:
        raise ValueError(f"{path} is empty: it has no header line. Copy or download it again.")
    return [name.strip() for name in header]


def _open_or_explain(path: Path):
    try:
        return open_text(path)
    except PermissionError:
        raise PermissionError(f"{path} cannot be read (permission denied); make it readable (chmod a+r).") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, not a table or text file.") from None


def read_table(path: Path, required, optional=()) -> Table:
    """
    The `required` and present `optional` columns of the CSV table at `path`, read by name (rules in the module
    docstring). A header without a required column raises `ValueError` naming them and the columns found.
    """
    path = Path(path)
    header = read_header(path)
    wanted_names = {*required, *optional}
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1 and name in wanted_names)
    if duplicated:
        raise ValueError(f"{path} names the column(s) {duplicated} more than once; keep one of each.")
    missing = [name for name in required if name not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(separator in header[0] for separator in ";\t|"):
            hint = " The header is one column: is the file separated by ';' or tabs instead of commas?"
        raise ValueError(
            f"{path} lacks the column(s) {missing}; expected at least {list(required)}, found {header}.{hint}"
        )
    wanted = [name for name in header if name in required or name in optional]
    positions = [header.index(name) for name in wanted]
    table = Table(path, header, {name: [] for name in wanted})
    with _open_or_explain(path) as stream:
        lines = _LineTracker(stream)
        reader = csv.reader(lines)
        last_row_short = False
        try:
            next(reader)
            last_line = reader.line_num
            for fields in reader:
                start, last_line = last_line + 1, reader.line_num
                if not fields:
                    continue
                last_row_short = len(fields) < len(header)
                if len(fields) != len(header):
                    table.problems[len(table.lines)] = "malformed_row"
                    fields.extend([""] * (len(header) - len(fields)))
                table.lines.append(start)
                for name, position in zip(wanted, positions, strict=True):
                    table.columns[name].append(fields[position])
        except csv.Error as error:  # e.g. an unterminated quote swallowing the rest of the file
            raise ValueError(
                f"{path}: line {last_line + 1} and after cannot be read as CSV ({error}); an unterminated quote? "
                "Fix or download the file again."
            ) from None
    if last_row_short and not lines.ended_with_newline:
        table.problems[len(table.lines) - 1] = "truncated_row"
    return table


def parse_id(text: str) -> tuple[int | None, str | None]:
    """(id, None) for an integer id (`40689238`, `40689238.0`), else (None, `blank_id` | `non_numeric_id`)."""
    text = (text or "").strip()
    if not text:
        return None, "blank_id"
    try:
        return int(text), None
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None, "non_numeric_id"
    return (int(number), None) if number.is_integer() else (None, "non_numeric_id")


@dataclass
class BadRows:
    """The rows of each table that were dropped, by reason, with the first line numbers for the log."""

    counts: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, table_path: Path, reason: str, line: int | None = None, max_examples: int = 5) -> None:
        name = Path(table_path).name
        self.counts.setdefault(name, Counter())[reason] += 1
        examples = self.examples.setdefault(name, [])
        if line is not None and len(examples) < max_examples:
            examples.append(f"line {line}: {reason}")

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {name: dict(sorted(counter.items())) for name, counter in sorted(self.counts.items())}

    def summary(self) -> str:
        return "; ".join(
            f"{name}: {sum(counter.values())} row(s) dropped {dict(sorted(counter.items()))} (e.g. "
            f"{', '.join(self.examples.get(name, [])) or 'n/a'})"
            for name, counter in sorted(self.counts.items())
        )


__all__ = ["BadRows", "Table", "find_table", "open_text", "parse_id", "read_header", "read_table"]
