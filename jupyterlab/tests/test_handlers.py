"""nb2pipe_lab's endpoints through a real (in-process) Jupyter server: authentication, the live
analysis of unsaved content, errors as one line with their cell, convert, run with live
status and its report, verify, and paths kept inside the server's root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import SMALL, make_notebook, poll
from nb2pipe_lab import service

NB = "work/small.ipynb"


def content(cells: list[tuple[str, list[str], str]]) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
        "cells": [
            {"cell_type": k, "id": f"c{i}", "metadata": {"tags": t} if t else {}, "source": s,
             **({"outputs": [], "execution_count": None} if k == "code" else {})}
            for i, (k, t, s) in enumerate(cells)
        ],
    }  # fmt: skip


async def test_endpoints_need_authentication(jp_fetch: Any, small: Path):
    for method, name, body, params in [
        ("POST", "inspect", json.dumps({"path": NB}), None),
        ("POST", "graph", json.dumps({"path": NB}), None),
        ("POST", "convert", json.dumps({"path": NB}), None),
        ("POST", "run", json.dumps({"path": NB}), None),
        ("POST", "verify", json.dumps({"path": NB}), None),
        ("GET", "run", None, {"path": NB, "id": "x"}),
        ("GET", "verify", None, {"id": "x"}),
    ]:
        r = await jp_fetch(
            "nb2pipe", name, method=method, body=body, params=params,
            headers={"Authorization": "token wrong"}, raise_error=False,
        )  # fmt: skip
        assert r.code == 403, (name, r.code)
    r = await jp_fetch(
        "nb2pipe", "report", params={"path": NB, "run": "x"},
        headers={"Authorization": "token wrong"}, raise_error=False, follow_redirects=False,
    )  # fmt: skip
    assert r.code in (302, 403)  # a page: sent to the login form
    assert not (small.parent / "pipelines").exists()


async def test_inspect_saved_notebook(call: Any, small: Path):
    code, data = await call("inspect", {"path": NB})
    assert code == 200 and data["ok"], data
    info = data["inspect"]
    assert info["notebook"] == NB
    assert [s["name"] for s in info["steps"]] == ["make", "total"]
    assert info["steps"][1]["inputs"] == {"xs": "make"}
    assert info["parameters"][0] | {"cell": 2} == info["parameters"][0]
    assert (
        info["parameters"][0]["type"] == "int"
        and info["parameters"][0]["help"] == "how many numbers"
    )
    assert [(c["index"], c["role"], c["step"]) for c in data["cells"]] == [
        (1, None, None), (2, "parameters", None), (3, None, None), (4, "step", "make"),
        (5, "step", "total"),
    ]  # fmt: skip
    assert all(c["id"] for c in data["cells"])
    # the DAG drawn by nb2pipe's own renderer (what `nb2pipe graph` draws)
    assert '<svg class="dag"' in data["graph"]
    assert 'data-step="make"' in data["graph"] and 'data-src="make"' in data["graph"]


async def test_inspect_reads_unsaved_content_not_the_file(call: Any, small: Path):
    cells = [*SMALL, ("code", ["step:double"], "doubled = [2 * x for x in xs]")]
    code, data = await call("inspect", {"path": NB, "content": content(cells)})
    assert code == 200 and data["ok"], data
    assert [s["name"] for s in data["inspect"]["steps"]] == ["make", "total", "double"]
    assert [c["id"] for c in data["cells"]] == [f"c{i}" for i in range(6)]
    assert 'data-step="double"' in data["graph"]
    # the file on disk is untouched and nothing was written beside it
    assert "double" not in small.read_text()
    assert sorted(p.name for p in small.parent.iterdir()) == ["small.ipynb"]


async def test_analysis_errors_name_their_cell_without_a_traceback(call: Any, small: Path):
    cells = [*SMALL[:4], ("code", ["step:total"], "total = sum(ys)")]
    code, data = await call("inspect", {"path": NB, "content": content(cells)})
    assert code == 200 and not data["ok"]
    err = data["error"]
    assert err["cell"] == 5 and err["line"] == 1 and "ys" in err["message"]
    assert "Traceback" not in json.dumps(data)
    assert data["cells"] is not None  # the tags were read: badges still work

    bad = [*SMALL, ("code", ["step:make"], "ys = 1")]  # a step name used again
    code, data = await call("inspect", {"path": NB, "content": content(bad)})
    assert not data["ok"] and data["error"]["cell"] == 6, data
    assert data["error"]["kind"] == "TagError"


async def test_graph_is_nb2pipe_graph_drawing(call: Any, small: Path):
    from nb2pipe.viz.graph import load
    from nb2pipe.viz.pages import dag_fragment

    code, data = await call("graph", {"path": NB})
    assert code == 200 and data["ok"]
    # byte for byte what nb2pipe's renderer draws for the notebook
    expected = dag_fragment(load(small)).replace(str(small), NB)
    assert data["html"] == expected
    cells = [*SMALL[:4], ("code", ["step:total"], "total = sum(ys)")]
    code, data = await call("graph", {"path": NB, "content": content(cells)})
    assert code == 200 and not data["ok"] and data["error"]["cell"] == 5


async def test_unexpected_failures_are_one_line(call: Any, small: Path, monkeypatch: Any):
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("oops")

    monkeypatch.setattr(service, "inspect", boom)
    code, data = await call("inspect", {"path": NB})
    assert code == 200 and not data["ok"]
    assert data["error"]["kind"] == "InternalError"
    assert "KeyError" in data["error"]["message"] and "server log" in data["error"]["message"]
    assert "Traceback" not in json.dumps(data)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"path": "../outside.ipynb"}, "outside"),
        ({"path": "/etc/passwd"}, "not a notebook"),
        ({"path": "work/missing.ipynb"}, "no such notebook"),
        ({"path": NB, "output": "/tmp/abs"}, "relative"),
        ({"path": NB, "output": "../../escape"}, "importable"),
        ({"path": NB, "output": "pipelines/my-pipe"}, "importable"),
        ({}, "no notebook path"),
    ],
)
async def test_bad_requests_are_400_with_a_message(call: Any, small: Path, body: Any, words: str):
    code, data = await call("convert", body)
    assert code == 400, data
    assert words in data["error"]["message"]
    assert not (small.parent / "pipelines").exists()


async def test_bad_json_body(jp_fetch: Any, small: Path):
    r = await jp_fetch("nb2pipe", "inspect", method="POST", body="{not json", raise_error=False)
    assert r.code == 400


async def test_convert_writes_the_package_beside_the_notebook(call: Any, small: Path):
    code, data = await call("convert", {"path": NB, "output": "pipelines/small"})
    assert code == 200 and data["ok"], data
    pkg = small.parent / "pipelines" / "small"
    assert (pkg / "pipeline.py").is_file() and (pkg / "steps" / "total.py").is_file()
    assert data["output_rel"] == "work/pipelines/small" and data["steps"] == 2
    assert "pipeline.py" in data["files"]
    # converted in the notebook's folder, as `nb2pipe convert` typed there
    assert 'workdir="../.."' in (pkg / "pipeline.py").read_text()
    code, again = await call("convert", {"path": NB, "output": "pipelines/small"})
    assert again["ok"] and again["files"] == data["files"]  # the same package again


async def test_convert_writes_only_what_nb2pipe_owns(call: Any, small: Path):
    """The same rule as `nb2pipe convert`: a folder it did not generate is refused, and
    in its own package the user's files stay."""
    mine = small.parent / "analysis"
    (mine / ".git" / "refs" / "tags").mkdir(parents=True)
    (mine / "notes.md").write_text("mine\n")
    (mine / "pipeline.py").write_text("# my own pipeline\n")
    code, data = await call("convert", {"path": NB, "output": "analysis"})
    assert code == 200 and not data["ok"], data
    assert "not a package nb2pipe generated" in data["error"]["message"]
    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*")) == [
        ".git", ".git/refs", ".git/refs/tags", "notes.md", "pipeline.py"
    ]  # fmt: skip
    assert (mine / "pipeline.py").read_text() == "# my own pipeline\n"
    code, data = await call("convert", {"path": NB, "output": "pipelines/small"})
    assert data["ok"], data
    pkg = small.parent / "pipelines" / "small"
    (pkg / "notes.md").write_text("# Generated by nb2pipe? no: my notes\n")
    (pkg / "steps" / "make.py").write_text("# edited\n")
    code, data = await call("convert", {"path": NB, "output": "pipelines/small"})
    assert not data["ok"] and "changed since nb2pipe wrote it" in data["error"]["message"]
    (pkg / "steps" / "make.py").unlink()
    code, data = await call("convert", {"path": NB, "output": "pipelines/small"})
    assert data["ok"], data
    assert (pkg / "notes.md").read_text() == "# Generated by nb2pipe? no: my notes\n"
    assert (pkg / "steps" / "make.py").is_file()


