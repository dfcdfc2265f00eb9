"""The jinja2 environment of the HTML pages (autoescape always on) and the DAG page.

Templates live in ``templates/viz/`` (shipped as ``nb2pipe.templates``); a folder named by
``NB2PIPE_TEMPLATES`` may override them, as for the generated package's templates.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from nb2pipe.codegen import templating
from nb2pipe.viz.drawing import draw
from nb2pipe.viz.graph import DagView


def css_class(value: Any) -> str:
    """A status as a CSS class word: lower-case letters, digits and '-' only."""
    return re.sub(r"[^a-z0-9-]+", "-", str(value).lower()).strip("-") or "unknown"


@functools.cache
def environment() -> Any:
    return templating.environment(
        "viz", autoescape=True, n1=lambda x: f"{float(x):.1f}", css=css_class
    )


def render(template: str, **context: Any) -> str:
    return str(environment().get_template(template).render(**context))


def run_summary(record: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    if record is None:
        return None, None
    return str(record.get("run_id", "?")), str(record.get("status", "unknown"))


def dag_page(dag: DagView) -> str:
    run_id, run_status = run_summary(dag.run)
    return render("dag.html.j2", dag=dag, drawing=draw(dag), run_id=run_id, run_status=run_status)


def dag_fragment(dag: DagView, inspect: Mapping[str, Any] | None = None) -> str:
    """The DAG (and, given `inspect`, the steps and diagnostics) as an HTML fragment for a
    notebook's output area."""
    return render("fragment.html.j2", dag=dag, drawing=draw(dag), inspect=inspect)


def escape(text: str) -> str:
    from markupsafe import escape as _escape

    return str(_escape(text))
