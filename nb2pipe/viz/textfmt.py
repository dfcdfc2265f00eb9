"""The DAG as Mermaid (the one writer, nb2pipe.codegen.mermaid, also draws the generated
README's) and Graphviz DOT (for other tools).

Node ids are ``n0, n1, ...`` so no step name (which may come from an untrusted run record)
can break the syntax; every label is escaped for its language.
"""

from __future__ import annotations

from nb2pipe.codegen import mermaid as _mermaid
from nb2pipe.codegen.mermaid import COLOURS, label_lines
from nb2pipe.viz.graph import DagView


def mermaid(dag: DagView) -> str:
    return _mermaid.mermaid(dag.pipeline, dag.states if dag.run is not None else None)


def dot_text(text: str) -> str:
    """Text for a double-quoted DOT string (escapes, newlines as centred line breaks)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")


def dot(dag: DagView) -> str:
    with_run = dag.run is not None
    ids = {s.name: f"n{k}" for k, s in enumerate(dag.steps)}
    out = [
        f'digraph "{dot_text(dag.name)}" {{',
        '    graph [rankdir=TB, fontname="monospace"];',
        '    node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="monospace"];',
        '    edge [fontname="monospace", fontsize=10];',
    ]
    for s in dag.steps:
        state = dag.state(s.name)
        attrs = [f'label="{dot_text(chr(10).join(label_lines(s, state, with_run)))}"']
        if s.doc:
            attrs.append(f'tooltip="{dot_text(s.doc.strip())}"')
        status = (state.status if state else "not run") if with_run else ""
        styles = ["rounded", "filled"] if s.kind != "gate" else ["filled"]
        if status in ("skipped", "not run"):
            styles.append("dashed")
        if s.kind == "gate":
            attrs.append("shape=hexagon")
        attrs.append(f'style="{",".join(styles)}"')
        if with_run:
            fill, stroke = COLOURS.get(status, COLOURS["unknown"])
            attrs.append(f'fillcolor="{fill}", color="{stroke}"')
        out.append(f"    {ids[s.name]} [{', '.join(attrs)}];")
    for e in dag.edges:
        if e.src not in ids or e.dst not in ids:
            continue
        attr = f'label="{dot_text(", ".join(e.variables))}"' if e.variables else "style=dashed"
        out.append(f"    {ids[e.src]} -> {ids[e.dst]} [{attr}];")
    out.append("}")
    return "\n".join(out) + "\n"
