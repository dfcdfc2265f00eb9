"""Jinja2 templates of every file nb2pipe generates (shipped as nb2pipe.templates).

Copy this folder and point NB2PIPE_TEMPLATES at it to override a template.
"""
