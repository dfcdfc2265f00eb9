"""The heading split reads headings as real notebooks write them (issue 14 item 3)."""

from __future__ import annotations

from nb2pipe.compiler.headings import parse, step_text


def test_setext_headings_and_the_text_around_them():
    found, body = parse("Data and space\n--------------\n\nSome text.\n\nTitle\n=====")
    assert found == [(2, "Data and space"), (1, "Title")]
    assert body == "Some text."


def test_rst_title_with_an_overline_as_sphinx_gallery_writes_it():
    text = "=====================\nGrid search of an SVC\n=====================\n\nIntro."
    assert parse(text) == ([(1, "Grid search of an SVC")], "Intro.")


def test_html_headings_with_attributes_and_inner_tags():
    found, body = parse('<h2 id="x">Model <b>training</b></h2>\nthen text')
    assert found == [(2, "Model training")] and body == "then text"


def test_a_heading_in_the_first_lines_of_a_cell_that_also_holds_text():
    found, body = parse("Some words first.\n## Evaluation\nMore words.")
    assert found == [(2, "Evaluation")]
    assert body == "Some words first.\nMore words."


def test_what_is_not_a_heading():
    assert parse("- item\n---")[0] == []  # a list item and a rule
    assert parse("| a | b |\n|---|---|")[0] == []  # a table
    assert parse("```\n# comment\ntext\n---\n```")[0] == []  # inside a fence
    assert parse("\n---\n")[0] == []  # a rule after a blank line


def test_numbered_headings_name_their_step_without_the_number():
    assert step_text("2. Training") == "Training"
    assert step_text("3.1 Grid search") == "Grid search"
    assert step_text("Step 4: Report") == "Report"
    assert step_text("2024 results") == "2024 results"


def test_heading_split_cuts_at_setext_and_numbered_headings(load_cells):
    cells = [
        ("md", "=====\nTitle\n=====\n\nAn intro."),
        ("", "x = int('1')"),  # not literal-only: a setup step, not the parameters cell
        ("md", "## 1. Load"),
        ("", "y = x + 1"),
        ("md", "Fit the model\n-------------\nWith words under it."),
        ("", "z = y * 2"),
        ("", "w = z + 1"),
        ("md", "<h2>Report</h2>"),
        ("", "print(z)"),
        ("", "print(w)"),
    ]
    pipe = load_cells(cells)
    assert [s.name for s in pipe.steps] == ["setup", "load", "fit_the_model", "report"]
    assert pipe.step("fit_the_model").doc == "With words under it."


ONE_PER_CELL = [
    ("md", "# Title"),
    ("", "import statistics"),
    ("md", "## Load"),
    ("", "xs = [3, 1, 2]"),
    ("md", "## Look"),
    ("", "print(len(xs))"),
    ("md", "## Sort"),
    ("", "ys = sorted(xs)"),
    ("md", "## Peek"),
    ("", "print(ys[:2])"),
    ("md", "## Mean"),
    ("", "m = statistics.mean(ys)"),
]


def test_one_step_per_cell_is_merged_into_the_steps_that_carry_data(load_cells):
    pipe = load_cells(ONE_PER_CELL)
    assert [(s.name, s.cells) for s in pipe.steps] == [
        ("load", (4, 6)),  # 'look' carries nothing to another step: it joins 'load'
        ("sort", (8, 10, 12)),  # so do 'peek' and 'mean', the last step (read by none)
    ]
    assert pipe.step("sort").inputs == {"xs": "load"}
    assert any(d.code == "merged-steps" and "look -> load" in d.message for d in pipe.diagnostics)


def test_a_split_with_several_cells_per_step_is_not_merged(load_cells):
    cells = [*ONE_PER_CELL[:4], ("", "n = len(xs)"), *ONE_PER_CELL[4:6], ("", "k = 1"),
             *ONE_PER_CELL[6:]]  # fmt: skip
    cells = [c for c in cells if c[1] not in ("## Peek", "print(ys[:2])")]
    names = [s.name for s in load_cells(cells).steps]
    assert names == ["load", "look", "sort", "mean"]
