"""Failures name step, cell and line; descendants are skipped; a rerun resumes."""

from __future__ import annotations

from typing import Any

import pytest
from runtime_helpers import S, diamond_steps, statuses

from nb2pipe.runtime import main


def broken_right(body: str = "x = 1\nright_out = n / 0") -> S:
    steps = diamond_steps()
    return S(**{**steps[2].__dict__, "body": f"# cell 6\n{body}"})


def test_failure_names_cell_and_line_and_skips_descendants(
    diamond: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    diamond.write_step(broken_right())
    r = diamond.run()
    assert r.exit_code == 1 and r.status == "failed"
    assert statuses(r) == {"load": "ok", "left": "ok", "right": "failed", "join": "skipped"}
    err = r.steps["right"]["error"]
    assert (err["cell"], err["line"], err["type"]) == (6, 2, "ZeroDivisionError")
    assert err["message"] == (
        "step 'right' failed at cell 6, line 2 (right_out = n / 0): ZeroDivisionError: division by zero"
    )
    assert r.error == err["message"]
    assert r.steps["join"]["reason"] == "upstream right failed"
    log = (r.run_dir / "logs" / "right.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError" in log
    # finished artifacts are kept; the next run resumes from the cache
    diamond.write_step(broken_right("x = 1\nright_out = n + 1"))
    again = diamond.run()
    assert statuses(again) == {"load": "cached", "left": "cached", "right": "ok", "join": "ok"}
    assert again.load("join", "total") == 7


def test_failure_inside_a_common_function(make_pkg: Any) -> None:
    common = "def risky(x):\n    # cell 3\n    y = x\n    return y[5]\n"
    pkg = make_pkg(
        [S("a", "v = risky([1])", outputs=("v",), common=("risky",), cell=5)], common=common
    )
    err = pkg.run().steps["a"]["error"]
    assert (err["cell"], err["line"]) == (3, 2)
    assert "IndexError" in err["message"] and "return y[5]" in err["message"]


def test_main_prints_the_failure(diamond: Any, capsys: pytest.CaptureFixture[str]) -> None:
    diamond.write_step(broken_right())
    assert main(diamond.pipeline(), ["--runs-dir", str(diamond.runs)]) == 1
    out, err = capsys.readouterr()
    assert "[nb2pipe] error: step 'right' failed at cell 6, line 2" in err
    assert "[nb2pipe] right failed" in out and "[nb2pipe] join skipped" in out
    assert out.strip().splitlines()[-1].startswith("[nb2pipe] run ")


def test_gates(make_pkg: Any) -> None:
    steps = [
        S("make", "value = v", outputs=("value",), params=("v",), cell=2),
        S(
            "check",
            "assert value > 0, f'value {value} is not positive'",
            inputs={"value": "make"},
            kind="gate",
            cell=3,
        ),
        S(
            "check2",
            "if value > 5:\n    raise GateFailed('too big')",
            inputs={"value": "make"},
            kind="gate",
            imports="from nb2pipe.runtime import GateFailed",
            cell=4,
        ),
        S(
            "use",
            "out = value * 2",
            inputs={"value": "make"},
            outputs=("out",),
            after=("check", "check2"),
            cell=5,
        ),
    ]
    pkg = make_pkg(steps, [("v", int, 1)])
    assert pkg.run().load("use", "out") == 2
    r = pkg.run(params={"v": -1})
    assert statuses(r) == {"make": "ok", "check": "failed", "check2": "ok", "use": "skipped"}
    assert r.steps["check"]["error"]["message"] == (
        "gate 'check' failed at cell 3, line 1 (assert value > 0, f'value {value} is not "
        "positive'): value -1 is not positive"
    )
    r = pkg.run(params={"v": 9})
    assert r.exit_code == 1 and statuses(r)["use"] == "skipped"
    assert r.steps["check2"]["error"]["message"].startswith(
        "gate 'check2' failed at cell 4, line 2"
    )
    assert pkg.run(params={"v": 1}).steps["check"]["status"] == "cached"  # a passed gate is cached


MUTATE = S(
    "touch",
    "items.append(4)\ncount = len(items)",
    inputs={"items": "make"},
    outputs=("count",),
    cell=3,
)
MAKE = S("make", "items = [1, 2, 3]", outputs=("items",), cell=2)


def test_mutation_guard(make_pkg: Any) -> None:
    pkg = make_pkg([MAKE, MUTATE])
    r = pkg.run()
    assert r.exit_code == 1
    assert r.steps["touch"]["error"]["kind"] == "mutation"
    msg = r.steps["touch"]["error"]["message"]
    assert "step 'touch' changed its input 'items' (from step 'make') in place" in msg
    assert "--allow-mutation" in msg
    r = pkg.run(allow_mutation=True)
    assert r.ok and "changed its input 'items'" in r.steps["touch"]["warnings"][0]
    assert r.load("make", "items") == [1, 2, 3]  # the stored artifact is untouched


def test_declared_mutation_is_fine(make_pkg: Any) -> None:
    touch = S(**{**MUTATE.__dict__, "outputs": ("items", "count")})
    pkg = make_pkg([MAKE, touch])
    r = pkg.run()
    assert (
        r.ok and r.load("touch", "items") == [1, 2, 3, 4] and r.load("make", "items") == [1, 2, 3]
    )


def test_guard_passes_on_read_only_use_of_rich_objects(make_pkg: Any) -> None:
    make = S(
        "make",
        "df = pd.DataFrame({'a': [1, 2]})\narr = np.arange(3)\nm = LinearRegression().fit(df, [1, 2])",
        outputs=("df", "arr", "m"),
        imports="import numpy as np\nimport pandas as pd\n"
        "from sklearn.linear_model import LinearRegression",
    )
    use = S(
        "use",
        "p = m.predict(df).tolist()\ns = float(arr.sum())\nd = df.describe()",
        inputs={"df": "make", "arr": "make", "m": "make"},
        outputs=("p", "s", "d"),
    )
    pkg = make_pkg([make, use])
    r = pkg.run()
    assert r.ok, r.error
    assert {o.format for o in r.outputs["make"].values()} == {"arrow", "npy", "joblib"}


def test_bad_returns(make_pkg: Any) -> None:
    pkg = make_pkg([S("a", "x = 1", outputs=("x",))])
    (pkg.dir / "steps" / "a.py").write_text("def a():\n    return {'y': 1}\n")
    r = pkg.run()
    assert r.steps["a"]["error"]["message"] == "step 'a' did not return its output(s) x"
    (pkg.dir / "steps" / "a.py").write_text(
        "import threading\n\ndef a():\n    return {'x': threading.Lock()}\n"
    )
    msg = pkg.run().steps["a"]["error"]["message"]
    assert msg.startswith("step 'a': output 'x' cannot be stored: TypeError")


def test_syntax_error_in_a_step(make_pkg: Any) -> None:
    pkg = make_pkg([S("a", "x = 1", outputs=("x",))])
    (pkg.dir / "steps" / "a.py").write_text(
        "def a():\n    # cell 4\n    x = (\n    return {'x': x}\n"
    )
    err = pkg.run().steps["a"]["error"]
    assert err["type"] == "SyntaxError" and err["cell"] == 4


def test_corrupted_artifact_is_named_then_recomputed(diamond: Any) -> None:
    first = diamond.run()
    ref = first.outputs["load"]["rows"]
    path = first.store_dir / "objects" / ref.hash[:2] / f"{ref.hash}.{ref.format}"
    path.write_bytes(path.read_bytes().replace(b"a", b"z"))
    r = diamond.run(params={"k": 5})  # left must load rows again
    assert statuses(r)["left"] == "failed"
    msg = r.steps["left"]["error"]["message"]
    assert "step 'left': input 'rows' (from step 'load')" in msg and str(path) in msg
    assert "corrupted" in msg
    again = diamond.run(params={"k": 5})
    assert statuses(again) == {"load": "ok", "left": "ok", "right": "cached", "join": "ok"}
    assert again.load("left", "left_out") == ["aaaaa", "bbbbb", "ccccc"]


def test_independent_branch_continues_after_a_failure(diamond: Any) -> None:
    steps = diamond_steps()
    diamond.write_step(S(**{**steps[1].__dict__, "body": "raise RuntimeError('left broke')"}))
    r = diamond.run()
    assert statuses(r) == {"load": "ok", "left": "failed", "right": "ok", "join": "skipped"}


def test_gate_check_reports_its_own_cell_and_line(make_pkg: Any) -> None:
    body = "# cell 9\ncheck(value > 0, 'must be positive', text='value > 0', cell=9, line=3, values={'value': value})"
    steps = [
        S("make", "value = -2", outputs=("value",)),
        S(
            "gate",
            body,
            inputs={"value": "make"},
            kind="gate",
            imports="from nb2pipe.runtime import check",
        ),
    ]
    err = make_pkg(steps).run().steps["gate"]["error"]
    assert (err["kind"], err["cell"], err["line"]) == ("gate", 9, 3)
    assert err["message"] == (
        "gate 'gate' failed: check failed (cell 9, line 3): assert value > 0; "
        "message: must be positive; values: value=-2"
    )


def test_refuses_a_newer_spec(diamond: Any) -> None:
    from dataclasses import replace

    from nb2pipe.runtime import run
    from nb2pipe.runtime.errors import UsageError

    newer = replace(diamond.pipeline(), spec_version=99, generated_by="9.0")
    with pytest.raises(UsageError, match="generated by nb2pipe 9.0 for runtime spec 99"):
        run(newer, runs_dir=diamond.runs, progress="none")


def test_line_found_in_the_notebook_when_the_code_was_reformatted(make_pkg: Any) -> None:
    import json

    # In the notebook, cell 3 has a magic and a comment the generated code does not keep.
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title"]},
        {"cell_type": "code", "metadata": {}, "source": ["x = 1"]},
        {
            "cell_type": "code",
            "metadata": {},
            "source": ["%time y = 1\n", "# note\n", "z = {'a': 1}['b']\n"],
        },
    ]
    pkg = make_pkg([S("a", '# cell 3\ny = 1\nz = {"a": 1}["b"]', outputs=("z",))])
    (pkg.workdir / "nb.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4}))
    err = pkg.run().steps["a"]["error"]
    assert (err["cell"], err["line"]) == (3, 3)
    (pkg.workdir / "nb.ipynb").unlink()  # no notebook: the offset after the marker
    assert pkg.run().steps["a"]["error"]["line"] == 2
