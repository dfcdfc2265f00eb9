"""The jinja2 environment of the HTML pages (autoescape always on) and the DAG page.

Templates live in ``templates/viz/`` (shipped as ``nb2pipe.templates``); a folder named by
``NB2PIPE_TEMPLATES`` may override them, as for the generated package's templates.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from typing import Any

from nb2pipe import __version__
from nb2pipe.viz.drawing import draw
from nb2pipe.viz.graph import Dag


def css_class(value: Any) -> str:
    """A status as a CSS class word: lower-case letters, digits and '-' only."""
    return re.sub(r"[^a-z0-9-]+", "-", str(value).lower()).strip("-") or "unknown"


@functools.cache
def environment() -> Any:
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    user = os.environ.get("NB2PIPE_TEMPLATES")
    if user:
        loaders.append(jinja2.FileSystemLoader(os.path.join(user, "viz")))
    loaders.append(jinja2.PackageLoader("nb2pipe.templates", "viz"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(n1=lambda x: f"{float(x):.1f}", css=css_class)
    env.globals["version"] = __version__
    return env


def render(template: str, **context: Any) -> str:
    return str(environment().get_template(template).render(**context))


def run_summary(record: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    if record is None:
        return None, None
    return str(record.get("run_id", "?")), str(record.get("status", "unknown"))


def dag_page(dag: Dag) -> str:
    run_id, run_status = run_summary(dag.run)
    return render("dag.html.j2", dag=dag, drawing=draw(dag), run_id=run_id, run_status=run_status)


def dag_fragment(dag: Dag, inspect: Mapping[str, Any] | None = None) -> str:
    """The DAG (and, given `inspect`, the steps and diagnostics) as an HTML fragment for a
    notebook's output area."""
    return render("fragment.html.j2", dag=dag, drawing=draw(dag), inspect=inspect)


def escape(text: str) -> str:
    from markupsafe import escape as _escape

    return str(_escape(text))
