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


def portable_ref(path: Path, relative_to: Path | None = None) -> str:
    """How a manifest names the definition file `path`: `package:…` when it is a bundled file, else a
    path relative to `relative_to` when given, else `path` as it is.

    >>> portable_ref(bundled_layouts() / "chukan" / "juki" / "2.5.yaml")
    'package:layouts/chukan/juki/2.5.yaml'
    """
    real, root = Path(path).resolve(), bundled_root().resolve()
    for part in ("layouts", "sources"):
        try:
            inner = real.relative_to((root / part).resolve())
        except ValueError:
            continue
        return f"{PACKAGE_PREFIX}{part}/{inner.as_posix()}"
    if relative_to is not None:
        return Path(os.path.relpath(real, Path(relative_to).resolve())).as_posix()
    return str(path)


def resolve_ref(ref: str, base: Path | None = None) -> Path:
    """The file a reference from `portable_ref` names (relative ones against `base`, default the current folder).

    >>> resolve_ref("package:layouts/chukan/juki/2.5.yaml").is_file()
    True
    """
    if ref.startswith(PACKAGE_PREFIX):
        return bundled_root().joinpath(*ref[len(PACKAGE_PREFIX) :].split("/"))
    path = Path(ref)
    return path if path.is_absolute() or base is None else base / path
