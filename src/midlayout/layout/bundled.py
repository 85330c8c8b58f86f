"""The definitions shipped inside the package, and portable references to definition files.

The wheel carries the standard layouts (with their code tables) and the vendor source layouts `synth` needs
under `midlayout/bundled/`; in a checkout those folders are symlinks to `layouts/` and `mappings/vendor_*/`.
A manifest names a bundled file as `package:layouts/chukan/juki/2.5.yaml`, which means the same file
wherever midlayout is installed.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PACKAGE_PREFIX = "package:"


def bundled_root() -> Path:
    """The folder holding `layouts/` and `sources/` of this installation."""
    return Path(str(resources.files("midlayout") / "bundled"))


def bundled_layouts() -> Path:
    """The bundled standard layouts (`FAMILY/GYOMU/VERSION.yaml`, code tables beside them)."""
    return bundled_root() / "layouts"


def bundled_source(vendor: str, name: str = "source.yaml") -> Path:
    """A vendor source layout that `synth` writes extracts for, e.g. `bundled_source("vendor_a")`."""
    return bundled_root() / "sources" / vendor / name


def package_ref(path: Path) -> str | None:
    """`package:layouts/…` or `package:sources/…` when `path` lies inside the bundled definitions, else None.

    `sources/` holds real files only in a wheel; in a checkout its vendor folders are links to
    `mappings/vendor_*`, whose files resolve outside it and are recorded, as the user's own, relative to the
    manifest.
    """
    real, root = Path(path).resolve(), bundled_root().resolve()
    for part in ("layouts", "sources"):
        inner = (root / part).resolve()
        if real.is_relative_to(inner):
            return f"{PACKAGE_PREFIX}{part}/{real.relative_to(inner).as_posix()}"
    return None


def portable_ref(path: str | Path, relative_to: Path | None = None) -> str:
    """How a manifest names `path`: `package:…` for a bundled definition file, else a path relative to
    `relative_to` when given (with `/`, climbing out with `..` where needed), else `path` as it is.

    >>> portable_ref(bundled_layouts() / "chukan" / "juki" / "2.5.yaml")
    'package:layouts/chukan/juki/2.5.yaml'
    """
    package = package_ref(Path(path))
    if package:
        return package
    if relative_to is not None:
        return Path(os.path.relpath(Path(path).absolute(), Path(relative_to).absolute())).as_posix()
    return str(path)


def is_package_ref(ref: str) -> bool:
    """Whether a manifest's reference names a file bundled with midlayout."""
    return ref.startswith(PACKAGE_PREFIX)


def resolve_ref(ref: str, base: Path | None = None) -> Path:
    """The file a reference from `portable_ref` names: `package:…` in this installation, a relative path
    against `base` (default: the current folder).

    >>> resolve_ref("package:layouts/chukan/juki/2.5.yaml").is_file()
    True
    """
    if is_package_ref(ref):
        return bundled_root().joinpath(*ref[len(PACKAGE_PREFIX) :].split("/"))
    path = Path(ref)
    return path if path.is_absolute() or base is None else Path(os.path.normpath(base / path))
