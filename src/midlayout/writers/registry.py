"""Find writers through the `midlayout.writers` entry-point group, built-ins included.

The built-ins are registered in pyproject.toml through the same group third parties use, and read from
midlayout's own distribution metadata: one registration path. `BUILTINS` is used only when that metadata
is missing (a source tree run without installing). Plugins load lazily, a plugin that fails to load gives
a warning instead of a crash, and MIDLAYOUT_DISABLE_PLUGINS=1 turns third-party plugins off.
"""

from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points
from typing import Any

from midlayout.errors import UsageError
from midlayout.writers.base import Writer

GROUP = "midlayout.writers"
DISABLE_ENV = "MIDLAYOUT_DISABLE_PLUGINS"
BUILTINS = {
    "standard": "midlayout.writers.standard:StandardCsvWriter",
    "fixed": "midlayout.writers.fixed:FixedWidthWriter",
    "parquet": "midlayout.writers.parquet:ParquetWriter",
    "duckdb": "midlayout.writers.duckdb:DuckDBWriter",
    "postgres": "midlayout.writers.postgres:PostgresWriter",
}


class PluginWarning(UserWarning):
    """A writer plugin could not be loaded or was ignored."""


@dataclass(frozen=True)
class WriterInfo:
    """One writer as discovered: where it comes from, not yet imported."""

    name: str
    value: str  # "module:attribute"
    distribution: str
    builtin: bool

    @property
    def module(self) -> str:
        return self.value.split(":", 1)[0]

    def load(self) -> type[Writer]:
        """Import the writer class; raise if it cannot be imported or is not a Writer."""
        module, _, attr = self.value.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        if not (isinstance(obj, type) and issubclass(obj, Writer)):
            raise TypeError(f"{self.value} is not a midlayout Writer subclass")
        return obj


def plugins_disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "?"


def builtins() -> dict[str, str]:
    """midlayout's own writers (name → "module:attribute"), from its distribution's entry points."""
    try:
        own = {ep.name: ep.value for ep in distribution("midlayout").entry_points.select(group=GROUP)}
    except PackageNotFoundError:
        own = {}
    return own or dict(BUILTINS)


def _ours(ep: EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and dist.name == "midlayout"


def discover() -> dict[str, WriterInfo]:
    """Every writer name → WriterInfo: built-ins first, then plugins (unless disabled)."""
    import midlayout

    found = {
        name: WriterInfo(name, value, f"midlayout {midlayout.__version__}", True)
        for name, value in builtins().items()
    }
    if plugins_disabled():
        return found
    for ep in entry_points(group=GROUP):
        if _ours(ep):
            continue  # the built-ins, read above
        if ep.name in found:
            warnings.warn(
                f"writer plugin {ep.name!r} ({ep.value}, {_dist_name(ep)}) ignored: the name is taken",
                PluginWarning,
                stacklevel=2,
            )
            continue
        found[ep.name] = WriterInfo(ep.name, ep.value, _dist_name(ep), False)
    return found


def load_all() -> tuple[dict[str, type[Writer]], dict[str, str]]:
    """Load every discovered writer: (classes by name, load errors by name). Failures warn."""
    classes, errors = {}, {}
    for name, info in discover().items():
        try:
            classes[name] = info.load()
        except Exception as exc:  # noqa: BLE001 (a broken plugin, whatever its fault, must not break the tool)
            errors[name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"writer {name!r} ({info.value}) failed to load: {errors[name]}", PluginWarning, stacklevel=2
            )
    return classes, errors


def inventory() -> list[dict[str, Any]]:
    """Every discovered writer with its origin, options and whether it loads (plugins that fail warn)."""
    rows = []
    for name, info in discover().items():
        row: dict[str, Any] = {
            "name": name,
            "module": info.module,
            "object": info.value,
            "distribution": info.distribution,
            "kind": "built-in" if info.builtin else "plugin",
            "loaded": True,
            "error": None,
            "options": {},
            "doc": "",
        }
        try:
            cls = info.load()
            row["options"] = dict(cls.OPTIONS)
            row["doc"] = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        except Exception as exc:  # noqa: BLE001 (listed as broken, with a warning, never a crash)
            row["loaded"], row["error"] = False, f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"writer {name!r} ({info.value}) failed to load: {row['error']}", PluginWarning, stacklevel=2
            )
        rows.append(row)
    return rows


def available() -> dict[str, type[Writer]]:
    """Writers that load, by name."""
    return load_all()[0]


def options_of(name: str) -> set[str]:
    """The option names writer `name` accepts; ValueError saying why `name` is not a usable writer."""
    infos = discover()
    if name not in infos:
        raise ValueError(f"unknown writer {name!r} (known: {', '.join(sorted(infos))})")
    try:
        return set(infos[name].load().OPTIONS)
    except Exception as exc:  # noqa: BLE001 (a broken plugin is reported where the job names it)
        raise ValueError(f"writer {name!r} failed to load: {type(exc).__name__}: {exc}") from None


def get_writer(name: str) -> type[Writer]:
    """The writer class called `name`; UsageError listing the known ones otherwise."""
    infos = discover()
    if name not in infos:
        hint = f" (plugins are disabled by {DISABLE_ENV})" if plugins_disabled() else ""
        raise UsageError(f"unknown writer {name!r} (known: {', '.join(sorted(infos))}){hint}")
    try:
        return infos[name].load()
    except Exception as exc:  # noqa: BLE001 (reported as a usage error naming the plugin)
        raise UsageError(
            f"writer {name!r} ({infos[name].value}) failed to load: {type(exc).__name__}: {exc}"
        ) from None
