"""The feature schema recorded at registration, and the checks of a request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from nb2pipe.mlops.schema import RequestError, frame, infer, parse


def test_a_dataframe_model() -> None:
    x = pd.DataFrame({"age": [30, 40, 50, 60], "user_token": [1.0, 2.0, np.nan, 4.0],
                      "flag": [True, False, True, False]})  # fmt: skip
    y = pd.Series([0, 1, 0, 1], name="churn")
    model = LogisticRegression().fit(x.fillna(0), y)
    schema = infer(model, {"X_train": x, "y_train": y})
    assert schema is not None
    age, token, flag = schema["features"]
    assert age == {"name": "age", "dtype": "int64", "nullable": False, "type": "integer",
                   "min": 30.0, "max": 60.0}  # fmt: skip
    assert token["secret"] is True and token["nullable"] is True
    assert flag["type"] == "boolean"
    assert (schema["target"], schema["task"], schema["classes"]) == (
        "churn",
        "classification",
        [0, 1],
    )
    assert schema["layout"] == "dataframe" and schema["proba"] is True

    columns, n, outside = parse(schema, {"records": [{"age": 70, "user_token": None,
                                                      "flag": True}]}, max_rows=5)  # fmt: skip
    assert (n, outside) == (1, ["age"])
    built = frame(schema, columns)
    assert str(built["age"].dtype) == "int64" and np.isnan(built["user_token"][0])
    with pytest.raises(RequestError) as bad:
        parse(schema, {"records": [{"age": 1.5, "user_token": 1, "flag": "yes"}]}, max_rows=5)
    assert [e["msg"] for e in bad.value.errors] == [
        "expected an integer, got 1.5", "expected true or false, got a string",
    ]  # fmt: skip
    with pytest.raises(RequestError, match="same length"):
        parse(schema, {"columns": {"age": [1, 2], "user_token": [1], "flag": [True]}}, max_rows=5)


def test_an_array_model() -> None:
    x = np.arange(12, dtype=float).reshape(4, 3)
    model = LinearRegression().fit(x, [1.0, 2.0, 3.0, 4.0])
    schema = infer(model, {"X": x, "y": np.array([1.0, 2.0, 3.0, 4.0])})
    assert schema is not None and schema["layout"] == "array"
    assert [f["name"] for f in schema["features"]] == ["X[0]", "X[1]", "X[2]"]
    assert (schema["target"], schema["task"], schema["proba"]) == ("y", "regression", False)
    columns, _, _ = parse(schema, {"records": [{"X[0]": 1, "X[1]": 2, "X[2]": 3}]}, max_rows=1)
    assert frame(schema, columns).shape == (1, 3)
    assert infer({"cut": 1.0}, {"X": x}) is None  # no features to tell
