"""run.json, logs, figures, secrets; --only/--from/--until."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from runtime_helpers import S, statuses

from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.records import parse_iso


def test_run_json(diamond: Any) -> None:
    r = diamond.run(run_id="first")
    data = json.loads((diamond.runs / "first" / "run.json").read_text())
    assert data["schema"] == 1 and data["run_id"] == "first" and data["status"] == "ok"
    assert data["parameters"] == {"k": 2} and data["pipeline"] == diamond.name
    assert data["notebook_sha256"] == "0" * 64 and data["generated_by"] == "0.1.0"
    assert data["versions"]["python"].count(".") == 2 and "nb2pipe" in data["versions"]
    assert parse_iso(data["start"]) <= parse_iso(data["end"])
    join = data["steps"]["join"]
    assert join["status"] == "ok" and join["duration"] >= 0 and join["log"] == "logs/join.log"
    assert set(join["inputs"]) == {"left_out", "right_out"}
    assert join["inputs"]["left_out"]["step"] == "left"
    out = join["outputs"]["total"]
    assert len(out["hash"]) == 32 and out["size"] == 1 and out["format"] == "json"
    assert data["metrics"] == {"total": 7} and join["metrics"] == {"total": 7}
    assert r.steps == data["steps"]
    with pytest.raises(UsageError, match="already exists"):
        diamond.run(run_id="first")
    with pytest.raises(UsageError, match="run-id"):
        diamond.run(run_id="../x")


def test_logs_capture_print_stderr_and_subprocesses(
    make_pkg: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    body = (
        "print('to stdout')\n"
        "print('to stderr', file=sys.stderr)\n"
        f"subprocess.run([{sys.executable!r}, '-c', 'print(\"from a child\")'], check=True)\n"
        "x = 1"
    )
    pkg = make_pkg([S("talk", body, outputs=("x",), imports="import subprocess\nimport sys")])
    r = pkg.run()
    log = (r.run_dir / "logs" / "talk.log").read_text()
    assert "to stdout" in log and "to stderr" in log and "from a child" in log
    out, err = capfd.readouterr()
    assert "to stdout" not in out + err and "from a child" not in out + err
    pkg.run(force=True, verbose=True, progress="plain")  # --verbose echoes as well
    out, _ = capfd.readouterr()
    assert "to stdout" in out and "from a child" in out


def test_figures_left_open_are_saved(make_pkg: Any) -> None:
    body = "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.figure()\nx = 1"
    pkg = make_pkg([S("plot", body, outputs=("x",), imports="import matplotlib.pyplot as plt")])
    r = pkg.run()
    assert r.steps["plot"]["figures"] == ["figures/plot-1.png", "figures/plot-2.png"]
    png = (r.run_dir / "figures" / "plot-1.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []


def test_secrets_stay_out_of_records_and_logs(
    make_pkg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "hunter2-secret")
    pkg = make_pkg(
        [
            S(
                "call",
                "print('using', token)\nok = len(token)",
                outputs=("ok",),
                params=("token", "url"),
            )
        ],
        [("token", str, None, {"optional": True, "secret": True, "env": "API_TOKEN"})],
        derive="def derive(token, **_):\n    return {'url': f'https://x.org/?key={token}'}\n",
        derived=("url",),
    )
    r = pkg.run()
    assert r.ok and r.load("call", "ok") == len("hunter2-secret")
    text = (r.run_dir / "run.json").read_text() + (r.run_dir / "logs" / "call.log").read_text()
    assert "hunter2" not in text and "using ***" in text
    assert json.loads((r.run_dir / "run.json").read_text())["secret_parameters"] == ["token"]


def test_only_from_until(diamond: Any) -> None:
    with pytest.raises(UsageError, match="needs 'left_out' from step 'left'.*--until left"):
        diamond.run(only=["join"])
    assert not [p for p in diamond.runs.glob("*/run.json")]
    r = diamond.run(until="left")
    assert statuses(r) == {"load": "ok", "left": "ok", "right": "skipped", "join": "skipped"}
    assert r.steps["right"]["reason"] == "not selected"
    r = diamond.run(only=["right"])
    assert statuses(r) == {"load": "cached", "left": "skipped", "right": "ok", "join": "skipped"}
    assert r.steps["load"]["reason"].startswith("not selected: outputs of run")
    r = diamond.run(from_step="right")
    assert statuses(r)["join"] == "ok" and statuses(r)["right"] == "cached"
    assert statuses(r)["left"] == "cached"  # provider, matched by its cache key
    assert r.load("join", "total") == 7


def test_only_uses_latest_result_when_upstream_changed(diamond: Any) -> None:
    diamond.run()
    r = diamond.run(only=["join"], params={"k": 5})  # left's result for k=5 does not exist
    assert r.steps["left"]["stale"] is True and statuses(r)["join"] == "cached"


def test_cwd_option(diamond: Any, tmp_path: Any) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "data.csv").write_text("x\n")
    r = diamond.run(cwd=other)
    assert r.load("load", "n") == 1
    with pytest.raises(UsageError, match="does not exist"):
        diamond.run(cwd=tmp_path / "nope")


def test_record_rewrites_space_out_as_the_record_grows(tmp_path: Any) -> None:
    """run.json is rewritten whole: the wait between two rewrites grows with what a
    rewrite costs (20x), so a run of many steps does not spend its time rewriting it."""
    import os

    from nb2pipe.runtime.records import RunRecord

    big = {f"s{i:05d}": {"status": "ok", "notes": ["x" * 40] * 5} for i in range(20_000)}
    record = RunRecord(tmp_path, {"run_id": "r", "steps": big}, interval=0.0)
    record.save(force=True)
    assert record.gap > 0  # 20x a multi-megabyte write
    before = os.stat(record.path).st_mtime_ns
    record.step("s00000")["status"] = "failed"
    record.save()  # within the gap: kept for later
    assert record.dirty and os.stat(record.path).st_mtime_ns == before
    record.save(force=True)
    assert json.loads(record.path.read_text())["steps"]["s00000"]["status"] == "failed"
    assert not record.dirty
