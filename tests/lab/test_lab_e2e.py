"""nb2pipe-lab end to end: a real `jupyter lab` on 127.0.0.1 (token auth, a temporary root
holding a copy of sample_notebooks/wine_classifier.ipynb), driven by Playwright in Debian's
headless Chromium. Through the UI only: open the notebook, see the step badges and the DAG,
tag a cell through the cell toolbar menu, see its badge and the DAG update, convert, run, see
the run succeed and its report. Screenshots go to $NB2PIPE_LAB_SCREENSHOTS (default: the
test's temporary folder; `make lab-screenshots` refreshes the README's).

Needs the companion package (`pip install ./jupyterlab`, `make lab-install`): without it the
test is skipped locally and fails under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from notebooks import write_notebook

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("jupyterlab")]

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_notebooks" / "wine_classifier.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
TOKEN = "nb2pipe-e2e-token"
T = 60_000  # ms: generous DOM waits (the first page load compiles nothing, but CI is slow)


# Notebooks of the parameter and cancel tests: (tags, source) cells (tests/notebooks.py).
TYPED = [
    ("parameters", "n: int = 4  # how many numbers\nrate = 0.5\nflag = True\n"
     'label = "x"\nitems = [1, 2]\nopts = {"a": 1}\napi_key = "dev"  # secret'),
    ("step:make", "xs = list(range(n))\ntotal = sum(xs) * rate"),
]  # fmt: skip
SLOW = [
    ("step:first", "x = 1"),
    ("step:slow", "import time\nfor _ in range(1200):\n    time.sleep(0.1)\ny = x"),
    ("step:after", "z = y + 1"),
]

IN_CI = bool(os.environ.get("CI"))  # read at collection: the autouse fixture unsets CI


def _require_lab() -> None:
    try:
        import nb2pipe_lab  # noqa: F401

        import jupyterlab  # noqa: F401
    except ImportError as exc:
        message = (
            f"nb2pipe-lab is not installed ({exc}): pip install ./jupyterlab (make lab-install)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    static = Path(sys.prefix) / "share/jupyter/labextensions/nb2pipe-lab/package.json"
    if not static.is_file():
        pytest.fail(f"the prebuilt lab extension is not installed ({static} is missing)")


def _chromium() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("make"):
        subprocess.run(["make", "-C", str(REPO), "chromium"], capture_output=True, timeout=900)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    url: str
    root: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def get(self, path: str) -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {TOKEN}"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - 127.0.0.1 only
            return json.loads(r.read())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require_lab()
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    shutil.copy(SAMPLE, root / SAMPLE.name)
    for name, cells in (("typed.ipynb", TYPED), ("slow.ipynb", SLOW)):
        write_notebook(root / name, cells)
    port = _free_port()
    env = dict(
        os.environ,
        API_KEY="from-the-environment",  # typed.ipynb's secret parameter
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1",
    )
    # no "get news?" toast over the screenshots
    notes = (
        base
        / "settings"
        / "@jupyterlab"
        / "apputils-extension"
        / "notification.jupyterlab-settings"
    )
    notes.parent.mkdir(parents=True)
    notes.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    log = base / "jupyter.log"
    argv = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    lab = Lab(f"http://127.0.0.1:{port}", root, log, proc)
    deadline = time.monotonic() + 90
    while True:
        try:
            lab.get("/api/status")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("jupyter lab did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.3)
    yield lab
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("NB2PIPE_LAB_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def page(lab: Lab) -> Iterator[Any]:
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1680, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(T)
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()


def cell(page: Any, n: int) -> Any:
    """Cell n (1-based, nb2pipe's numbering) of the open notebook."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(n - 1)


def test_tag_convert_and_run_from_jupyterlab(lab: Lab, page: Any, shots: Path) -> None:
    started = time.monotonic()
    page.goto(f"{lab.url}/lab/tree/{SAMPLE.name}?token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=T)

    # The panel (right side bar): open it and let it analyse the notebook.
    page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id='nb2pipe-lab-panel']").click()
    panel = page.locator("#nb2pipe-lab-panel")
    panel.wait_for(state="visible", timeout=T)
    widen(page, panel, 620)
    panel.locator("svg.dag g.node[data-step='train_forest']").wait_for(timeout=T)
    assert panel.locator("svg.dag g.node").count() == 7
    assert "wine_classifier" in panel.locator(".nb2pipe-lab-summary").inner_text()
    params = panel.locator("table.nb2pipe-lab-params tbody tr")
    assert params.count() == 7
    assert "n_estimators" in params.nth(2).inner_text() and "int" in params.nth(2).inner_text()

    # Clicking a diagnostic selects its cell (the notebook's %matplotlib line, cell 2).
    panel.locator(".nb2pipe-lab-diag[data-cell='2']").first.click()
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell.jp-mod-active", timeout=T)
    assert page.evaluate(ACTIVE_INDEX) == 1

    # Badges from the tags the notebook already has.
    expect_badge(cell(page, 3), "parameters")
    expect_badge(cell(page, 6), "load")
    expect_badge(cell(page, 12), "train_forest")
    expect_badge(cell(page, 19), "skip")

    # The same menu from the cell's context menu.
    cell(page, 14).locator(".jp-InputArea-editor").click(button="right")
    page.locator(".lm-Menu .lm-Menu-item", has_text="nb2pipe: Tag Cell").click()
    page.locator(".lm-Menu.nb2pipe-lab-menu").first.wait_for(timeout=T)
    page.keyboard.press("Escape")
    page.locator(".lm-Menu.nb2pipe-lab-menu").first.wait_for(state="detached", timeout=T)

    # Tag the last cell (an EDA plot, tagged skip) as a new step through the cell toolbar menu.
    target = cell(page, 19)
    target.locator(".jp-InputArea-editor").click()
    page.wait_for_selector(".jp-Cell.jp-mod-active [data-nb2pipe='tag-button']", timeout=T)
    target.locator("[data-nb2pipe='tag-button']").click()
    menu = page.locator(".lm-Menu.nb2pipe-lab-menu").first
    menu.wait_for(timeout=T)
    # existing step names are offered
    menu.locator(".lm-Menu-item[data-type='submenu']", has_text="Step").click()
    submenu = page.locator(".lm-Menu.nb2pipe-lab-menu").nth(1)
    submenu.locator(".lm-Menu-item", has_text="train_logreg").wait_for(timeout=T)
    page.screenshot(path=str(shots / "lab-menu.png"))
    submenu.locator(".lm-Menu-item", has_text="New step").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("explain")
    dialog.locator(".jp-mod-accept").click()
    expect_badge(target, "explain")
    panel.locator("svg.dag g.node[data-step='explain']").wait_for(timeout=T)
    edge = panel.locator("svg.dag g.edge[data-dst='explain']")
    assert edge.count() >= 1
    assert "skip" not in target.get_attribute("data-nb2pipe-step")
    panel.evaluate("el => { el.scrollTop = 0; }")
    page.screenshot(path=str(shots / "lab-tagging.png"))

    # Convert: the package folder is asked once and kept in the notebook's metadata.
    panel.locator("button.nb2pipe-lab-convert").click()
    dialog = page.locator(".jp-Dialog")
    assert dialog.locator("input").input_value() == "pipelines/wine_classifier"
    dialog.locator(".jp-mod-accept").click()
    panel.locator("[data-result='converted']").wait_for(timeout=T)
    pkg = lab.root / "pipelines" / "wine_classifier"
    assert (pkg / "steps" / "explain.py").is_file()

    # Run, with live status, until it succeeds; the report opens.
    panel.locator("button.nb2pipe-lab-run").click()
    result = panel.locator(".nb2pipe-lab-run-result")
    result.locator("h3 .nb2pipe-lab-status[data-status='ok']").wait_for(timeout=3 * T)
    rows = result.locator("table.nb2pipe-lab-run tbody tr")
    assert rows.count() == 8
    assert result.locator("tr[data-step='explain'] .nb2pipe-lab-status").inner_text() == "ok"
    result.locator("svg.dag g.node[data-step='explain'][data-status='ok']").wait_for(timeout=T)
    link = result.locator("a.nb2pipe-lab-report-link")
    page.screenshot(path=str(shots / "lab-run.png"))
    panel.screenshot(path=str(shots / "lab-panel.png"))
    report = page.context.new_page()
    report.goto(lab.url + link.get_attribute("href"))
    report.locator("svg.dag g.node[data-step='explain']").wait_for(timeout=T)
    report.close()

    # The extension wrote the standard tags: the saved notebook converts the same without it.
    saved = json.loads((lab.root / SAMPLE.name).read_text())
    assert saved["cells"][18]["metadata"]["tags"] == ["step:explain"]
    assert saved["metadata"]["nb2pipe"] == {"output": "pipelines/wine_classifier"}
    check = subprocess.run(
        [sys.executable, "-c", "from nb2pipe.frontends.cli import main; main()", "convert", SAMPLE.name, "-o", "pipelines/wine_classifier", "--check"],
        cwd=lab.root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    runs = [p for p in (lab.root / "runs").glob("*/run.json")]
    assert len(runs) == 1 and json.loads(runs[0].read_text())["status"] == "ok"

    # Verify: the notebook and the pipeline both run, every step output compared.
    panel.locator("button.nb2pipe-lab-verify").click()
    verified = panel.locator(".nb2pipe-lab-verify-result")
    verified.locator("h3 .nb2pipe-lab-status[data-status='verified']").wait_for(timeout=5 * T)
    assert verified.locator("table.nb2pipe-lab-verify [data-status='ok']").count() >= 8
    assert verified.locator("table.nb2pipe-lab-verify [data-status='mismatch']").count() == 0

    # An unsaved edit that breaks the notebook shows at once as an error naming its cell;
    # its link selects the cell; undoing the edit clears it.
    editor = cell(page, 14).locator(".jp-InputArea-editor")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nprint(undefined_thing)")
    error = panel.locator(".nb2pipe-lab-alerts .nb2pipe-lab-error")
    error.wait_for(timeout=T)
    assert "undefined_thing" in error.inner_text()
    error.locator("button.nb2pipe-lab-cell-link[data-cell='14']").click()
    assert page.evaluate(ACTIVE_INDEX) == 13
    panel.evaluate("el => { el.scrollTop = 0; }")
    page.screenshot(path=str(shots / "lab-error.png"))
    editor.click()
    for _ in range(10):
        if error.count() == 0:
            break
        page.keyboard.press("Control+z")
        page.wait_for_timeout(1000)
    panel.locator(".nb2pipe-lab-alerts .nb2pipe-lab-error").wait_for(state="detached", timeout=T)

    assert not page.errors, page.errors  # type: ignore[attr-defined]
    print(f"e2e took {time.monotonic() - started:.1f} s; screenshots in {shots}")


ACTIVE_INDEX = """() => [...document.querySelectorAll(
  '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')].findIndex(
  c => c.classList.contains('jp-mod-active'))"""


def widen(page: Any, panel: Any, width: int) -> None:
    """Drag the right side bar's split handle until the panel is `width` pixels wide."""
    box = panel.bounding_box()
    handles = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)")
    handle = handles.nth(handles.count() - 1).bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - (width - box["width"]), y, steps=8)
    page.mouse.up()


