"""Strict FHIR JSON type checks on top of `fhir.resources` (pydantic 1), which silently coerces types.

pydantic 1 turns `"birthDate": 42` into 1970-01-01 and `"family": 42` into "42"; FHIR JSON requires strings,
numbers and booleans to be exactly those JSON types, and a health record must not store a guess.
"""

from __future__ import annotations

import decimal
from typing import Any, List, Optional, Type

from fhir.resources import fhirtypes, get_fhir_model_class


def type_problem(model: Type[Any], raw: Any, path: str = "") -> Optional[str]:
    """The first element whose JSON type does not match the FHIR model, as 'path: expected …', or None."""
    if not isinstance(raw, dict):
        return f"{path or 'resource'}: expected an object"
    fields = {field.alias: field for field in model.__fields__.values()}
    for key, value in raw.items():
        field = fields.get(key)
        if field is None or key == "resourceType":
            continue
        items: List[Any] = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{path}{key}[{index}]" if isinstance(value, list) else f"{path}{key}"
            problem = _element_problem(field.type_, item, where)
            if problem:
                return problem
    return None


def _element_problem(kind: Any, value: Any, where: str) -> Optional[str]:
    if value is None or not isinstance(kind, type):
        return None
    if issubclass(kind, fhirtypes.AbstractType):
        try:
            return type_problem(get_fhir_model_class(kind.fhir_type_name()), value, where + ".")
        except (KeyError, ValueError, AttributeError):
            return None
    if issubclass(kind, bool):
        return None if isinstance(value, bool) else f"{where}: expected true or false"
    if issubclass(kind, (int, decimal.Decimal, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"{where}: expected a number"
    return None if isinstance(value, str) else f"{where}: expected a string"
