"""Serving and monitoring: the continuous-training loop after registration.

* :mod:`.schema`: the feature schema recorded with a model version (names, types, ranges
  seen in training) and the checks a prediction request goes through;
* :mod:`.predlog`: the prediction log (SQLite in WAL mode, or PostgreSQL), one small
  interface, and the group-committing writer the server uses;
* :mod:`.serve`: the FastAPI application of ``nb2pipe serve`` (optional extra
  ``nb2pipe[serve]``; imported only by that command);
* :mod:`.monitor`: drift, prediction drift and live performance per window of the log
  (computations only, no printing);
* :mod:`.flavor`: the MLflow model flavour written with a registered version.

Nothing here is imported by ``import nb2pipe`` or the CLI until a command needs it.
"""
