"""nb2pipe tag: proposals from headings and from the data flow; --clear; files untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
import viz_helpers as nbs
from notebooks import write_notebook

from nb2pipe import api
from nb2pipe.viz import tagger
from nb2pipe.viz.graph import VizError


def tags_of(path: Path) -> dict[int, list[str]]:
    nb = nbformat.read(path, as_version=4)
    return {
        i: list(c.metadata.get("tags", []))
        for i, c in enumerate(nb.cells, 1)
        if c.metadata.get("tags")
    }


def test_headings_become_step_tags_and_convert_the_same(samples_dir: Path, tmp_path: Path):
    src = shutil.copy(samples_dir / "diabetes_regression.ipynb", tmp_path / "d.ipynb")
    before = Path(src).read_bytes()
    result = tagger.run(src)
    assert result.out == tmp_path / "d.tagged.ipynb" and result.method == "headings (h2)"
    assert [(p.cell, p.step) for p in result.proposals] == [
        (5, "load"), (8, "prepare_features"), (11, "train_ridge"), (13, "train_boosting"),
        (15, "compare")]  # fmt: skip
    assert result.proposals[0].reason == "heading 'Load'"
    assert Path(src).read_bytes() == before  # the user's notebook is not touched
    assert tags_of(result.out)[5] == ["step:load"] and tags_of(result.out)[3] == ["parameters"]
    untagged, tagged = api.load(src), api.load(result.out)
    assert [(s.name, s.cells, s.inputs) for s in untagged.steps] == [
        (s.name, s.cells, s.inputs) for s in tagged.steps
    ]


def test_everything_else_is_kept_byte_for_byte(samples_dir: Path, tmp_path: Path):
    src = shutil.copy(samples_dir / "diabetes_regression.ipynb", tmp_path / "d.ipynb")
    result = tagger.run(src)
    assert [(r.cell, r.tag) for r in result.roles] == [(2, "imports")]
    a, b = json.loads(Path(src).read_text()), json.loads(result.out.read_text())
    for n, cell in enumerate(b["cells"], 1):
        cell["metadata"]["tags"] = [
            t
            for t in cell["metadata"].get("tags", [])
            if not t.startswith("step:") and (n, t) != (2, "imports")
        ]
        if not cell["metadata"]["tags"]:
            del cell["metadata"]["tags"]
    assert a == b
    cleared = tagger.run(result.out, clear=True, out=tmp_path / "c.ipynb").out
    assert json.loads(cleared.read_text())["cells"][1]["metadata"]["tags"] == ["imports"]


def test_data_flow_split(tmp_path: Path):
    src = nbs.notebook_flow(tmp_path / "flow.ipynb")
    result = tagger.run(src)
    assert result.method == "data flow"
    # raw (cell 3) is new data; sort() refines it and print() makes nothing: both join it
    assert [(p.cell, p.step, p.reason) for p in result.proposals] == [
        (3, "make_raw", "makes raw"), (6, "make_pairs", "makes pairs"),
        (7, "make_score", "makes score")]  # fmt: skip
    pipe = api.load(result.out)
    assert [(s.name, s.cells) for s in pipe.steps] == [
        ("make_raw", (3, 4, 5)), ("make_pairs", (6,)), ("make_score", (7,))]  # fmt: skip
    assert pipe.step("make_pairs").inputs == {"raw": "make_raw"}


def test_flow_names_from_what_the_cell_calls():
    used: set[str] = set()
    assert tagger.flow_name("df = pd.read_csv('x')", ["df"], used, "f", 1) == "load"
    assert tagger.flow_name("a, b = train_test_split(df)", ["a", "b"], used, "f", 2) == "split"
    assert tagger.flow_name("m = Model()\nm.fit(a)", ["m"], {"train"}, "f", 3) == "train_m"
    assert tagger.flow_name("%time x = 1", ["x"], used, "f", 4) == "make_x"


def test_split_on_flow_overrides_headings(samples_dir: Path, tmp_path: Path):
    src = shutil.copy(samples_dir / "diabetes_regression.ipynb", tmp_path / "d.ipynb")
    result = tagger.run(src, split_on="flow")
    assert result.method == "data flow" and result.proposals[0] == tagger.Proposal(
        5, "load", "makes df"
    )


def test_already_tagged_writes_nothing(samples_dir: Path, tmp_path: Path):
    src = shutil.copy(samples_dir / "wine_classifier.ipynb", tmp_path / "w.ipynb")
    result = tagger.run(src)
    assert result.out is None and "already has step tags" in result.message
    assert not (tmp_path / "w.tagged.ipynb").exists()


def test_clear_removes_structure_only_including_directives(tmp_path: Path):
    src = write_notebook(tmp_path / "t.ipynb", [
        ("parameters Step:Load hide-input", "x = 1"),
        ("prev:load", "#| nb2pipe: step:train after:load metrics\ny = x"),
        ("", "#| nb2pipe: block:end\nz = y"),
        ("", "#| nb2pipe: skip\nprint(z)"),
    ])  # fmt: skip
    result = tagger.run(src, in_place=True, clear=True)
    assert result.out == src and result.removed == 5
    nb = nbformat.read(src, as_version=4)
    assert nb.cells[0].metadata["tags"] == ["parameters", "hide-input"]
    assert "tags" not in nb.cells[1].metadata
    assert nb.cells[1].source == "#| nb2pipe: metrics\ny = x"
    assert nb.cells[2].source == "z = y" and nb.cells[3].source.startswith("#| nb2pipe: skip")


def test_in_place_and_refusals(samples_dir: Path, tmp_path: Path):
    src = shutil.copy(samples_dir / "diabetes_regression.ipynb", tmp_path / "d.ipynb")
    tagger.run(src, in_place=True)
    assert tags_of(Path(src))[5] == ["step:load"]
    with pytest.raises(VizError, match="not both"):
        tagger.run(src, in_place=True, out=tmp_path / "o.ipynb")
    (tmp_path / "o.ipynb").write_text("{}")
    with pytest.raises(VizError, match="exists"):
        tagger.run(src, clear=True, out=tmp_path / "o.ipynb")
    tagger.run(src, clear=True, out=tmp_path / "o.ipynb", force=True)
    with pytest.raises(VizError, match="--split-on"):
        tagger.run(src, split_on="h9")


def test_percent_script(tmp_path: Path):
    src = tmp_path / "s.py"
    src.write_text("# %%\nimport json\n\n# %% [markdown]\n# ## Load\n\n# %%\nx = [len('ab')]\n\n"
                   "# %% [markdown]\n# ## Use\n\n# %%\nprint(json.dumps(x))\n")  # fmt: skip
    result = tagger.run(src)
    assert result.out == tmp_path / "s.tagged.py"
    text = result.out.read_text()
    assert 'tags=["step:load"]' in text and 'tags=["step:use"]' in text
