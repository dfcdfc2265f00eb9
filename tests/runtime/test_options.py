"""Parameters from -p, -y, -f and the environment; bad ones are exit 2 with one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nb2pipe.runtime import Param, Pipeline, Step, main
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.options import build_parser, parse_value, resolve_params

PARAMS = (
    Param("n", int, 3),
    Param("rate", float, 0.5),
    Param("flag", bool, False),
    Param("name", str, "x"),
    Param("depth", int, None, optional=True),
    Param("cols", list, ["a"]),
    Param("opts", dict, {}),
    Param("shape", tuple, (1, 2)),
    Param("anything", None, None),
    Param("token", str, None, optional=True, secret=True, env="MY_TOKEN"),
)
PIPE = Pipeline(
    name="p", package="nowhere", steps=(Step("s"),), parameters=PARAMS, derived=("out",)
)


def resolve(*args: str, **kw: Any) -> dict[str, Any]:
    return resolve_params(PIPE, param_args=args, environ=kw.pop("environ", {}), **kw).values


def test_defaults_and_typed_values() -> None:
    v = resolve(
        "n=7",
        "rate=1",
        "flag=yes",
        "name=hello world",
        "depth=null",
        "cols=[b, c]",
        'opts={"k": 1}',
        "shape=[3, 4]",
        "anything=2.5",
    )
    assert v["n"] == 7 and v["rate"] == 1.0 and isinstance(v["rate"], float)
    assert v["flag"] is True and v["name"] == "hello world" and v["depth"] is None
    assert v["cols"] == ["b", "c"] and v["opts"] == {"k": 1} and v["shape"] == (3, 4)
    assert v["anything"] == 2.5 and v["token"] is None


@pytest.mark.parametrize("text", ["true", "1", "YES", "on"])
def test_bool_true(text: str) -> None:
    assert parse_value(PARAMS[2], text) is True


@pytest.mark.parametrize(
    ("arg", "needle"),
    [
        ("n=abc", "parameter 'n' expects int, got 'abc'"),
        ("n=1.5", "expects int"),
        ("rate=fast", "expects float"),
        ("flag=maybe", "expects bool (true/false)"),
        ("n=null", "expects int"),
        ("depth=deep", "expects int or null"),
        ("cols={a: 1}", "expects list"),
        ("opts=[1]", "expects dict"),
        ("nope=1", "unknown parameter 'nope'"),
        ("out=1", "'out' is derived"),
        ("token=abc", "secret"),
        ("novalue", "NAME=VALUE"),
    ],
)
def test_bad_values(arg: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        resolve(arg)


def test_precedence_file_yaml_p(tmp_path: Path) -> None:
    f = tmp_path / "params.yaml"
    f.write_text("n: 10\nrate: 2\nname: from-file\n")
    v = resolve("n=30", params_file=str(f), yaml_text="n: 20\nname: from-yaml")
    assert (v["n"], v["rate"], v["name"]) == (30, 2.0, "from-yaml")
    with pytest.raises(UsageError, match="expects str"):
        resolve(yaml_text="name: 1.10")  # YAML would turn it into 1.1: refuse, don't convert
    with pytest.raises(UsageError, match="mapping"):
        resolve(yaml_text="- 1")
    with pytest.raises(UsageError, match="cannot read params file"):
        resolve(params_file=str(tmp_path / "missing.yaml"))


def test_secret_from_environment() -> None:
    assert resolve(environ={"MY_TOKEN": "s3cret"})["token"] == "s3cret"
    assert resolve_params(PIPE, environ={}).secret == frozenset({"token"})


def test_parser_knows_every_option() -> None:
    ns = build_parser().parse_args(
        [
            "-p",
            "a=1",
            "-p",
            "b=2",
            "-y",
            "a: 1",
            "-f",
            "x.yaml",
            "--only",
            "s",
            "--only",
            "t",
            "--from",
            "s",
            "--until",
            "t",
            "-j",
            "3",
            "--force",
            "--runs-dir",
            "r",
            "--run-id",
            "x",
            "--cwd",
            ".",
            "--quiet",
            "--allow-mutation",
            "--store",
            "st",
            "-v",
            "--no-guard",
        ]
    )
    assert ns.params == ["a=1", "b=2"] and ns.only == ["s", "t"] and ns.jobs == 3
    assert ns.from_step == "s" and ns.until == "t" and ns.force and ns.quiet and not ns.guard
    assert build_parser().parse_args(["-j", "0"]).jobs >= 1


def test_main_exit_2_one_line(diamond: Any, capsys: pytest.CaptureFixture[str]) -> None:
    pipe = diamond.pipeline()
    args = ["--runs-dir", str(diamond.runs)]
    assert main(pipe, [*args, "-p", "k=two"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: parameter 'k' expects int, got 'two'"]
    assert main(pipe, [*args, "-p", "z=1"]) == 2
    assert "unknown parameter 'z' (parameters: k)" in capsys.readouterr().err
    assert main(pipe, [*args, "--only", "nope"]) == 2
    assert "unknown step 'nope'" in capsys.readouterr().err
    assert main(pipe, [*args, "--bogus"]) == 2  # argparse
    assert main(pipe, [*args, "-j", "x"]) == 2
    assert not diamond.runs.exists() or not [p for p in diamond.runs.iterdir() if p.name != "store"]
    assert main(pipe, [*args, "-q"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and " ok in " in out[0]
    assert main(pipe, ["--help"]) == 0
