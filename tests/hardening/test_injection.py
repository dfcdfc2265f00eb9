"""Code injection: payloads crafted to escape the strings, comments, docstrings and
templates of the generated code, smuggled through every value a notebook hands to the
code generator: parameter defaults, help comments, type comments, markdown docstrings
(tagged steps and headings), other tools' tags, notebook and cell metadata, cell ids,
requirement names (`!pip install "x; import os"`), the notebook's file name and
`--name`. Step names and `after:` targets must be identifiers or be refused.

Each payload would create a marker file if it ever ran. The tests convert, check that
every generated .py parses and that `__import__` (which only the payloads contain)
never becomes a name in the code, run the package with `python -m` (also with
`--params-file params.yaml`, which must read back as the defaults), and assert that no
marker file exists anywhere.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import pytest
import yaml
from hardening_helpers import (
    check_package,
    only_in_literals_or_comments,
    run_package,
    write_notebook,
)
from typer.testing import CliRunner

from nb2pipe import api
from nb2pipe.errors import Nb2pipeError
from nb2pipe.frontends.cli import app

#: ways out of a Python string, comment or docstring, a Jinja template, YAML, Markdown
#: or an HTML comment; {code} is the payload's statement
ESCAPES = [
    '"""; {code} #',
    "'''; {code} #",
    '"; {code} #',
    "'; {code} #",
    '\\"""; {code} #',
    '\\\\"""; {code} #',
    '"""\\\n{code}\n"""',
    "\n{code}\n",
    "\r{code}\r",
    "\r\n{code}\r\n",
    "\u2028{code}\u2029",
    "\x85{code}",
    "\x0b\x0c\n\x0c{code}",
    "\x00\n{code}",
    "{{{{ {code} }}}}",
    "{{% set x = {code} %}}",
    "{{# {code} #}}",
    "--> {code} <!--",
    "\n- {code}\nevil: 1",
    "\\N{{BULLET}}\\x00\\\n{code}",
]


def touch(marker: Path | str) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def payloads(root: Path, channel: str) -> list[tuple[Path, str]]:
    """(marker, payload text) for every escape, for one channel."""
    out = []
    for i, escape in enumerate(ESCAPES):
        marker = root / "markers" / f"PWN_{channel}_{i}"
        out.append((marker, escape.format(code=touch(marker))))
    return out


def one_line(text: str) -> str:
    """What can stand in a comment of the notebook's own source (Python ends a comment
    at \\n and \\r; a NUL is refused)."""
    return re.sub(r"[\r\n\x00]", " ", text)


def hostile_notebook(root: Path) -> tuple[list, dict, list[Path]]:
    """Cells and metadata carrying a payload in every channel; the markers."""
    markers: list[Path] = []
    params, cells = [], []
    for i, (m1, default), (m2, help_text), (m3, tc) in zip(
        range(len(ESCAPES)),
        payloads(root, "default"),
        payloads(root, "help"),
        payloads(root, "typecomment"),
        strict=True,
    ):
        markers += [m1, m2, m3]
        params.append(f"p{i} = {default!r}  # {one_line(help_text)}")
        params.append(f"t{i} = 1  # type: {one_line(tc)}")
    cells.append(("parameters", "\n".join(params)))
    uses = ", ".join(f"p{i}, t{i}" for i in range(len(ESCAPES)))
    for i, ((m_md, md), (m_tag, tag), (m_pip, pip)) in enumerate(
        zip(payloads(root, "markdown"), payloads(root, "tag"), payloads(root, "pip"), strict=True)
    ):
        markers += [m_md, m_tag, m_pip]
        cells.append(("md", f"Step {i}. {md}"))
        pip_line = one_line(pip).replace("'", "").replace('"', "")
        body = f'!pip install "x{i}; {pip_line}"\nv{i} = [{uses}]' if i == 0 else f"v{i} = v{i - 1}"
        cells.append(([f"step:s{i}", tag, f"hide-{i}"], body))
    cells.append(("md", "# Report {{ 7*7 }}\n" + payloads(root, "heading")[0][1]))
    markers.append(payloads(root, "heading")[0][0])
    cells.append(("step:report", f"n = len(v{len(ESCAPES) - 1})"))
    meta = {
        "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
        "title": payloads(root, "meta")[0][1],
        "nb2pipe": {"name": payloads(root, "meta")[1][1]},
    }
    markers += [payloads(root, "meta")[0][0], payloads(root, "meta")[1][0]]
    return cells, meta, markers


def no_import_names(files: dict[str, str]) -> None:
    """`__import__` appears only in the payloads: never as a name in the generated code."""
    for rel, text in files.items():
        if not rel.endswith(".py"):
            continue
        names = [
            t.string
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type == tokenize.NAME
        ]
        assert "__import__" not in names, rel
        assert only_in_literals_or_comments(text, "PWN_"), rel


