"""Code generation: the compiler's Pipeline -> the files of a package (package.py), values
rendered safely (render.py) through Jinja2 templates (templating.py), written by a plan
that is then applied (writeplan.py)."""
