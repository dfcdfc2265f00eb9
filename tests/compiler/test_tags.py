"""The tag language (SPEC section 1): roles, aliases, directives, near misses, heading
split, step names, cells before the first step, docstrings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nb2pipe.compiler import notebook, tags
from nb2pipe.compiler.model import Layout
from nb2pipe.errors import TagError


@pytest.fixture
def layout(write_nb: Callable[..., Path]) -> Callable[..., Layout]:
    def make(cells, name: str = "nb", split_on: str | None = None) -> Layout:
        return tags.assign(notebook.read(write_nb(cells, name=name)), split_on=split_on)

    return make


def roles(lay: Layout) -> list[tuple[int, str | None, str | None]]:
    """(cell, role, step) of every code cell."""
    return [(p.cell.index, p.role, p.step) for p in lay.cells if p.cell.cell_type == "code"]


def near_misses(lay: Layout) -> list[str]:
    return [d.message for d in lay.diagnostics if d.code == "near-miss-tag"]


# ---------------------------------------------------------------- every tag and alias


@pytest.mark.parametrize(
    ("tag", "role"),
    [
        ("parameters", "parameters"),
        ("pipeline-parameters", "parameters"),
        ("imports", "imports"),
        ("functions", "functions"),
        ("skip", "skip"),
        ("injected-parameters", "injected"),
    ],
)
def test_role_tags_outside_steps(layout, tag, role):
    lay = layout([(tag, "x = 1"), ("step:a", "y = 2")])
    assert roles(lay)[0] == (1, role, None)
    assert lay.step_order == ("a",)


@pytest.mark.parametrize(("tag", "role"), [("metrics", "metrics"), ("pipeline-metrics", "metrics")])
def test_metrics_tags_belong_to_the_current_step(layout, tag, role):
    lay = layout([("step:a", "acc = 0.9"), (tag, "acc")])
    assert roles(lay) == [(1, "step", "a"), (2, role, "a")]


@pytest.mark.parametrize("prefix", ["step:", "block:"])
def test_step_and_kale_block(layout, prefix):
    lay = layout([(f"{prefix}load", "x = 1"), ("", "y = x"), (f"{prefix}train", "z = y")])
    assert lay.step_order == ("load", "train")
    assert roles(lay) == [(1, "step", "load"), (2, "step", "load"), (3, "step", "train")]
    assert lay.split == "tags"


@pytest.mark.parametrize("prefix", ["after:", "prev:"])
def test_after_and_kale_prev(layout, prefix):
    lay = layout([("step:a", "x = 1"), ("step:b", "y = 2"), (f"step:c {prefix}a {prefix}b", "z=3")])
    plan = lay.cells[2]
    assert plan.step == "c"
    assert plan.after == ("a", "b")


def test_validate_cell_is_a_gate_after_its_step(layout):
    lay = layout([("step:load", "df = [1]"), ("validate", "assert df"), ("step:use", "n = 1")])
    assert lay.step_order == ("load", "check_load", "use")
    assert roles(lay)[1] == (2, "validate", "check_load")


def test_injected_parameters_ignored_with_a_note(layout):
    lay = layout([("parameters", "n = 1"), ("injected-parameters", "n = 5"), ("step:a", "m = n")])
    assert roles(lay)[1] == (2, "injected", None)
    assert any("injected" in d.message and d.severity == "note" for d in lay.diagnostics)


def test_kale_notebook_all_legacy_tags(layout):
    lay = layout(
        [
            ("pipeline-parameters", "a = 1"),
            ("block:load-data", "x = a"),
            ("block:two prev:load_data", "y = x"),
            ("pipeline-metrics", "y"),
        ]
    )
    assert lay.step_order == ("load_data", "two")  # '-' becomes '_'
    assert lay.cells[2].after == ("load_data",)
    assert roles(lay)[3] == (4, "metrics", "two")


def test_tags_are_case_insensitive_words(layout):
    lay = layout([("Parameters", "n = 1"), ("STEP:a", "m = n")])
    assert roles(lay) == [(1, "parameters", None), (2, "step", "a")]


def test_foreign_tags_kept_without_warning(layout):
    lay = layout([("step:a hide-input limit:nvidia.com/gpu:1", "x = 1"), ("remove-cell", "y=2")])
    assert lay.cells[0].foreign_tags == ("hide-input", "limit:nvidia.com/gpu:1")
    assert lay.cells[1].foreign_tags == ("remove-cell",)
    assert near_misses(lay) == []


def test_two_step_tags_on_one_cell_is_an_error(layout):
    with pytest.raises(TagError, match="2 step tags") as info:
        layout([("step:a step:b", "x = 1")])
    assert info.value.cell == 1


def test_role_and_step_on_one_cell_is_an_error(layout):
    with pytest.raises(TagError, match="tagged both"):
        layout([("parameters step:a", "x = 1")])


# ---------------------------------------------------------------- directives


def test_directive_first_line(layout):
    lay = layout(
        [
            ("", "#| nb2pipe: step:load\nx = 1"),
            ("", "#| nb2pipe: step:train after:load\ny = 2"),
            ("", "#|nb2pipe: skip\nprint(x)"),
        ]
    )
    assert lay.step_order == ("load", "train")
    assert lay.cells[1].after == ("load",)
    assert roles(lay)[2] == (3, "skip", None)


def test_directive_only_on_the_first_line(layout):
    with pytest.raises(TagError, match="must be the cell's first line") as info:
        layout([("step:a", "x = 1\n#| nb2pipe: step:b\ny = 2")])
    assert (info.value.cell, info.value.line) == (1, 2)


def test_directive_and_tags_combine(layout):
    lay = layout([("step:a", "x = 1"), ("after:a", "#| nb2pipe: step:b\ny = 2")])
    assert lay.cells[1].step == "b"
    assert lay.cells[1].after == ("a",)


def test_directive_with_invalid_step_name(layout):
    with pytest.raises(TagError, match="keyword"):
        layout([("", "#| nb2pipe: step:class\nx = 1")])


# ---------------------------------------------------------------- near misses


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("paramters", "parameters"),
        ("stpe:train", "step:train"),
        ("setp:train", "step:train"),
        ("improts", "imports"),
        ("aftr:load", "after:load"),
        ("skipp", "skip"),
        ("skpi", "skip"),
        ("validation", "validate"),
        ("parameter", "parameters"),
        ("params", "parameters"),
        ("metric", "metrics"),
        ("step", "step:NAME"),
        ("Prev", "prev:NAME"),
        ("injected_parameters", "injected-parameters"),
    ],
)
def test_near_miss_is_an_error_naming_cell_and_suggestion(layout, typo, suggestion):
    with pytest.raises(TagError, match="is not an nb2pipe tag") as info:
        layout([("step:load", "x = 1"), (typo, "y = x")])
    assert info.value.cell == 2
    assert info.value.hint == f"did you mean {suggestion!r}?"
    assert typo in str(info.value)


@pytest.mark.parametrize(
    "tag",
    ["hide-input", "remove-cell", "remove_output", "skip-execution", "raises-exception",
     "nbval-ignore-output", "nbsphinx-hidden", "active-ipynb", "limit:memory:4Gi",
     "image:python:3.11", "annotation:a:b", "label:team:ml"],
)  # fmt: skip
def test_other_tools_tags_pass_silently(layout, tag):
    lay = layout([("step:load", "x = 1"), (tag, "y = x")])
    assert lay.cells[1].foreign_tags == (tag,)
    assert lay.diagnostics == ()


@pytest.mark.parametrize("tag", ["important", "todo", "eda", "slow", "stepwise", "exports"])
def test_unknown_tags_far_from_ours_pass_with_a_note(layout, tag):
    lay = layout([("step:load", "x = 1"), (tag, "y = x")])
    [note] = lay.diagnostics
    assert (note.severity, note.code, note.cell) == ("note", "unknown-tag", 2)
    assert lay.step_order == ("load",)


@pytest.mark.parametrize(
    ("first_line", "message", "hint"),
    [
        ("# nb2pipe: skip", "is not a directive", "did you mean `#| nb2pipe: skip`?"),
        ("#| nb2pipe step:b", "is not a directive", "did you mean `#| nb2pipe: step:b`?"),
        ("#| NB2PIPE: skip", "is not a directive", "did you mean `#| nb2pipe: skip`?"),
        ("#| nb2pipe:", "names no tag", "e.g. `#| nb2pipe: step:train`"),
        ("#| nb2pipe: skpi", "is not an nb2pipe tag", "did you mean 'skip'?"),
        ("#| nb2pipe: hide-input", "directive is not an nb2pipe tag", "directives carry"),
    ],
)
def test_directives_that_do_not_parse_are_errors(layout, first_line, message, hint):
    with pytest.raises(TagError, match=message) as info:
        layout([("step:load", "x = 1"), ("", f"{first_line}\ny = x")])
    assert info.value.cell == 2
    assert (info.value.hint or "").startswith(hint)


def test_comments_that_only_mention_nb2pipe_are_code(layout):
    lay = layout([("step:load", "# nb2pipe converts this cell\n#| export\nx = 1")])
    assert lay.step_order == ("load",)


@pytest.mark.parametrize(
    ("tag", "suggestion"),
    [("model:my model", "model:my_model"), ("step:Train Model!", "step:train_model"),
     ("after:load-data 2", "after:load_data_2")],
)  # fmt: skip
def test_invalid_names_suggest_a_valid_one_of_the_same_kind(layout, tag, suggestion):
    with pytest.raises(TagError) as info:
        layout([("step:load", "x = 1"), ([tag], "y = x")])  # a list: the tag holds spaces
    assert info.value.hint == f"did you mean {suggestion}?"


# ---------------------------------------------------------------- heading split


HEADED = [
    ("md", "# Title\n\nWhat the notebook does."),
    ("", "import math"),
    ("md", "## Load data\n\nRead the numbers."),
    ("", "x = [1, 2, 3]"),
    ("md", "### A detail"),
    ("", "x.append(4)"),
    ("md", "## Train the model!"),
    ("", "y = sum(x)"),
    ("md", "## Load data"),
    ("", "z = y * math.pi"),
]


def test_heading_split_default_level_below_title(layout):
    lay = layout(HEADED)
    assert lay.split == "h2"
    assert lay.step_order == ("load_data", "train_the_model", "load_data_2")
    assert roles(lay) == [
        (2, "imports", None),
        (4, "step", "load_data"),
        (6, "step", "load_data"),  # an h3 stays inside its h2 step
        (8, "step", "train_the_model"),
        (10, "step", "load_data_2"),  # de-duplicated
    ]


def test_heading_split_docstrings(layout):
    lay = layout(HEADED)
    assert lay.docs["load_data"] == "Read the numbers."
    assert lay.docs["train_the_model"] == "Train the model!"  # the heading when no text


def test_heading_split_on_h3(layout):
    lay = layout(HEADED, split_on="h3")
    assert lay.split == "h3"
    assert lay.step_order == ("setup", "a_detail")
    assert [s for _, _, s in roles(lay)] == [None, "setup", "a_detail", "a_detail", "a_detail"]


def test_heading_split_on_h1_with_several_h1(layout):
    cells = [("md", "# One"), ("", "x = 1"), ("md", "# Two"), ("", "y = x")]
    lay = layout(cells)
    assert (lay.split, lay.step_order) == ("h1", ("one", "two"))


def test_heading_split_shallowest_level_when_no_title(layout):
    cells = [("md", "### Deep"), ("", "x = 1"), ("md", "## Shallow"), ("", "y = x")]
    lay = layout(cells)
    assert lay.split == "h2"
    assert lay.step_order == ("setup", "shallow")


def test_heading_names_made_identifiers(layout):
    cells = [
        ("md", "## 1. Load"),
        ("", "x = 1"),
        ("md", "## class"),
        ("", "y = x"),
        ("md", "## Ünïcode & stuff"),
        ("", "z = y"),
    ]
    lay = layout(cells)
    assert lay.step_order == ("step_1_load", "step_class", "unicode_stuff")
    for name in lay.step_order:
        assert name.isidentifier()


def test_headings_inside_code_fences_do_not_split(layout):
    cells = [("md", "## Real"), ("", "x = 1"), ("md", "```\n## not a heading\n```"), ("", "y = x")]
    assert layout(cells).step_order == ("real",)


def test_step_tags_win_over_headings(layout):
    lay = layout([("md", "## Heading"), ("step:a", "x = 1"), ("md", "## Other"), ("", "y = x")])
    assert lay.split == "tags"
    assert lay.step_order == ("a",)


def test_no_headings_one_step_named_after_the_notebook(layout):
    lay = layout([("", "import math"), ("", "x = math.pi"), ("", "y = x")], name="My-Analysis 2")
    assert lay.split == "single"
    assert lay.step_order == ("my_analysis_2",)
    assert roles(lay) == [
        (1, "imports", None),
        (2, "step", "my_analysis_2"),
        (3, "step", "my_analysis_2"),
    ]


def test_only_a_title_gives_one_step(layout):
    lay = layout([("md", "# The title\n\nAbout it."), ("", "x = 1")], name="nb")
    assert lay.split == "single"
    assert lay.step_order == ("nb",)


def test_split_on_a_level_that_does_not_occur(layout):
    lay = layout([("md", "## A"), ("", "x = 1"), ("md", "## B"), ("", "y = x")], split_on="h1")
    assert (lay.split, lay.step_order) == ("single", ("nb",))
    assert [d.code for d in lay.diagnostics] == ["split-on"]


def test_invalid_split_on(layout):
    with pytest.raises(TagError, match="--split-on"):
        layout(HEADED, split_on="h4")


# ---------------------------------------------------------------- step names


def test_repeated_step_after_another_is_an_error(layout):
    with pytest.raises(TagError, match="appears again") as info:
        layout([("step:a", "x = 1"), ("step:b", "y = x"), ("step:a", "z = y")])
    assert info.value.cell == 3


def test_same_step_tag_on_following_cells_continues_the_step(layout):
    """Kale tags every cell of a block: repeating the tag on the next cells is one step."""
    lay = layout(
        [("block:a", "x = 1"), ("block:a", "y = x"), ("skip", "print(y)"), ("block:a", "z = y")]
    )
    assert lay.step_order == ("a",)
    assert roles(lay) == [(1, "step", "a"), (2, "step", "a"), (3, "skip", None), (4, "step", "a")]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("class", "keyword"),
        ("None", "keyword"),
        ("__init__", "dunder"),
        ("../x", "not an identifier"),
        ("1st", "not an identifier"),
        ("a.b", "not an identifier"),
        ("", "empty"),
        ("x" * 81, "longer than"),
    ],
)
def test_invalid_step_names(layout, name, problem):
    with pytest.raises(TagError, match=problem) as info:
        layout([("step:ok", "x = 1"), (f"step:{name}", "y = x")])
    assert info.value.cell == 2


def test_invalid_after_target_name(layout):
    with pytest.raises(TagError, match="after: target"):
        layout([("step:a after:../etc", "x = 1")])


def test_step_names_clash_by_case(layout):
    with pytest.raises(TagError, match="differs only in case"):
        layout([("step:Train", "x = 1"), ("step:train", "y = x")])


def test_dash_becomes_underscore(layout):
    assert layout([("step:load-data", "x = 1")]).step_order == ("load_data",)


def test_unknown_after_target_is_an_error(layout):
    with pytest.raises(TagError, match="after:trian names no step") as info:
        layout([("step:train", "x = 1"), ("step:b after:trian", "y = x")])
    assert info.value.cell == 2
    assert "after:train" in str(info.value)  # suggests the close match


# ---------------------------------------------------------------- before the first step


def test_import_only_cells_before_the_first_step_are_imports(layout):
    lay = layout([("", "import os\nfrom math import pi"), ("step:a", "x = pi")])
    assert roles(lay)[0] == (1, "imports", None)
    assert lay.step_order == ("a",)


def test_imports_and_settings_before_the_first_step_are_imports(layout):
    src = "%matplotlib inline\nimport numpy as np\nnp.random.seed(0)\nimport os\nos.environ['A'] = '1'"
    lay = layout([("", src), ("step:a", "x = np.random.rand()")])
    assert roles(lay)[0] == (1, "imports", None)
    assert lay.step_order == ("a",)


def test_other_code_before_the_first_step_is_a_setup_step(layout):
    lay = layout(
        [("", "import os"), ("", "root = os.getcwd()"), ("", "n = 1"), ("step:a", "x = root")]
    )
    assert lay.step_order == ("setup", "a")
    assert roles(lay) == [
        (1, "imports", None),
        (2, "step", "setup"),
        (3, "step", "setup"),
        (4, "step", "a"),
    ]


def test_code_before_a_step_named_setup_joins_it(layout):
    lay = layout([("", "x = 1"), ("step:setup", "y = x"), ("step:b", "z = y")])
    assert lay.step_order == ("setup", "b")
    assert roles(lay) == [(1, "step", "setup"), (2, "step", "setup"), (3, "step", "b")]


def test_setup_heading_after_leading_code(layout):
    cells = [
        ("md", "# T"),
        ("", "x = int('1')"),
        ("md", "## Train"),
        ("", "y = x"),
        ("md", "## Setup"),
        ("", "z = y"),
    ]
    lay = layout(cells)
    assert lay.step_order == ("setup_2", "train", "setup")


def test_setup_tag_later_than_leading_code(layout):
    lay = layout([("", "x = 1"), ("step:a", "y = x"), ("step:setup", "z = y")])
    assert lay.step_order == ("setup_2", "a", "setup")


def test_gate_name_gives_way_to_a_tagged_step(layout):
    cells = [("step:load", "x = 1"), ("validate", "assert x"), ("step:check_load", "y = x")]
    lay = layout(cells)
    assert lay.step_order == ("load", "check_load_", "check_load")


def test_nothing_dropped_silently(layout):
    """Every code cell gets a role: none is left without one."""
    lay = layout([("", "import os"), ("", "x = 1"), ("skip", "print(x)"), ("step:a", "y = x")])
    assert all(role is not None for _, role, _ in roles(lay))


def test_empty_code_cells_are_skipped(layout):
    lay = layout([("step:a", "x = 1"), ("", "   \n"), ("", "y = x")])
    assert roles(lay) == [(1, "step", "a"), (2, "skip", None), (3, "step", "a")]


# ---------------------------------------------------------------- docstrings


def test_markdown_above_a_step_is_its_docstring(layout):
    lay = layout(
        [
            ("md", "## Load\n\nRead the data\nfrom disk."),
            ("md", "More text."),
            ("step:load", "x = 1"),
            ("step:use", "y = x"),
        ]
    )
    assert lay.docs["load"] == "Read the data\nfrom disk.\nMore text."
    assert lay.docs["use"] == ""


def test_heading_alone_is_the_docstring(layout):
    lay = layout([("md", "## Load the data"), ("step:load", "x = 1")])
    assert lay.docs["load"] == "Load the data"


def test_markdown_separated_by_code_is_not_the_docstring(layout):
    lay = layout([("md", "About a."), ("step:a", "x = 1"), ("", "y = 2"), ("step:b", "z = y")])
    assert lay.docs["a"] == "About a."
    assert lay.docs["b"] == ""
