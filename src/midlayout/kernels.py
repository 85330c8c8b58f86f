"""The swappable fast paths of a conversion ("kernels"), chosen by name through `ConvertOptions.kernels`.

`convert` is optimised in a handful of places (one codec call per column, byte-scan prefilters, shared
和暦 parses, lookup columns captured on the source's own pass, the CSV batch reader). Each is named here,
so that a test can run the same conversion through simple twins (`register` a `Kernels` with them, then
convert with `kernels=<its name>`) and check that the twins ran. The library itself registers only
`fast`; a registered set lives in the process that registered it, so other sets run with one worker.
The set in use is per thread of control (a context variable): conversions running side by side in threads
(`run --executor dask`) each see their own, and `activate` sets the default of a worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from midlayout.readers.formats import ReaderFormat

FAST = "fast"


@dataclass(frozen=True)
class Kernels:
    """One implementation of each fast path; `formats` replaces reader formats by name (see readers/formats.py)."""

    decode_column: Callable[..., Any]  # readers.decode.decode_column
    may_hold: Callable[..., bool]  # readers.decode.may_hold: the U+FFFD byte-scan prefilter
    may_hold_gaiji: Callable[..., bool]  # readers.gaiji: the private-use byte-scan prefilter
    column_fits: Callable[..., bool]  # validate.repertoire: one round trip per column
    wareki: Callable[..., Any]  # mapping.ops.OpContext.wareki: (context, text, args) -> parsed struct
    # pipeline.plan.capture_plan: jobs -> {source job: lookups captured on its pass}; {}: read them again
    lookup_captures: Callable[..., dict[int, Any]]
    formats: dict[str, ReaderFormat] = field(default_factory=dict)


def _fast() -> Kernels:
    from midlayout.mapping.ops import shared_wareki
    from midlayout.pipeline.plan import capture_plan
    from midlayout.readers.decode import decode_column, may_hold
    from midlayout.readers.gaiji import may_hold_gaiji
    from midlayout.validate.repertoire import column_fits

    return Kernels(decode_column, may_hold, may_hold_gaiji, column_fits, shared_wareki, capture_plan)


_REGISTRY: dict[str, Callable[[], Kernels]] = {FAST: _fast}
_BUILT: dict[str, Kernels] = {}
_DEFAULT: list[str] = [FAST]  # the process's set (`activate`), where no conversion chose one
_ACTIVE: ContextVar[str | None] = ContextVar("midlayout_kernels", default=None)


def register(name: str, make: Callable[[], Kernels]) -> None:
    """Make a set of kernels selectable by `name` in this process."""
    _REGISTRY[name] = make
    _BUILT.pop(name, None)


def unregister(name: str) -> None:
    if name != FAST:
        _REGISTRY.pop(name, None)
        _BUILT.pop(name, None)


def known() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Kernels:
    if name not in _BUILT:
        _BUILT[name] = _REGISTRY[name]()
    return _BUILT[name]


def active() -> Kernels:
    """The kernels of the conversion running in this process (`fast` outside one)."""
    return get(_ACTIVE.get() or _DEFAULT[0])


@contextmanager
def using(name: str) -> Iterator[Kernels]:
    """Run the enclosed work with the kernels called `name`."""
    token = _ACTIVE.set(name)
    try:
        yield get(name)
    finally:
        _ACTIVE.reset(token)


def activate(name: str) -> None:
    """Select `name` for the rest of this process (a worker process runs one conversion), wherever no
    enclosing `using` chose another."""
    _DEFAULT[0] = name