def expect_badge(loc: Any, text: str) -> None:
    badge = loc.locator(".nb2pipe-badge")
    badge.wait_for(timeout=T)
    deadline = time.monotonic() + T / 1000
    while (badge.text_content() or "").strip() != text:  # text_content: cells off screen too
        if time.monotonic() > deadline:
            raise AssertionError(f"badge says {badge.text_content()!r}, not {text!r}")
        time.sleep(0.1)


def open_notebook(page: Any, lab: Lab, name: str, *, reset: bool = False) -> Any:
    """Open notebook `name` with the nb2pipe panel shown and analysed; the panel."""
    page.goto(f"{lab.url}/lab/tree/{name}?token={TOKEN}" + ("&reset" if reset else ""))
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=T)
    panel = page.locator("#nb2pipe-lab-panel")
    if not panel.is_visible():
        page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id='nb2pipe-lab-panel']").click()
    panel.wait_for(state="visible", timeout=T)
    panel.locator(f".nb2pipe-lab-notebook[title='{name}']").wait_for(timeout=T)
    panel.locator(".nb2pipe-lab-state[data-state='ready']").wait_for(timeout=T)
    return panel


def accept_output_dialog(page: Any) -> None:
    """The package folder is asked on the notebook's first convert or run: the default."""
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=T)
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="detached", timeout=T)


