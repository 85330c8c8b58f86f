"""Named exceptions that carry the location a clerk needs: file, record, byte, field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Location:
    """Where a problem is: any part may be unknown."""

    file: str | None = None
    line: int | None = None
    record: int | None = None
    byte: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file + (f":{self.line}" if self.line else ""))
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.byte is not None:
            parts.append(f"byte {self.byte}")
        if self.field:
            parts.append(f"field {self.field}")
        return ", ".join(parts)


class MidlayoutError(Exception):
    """Base of every error the CLI turns into a one-line message."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


class DefinitionError(MidlayoutError):
    """A layout, code table, source layout or mapping YAML is malformed."""


class InputError(MidlayoutError):
    """An input file is missing, truncated or not in the declared shape."""


class UsageError(MidlayoutError):
    """The command line asks for something that does not exist."""


class ConservationError(MidlayoutError):
    """records_read != records_written + records_rejected: an internal bug, never bad input."""

    exit_code = 3


class TargetError(MidlayoutError):
    """The target cannot take this load as configured: unreachable, a table in the way, columns that differ."""


class LoadError(MidlayoutError):
    """The target refused the data or the load was interrupted; nothing of the run was applied."""

    exit_code = 1
