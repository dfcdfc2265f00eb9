"""The MLflow model written beside a registered version's own files, so MLflow's tools load
and serve it (``mlflow.pyfunc.load_model("models:/NAME@champion")``, ``mlflow models
serve``): scikit-learn estimators in the ``sklearn`` flavour, anything else as a ``pyfunc``
wrapper around the artifact as nb2pipe stored it (loading it needs nb2pipe installed).
Both carry a signature and an input example built from the feature schema and the training
reference (each feature's median or most frequent category)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from nb2pipe.mlops import schema as schemas

try:  # the base class exists only where mlflow is installed (this module is imported there)
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - imported by the MLflow backend only
    PythonModel = object  # type: ignore[assignment,misc]


class Nb2pipeModel(PythonModel):  # type: ignore[misc,valid-type]
    """pyfunc wrapper: the artifact read back by nb2pipe, its ``predict`` (or the object
    itself when it is a function) called on the input."""

    def load_context(self, context: Any) -> None:
        from nb2pipe.runtime import formats

        path = Path(context.artifacts["model"])
        self.model = formats.decode(path.read_bytes(), path.suffix.lstrip("."))

    # no type hints: MLflow would read them as a (useless) input schema and warn
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        if callable(getattr(self.model, "predict", None)):
            return self.model.predict(model_input)
        if callable(self.model):
            return self.model(model_input)
        raise TypeError(f"the registered {type(self.model).__name__} cannot predict")


def _pins(*names: str) -> list[str]:
    out = []
    for name in names:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _example(model: Any, schema: dict[str, Any] | None, reference: Any) -> tuple[Any, Any]:
    """(input example, signature), or (None, None) when the model cannot predict it."""
    if not schema or schema.get("layout") != "dataframe":
        return None, None
    import pandas as pd
    from mlflow.models import infer_signature

    example = pd.DataFrame([schemas.example(schema, reference)])
    try:
        return example, infer_signature(example, model.predict(example))
    except Exception:  # noqa: BLE001 - a model that cannot predict the example: no signature
        return example, infer_signature(example)


def save(folder: Path, model: Any, artifact: Path, schema: Any, reference: Any) -> str:
    """Write the MLflow model into the new folder ``folder``; returns its flavour."""
    import mlflow

    example, signature = _example(model, schema, reference)
    if type(model).__module__.startswith("sklearn.") or _is_estimator(model):
        mlflow.sklearn.save_model(
            model, str(folder), signature=signature, input_example=example,
            serialization_format="cloudpickle",  # the model nb2pipe trained and hash-checked
            pip_requirements=_pins("scikit-learn", "cloudpickle", "numpy", "pandas"),
        )  # fmt: skip
        return "sklearn"
    mlflow.pyfunc.save_model(
        str(folder), python_model=Nb2pipeModel(), artifacts={"model": str(artifact)},
        signature=signature, input_example=example,
        pip_requirements=_pins("cloudpickle", "joblib", "numpy", "pandas", "pyarrow"),
    )  # fmt: skip
    return "pyfunc"


def _is_estimator(model: Any) -> bool:
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(model, BaseEstimator)
