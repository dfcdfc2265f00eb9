"""An import kept for its effect stays before the imports it enables (issue 14 finding 2)."""

from __future__ import annotations


def test_effect_import_comes_before_the_import_it_enables(load_cells):
    cells = [
        (
            "imports",
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.experimental import enable_halving_search_cv\n"
            "from sklearn.model_selection import HalvingGridSearchCV",
        ),
        ("step:a", "search = HalvingGridSearchCV(RandomForestClassifier(), {})"),
    ]
    imports = list(load_cells(cells).step("a").imports)
    enable = imports.index("from sklearn.experimental import enable_halving_search_cv")
    assert enable < imports.index("from sklearn.model_selection import HalvingGridSearchCV")
    assert imports.index("from sklearn.ensemble import RandomForestClassifier") < enable
