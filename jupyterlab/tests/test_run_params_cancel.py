"""The panel's run parameters and Cancel through a real (in-process) Jupyter server: typed
values parsed as `nb2pipe run -p` parses them (the CLI's own message for a bad one), secrets
refused, and a cancelled run recorded as interrupted, also when it ignores Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import make_notebook, poll
from nb2pipe_lab import runctl

TYPED = [
    (
        "code",
        ["parameters"],
        "n: int = 4  # how many numbers\n"
        "rate = 0.5\n"
        "flag = True\n"
        'label = "x"\n'
        "items = [1, 2]\n"
        'opts = {"a": 1}\n'
        "depth: int | None = None\n"
        'api_key = "dev"  # secret',
    ),
    ("code", ["step:make"], "xs = list(range(n))\ntotal = sum(xs) * rate"),
]
SLOW = [
    ("code", ["parameters"], "seconds = 60"),
    ("code", ["step:first"], "x = 1"),
    (
        "code",
        ["step:slow"],
        "import time\nfor _ in range(seconds * 10):\n    time.sleep(0.1)\ny = x",
    ),
    ("code", ["step:after"], "z = y + 1"),
]
STUBBORN = [  # ignores Ctrl-C, as user code stuck in a long C call does
    ("code", ["step:first"], "x = 1"),
    (
        "code",
        ["step:stuck"],
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(120)\ny = x",
    ),  # fmt: skip
]


@pytest.fixture
def typed(jp_root_dir: Path, monkeypatch: Any) -> Path:
    monkeypatch.setenv("API_KEY", "from-the-environment")
    return make_notebook(jp_root_dir / "typed.ipynb", TYPED)


async def test_run_with_typed_parameters(call: Any, typed: Path):
    code, data = await call("inspect", {"path": "typed.ipynb"})
    params = {p["name"]: p for p in data["inspect"]["parameters"]}
    assert params["api_key"]["secret"] and params["api_key"]["default"] is None
    assert (params["n"]["type"], params["depth"]["optional"]) == ("int", True)
    overrides = {
        "n": "7", "rate": "0.25", "flag": "false", "label": "hello world", "items": "[3]",
        "opts": '{"b": 2}', "depth": "null",
    }  # fmt: skip
    code, started = await call("run", {"path": "typed.ipynb", "params": overrides})
    assert code == 200 and started["ok"], started
    done = await poll(call, "run", path="typed.ipynb", id=started["run_id"])
    assert done["status"] == "ok", done
    record = json.loads((typed.parent / "runs" / started["run_id"] / "run.json").read_text())
    assert record["parameters"] == {
        "n": 7, "rate": 0.25, "flag": False, "label": "hello world", "items": [3],
        "opts": {"b": 2}, "depth": None,
    }  # fmt: skip
    assert record["secret_parameters"] == ["api_key"]
    assert "from-the-environment" not in json.dumps(record)
    # the overrides reached the step: total = sum(range(7)) * 0.25
    _, again = await call("run", {"path": "typed.ipynb", "params": {"n": "3"}})
    done = await poll(call, "run", path="typed.ipynb", id=again["run_id"])
    record = json.loads((typed.parent / "runs" / again["run_id"] / "run.json").read_text())
    assert record["parameters"]["n"] == 3 and record["parameters"]["rate"] == 0.5


def cli_error(notebook: Path, arg: str) -> str:
    """What `nb2pipe run DIR -p arg` says (the package converted beside the notebook)."""
    nb2pipe = [sys.executable, "-c", "from nb2pipe.frontends.cli import main; main()"]
    out = notebook.parent / "pipelines" / "typed_cli"
    subprocess.run([*nb2pipe, "convert", str(notebook), "-o", str(out), "-q"], check=True,
                   cwd=notebook.parent, timeout=120)  # fmt: skip
    done = subprocess.run([*nb2pipe, "run", str(out), "-p", arg], capture_output=True,
                          text=True, cwd=notebook.parent, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    return done.stderr.strip()


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"n": "seven"}, "n", "parameter 'n' expects int, got 'seven'"),
        ({"rate": "fast"}, "rate", "parameter 'rate' expects float, got 'fast'"),
        ({"flag": "perhaps"}, "flag", "expects bool (true/false), got 'perhaps'"),
        ({"items": '{"a": 1}'}, "items", "parameter 'items' expects list"),
        ({"opts": "[1"}, "opts", "parameter 'opts' expects dict"),
        ({"n": ""}, "n", "parameter 'n' expects int"),
        ({"api_key": "leaked"}, "api_key", "is secret"),
        ({"nope": "1"}, "nope", "unknown parameter 'nope'"),
        ({"n": 7}, "n", "send the value as text"),
    ],
)
async def test_bad_parameters_start_nothing(call: Any, typed: Path, params: Any, param: str,
                                            words: str):  # fmt: skip
    code, data = await call("run", {"path": "typed.ipynb", "params": params})
    assert code == 200 and not data["ok"], data
    assert data["param"] == param and words in data["error"]["message"], data
    assert not (typed.parent / "runs").exists() and not (typed.parent / "pipelines").exists()


async def test_bad_values_are_refused_with_the_cli_message(call: Any, typed: Path):
    for name, text in (("n", "seven"), ("opts", "[1")):
        _, data = await call("run", {"path": "typed.ipynb", "params": {name: text}})
        assert data["error"]["message"] in cli_error(typed, f"{name}={text}")


async def test_params_must_be_an_object(call: Any, typed: Path):
    code, data = await call("run", {"path": "typed.ipynb", "params": ["n=3"]})
    assert code == 400 and "params" in data["error"]["message"]


async def wait_step(call: Any, path: str, run_id: str, step: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        _, data = await call("run", path=path, id=run_id)
        if any(s["step"] == step and s["status"] == "running" for s in data.get("steps") or []):
            return
        assert not data["done"] and time.monotonic() < deadline, data
        await asyncio.sleep(0.2)


async def test_cancel_a_running_run(call: Any, jp_root_dir: Path):
    make_notebook(jp_root_dir / "slow.ipynb", SLOW)
    _, started = await call("run", {"path": "slow.ipynb"})
    run_id = started["run_id"]
    await wait_step(call, "slow.ipynb", run_id, "slow")
    began = time.monotonic()
    code, data = await call("run/cancel", {"path": "slow.ipynb", "id": run_id})
    assert code == 200 and data == {"ok": True, "status": "interrupted"}
    assert time.monotonic() - began < 20  # Ctrl-C stops the 60 s step at once
    _, status = await call("run", path="slow.ipynb", id=run_id)
    assert status["done"] and status["status"] == "interrupted", status
    steps = {s["step"]: s for s in status["steps"]}
    assert steps["first"]["status"] == "ok" and steps["after"]["status"] == "skipped"
    assert (
        steps["slow"]["status"] == "failed" and "interrupted" in steps["slow"]["error"]["message"]
    )
    record = json.loads((jp_root_dir / "runs" / run_id / "run.json").read_text())
    assert record["status"] == "interrupted" and record["end"]
    # again: it has finished; an unknown run or another notebook's is a bad request
    _, data = await call("run/cancel", {"path": "slow.ipynb", "id": run_id})
    assert data == {"ok": True, "status": "finished"}
    make_notebook(jp_root_dir / "other.ipynb", SLOW)
    for body in ({"path": "slow.ipynb", "id": "nope"}, {"path": "other.ipynb", "id": run_id}):
        code, data = await call("run/cancel", body)
        assert code == 400 and "no such run" in data["error"]["message"]


async def test_cancel_right_after_start(call: Any, jp_root_dir: Path):
    make_notebook(jp_root_dir / "slow.ipynb", SLOW)
    _, started = await call("run", {"path": "slow.ipynb"})
    _, data = await call("run/cancel", {"path": "slow.ipynb", "id": started["run_id"]})
    assert data["status"] == "interrupted"
    _, status = await call("run", path="slow.ipynb", id=started["run_id"])
    assert status["done"] and status["status"] == "interrupted", status


async def test_a_run_that_ignores_ctrl_c_is_killed(call: Any, jp_root_dir: Path, monkeypatch: Any):
    monkeypatch.setattr(runctl, "GRACE", 2.0)
    make_notebook(jp_root_dir / "stubborn.ipynb", STUBBORN)
    _, started = await call("run", {"path": "stubborn.ipynb"})
    run_id = started["run_id"]
    await wait_step(call, "stubborn.ipynb", run_id, "stuck")
    _, data = await call("run/cancel", {"path": "stubborn.ipynb", "id": run_id})
    assert data["status"] == "interrupted"
    _, status = await call("run", path="stubborn.ipynb", id=run_id)
    assert status["done"] and status["status"] == "interrupted", status
    assert {s["step"]: s["status"] for s in status["steps"]} == {"first": "ok", "stuck": "failed"}
    record = json.loads((jp_root_dir / "runs" / run_id / "run.json").read_text())
    assert record["status"] == "interrupted" and "was killed" in record["error"]
    assert record["duration"] > 0
