"""%load_ext nb2pipe and %nb2pipe in a real IPython kernel (jupyter_client, kernel python3)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nb2pipe.frontends import ipython as magic

pytestmark = pytest.mark.integration


class Kernel:
    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        from jupyter_client import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code: str) -> tuple[list[dict[str, Any]], str, str]:
        """(display_data bundles, stdout, stderr) of one execution, which must succeed."""
        outputs: list[dict[str, Any]] = []
        reply = self.kc.execute_interactive(code, output_hook=outputs.append, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        shown = [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"]
        streams = {"stdout": "", "stderr": ""}
        for m in outputs:
            if m["msg_type"] == "stream":
                streams[m["content"]["name"]] += m["content"]["text"]
        return shown, streams["stdout"], streams["stderr"]

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    return {**env, **extra}


@pytest.fixture
def workdir(samples_dir: Path, tmp_path: Path) -> Path:
    shutil.copy(samples_dir / "wine_classifier.ipynb", tmp_path / "wine.ipynb")
    return tmp_path


@pytest.fixture
def kernel(workdir: Path) -> Iterator[Kernel]:
    k = Kernel(workdir, _env())
    yield k
    k.close()


def test_inspect_with_the_notebook_path(kernel: Kernel, workdir: Path):
    shown, _, err = kernel.run("%load_ext nb2pipe")
    assert shown == [] and "Error" not in err
    shown, _, err = kernel.run(f"%nb2pipe inspect {workdir / 'wine.ipynb'}")
    assert len(shown) == 1, err
    html, text = shown[0]["text/html"], shown[0]["text/plain"]
    for step in ("load", "check_load", "split", "train_forest", "evaluate", "check_evaluate"):
        assert f'<tr data-step="{step}">' in html
    assert "wine: 7 steps (split by tags)" in text
    assert "check_load (gate): cells 7; in: df <- load" in text
    assert "note: %matplotlib dropped" in text  # the diagnostics
    assert "saved " in html  # says which file and when it was saved
    assert "<script" not in html


def test_graph_finds_the_notebook_from_the_session(workdir: Path):
    k = Kernel(workdir, _env(JPY_SESSION_NAME=str(workdir / "wine.ipynb")))
    try:
        k.run("%load_ext nb2pipe")
        _, out, _ = k.run("print(__session__)")  # set by ipykernel from JPY_SESSION_NAME
        assert out.strip() == str(workdir / "wine.ipynb")
        shown, _, err = k.run("%nb2pipe graph")
        assert len(shown) == 1, err
        html = shown[0]["text/html"]
        assert html.count('<g class="node ') == 7 and html.count('class="node gate') == 2
        assert 'data-vars="X_train,y_train"' in html
        assert shown[0]["text/plain"].splitlines()[1] == "flowchart TD"
    finally:
        k.close()


def test_relative_session_path_and_errors(kernel: Kernel, workdir: Path):
    kernel.run("%load_ext nb2pipe")
    kernel.run("__session__ = 'some/server/root/wine.ipynb'")  # relative to the server's root
    shown, _, _ = kernel.run("%nb2pipe inspect --split-on h2")
    assert len(shown) == 1
    kernel.run("del __session__")
    shown, _, err = kernel.run("%nb2pipe inspect")
    assert shown == [] and "cannot tell which notebook" in err
    shown, _, err = kernel.run("%nb2pipe graph missing.ipynb")
    assert shown == [] and "missing.ipynb: no such file" in err
    shown, _, err = kernel.run("%nb2pipe draw")
    assert shown == [] and "invalid choice" in err and "usage:" in err


def test_find_notebook_order(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "b.ipynb").write_text("{}")
    ns = {"__session__": str(tmp_path / "a.ipynb"), "__vsc_ipynb_file__": "b.ipynb"}
    assert magic.find_notebook("given.ipynb", ns, {}) == Path("given.ipynb")
    assert magic.find_notebook(None, ns, {}) == tmp_path / "a.ipynb"
    assert magic.find_notebook(None, {}, {"JPY_SESSION_NAME": "x/b.ipynb"}) == tmp_path / "b.ipynb"
    assert magic.find_notebook(None, {"__vsc_ipynb_file__": "b.ipynb"}, {}) == Path("b.ipynb")
    with pytest.raises(magic.MagicUsage):
        magic.find_notebook(None, {"__session__": "nope.ipynb"}, {})
