"""Validation whose work and error count stay bounded, whatever the body holds.

pydantic collects every error of a request: a 1 MB body of 250,000 bad list entries makes 250,000
errors, about 0.15 s to build in pydantic-core and seconds more to turn into Python, encode and
trim, all on the event loop (where FastAPI validates bodies), so one such request stalls every
user. Two rules keep that bounded:

- :func:`bounded_list`: a list is validated in chunks of :data:`CHUNK` entries and stops at the
  first chunk with an error; the list then reports its first error only. Nested lists nest the
  bound: at most ``CHUNK²`` inner errors are ever built for one field.
- :class:`RequestModel`: a request refuses unknown keys as soon as it sees more than
  :data:`MOST_ERRORS` of them (without building an error per key), and never reports more than
  :data:`MOST_ERRORS` errors.

Locations and error types stay pydantic's own (``loc`` points at the entry that failed), so a
client reads the same 422 as before, only shorter.
"""

from __future__ import annotations

import itertools
from typing import Any

from pydantic import BaseModel, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import InitErrorDetails

CHUNK = 64  # list entries validated at once; a chunk with an error ends the list's validation
MOST_ERRORS = 20  # errors one request reports, at most


def _details(error: dict[str, Any], offset: int = 0) -> InitErrorDetails:
    """One error of ``ValidationError.errors()`` in the shape that rebuilds it; ``offset`` is
    added to its first location (the index within a chunk → within the whole list)."""
    loc = list(error["loc"])
    if offset and loc and isinstance(loc[0], int):
        loc[0] += offset
    details = InitErrorDetails(type=error["type"], loc=tuple(loc), input=error["input"])
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


def _rebuilt(title: str, errors: list[InitErrorDetails]) -> ValidationError:
    return ValidationError.from_exception_data(title, errors)


def bounded_list(max_length: int) -> Any:
    """A wrap validator for a ``list[...]`` field: chunked, stopping at the first bad chunk.

    Use as ``Annotated[list[X], WrapValidator(bounded_list(MAX))]``; ``max_length`` is checked
    before any entry is, so an over-long list costs nothing either.

    Raises (inside validation):
        ValidationError: ``too_long``, or the list's first error, located at its entry.
    """

    def entries(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(value, list):
            return handler(value)  # not a list: one error, whatever its size
        if len(value) > max_length:
            too_long = InitErrorDetails(
                type="too_long",
                loc=(),
                input=f"<list of length {len(value)}>",
                ctx={"field_type": "List", "max_length": max_length, "actual_length": len(value)},
            )
            raise _rebuilt("list", [too_long])
        validated: list[Any] = []
        for start in range(0, max(len(value), 1), CHUNK):
            try:
                validated.extend(handler(value[start : start + CHUNK]))
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                raise _rebuilt(exc.title, [_details(first, start)]) from None
        return validated

    return entries


class RequestModel(BaseModel):
    """A request body whose validation builds and reports at most :data:`MOST_ERRORS` errors
    for its own keys (subclasses set ``extra="forbid"``)."""

    @model_validator(mode="wrap")
    @classmethod
    def _bounded_errors(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        fields = cls.model_fields  # a property: read it once, not per key
        if isinstance(data, dict) and len(data) > len(fields) + MOST_ERRORS:
            unknown = list(itertools.islice((k for k in data if k not in fields), MOST_ERRORS))
            raise _rebuilt(
                cls.__name__,
                [
                    InitErrorDetails(type="extra_forbidden", loc=(k,), input=data[k])
                    for k in unknown
                ],
            )
        try:
            return handler(data)
        except ValidationError as exc:
            if exc.error_count() <= MOST_ERRORS:
                raise
            errors = exc.errors(include_url=False)[:MOST_ERRORS]
            raise _rebuilt(exc.title, [_details(e) for e in errors]) from None