def run_record(lab: Lab, run_id: str) -> dict[str, Any]:
    return json.loads((lab.root / "runs" / run_id / "run.json").read_text())


def test_run_with_typed_parameters_from_the_panel(lab: Lab, page: Any, shots: Path) -> None:
    panel = open_notebook(page, lab, "typed.ipynb")
    form = panel.locator("details.nb2pipe-lab-params-form")
    form.locator("summary").click()

    def field(name: str) -> Any:
        return form.locator(f"[data-param='{name}'] .nb2pipe-lab-param-input")

    # a typed input per parameter, the default filled in; no input for the secret
    assert field("n").get_attribute("type") == "number" and field("n").input_value() == "4"
    assert field("rate").get_attribute("step") == "any"
    assert field("flag").get_attribute("type") == "checkbox" and field("flag").is_checked()
    assert field("label").get_attribute("type") == "text" and field("label").input_value() == "x"
    assert field("items").evaluate("el => el.tagName") == "TEXTAREA"
    assert form.locator("[data-param='api_key']").count() == 0
    assert "api_key ($API_KEY)" in form.locator(".nb2pipe-lab-params-secret").inner_text()
    assert "from-the-environment" not in panel.inner_text()

    # a bad value is shown as typed and blocks Run
    field("n").fill("4.5")
    error = form.locator("[data-param='n'] .nb2pipe-lab-param-error")
    assert error.inner_text() == "parameter 'n' expects int, got '4.5'"
    field("opts").fill("[1]")
    assert (
        "expects dict" in form.locator("[data-param='opts'] .nb2pipe-lab-param-error").inner_text()
    )
    assert panel.locator("button.nb2pipe-lab-run").is_disabled()
    assert "2 to fix" in form.locator("summary").inner_text()

    field("n").fill("7")
    field("opts").fill('{"b": 2}')
    field("flag").uncheck()
    field("items").fill("[3]")
    field("label").fill("hello world")
    assert error.inner_text() == ""
    panel.evaluate("el => { el.scrollTop = 0; }")
    page.screenshot(path=str(shots / "lab-params.png"))
    panel.locator("button.nb2pipe-lab-run").click()
    accept_output_dialog(page)
    result = panel.locator(".nb2pipe-lab-run-result")
    result.locator("h3 .nb2pipe-lab-status[data-status='ok']").wait_for(timeout=3 * T)
    shown = result.locator(".nb2pipe-lab-run-params").inner_text()
    assert "n = 7" in shown and "flag = false" in shown and "rate" not in shown
    record = run_record(lab, result.locator("h3 code").inner_text())
    assert record["parameters"] == {
        "n": 7, "rate": 0.5, "flag": False, "label": "hello world", "items": [3],
        "opts": {"b": 2},
    }  # fmt: skip
    assert "from-the-environment" not in json.dumps(record)
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_cancel_a_run_from_the_panel(lab: Lab, page: Any, shots: Path) -> None:
    panel = open_notebook(page, lab, "slow.ipynb")
    panel.locator("button.nb2pipe-lab-run").click()
    accept_output_dialog(page)
    result = panel.locator(".nb2pipe-lab-run-result")
    result.locator("tr[data-step='slow'] .nb2pipe-lab-status[data-status='running']").wait_for(
        timeout=3 * T
    )
    cancel = panel.locator("button.nb2pipe-lab-cancel")
    assert panel.locator("button.nb2pipe-lab-run").is_disabled()
    started = time.monotonic()
    cancel.click()
    result.locator("h3 .nb2pipe-lab-status[data-status='interrupted']").wait_for(timeout=T)
    assert time.monotonic() - started < 30  # the 120 s step was stopped, not waited for
    assert "Cancelled" in result.locator(".nb2pipe-lab-run-cancelled").inner_text()
    status = {
        r.get_attribute("data-step"): r.locator(".nb2pipe-lab-status").inner_text()
        for r in result.locator("table.nb2pipe-lab-run tbody tr").all()
    }
    assert status == {"first": "ok", "slow": "failed", "after": "skipped"}
    assert cancel.count() == 0 and panel.locator("button.nb2pipe-lab-run").is_enabled()
    record = run_record(lab, result.locator("h3 code").inner_text())
    assert record["status"] == "interrupted"
    assert record["steps"]["slow"]["error"]["kind"] == "interrupted"
    panel.evaluate("el => { el.scrollTop = 0; }")
    page.screenshot(path=str(shots / "lab-cancel.png"))
    assert not page.errors, page.errors  # type: ignore[attr-defined]