async def test_convert_error_names_the_cell(call: Any, jp_root_dir: Path):
    make_notebook(jp_root_dir / "bad.ipynb", [("code", ["step:a"], "y = x + 1")])
    code, data = await call("convert", {"path": "bad.ipynb"})
    assert code == 200 and not data["ok"]
    assert data["error"]["cell"] == 1 and "x" in data["error"]["message"]
    assert "Traceback" not in json.dumps(data)
    assert not (jp_root_dir / "pipelines").exists()


async def test_run_live_status_report_and_graph(call: Any, small: Path):
    code, started = await call("run", {"path": NB, "output": "pipelines/small"})
    assert code == 200 and started["ok"], started
    run_id = started["run_id"]
    seen: set[str] = set()
    while True:  # poll like the panel does, remembering the statuses it went through
        code, data = await call("run", path=NB, id=run_id)
        seen.add(data["status"])
        if data["done"]:
            break
        import asyncio

        await asyncio.sleep(0.2)
    assert data["status"] == "ok", data
    assert {s["step"]: s["status"] for s in data["steps"]} == {"make": "ok", "total": "ok"}
    assert seen - {"ok"} <= {"starting", "converting", "running"}
    record = json.loads((small.parent / "runs" / run_id / "run.json").read_text())
    assert record["status"] == "ok" and record["parameters"] == {"n": 4}
    assert 'data-status="ok"' in data["graph"]  # the DAG coloured by the run
    assert data["report_url"].endswith(f"nb2pipe/report?path=work/small.ipynb&run={run_id}")
    code, html = await call("report", path=NB, run=run_id)
    assert code == 200 and "<html" in html.lower() and run_id in html


