"""Views of a pipeline for people: the DAG (HTML, Mermaid, DOT), the run report, the tagger.

``graph`` builds one DAG description from a notebook or a generated package and renders it;
``report`` renders one run; ``tagger`` proposes step tags. jinja2 is used here (for the HTML
pages, with autoescape on), never in ``nb2pipe.runtime``.
"""
