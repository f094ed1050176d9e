"""The SQL rule as a form validator: one rule shared by the wizard, its live check and the API."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

from feeds.warehouses.sqlcheck import check_select


@deconstructible
class SQLValidator:
    """Refuses anything but exactly one read-only SELECT in the warehouse's sqlglot dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def __call__(self, value: str) -> None:
        problem = check_select(value, self.dialect)
        if problem is not None:
            raise ValidationError(str(problem), code="sql", params={"line": problem.line})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SQLValidator) and other.dialect == self.dialect
