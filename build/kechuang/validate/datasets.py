"""Check every curated table against its Frictionless schema and the project's own rules.

Validation reads and never writes. It reports every problem it finds, one line each, so a
maintainer can fix a whole batch at once.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from frictionless import Package, Resource, Schema

from kechuang.model.schema import SLUG_PATTERN, TableSchema, frictionless_descriptor, load_schemas
from kechuang.project import Project
from kechuang.validate.columnar import LIMIT_ERRORS, Unsupported, check_package
from kechuang.validate.problems import Problem
from kechuang.validate.rules import check_rules
from kechuang.validate.stability import check_stability
from kechuang.validate.tables import bulk_reading

_UTF8_BOM = b"\xef\xbb\xbf"
ENGINES = ("auto", "frictionless", "columnar")
COLUMNAR_FROM_ROWS = 20_000  # below this Frictionless validates row by row in well under a second
_TYPE_WORDS = {
    "number": "is not a number",
    "integer": "is not a whole number",
    "date": "is not a date (YYYY-MM-DD)",
    "boolean": "is not true or false",
}


def check_encoding(path: Path, shown: str) -> list[Problem]:
    """A table must be UTF-8 without a byte-order mark; say where the first bad byte is."""
    data = path.read_bytes()
    if data.startswith(_UTF8_BOM):
        return [Problem(shown, 1, "", "starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without BOM")]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return [
            Problem(
                shown,
                line,
                "",
                f"is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
                "re-save it as UTF-8, e.g. `iconv -f GBK -t UTF-8`",
            )
        ]
    return []


def check_separator(path: Path, shown: str) -> list[Problem]:
    """Tables are comma-separated: Frictionless would guess another separator, but nothing after it would."""
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), [])
    if len(header) == 1 and (found := [sep for sep in (";", "\t", "|") if sep in header[0]]):
        shown_sep = {"\t": "tabs"}.get(found[0], f'"{found[0]}"')
        return [Problem(shown, 1, "", f"is separated by {shown_sep}, not commas; save it as comma-separated CSV")]
    return []


def _describe(error: dict, schema: TableSchema) -> tuple[str, str]:
    """(field, why) for one Frictionless error, in the maintainer's words."""
    kind = error["type"]
    field = error.get("fieldName") or ""
    cell = error.get("cell", "")
    note = error.get("note", "")
    if kind == "type-error":
        declared = schema.field(field).type if field in schema.field_names else "value"
        return field, f'"{cell}" {_TYPE_WORDS.get(declared, "is not a " + declared)}'
    if kind == "constraint-error":
        spec = schema.field(field) if field in schema.field_names else None
        if 'constraint "required"' in note:
            return field, "is required but empty"
        if 'constraint "enum"' in note and spec and spec.enum:
            return field, f'"{cell}" is not one of: {", ".join(spec.enum)}'
        if 'constraint "pattern"' in note and spec:
            if spec.pattern == SLUG_PATTERN:
                return field, f'"{cell}" is not a lowercase slug (a-z, 0-9 and single hyphens, e.g. "wuhan-2026")'
            return field, f'"{cell}" does not match the pattern {spec.pattern}'
        if 'constraint "minimum"' in note and spec:
            return field, f'"{cell}" is below the minimum {spec.minimum}'
        if 'constraint "maximum"' in note and spec:
            return field, f'"{cell}" is above the maximum {spec.maximum}'
        return field, f'"{cell}" breaks {note}'
    if kind in ("unique-error", "primary-key"):
        other = re.search(r"position (\d+)", note)
        where = f" (also on line {other.group(1)})" if other else ""
        key = field or ", ".join(schema.primary_key)
        value = cell or ", ".join(
            str(error["cells"][schema.field_names.index(k)])
            for k in schema.primary_key
            if k in schema.field_names and len(error.get("cells", [])) > schema.field_names.index(k)
        )
        return key, f'"{value}" is duplicated{where}; it must be unique'
    if kind == "foreign-key":
        match = re.search(r'for "([^"]+)": values "([^"]*)" not found in the lookup table "([^"]*)"', note)
        if match:
            column, value, table = match.groups()
            return column, f'"{value}" is not an id in {table or schema.name}'
        return field, note
    if kind == "missing-cell":
        return field, f"row has {len(error.get('cells', []))} cells but the header has more (ragged row)"
    if kind == "extra-cell":
        return "", f"row has {len(error.get('cells', []))} cells, more than the header (ragged row)"
    if kind == "extra-label":
        return error.get("label", ""), "column is not in the schema"
    if kind == "missing-label":
        return field, "column is missing from the header"
    if kind == "incorrect-label":
        return error.get(
            "label", ""
        ), f'header should be "{field}" here (schema order: {", ".join(schema.field_names)})'
    if kind == "duplicate-label":
        return error.get("label", ""), "column appears twice in the header"
    if kind == "blank-row":
        return "", "row is blank"
    if kind == "blank-label":
        return "", "header has an empty column name"
    return field, error.get("message", kind)