TITLE_HEIGHT = """(svg) => svg.querySelector("g.node text.title").getBoundingClientRect().height"""
VIEW = """(v) => ({client: v.clientWidth, scroll: v.scrollWidth, left: v.scrollLeft,
  svg: v.querySelector("svg.dag").getBoundingClientRect().width})"""


def test_dag_readable_at_the_default_width(lab: Lab, page: Any, shots: Path) -> None:
    context = page.context.browser.new_context(viewport={"width": 1366, "height": 900})
    fresh = context.new_page()  # the panel at its default width (no widened layout)
    fresh.set_default_timeout(T)
    errors: list[str] = []
    fresh.on("pageerror", lambda e: errors.append(str(e)))
    panel = open_notebook(fresh, lab, SAMPLE.name, reset=True)
    assert panel.bounding_box()["width"] <= 320
    zoom = panel.locator(".nb2pipe-lab-zoom").first
    view = zoom.locator(".nb2pipe-lab-dag")
    svg = view.locator("svg.dag")
    svg.locator("g.node[data-step='train_forest']").wait_for(timeout=T)
    # fitted to the width by default: nothing to scroll, the text too small to read
    assert zoom.locator(".nb2pipe-lab-zoom-level").inner_text() == "fit"
    fit = view.evaluate(VIEW)
    assert fit["scroll"] <= fit["client"] and fit["client"] - 4 <= fit["svg"] <= fit["client"], fit
    assert svg.evaluate(TITLE_HEIGHT) < 8
    # zoom in: larger than the panel, scrollable (and draggable)
    zoom.locator(".nb2pipe-lab-zoom-in").click()
    zoom.locator(".nb2pipe-lab-zoom-in").click()
    level = zoom.locator(".nb2pipe-lab-zoom-level").inner_text()
    assert level.endswith("%"), level
    zoomed = view.evaluate(VIEW)
    assert zoomed["svg"] > fit["svg"] * 1.5 and zoomed["scroll"] > zoomed["client"], zoomed
    view.evaluate("v => { v.scrollLeft = 0; }")
    box = view.bounding_box()
    fresh.mouse.move(box["x"] + box["width"] / 2, box["y"] + 60)
    fresh.mouse.down()
    fresh.mouse.move(box["x"] + box["width"] / 2 - 80, box["y"] + 60, steps=5)
    fresh.mouse.up()
    assert view.evaluate(VIEW)["left"] >= 60
    # actual size: the step names readable
    zoom.locator(".nb2pipe-lab-zoom-actual").click()
    assert zoom.locator(".nb2pipe-lab-zoom-level").inner_text() == "100%"
    assert svg.evaluate(TITLE_HEIGHT) >= 12
    panel.evaluate(
        "(el) => { el.scrollTop = el.querySelector('.nb2pipe-lab-zoom').offsetTop - 60; }"
    )
    fresh.screenshot(path=str(shots / "lab-zoom.png"))
    # back out, and reset to the fitted width
    zoom.locator(".nb2pipe-lab-zoom-out").click()
    zoom.locator(".nb2pipe-lab-zoom-fit").click()
    assert zoom.locator(".nb2pipe-lab-zoom-level").inner_text() == "fit"
    again = view.evaluate(VIEW)
    assert again["scroll"] <= again["client"] and abs(again["svg"] - fit["svg"]) <= 1
    context.close()
    assert not errors, errors
