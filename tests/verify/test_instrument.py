"""The instrumented copy verify executes, and the capture cells (no kernel needed)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nb2pipe.compiler import notebook, tags
from nb2pipe.verify import capture, instrument
from nb2pipe.verify.instrument import StepPlan

NOTEBOOK = """\
# %% tags=["imports"]
import os

# %% tags=["pipeline-parameters"]
import os
sizes = (2, 3)
root = "data"
out = os.path.join(root, "x.csv")

# %% tags=["step:load"]
# !pip install numpy
values = list(range(sizes[0]))

# %% tags=["skip"]
values.append(99)

# %%
total = sum(values)

# %% tags=["step:use"]
result = (total, out)
"""


def layout(tmp_path: Path, text: str = NOTEBOOK):
    path = tmp_path / "nb.py"
    path.write_text(textwrap.dedent(text))
    return tags.assign(notebook.read(path))


PLANS = [StepPlan("load", 5, ("values", "total")), StepPlan("use", 6, ("result",))]


def sources(nb) -> list[str]:
    return [c.source for c in nb.cells]


def test_copy_without_parameters(tmp_path: Path) -> None:
    built = instrument.build(layout(tmp_path), PLANS, "/cap")
    cells = built.notebook.cells
    assert built.papermill_parameters == {}
    assert not any("values.append(99)" in s for s in sources(built.notebook))  # skip cell
    params = next(c for c in cells if "sizes = (2, 3)" in c.source)
    assert params.metadata["tags"] == ["parameters"]  # Kale's tag, retagged for papermill
    assert params.metadata["nb2pipe_verify"] == {"cell": 2}
    load = next(c for c in cells if "values = list" in c.source)
    assert "!pip" not in load.source and "package install left out" in load.source
    captures = [c for c in cells if c.metadata.get("nb2pipe_verify", {}).get("capture")]
    assert [c.metadata["nb2pipe_verify"]["capture"] for c in captures] == ["load", "use"]
    order = [c.metadata.get("nb2pipe_verify") for c in cells]
    assert order.index({"capture": "load"}) == order.index({"cell": 5}) + 1
    assert captures[0].source.endswith("save('/cap', 'load', ('values', 'total'), globals())")
    assert "1 skip cell(s) left out" in built.notes
    assert "1 package install line(s) left out" in built.notes
    assert built.cell_of_step[5] == "load"


def test_overrides_papermill_cannot_render_and_derived_values(tmp_path: Path) -> None:
    built = instrument.build(
        layout(tmp_path), PLANS, "/cap",
        overrides={"sizes": (3, 1), "root": "elsewhere"},
        param_names=["sizes", "root"], derived=["out"],
    )  # fmt: skip
    assert built.papermill_parameters == {"root": "elsewhere"}
    cells = built.notebook.cells
    i = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", ()))
    extra = cells[i + 1]
    assert extra.metadata["tags"] == ["nb2pipe-verify"]
    lines = extra.source.splitlines()
    assert "sizes = (3, 1)" in lines
    assert "import os" in lines and 'out = os.path.join(root, "x.csv")' in lines
    assert not any(line.startswith("root =") for line in lines)


def test_literal_rendering() -> None:
    assert instrument.literal_source("t", (1,)) == "t = (1,)"
    assert instrument.literal_source("d", {1: "a"}) == "d = {1: 'a'}"
    assert instrument.literal_source("f", float("nan")) == "f = float('nan')"
    with pytest.raises(ValueError, match="cannot be passed"):
        instrument.literal_source("o", object())
    assert instrument.papermill_safe({"a": [1, 2.5, None, "x"]})
    assert not instrument.papermill_safe({1: "a"})
    assert not instrument.papermill_safe([(1, 2)])


def test_parameters_without_a_parameters_cell(tmp_path: Path) -> None:
    lay = layout(tmp_path, '# %% tags=["step:a"]\nx = 1\n')
    with pytest.raises(ValueError, match="no parameters cell"):
        instrument.build(lay, [StepPlan("a", 1, ("x",))], "/cap", overrides={"n": 1})


def test_directive_parameters_cell_is_tagged(tmp_path: Path) -> None:
    lay = layout(
        tmp_path, "# %%\n#| nb2pipe: parameters\nn = 4\n\n# %%\n#| nb2pipe: step:a\nx = n\n"
    )
    built = instrument.build(lay, [StepPlan("a", 2, ("x",))], "/cap", overrides={"n": 5})
    assert built.notebook.cells[0].metadata["tags"] == ["parameters"]
    assert built.papermill_parameters == {"n": 5}


def test_capture_cell_saves_and_reports(tmp_path: Path) -> None:
    folder = str(tmp_path / "cap")
    source = instrument.capture_source(folder, "s", ("a", "gone", "gen", "klass"))

    class Local:
        def __init__(self) -> None:
            self.v = 3

    namespace = {"a": {"k": [1, 2]}, "gen": (i for i in range(3)), "klass": Local()}
    exec(source, namespace)
    manifest = capture.load_manifest(folder, "s")
    assert manifest is not None
    assert manifest["a"]["status"] == "ok"
    assert manifest["gone"] == {"status": "undefined"}
    assert manifest["gen"]["status"] == "error" and "generator" in manifest["gen"]["error"]
    assert capture.load_value(folder, "s", manifest["a"]) == {"k": [1, 2]}
    assert capture.load_value(folder, "s", manifest["klass"]).v == 3  # by value
    assert capture.load_manifest(folder, "never") is None