def _row_of(error: dict) -> int:
    if "rowNumber" in error:
        return int(error["rowNumber"])
    rows = error.get("rowNumbers") or [0]
    return int(rows[0])


def check_tables(
    project: Project, schemas: dict[str, TableSchema], engine: str = "auto"
) -> tuple[list[Problem], set[str]]:
    """Frictionless checks (types, constraints, keys across tables), after file-level checks.

    `engine`: "frictionless", "columnar" (the same checks column by column, see `columnar`), or
    "auto": columnar from COLUMNAR_FROM_ROWS data rows on. Returns the problems and the names of
    the tables whose files could be read.
    """
    problems: list[Problem] = []
    healthy: dict[str, Path] = {}
    for name in schemas:
        if not schemas[name].curated:
            continue  # computed by the build (x_built): no CSV to check
        path = project.table_path(name)
        shown = project.display(path)
        if not path.exists():
            problems.append(Problem(shown, 0, "", f"is missing; every schema in schemas/ needs its table ({name}.csv)"))
            continue
        if path.stat().st_size == 0:
            problems.append(Problem(shown, 0, "", "is empty; a table needs at least its header row"))
            continue
        file_problems = check_encoding(path, shown) or check_separator(path, shown)
        problems.extend(file_problems)
        if not file_problems:
            healthy[name] = path
    for path in sorted(project.datasets.glob("*.csv")):
        if path.stem not in schemas:
            problems.append(Problem(project.display(path), 0, "", f"has no schema (expected schemas/{path.stem}.yaml)"))

    descriptors = {}
    for name in healthy:
        descriptor = frictionless_descriptor(schemas[name])
        descriptor["foreignKeys"] = [
            fk for fk in descriptor.get("foreignKeys", []) if fk["reference"]["resource"] in ("", *healthy)
        ]
        descriptors[name] = descriptor
    if not descriptors:
        return problems, set(healthy)
    if engine == "columnar" or (engine == "auto" and _has_rows(list(healthy.values()), COLUMNAR_FROM_ROWS)):
        try:
            found = check_package(project.datasets, {name: (healthy[name], d) for name, d in descriptors.items()})
        except Unsupported:
            found = None  # a header or file problem: Frictionless reports it
        if found is not None:
            for name, errors in found.items():
                shown = project.display(healthy[name])
                for descriptor in errors:
                    field, why = _describe(descriptor, schemas[name])
                    problems.append(Problem(shown, _row_of(descriptor), field, why))
            return problems, set(healthy)

    resources = [
        Resource(path=healthy[name].name, name=name, schema=Schema.from_descriptor(d), encoding="utf-8")
        for name, d in descriptors.items()
    ]
    report = Package(resources=resources, basepath=str(project.datasets)).validate(limit_errors=LIMIT_ERRORS)
    for error in report.errors:
        problems.append(Problem(project.display(project.datasets), 0, "", error.message))
    for task in report.tasks:
        schema = schemas[task.name]
        shown = project.display(healthy[task.name])
        for error in task.errors:
            descriptor = error.to_descriptor()
            field, why = _describe(descriptor, schema)
            problems.append(Problem(shown, _row_of(descriptor), field, why))
    return problems, set(healthy)


def _has_rows(paths: list[Path], enough: int) -> bool:
    """True once the tables hold `enough` lines; reads no further than that."""
    lines = 0
    for path in paths:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                lines += block.count(b"\n")
                if lines >= enough:
                    return True
    return False


def validate_datasets(project: Project, engine: str = "auto") -> list[Problem]:
    """Every problem in the project's datasets, sorted by file and line; empty when all is well."""
    schemas = {name: s for name, s in load_schemas(project.schemas).items() if s.curated}  # built ones have no CSV
    with bulk_reading():
        problems, readable = check_tables(project, schemas, engine)
        problems.extend(check_rules(project, {name: schemas[name] for name in readable}))
        problems.extend(check_stability(project, {name: schemas[name] for name in readable}))
    return sorted(set(problems))
