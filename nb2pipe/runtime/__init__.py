"""What generated pipelines import. Light imports only: no nbformat, jinja2 or typer."""

from nb2pipe.runtime.spec import SPEC_VERSION, Param, Pipeline, Step

__all__ = ["SPEC_VERSION", "Param", "Pipeline", "Step"]
