"""The bundled definitions: a wheel carries the layouts and synth's source layouts; the layout search path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from tests.conftest import LAYOUTS, MAPPINGS, ROOT, SAMPLES

runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_no_layouts_anywhere_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from midlayout.layout import registry

    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path))
    monkeypatch.setattr(registry, "bundled_layouts", lambda: tmp_path / "none")
    code, out, err = cli("layouts", "list")
    assert code == 2 and "no layouts found" in err and out == "", (out, err)


def test_the_same_layout_in_two_places_is_an_error_naming_both(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    shutil.copytree(LAYOUTS / "chukan" / "juki", mine / "chukan" / "juki")
    code, _, err = cli("layouts", "show", "chukan/juki@2.5", "--layouts-dir", str(mine))
    assert code == 2 and "defined in two places" in err, err
    assert str(mine / "chukan" / "juki" / "2.5.yaml") in err and str(LAYOUTS) in err
    code, _, err = cli(
        "convert", "-m", str(MAPPINGS / "vendor_b" / "juki-2.5.yaml"), str(SAMPLES / "vendor_b" / "person.csv"),
        "--out", str(tmp_path / "o"), "--layouts-dir", str(mine),
    )  # fmt: skip
    assert code == 2 and "defined in two places" in err, err


def test_layouts_dirs_and_the_environment_are_searched_before_the_bundled_layouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root, gyomu in ((one, "juki_a"), (two, "juki_b")):
        _copy_as(LAYOUTS / "chukan" / "juki", root / "local" / gyomu, "local", gyomu)
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", os.pathsep.join([str(two), str(LAYOUTS)]))
    code, out, err = cli("layouts", "list", "--json", "--layouts-dir", str(one))
    assert code == 0, err
    origins = {r["path"]: r["origin"] for r in json.loads(out)}
    assert origins[str(one / "local" / "juki_a" / "2.5.yaml")] == "--layouts-dir"
    assert origins[str(two / "local" / "juki_b" / "2.5.yaml")] == "MIDLAYOUT_LAYOUTS"
    # The checkout's layouts/ are the bundled files: found once, through the first folder that has them.
    assert origins[str(LAYOUTS / "chukan" / "kojin_juminzei" / "2.5.yaml")] == "MIDLAYOUT_LAYOUTS"
    assert len(origins) == 9  # 2.4 and 2.5 in each copy, and the 5 bundled (chukan ×3, kihon ×2)
    monkeypatch.delenv("MIDLAYOUT_LAYOUTS")
    code, out, _ = cli("layouts", "list", "--json")
    assert {r["origin"] for r in json.loads(out)} == {"bundled"}


def _copy_as(src: Path, dest: Path, family: str, gyomu: str, version: str | None = None) -> None:
    """A layout folder copied under another ID, its headers said to match (family, 業務, and version if given)."""
    shutil.copytree(src, dest)
    for path in dest.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        text = text.replace("\nfamily: chukan\n", f"\nfamily: {family}\n")
        text = text.replace("\ngyomu: juki\n", f"\ngyomu: {gyomu}\n")
        if version:
            text = text.replace(f'\nversion: "{path.stem}"\n', f'\nversion: "{version}"\n')
        path.write_text(text, encoding="utf-8")


def _line(path: Path, start: str) -> int:
    return next(
        n for n, x in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if x.startswith(start)
    )


@pytest.mark.parametrize(
    ("folder", "key"),
    [
        ("local/juki/2.5.yaml", "family:"),  # copied under another family, header not changed
        ("chukan/juki_x/2.5.yaml", "gyomu:"),
        ("chukan/juki/2.6.yaml", "version:"),  # copied as the next version, header still 2.5
    ],
)
@pytest.mark.parametrize("how", ["--layouts-dir", "MIDLAYOUT_LAYOUTS"])
def test_a_layout_whose_header_disagrees_with_its_folder_is_a_load_error_at_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, key: str, how: str
) -> None:
    mine = tmp_path / "mine"
    target = mine / folder
    shutil.copytree(LAYOUTS / "chukan" / "juki", target.parent)
    shutil.copy(LAYOUTS / "chukan" / "juki" / "2.5.yaml", target)
    for name in target.parent.glob("*.yaml"):
        if name != target:
            name.unlink()  # only the stale copy (and its code tables): no "defined in two places"
    ref = f"{target.parent.parent.name}/{target.parent.name}@{target.stem}"
    where = ["--layouts-dir", str(mine)] if how == "--layouts-dir" else []
    if how == "MIDLAYOUT_LAYOUTS":
        monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(mine))
    for args in (["layouts", "show", ref], ["layouts", "list"]):
        code, out, err = cli(*args, *where)
        assert code == 2 and f"{target}:{_line(target, key)}" in err, (args, out, err)
        assert ref in err and len(err.strip().splitlines()) == 1, err


def test_every_bundled_layout_agrees_with_its_folder() -> None:
    from midlayout.layout.registry import list_layouts, load_entry

    for entry in list_layouts():
        assert load_entry(entry).ref == entry.ref


def test_manifest_names_a_bundled_layout_portably(tmp_path: Path) -> None:
    from midlayout.layout.bundled import portable_ref, resolve_ref

    ref = "package:layouts/chukan/juki/2.5.yaml"
    assert resolve_ref(ref).read_bytes() == (LAYOUTS / "chukan" / "juki" / "2.5.yaml").read_bytes()
    assert portable_ref(LAYOUTS / "chukan" / "juki" / "2.5.yaml") == ref
    assert portable_ref(tmp_path / "x" / "m.yaml", relative_to=tmp_path / "out") == "../x/m.yaml"
    code, _, err = cli(
        "convert", "-m", str(MAPPINGS / "vendor_b" / "juki-2.5.yaml"), str(SAMPLES / "vendor_b" / "person.csv"),
        str(SAMPLES / "vendor_b" / "household.csv"), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 1, err
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert [lay["path"] for lay in manifest["layouts"]] == [ref]
    # A vendor's definitions given on the command line are the user's own: relative to the manifest, in the
    # `definitions` list as in the `mappings` section.
    vendor = {d["path"] for d in manifest["definitions"] if d["kind"] in ("mapping", "source_layout")}
    assert vendor and not any(p.startswith("package:") for p in vendor), vendor
    assert {m["path"] for m in manifest["mappings"]} <= vendor
    code, out, err = cli("verify", str(tmp_path / "o" / "manifest.json"), "--json")
    assert code == 0 and json.loads(out)["ok"], out + err


def _site_packages(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_lists_layouts_and_converts_the_samples(
    tmp_path: Path,
) -> None:
    """Build the wheel, install it (no deps) in a venv that sees this venv's packages through a .pth, and run
    it from a folder outside the checkout with no MIDLAYOUT_LAYOUTS."""
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("midlayout-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("MIDLAYOUT_LAYOUTS", "PYTHONPATH")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    # Then this venv's packages (polars, duckdb, …) but not its editable midlayout: a .pth holding a plain
    # path adds the folder without running the editable install's own .pth files.
    Path(_site_packages(python), "deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    elsewhere.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "midlayout"), *args],
            check=False,
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
        )

    where = subprocess.run(
        [str(python), "-c", "import midlayout; print(midlayout.__file__)"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(venv)), where
    listed = run("layouts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {"chukan/juki@2.5", "chukan/kojin_juminzei@2.5"} <= {r["ref"] for r in rows}
    assert all(r["path"].startswith(str(venv)) for r in rows)
    converted = run(
        "convert", "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"),
        "-m", str(MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"),
        *(str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")), "--out", "out",
    )  # fmt: skip
    assert converted.returncode == 1, converted.stderr  # the samples hold deliberate rejects
    manifest = json.loads((elsewhere / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(lay["path"] for lay in manifest["layouts"]) == [
        "package:layouts/chukan/juki/2.5.yaml",
        "package:layouts/chukan/kojin_juminzei/2.5.yaml",
    ]
    synth = run("synth", "--vendor", "b", "-n", "2", "--out", "synth", "--workers", "1")
    assert synth.returncode == 0 and (elsewhere / "synth" / "person.csv").is_file(), synth.stderr


def test_a_users_layout_is_used_instead_of_the_bundled_one_with_the_same_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine"
    shutil.copytree(LAYOUTS / "chukan" / "juki", mine / "chukan" / "juki")
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(mine))  # only the user's folder, then the bundled layouts
    code, out, err = cli("layouts", "list", "--json")
    assert code == 0, err
    found = {r["ref"] if "ref" in r else f"{r['id']}@{r['version']}": r for r in json.loads(out)}
    assert found["chukan/juki@2.5"]["path"] == str(mine / "chukan" / "juki" / "2.5.yaml")
    assert found["chukan/juki@2.5"]["origin"] == "MIDLAYOUT_LAYOUTS"
