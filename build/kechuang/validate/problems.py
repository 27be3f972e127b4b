"""A problem found in the datasets, worded for the maintainer who must fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem: where it is (file, line, field) and why it is wrong."""

    file: str
    row: int = 0
    field: str = ""
    message: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row else self.file
        return f"{where} {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ValidationFailed(Exception):
    """Raised by stages that refuse to run on invalid datasets; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the datasets")