async def test_report_is_sandboxed(jp_fetch: Any, call: Any, small: Path):
    _, started = await call("run", {"path": NB})  # default package folder
    done = await poll(call, "run", path=NB, id=started["run_id"])
    assert done["status"] == "ok" and started["output"] == "work/pipelines/small"
    r = await jp_fetch("nb2pipe", "report", params={"path": NB, "run": started["run_id"]})
    assert r.headers["Content-Type"].startswith("text/html")
    assert "sandbox" in r.headers["Content-Security-Policy"]
    r = await jp_fetch("nb2pipe", "report", params={"path": NB, "run": "nope"}, raise_error=False)
    assert r.code == 404 and b"Traceback" not in r.body


async def test_failed_step_reports_cell_and_line(call: Any, jp_root_dir: Path):
    make_notebook(
        jp_root_dir / "fails.ipynb",
        [
            ("code", ["step:a"], "x = 1"),
            ("code", ["step:b"], "y = x + 1\nraise ValueError('bad value')"),
        ],
    )
    _, started = await call("run", {"path": "fails.ipynb"})
    data = await poll(call, "run", path="fails.ipynb", id=started["run_id"])
    assert data["status"] == "failed"
    steps = {s["step"]: s for s in data["steps"]}
    assert steps["a"]["status"] == "ok" and steps["b"]["status"] == "failed"
    assert steps["b"]["error"]["cell"] == 2 and steps["b"]["error"]["line"] == 2
    assert "bad value" in steps["b"]["error"]["message"]
    assert data["report_url"]


async def test_run_of_a_notebook_that_does_not_convert(call: Any, jp_root_dir: Path):
    make_notebook(jp_root_dir / "bad.ipynb", [("code", ["step:a"], "y = x + 1")])
    _, started = await call("run", {"path": "bad.ipynb"})
    data = await poll(call, "run", path="bad.ipynb", id=started["run_id"])
    assert data["status"] == "error" and data["error"]["cell"] == 1
    code, data = await call("run", path="bad.ipynb", id="unknown-run")
    assert code == 200 and data["status"] == "error" and data["done"]
    code, data = await call("run", path="bad.ipynb", id="../../etc")
    assert code == 400


@pytest.mark.integration
async def test_verify(call: Any, small: Path):
    code, started = await call("verify", {"path": NB})
    assert code == 200 and started["ok"]
    data = await poll(call, "verify", id=started["job"], timeout=300)
    result = data["result"]
    assert result["ok"], result
    assert {(r["step"], r["variable"], r["verdict"]) for r in result["rows"]} == {
        ("make", "xs", "ok"), ("total", "total", "ok"),
    }  # fmt: skip
    code, data = await call("verify", id="verify-unknown")
    assert code == 400


def test_workspace_paths(tmp_path: Path):
    ws = service.Workspace(tmp_path)
    nb = make_notebook(tmp_path / "a b" / "My Notebook.ipynb", SMALL)
    assert ws.notebook("a b/My Notebook.ipynb") == nb
    assert service.default_output(nb) == "pipelines/my_notebook"
    assert ws.output(nb, None) == nb.parent / "pipelines" / "my_notebook"
    assert ws.output(nb, "./pipes/x/") == nb.parent / "pipes" / "x"
    assert service.default_output(Path("2024 report.ipynb")) == "pipelines/nb_2024_report"
    for bad in ("/abs", "..", "a/../../b", "a\\b", "class-x", 3, "a\n/b", "x/y\n\n/z"):
        with pytest.raises(service.LabError):
            ws.output(nb, bad)
    with pytest.raises(service.LabError):
        ws.notebook("a b/\x00.ipynb")
