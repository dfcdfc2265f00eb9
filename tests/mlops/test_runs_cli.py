"""`nb2pipe runs list|show|compare|gc`, `nb2pipe models list|show|promote` and
`nb2pipe drift` through typer's CliRunner, on runs made in this process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlops_helpers import TINY, convert, forget, run_inline, write_values
from typer.testing import CliRunner

from nb2pipe.frontends.cli import app
from nb2pipe.mlops import runs


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")  # tables unwrapped, whatever the terminal
    return CliRunner()


@pytest.fixture
def history(tmp_path: Path) -> Iterator[Path]:
    """Four runs: a first one, a cached one, a retrain on new data, a failed gate."""
    package = convert(tmp_path, TINY)
    write_values(tmp_path, [1, 2, 3, 7, 8, 9])
    assert run_inline(tmp_path, package, run_id="r1").ok
    assert run_inline(tmp_path, package, run_id="r2").ok
    write_values(tmp_path, [1, 2, 3, 7, 8, 9, 10])
    assert run_inline(tmp_path, package, run_id="r3", param_args=["shift=0.5"]).ok
    write_values(tmp_path, [-1, 2])
    assert not run_inline(tmp_path, package, run_id="r4").ok
    yield tmp_path
    forget(package)


def invoke(cli: CliRunner, folder: Path, *args: str):
    old = os.getcwd()
    os.chdir(folder)
    try:
        return cli.invoke(app, list(args))
    finally:
        os.chdir(old)


def test_runs_list(cli: CliRunner, history: Path) -> None:
    result = invoke(cli, history, "runs", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["run_id"] for r in data] == ["r4", "r3", "r2", "r1"]
    assert [r["status"] for r in data] == ["failed", "ok", "ok", "ok"]
    assert data[2]["steps"] == {"cached": 5}
    assert data[1]["metrics"] == {"error": 0.0, "score": 1.0}
    assert data[1]["models"]["threshold"]["version"] == 2
    table = invoke(cli, history, "runs", "list")
    assert table.exit_code == 0
    for text in ("r1", "r4", "failed", "threshold:2"):
        assert text in table.stdout
    assert (
        json.loads(invoke(cli, history, "runs", "list", "-n", "1", "--json").stdout)[0]["run_id"]
        == "r4"
    )


def test_runs_show(cli: CliRunner, history: Path) -> None:
    shown = invoke(cli, history, "runs", "show", "r3")
    assert shown.exit_code == 0, shown.output
    for text in ("r3", "shift", "0.5", "error", "lower", "evaluate", "threshold", "new version"):
        assert text in shown.stdout
    failed = invoke(cli, history, "runs", "show", "latest")
    assert "check_load" in failed.stdout and "failed" in failed.stdout
    raw = json.loads(invoke(cli, history, "runs", "show", "r1", "--json").stdout)
    assert raw["run_id"] == "r1" and raw["metric_directions"]["error"] == "lower"
    missing = invoke(cli, history, "runs", "show", "nope")
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output
    ambiguous = invoke(cli, history, "runs", "show", "r")
    assert ambiguous.exit_code == 2 and "matches 4 runs" in ambiguous.output


def test_runs_compare(cli: CliRunner, history: Path) -> None:
    data = runs.compare(["r1", "r3", "r4"], history / "runs")
    assert data["parameters"]["shift"] == {"values": [0.0, 0.5, 0.0], "differs": True}
    assert data["parameters"]["max_error"]["differs"] is False
    assert data["metrics"]["error"]["direction"] == "lower"
    assert data["metrics"]["error"]["values"] == [0.0, 0.0, None]
    assert data["metrics"]["error"]["best"] is None  # a tie
    assert data["steps"]["train"]["status"] == ["ok", "ok", "skipped"]
    result = invoke(cli, history, "runs", "compare", "r1", "r3", "r4")
    assert result.exit_code == 0, result.output
    for text in ("param shift", "metric error", "step train", "skipped", "failed"):
        assert text in result.stdout
    as_json = json.loads(invoke(cli, history, "runs", "compare", "r1", "r2", "--json").stdout)
    assert [r["run_id"] for r in as_json["runs"]] == ["r1", "r2"]
    one = invoke(cli, history, "runs", "compare", "r1")
    assert one.exit_code == 2 and "at least two runs" in one.output


def test_best_of_a_metric() -> None:
    assert runs._best(["a", "b", "c"], [0.5, 0.9, None], "higher") == "b"
    assert runs._best(["a", "b"], [0.5, 0.9], "lower") == "a"
    assert runs._best(["a", "b"], [0.5, "x"], "lower") is None


def _objects(folder: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (folder / "runs" / "store" / "objects").glob("*/*")}


def _hashes(rec: dict) -> set[str]:
    out = set()
    for step in rec["steps"].values():
        for key in ("inputs", "outputs"):
            out |= {r["hash"] for r in (step.get(key) or {}).values()}
    return out


def test_runs_gc(cli: CliRunner, history: Path) -> None:
    base = history / "runs"
    before = _objects(history)
    r1 = json.loads((base / "r1" / "run.json").read_text())
    r3 = json.loads((base / "r3" / "run.json").read_text())
    r4 = json.loads((base / "r4" / "run.json").read_text())
    only_old = _hashes(r1) - _hashes(r3) - _hashes(r4)
    assert only_old and only_old <= before

    dry = invoke(cli, history, "runs", "gc", "--keep", "2", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    assert plan["removed"] == ["r1", "r2"] and plan["dry_run"] is True
    assert (base / "r1").is_dir() and _objects(history) == before

    done = invoke(cli, history, "runs", "gc", "--keep", "2")
    assert done.exit_code == 0, done.output
    assert "removed 2 run(s)" in done.stdout
    assert not (base / "r1").exists() and not (base / "r2").exists()
    assert (base / "r3").is_dir() and (base / "r4").is_dir()
    after = _objects(history)
    assert after & only_old == set()  # artifacts only the removed runs used are gone
    assert _hashes(r3) | _hashes(r4) <= after  # what kept runs used stays
    assert (base / "registry" / "threshold").is_dir()  # models are not affected
    # cache entries made by removed runs go, unless a kept run used them
    used = {s.get("cache_key") for rec in (r3, r4) for s in rec["steps"].values()}
    for entry in (base / "store" / "steps").glob("*/*.json"):
        data = json.loads(entry.read_text())
        key = data.get("key") or entry.name.split(".")[-2]
        assert data["run_id"] in ("r3", "r4") or key in used, entry.name


def test_gc_keeps_running_runs_and_their_new_artifacts(history: Path) -> None:
    base = history / "runs"
    rec = json.loads((base / "r1" / "run.json").read_text())
    rec["status"] = "running"  # its pid is this test process: alive
    (base / "r1" / "run.json").write_text(json.dumps(rec))
    dead = json.loads((base / "r2" / "run.json").read_text())
    dead["status"], dead["pid"] = "running", 2**22 + 12345  # killed: no such process
    (base / "r2" / "run.json").write_text(json.dumps(dead))
    result = runs.gc(base, 0)
    assert result.kept == ["r1"] and sorted(result.removed) == ["r2", "r3", "r4"]
    assert (base / "r1").is_dir()
    with pytest.raises(runs.RunsError, match="--keep must be >= 0"):
        runs.gc(base, -1)


def test_models_commands(cli: CliRunner, history: Path) -> None:
    listed = invoke(cli, history, "models", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["champion"], row["versions"], row["run_id"]) == (
        "threshold",
        2,
        2,
        "r3",
    )
    table = invoke(cli, history, "models", "list")
    assert "threshold" in table.stdout and "champion" in table.stdout

    shown = json.loads(invoke(cli, history, "models", "show", "threshold", "--json").stdout)
    assert shown["version"]["version"] == 2 and shown["version"]["aliases"] == ["champion"]
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    one = json.loads(invoke(cli, history, "models", "show", "threshold:1", "--json").stdout)
    assert one["version"]["run_id"] == "r1" and "versions" not in one
    text = invoke(cli, history, "models", "show", "threshold").stdout
    for fact in ("threshold:2", "champion", "r3", "train / model", "error", "data.json"):
        assert fact in text

    promoted = invoke(cli, history, "models", "promote", "threshold:1")
    assert promoted.exit_code == 0 and "threshold:1 is now champion" in promoted.stdout
    import nb2pipe

    assert nb2pipe.load_model("threshold", runs_dir=history / "runs") == {"cut": 5.0}

    for args, message in (
        (["models", "show", "nope"], "no model 'nope'"),
        (["models", "show", "threshold:9"], "no version 9"),
        (["models", "show", "../x"], "invalid model name"),
        (["models", "promote", "threshold"], "give a version number"),
        (["models", "list", "--tracking", "neptune"], "unknown tracking backend"),
    ):
        bad = invoke(cli, history, *args)
        assert bad.exit_code == 2 and message in bad.output, (args, bad.output)
        assert "Traceback" not in bad.output


def test_drift_command(cli: CliRunner, history: Path) -> None:
    import pandas as pd

    pd.DataFrame({"values": [1, 2, 3, 7, 8, 9, 10]}).to_csv(history / "same.csv", index=False)
    pd.DataFrame({"values": [20, 30, 40, 50, 60]}).to_csv(history / "new.csv", index=False)
    same = invoke(cli, history, "drift", "threshold", "--data", "same.csv")
    assert same.exit_code == 0, same.output
    assert "no drift" in same.stdout
    drifted = invoke(cli, history, "drift", "threshold", "--data", "new.csv", "--json")
    assert drifted.exit_code == 1
    report = json.loads(drifted.stdout)
    assert report["drifted"] == ["values"] and report["version"] == 2
    assert report["features"][0]["status"] == "drift"
    ks = invoke(cli, history, "drift", "threshold:1", "--data", "new.csv", "--method", "ks")
    assert ks.exit_code == 1 and "KS > 0.1" in ks.stdout
    for args, message in (
        (["--data", "missing.csv"], "no such file"),
        (["--data", "same.csv", "--method", "chi2"], "unknown method"),
        (["--data", "same.csv", "--threshold", "-1"], "--threshold must be"),
    ):
        bad = invoke(cli, history, "drift", "threshold", *args)
        assert bad.exit_code == 2 and message in bad.output, (args, bad.output)
