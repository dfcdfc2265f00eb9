"""Fixtures of the viz tests: a demo notebook converted and run for real (a failed run and a
cached rerun), and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from viz_helpers import env, nb2pipe, notebook_demo  # noqa: E402

REPO = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@dataclass
class Project:
    root: Path
    notebook: Path
    package: str
    runs: list[str]  # run ids, oldest first: [failed run, cached rerun]

    @property
    def pkg_dir(self) -> Path:
        return self.root / self.package

    def run_dir(self, k: int) -> Path:
        return self.root / "runs" / self.runs[k]

    def record(self, k: int) -> dict[str, Any]:
        return json.loads((self.run_dir(k) / "run.json").read_text())


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """demo.ipynb converted to a package, run with limit=1 (gate fails, last step skipped),
    then with the defaults (four steps cached, two run)."""
    root = tmp_path_factory.mktemp("vizproj")
    nb = notebook_demo(root / "demo.ipynb")
    package = f"vdemo_{uuid.uuid4().hex[:8]}"
    done = nb2pipe("convert", str(nb), "-o", package, cwd=root)
    assert done.returncode == 0, done.stderr
    for args, code in ((["-p", "limit=1"], 1), ([], 0)):
        ran = subprocess.run(
            [sys.executable, "-m", package, *args],
            cwd=root, capture_output=True, text=True, timeout=300, env=env(),
        )  # fmt: skip
        assert ran.returncode == code, ran.stdout + ran.stderr
    runs = sorted(p.parent.name for p in (root / "runs").glob("*/run.json"))
    assert len(runs) == 2
    return Project(root, nb, package, runs)


def ensure_chromium() -> str:
    """Debian's chromium, installed through `make chromium` when missing; never downloaded
    by Playwright. A missing browser fails the test: it is not skipped silently."""
    if not Path(CHROMIUM).exists() and shutil.which("make"):
        subprocess.run(["make", "-C", str(REPO), "chromium"], capture_output=True, timeout=900)
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing and `make chromium` could not install it: run "
            "`apt-get install -y --no-install-recommends chromium chromium-driver` as root"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'")
    executable = ensure_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Opened:
    page: Any
    url: str
    requests: list[str]  # every request the page made
    blocked: list[str]  # requests other than the page itself and data: URIs


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """Open a local HTML file with every request routed: the page itself and data: URIs are
    allowed, anything else is aborted and recorded."""
    contexts = []

    def opener(path: Path) -> Opened:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        url = path.resolve().as_uri()
        seen = Opened(ctx.new_page(), url, [], [])

        def route(r: Any) -> None:
            req = r.request.url
            seen.requests.append(req)
            if req == url or req.startswith("data:"):
                r.continue_()
            else:
                seen.blocked.append(req)
                r.abort()

        ctx.route("**/*", route)
        seen.page.on("request", lambda req: seen.requests.append(req.url))
        seen.page.goto(url, wait_until="load")
        return seen

    yield opener
    for ctx in contexts:
        ctx.close()
