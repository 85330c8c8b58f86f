"""Files a definition names (source layout, code maps, code tables, 外字 table) stay inside its folder tree.

A mapping or layout is data someone sent you; a `code_maps: {x: ../../secret/creds.yaml}` must not read
a file elsewhere on the machine. `..` or an absolute path out of the folder of the naming file is an error
at that line, unless the command runs with `--allow-outside-definitions`. Job files are not definitions:
they may name inputs, outputs and mappings anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from midlayout.layout.yamlfile import Doc, PathKey

_OUTSIDE_ALLOWED: ContextVar[bool] = ContextVar("midlayout_outside_definitions", default=False)


@contextmanager
def outside_definitions(allowed: bool) -> Iterator[None]:
    """Allow (or not) definitions to name files outside their folder tree while the block runs."""
    token = _OUTSIDE_ALLOWED.set(allowed)
    try:
        yield
    finally:
        _OUTSIDE_ALLOWED.reset(token)


def named_file(doc: Doc, at: PathKey, rel: str) -> Path:
    """The file `rel` (written at `at` in `doc`), relative to the folder of `doc`; a DefinitionError at that
    line when it leads out of that folder tree and that is not allowed.

    The path is judged as written (`..`, an absolute path): a symlink someone made on this machine inside
    the tree is theirs to make, and the bundled layouts are reached through one.
    """
    base = doc.path.parent
    path = base / rel
    root = os.path.normpath(base.absolute())
    if not _OUTSIDE_ALLOWED.get() and not Path(os.path.normpath(path.absolute())).is_relative_to(root):
        raise doc.error(
            at,
            f"{rel!r} is outside the folder of {doc.path.name} ({base}); a definition names files inside its "
            "own folder tree (run with --allow-outside-definitions to permit it)",
        )
    return path
