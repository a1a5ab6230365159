"""Read-only attributes that hand out one field of an object's server record (`self._data`), typed
for editors and type checkers: `name = WireField[str]("name")`."""
from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class WireField(Generic[T]):
    """The record's `key`; `optional` fields read as None when the server left them out."""

    def __init__(self, key: str, optional: bool = False) -> None:
        self.key = key
        self.optional = optional

    @overload
    def __get__(self, obj: None, owner: type) -> WireField[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return obj._data.get(self.key) if self.optional else obj._data[self.key]


class ProjectRecord:
    """A server record that lives in a project (a run, an artifact collection): the fields they share."""

    _data: dict[str, Any]

    name = WireField[str]("name")
    entity = WireField[str]("entity")
    project = WireField[str]("project")
    created_at = WireField[str | None]("createdAt", optional=True)
