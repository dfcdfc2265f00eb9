"""Inputs built to hurt, through the real CLI: a YAML alias bomb, recursive aliases,
duplicate keys and oversized parameters (exit 2 at once, no run record); tags that are not
strings (a 51 KB notebook nbformat would validate for minutes); and a template bytecode
cache in a folder others can write (it would unpickle their files).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hardening_helpers import write_notebook

EXE = Path(sys.executable).with_name("nb2pipe")

#: 9 levels of 9 aliases: 387 million strings once expanded, about 300 bytes of YAML
BOMB = (
    'items: [&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"], '
    + ", ".join(
        f"&{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "]\n"
)


def one_line_error(proc: Any, *words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0] and "Traceback" not in proc.stderr, lines
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    nb = write_notebook(
        root / "nb.ipynb",
        [("parameters", "items = [1]\nk = 2\nopts = {'a': 1}"), ("step:a", "n = len(items) * k")],
    )
    proc = subprocess.run([str(EXE), "convert", str(nb), "-o", str(root / "pkg")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root


def run_pkg(root: Path, *args: str, timeout: float = 60) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "pkg", "--runs-dir", "runs", *args], cwd=root,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def no_run_recorded(root: Path) -> None:
    runs = root / "runs"
    assert not runs.exists() or not [p for p in runs.iterdir() if p.name != "store"]


def test_the_bomb_is_small(package: Path) -> None:
    assert len(BOMB.encode()) < 400 and BOMB.count("*") == 72


def test_alias_bomb_in_a_params_file_fails_at_once(package: Path) -> None:
    (package / "bomb.yaml").write_text(BOMB)
    proc = run_pkg(package, "--params-file", "bomb.yaml", timeout=30)  # minutes, 4 GB before
    one_line_error(proc, "params file bomb.yaml", "YAML aliases")
    no_run_recorded(package)
    one_line_error(run_pkg(package, "-y", BOMB, timeout=30), "-y/--yaml", "aliases")
    bomb_value = BOMB.split(": ", 1)[1].strip()
    one_line_error(run_pkg(package, "-p", f"items={bomb_value}", timeout=30), "'items'")
    no_run_recorded(package)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-y", "k: 1\nk: 2"], ["'k' is given twice", "line 2"]),
        (["-y", '{"k": 1, "k": 2}'], ["'k' is given twice"]),  # JSON too
        (["-y", "opts: {a: 1, a: 2}"], ["'a' is given twice"]),  # at any depth
        (["-p", 'opts={"a": 1, "a": 2}'], ["'a' is given twice"]),
        (["-p", "items=&x [*x]"], ["recursive YAML alias"]),
    ],
)
def test_duplicate_keys_and_recursive_aliases(
    package: Path, args: list[str], words: list[str]
) -> None:
    one_line_error(run_pkg(package, *args), *words)
    no_run_recorded(package)


def test_duplicate_keys_in_a_params_file_and_what_stays_allowed(package: Path) -> None:
    (package / "dup.json").write_text('{"k": 3, "k": 4}')
    one_line_error(run_pkg(package, "-f", "dup.json"), "params file dup.json", "given twice")
    (package / "big.yaml").write_text("items: [" + "1, " * 400_000 + "1]\n")
    one_line_error(run_pkg(package, "-f", "big.yaml"), "limited to 1024 KiB")
    no_run_recorded(package)
    # Aliases and merge keys within the limits are ordinary YAML.
    (package / "ok.yaml").write_text("k: &n 3\nitems: [*n, *n]\nopts: {<<: {a: 1}, a: 2}\n")
    ok = run_pkg(package, "-f", "ok.yaml", "--run-id", "ok")
    assert ok.returncode == 0, ok.stderr
    record = json.loads((package / "runs" / "ok" / "run.json").read_text())
    assert record["parameters"] == {"items": [3, 3], "k": 3, "opts": {"a": 2}}


def test_tags_that_are_not_strings_fail_fast(tmp_path: Path) -> None:
    """Dicts as tags: nbformat's uniqueness check compares them pairwise (over 60 s here
    for this 51 KB notebook before the check)."""
    cells = [
        {"cell_type": "code", "id": "c0", "metadata": {}, "outputs": [],
         "execution_count": None, "source": "x = 1"},
        {"cell_type": "code", "id": "c1", "metadata": {"tags": [{"a": i} for i in range(4000)]},
         "outputs": [], "execution_count": None, "source": "y = 2"},
    ]  # fmt: skip
    kernel = {"name": "python3", "language": "python", "display_name": "P"}
    nb = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "tags.ipynb"
    path.write_text(json.dumps(nb))
    assert path.stat().st_size > 50_000
    proc = subprocess.run([str(EXE), "convert", str(path), "-o", str(tmp_path / "pkg")],
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    one_line_error(proc, "cell 2", "a tag is dict, not a string")
    nb["cells"][1]["metadata"]["tags"] = ["step:a", ["nested"]]
    path.write_text(json.dumps(nb))
    proc = subprocess.run([str(EXE), "inspect", str(path)], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    one_line_error(proc, "cell 2", "a tag is list")


# --- the template bytecode cache ------------------------------------------------------------


class _Planted:
    """Unpickling this creates the file `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def _convert_with_cache(tmp_path: Path, cache: Path, out: str) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1")])
    env = {**os.environ, "NB2PIPE_CACHE_DIR": str(cache)}
    proc = subprocess.run([str(EXE), "convert", str(nb), "-o", str(tmp_path / out)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _plant(folder: Path, names: list[str], marker: Path) -> None:
    from jinja2.bccache import bc_magic

    for name in names:
        (folder / name).write_bytes(bc_magic + pickle.dumps(_Planted(marker)))


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_bytecode_cache_others_can_write_is_not_read(tmp_path: Path, mode: int) -> None:
    private = tmp_path / "private"
    _convert_with_cache(tmp_path, private, "pkg1")
    names = sorted(p.name for p in private.iterdir())
    assert names and all(n.startswith("__jinja2_") for n in names)  # the cache is used
    assert private.stat().st_mode & 0o077 == 0
    # The same files, planted where others may write: never unpickled.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    marker = tmp_path / "PWNED"
    _plant(shared, names, marker)
    _convert_with_cache(tmp_path, shared, "pkg2")
    assert not marker.exists()
    # Control: planted in the private folder (as only its owner could), they do run, so the
    # names and format above are the ones the cache reads.
    _plant(private, names, marker)
    _convert_with_cache(tmp_path, private, "pkg3")
    assert marker.exists()


def test_bytecode_cache_through_a_symlink_is_not_read(tmp_path: Path) -> None:
    private = tmp_path / "private"
    _convert_with_cache(tmp_path, private, "pkg1")
    names = sorted(p.name for p in private.iterdir())
    link = tmp_path / "link"
    link.symlink_to(private, target_is_directory=True)
    marker = tmp_path / "PWNED"
    _plant(private, names, marker)
    _convert_with_cache(tmp_path, link, "pkg2")
    assert not marker.exists()
