"""Turn a collection request's parameters into safe SQL, or a 400 that names the parameter at fault.

Every value reaches SQLite as a bound parameter; identifiers come only from the catalog (that is,
from the schemas), never from the request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from kechuang.serve.api.collections import CONTROL_PARAMS, PRESENCE, Collection, Filter, Route
from kechuang.serve.api.pagination import Position, after_position, decode_cursor, order_by
from kechuang.serve.http import HttpError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Repeated (status=a&status=b), each value is a query parameter and the request guard admits 100 in all
# (kechuang.serve.security.guard.MAX_PARAMETERS): a quarter of them for one list, however it is written.
MAX_VALUES = 25
MAX_VALUE_LENGTH = 200
MAX_TEXT_LENGTH = 200
MAX_SAFE_INTEGER = 2**53 - 1
MAX_NUMBER = 1e18
FORMATS = ("json", "csv", "excel_csv", "xlsx")

_INTEGER = re.compile(r"-?[0-9]{1,16}")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass
class ListQuery:
    """A validated collection request."""

    collection: Collection
    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    sort: str = "id"
    descending: bool = False
    limit: int = DEFAULT_LIMIT
    fields: tuple[str, ...] = ()
    after: Position | None = None
    format: str | None = None
    search: str | None = None  # the `search` filter's text: `matched` must hold what it finds before SQL is made
    matched: list[str] | None = None

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def where(self, with_cursor: bool = True) -> tuple[str, list[Any]]:
        conditions, params = list(self.conditions), list(self.params)
        if self.search is not None:
            if self.matched is None:
                raise RuntimeError("the search filter's matches are not known yet (kechuang.serve.search.matching)")
            conditions.append(f't."{self.collection.key}" in (select value from json_each(?))')
            params.append(json.dumps(self.matched))
        if with_cursor and self.after is not None:
            sql, extra = after_position(self.sort, self.collection.key, self.after)
            conditions.append(sql)
            params += extra
        return (" where " + " and ".join(conditions) if conditions else ""), params

    def rows_sql(self) -> tuple[str, list[Any]]:
        """The page: the selected fields (plus id and sort key) and one row more, to know if another page follows."""
        c = self.collection
        wanted = list(dict.fromkeys([*self.fields, c.key, self.sort]))
        select = ", ".join(f't."{name}"' for name in wanted)
        where, params = self.where()
        sql = f'select {select} from "{c.name}" as t{where} order by {order_by(self.sort, c.key, self.descending)} limit ?'
        return sql, [*params, self.limit + 1]

    def count_sql(self) -> tuple[str, list[Any]]:
        where, params = self.where(with_cursor=False)
        return f'select count(*) from "{self.collection.name}" as t{where}', params


def parse_integer(raw: str, param: str) -> int:
    if not _INTEGER.fullmatch(raw) or abs(int(raw)) > MAX_SAFE_INTEGER:
        raise HttpError(400, f"{param} must be a whole number (digits 0-9, at most 2^53), not {raw[:40]!r}.", param)
    return int(raw)


def parse_number(raw: str, param: str) -> float:
    if len(raw) > 40 or not _NUMBER.fullmatch(raw) or not abs(number := float(raw)) <= MAX_NUMBER:
        raise HttpError(400, f"{param} must be a number such as 3000 or 20.3 (at most 1e18), not {raw[:40]!r}.", param)
    return number


def parse_date(raw: str, param: str) -> str:
    text = raw
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise HttpError(400, f"{param} must be a date as YYYY-MM-DD, not {raw[:40]!r}.", param) from None


def _typed(f: Filter, raw: str) -> Any:
    if f.type == "integer":
        return parse_integer(raw, f.name)
    if f.type == "number":
        return parse_number(raw, f.name)
    if f.type == "date":
        return parse_date(raw, f.name)
    return raw


def split_list(raw: str, param: str) -> list[str]:
    values = raw.split(",")
    if any(not v for v in values):
        raise HttpError(400, f"{param} has an empty value; separate values with single commas.", param)
    if len(values) > MAX_VALUES:
        raise HttpError(400, f"{param} takes at most {MAX_VALUES} values.", param)
    for v in values:
        if len(v) > MAX_VALUE_LENGTH:
            raise HttpError(400, f"{param} values are at most {MAX_VALUE_LENGTH} characters long.", param)
    return list(dict.fromkeys(values))


def like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _condition(f: Filter, raw: str, alias: str) -> tuple[str, list[Any]]:
    column = f'{alias}."{f.column}"'
    if f.kind == "in":
        values = split_list(raw, f.name)
        if f.enum:
            for v in values:
                if v not in f.enum:
                    raise HttpError(400, f"{f.name} must be one of {', '.join(f.enum)}; {v!r} is not.", f.name)
        return f"{column} in ({', '.join('?' for _ in values)})", values
    if f.kind == "bool":
        if raw not in ("true", "false"):
            raise HttpError(400, f"{f.name} must be true or false, not {raw[:40]!r}.", f.name)
        return f"{column} = ?", [int(raw == "true")]
    if f.kind == "presence":
        if raw not in PRESENCE:
            raise HttpError(400, f"{f.name} must be one of {', '.join(PRESENCE)}, not {raw[:40]!r}.", f.name)
        return {"include": "1", "exclude": f"{column} is null", "only": f"{column} is not null"}[raw], []
    if f.kind == "text":
        if len(raw) > MAX_TEXT_LENGTH:
            raise HttpError(400, f"q is at most {MAX_TEXT_LENGTH} characters long.", "q")
        pattern = like_pattern(raw.strip())
        ors = " or ".join(f"{alias}.\"{c}\" like ? escape '\\'" for c in f.columns)
        return f"({ors})", [pattern] * len(f.columns)
    operator = {"eq": "=", "min": ">=", "max": "<="}[f.kind]
    return f"{column} {operator} ?", [_typed(f, raw)]


def parse_sort(collection: Collection, raw: str) -> tuple[str, bool]:
    descending = raw.startswith("-")
    name = raw[1:] if descending else raw
    if name not in collection.sortable:
        raise HttpError(
            400,
            f"sort must be one of {', '.join(collection.sortable)} (with - for descending), not {raw[:60]!r}.",
            "sort",
        )
    return name, descending


def parse_fields(collection: Collection, raw: str) -> tuple[str, ...]:
    names = split_list(raw, "fields")
    for name in names:
        if name not in collection.column_map:
            raise HttpError(400, f"fields: {collection.name} have no field {name!r}.", "fields")
    return tuple(names)


def parse_list_query(collection: Collection, params: dict[str, str]) -> ListQuery:
    """Validate every parameter of a collection request (unknown names are refused before this)."""
    query = ListQuery(collection, fields=tuple(c.name for c in collection.columns), sort=collection.key)
    routed: dict[Route, list[tuple[str, list[Any]]]] = {}
    for name, raw in params.items():
        if name == "sort":
            query.sort, query.descending = parse_sort(collection, raw)
        elif name == "limit":
            limit = parse_integer(raw, "limit")
            if not 1 <= limit <= MAX_LIMIT:
                raise HttpError(400, f"limit must be between 1 and {MAX_LIMIT}.", "limit")
            query.limit = limit
        elif name == "fields":
            query.fields = parse_fields(collection, raw)
        elif name == "format":
            if raw not in FORMATS:
                raise HttpError(400, f"format must be one of {', '.join(FORMATS)}.", "format")
            query.format = raw
        elif name == "cursor":
            continue  # decoded once the sort is known
        else:
            f = collection.filter_map[name]
            if f.kind in ("text", "search") and not raw.strip():
                continue
            if f.kind == "search":
                if len(raw) > MAX_TEXT_LENGTH:
                    raise HttpError(400, f"{name} is at most {MAX_TEXT_LENGTH} characters long.", name)
                query.search = raw
                continue
            alias = "t" if f.route.table is None else "r"
            routed.setdefault(f.route, []).append(_condition(f, raw, alias))
    for route, parts in routed.items():
        sqls = [sql for sql, _ in parts]
        values = [v for _, vs in parts for v in vs]
        if route.table is None:
            query.conditions += sqls
        else:
            query.conditions.append(
                f'exists (select 1 from "{route.table}" as r where r."{route.join_column}" = t."{route.local_column}"'
                f" and {' and '.join(sqls)})"
            )
        query.params += values
    if "cursor" in params:
        query.after = decode_cursor(params["cursor"], query.sort, query.descending)
    return query


def known_params(collection: Collection) -> frozenset[str]:
    return frozenset((*CONTROL_PARAMS, *collection.filter_map))


def list_params(collection: Collection) -> frozenset[str]:
    """The parameters that take several values, comma-separated or repeated (`style: form, explode: true`)."""
    return frozenset(("fields", *(f.name for f in collection.filters if f.kind == "in")))