def test_payloads_in_every_channel_never_run(tmp_path: Path) -> None:
    cells, meta, markers = hostile_notebook(tmp_path)
    path = write_notebook(tmp_path / "nb.ipynb", cells, metadata=meta)
    raw = json.loads(path.read_text())
    for n, cell in enumerate(raw["cells"]):  # valid but hostile cell ids
        cell["id"] = f"--import-os-{n}_{{{{x}}}}".replace("{", "").replace("}", "")
    path.write_text(json.dumps(raw))
    pipe, out, _ = api.convert(path, tmp_path / "pkg")
    files = check_package(out)
    no_import_names(files)
    assert "--import-os" not in "".join(files.values())  # cell ids are never used
    # requirements.txt: distribution names only, whatever the pip line said
    reqs = [x for x in files["requirements.txt"].splitlines() if x and not x.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", r) for r in reqs), reqs
    # params.yaml reads back as the defaults: no key smuggled in, no value changed
    defaults = {p.name: p.default for p in pipe.parameters}
    assert yaml.safe_load(files["params.yaml"]) == defaults
    for args in ((), ("--params-file", str(out / "params.yaml"))):
        proc = run_package(out, *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text())
    assert record["parameters"] == json.loads(json.dumps(defaults))
    assert [m for m in markers if m.exists()] == []
    assert not list(tmp_path.rglob("PWN_*"))


NAME_ESCAPES = [
    'x"""; {code} #',
    "x'''; {code} #",
    "x\n{code}\n#",
    "x\r{code}",
    "{{{{ {code} }}}}{{% raw %}}",
    "x\u2028{code}\\",
    "--> {code} <!-- | `x`",
]


@pytest.mark.parametrize("escape", NAME_ESCAPES, ids=range(len(NAME_ESCAPES)))
def test_notebook_file_name_never_runs(tmp_path: Path, escape: str) -> None:
    """File names cannot hold '/': the payload touches a marker relative to the folder
    the package runs in (the notebook's folder, where its steps run)."""
    name = escape.format(code=touch("PWN_name"))
    folder = tmp_path / "nbs"
    path = write_notebook(folder / f"{name}.ipynb", [("parameters", "n = 1"), ("", "x = n + 1")])
    _, out, _ = api.convert(path, tmp_path / "pkg")
    files = check_package(out)
    no_import_names(files)
    proc = run_package(out, cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(tmp_path.rglob("PWN_*"))


@pytest.mark.parametrize(
    "tag",
    [
        "step:a;__import__('os')",
        "step:a\n__import__('os')",
        "step:{{x}}",
        "step:__class__",
        "block:import",
        "after:a'); __import__('os') #",
        "prev:a\nimport os",
        "model:m'); __import__('os') #",
    ],
)
def test_hostile_step_names_are_refused(tmp_path: Path, tag: str) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1"), ([tag], "y = x")])
    with pytest.raises(Nb2pipeError) as info:
        api.convert(path, tmp_path / "pkg")
    assert "\n" not in str(info.value) and "cell 2" in str(info.value)
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize("name", ["x;__import__('os')", "a\nb", "__init__", "class", "../up"])
def test_hostile_name_option_is_refused(tmp_path: Path, name: str) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [("step:a", "x = 1")])
    result = CliRunner().invoke(
        app, ["convert", str(path), "-o", str(tmp_path / "pkg"), "--name", name]
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "pkg").exists()


def test_heading_split_names_and_docs_from_hostile_headings(tmp_path: Path) -> None:
    """Without step tags, headings name the steps (made identifiers) and become docs."""
    headings = [e.format(code=touch(tmp_path / f"PWN_h{i}")) for i, e in enumerate(ESCAPES)]
    cells: list = [("md", "# Title")]
    for i, text in enumerate(headings):
        cells.append(("md", "## " + one_line(text)))
        cells.append(("", f"v{i} = {i}" if i == 0 else f"v{i} = v{i - 1} + 1"))
    path = write_notebook(tmp_path / "nb.ipynb", cells)
    pipe, out, _ = api.convert(path, tmp_path / "pkg")
    assert len(pipe.steps) == len(ESCAPES)
    assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", s.name) for s in pipe.steps)
    no_import_names(check_package(out))
    proc = run_package(out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(tmp_path.rglob("PWN_*"))


YAML_TAGS = [
    "!!python/object/apply:os.system ['touch {m}']",
    "!!python/object/new:os.system ['touch {m}']",
    "!!python/name:os.system",
    "[!!python/object/apply:builtins.open ['{m}', 'w']]",
]


@pytest.mark.parametrize("value", YAML_TAGS, ids=range(len(YAML_TAGS)))
def test_parameter_values_are_read_as_plain_yaml(tmp_path: Path, value: str) -> None:
    """-p, -y and --params-file values are YAML read safely: a Python tag is an error."""
    marker = tmp_path / "PWN_yaml"
    path = write_notebook(
        tmp_path / "nb.ipynb", [("parameters", "flags = [1]"), ("", "n = len(flags)")]
    )
    _, out, _ = api.convert(path, tmp_path / "pkg")
    text = value.format(m=marker)
    (tmp_path / "p.yaml").write_text(f"flags: {text}\n")
    for args in (
        ("-p", f"flags={text}"),
        ("-y", f"flags: {text}"),
        ("-f", str(tmp_path / "p.yaml")),
    ):
        proc = run_package(out, *args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not marker.exists()
