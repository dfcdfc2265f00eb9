"""Compare a value the notebook computed with the one the pipeline computed.

Numbers within a tolerance; numpy arrays, pandas objects by dtype, shape, index, columns
and values; fitted scikit-learn estimators by ``get_params()`` and by their predictions on
the step's data (else by their fitted attributes); containers element by element; objects
of classes defined in the notebook by class name and attributes (the notebook's class
lives in ``__main__``, the pipeline's in a step module); anything else by ``==``, falling
back to comparing pickles. The first difference is reported with its path inside the
value, e.g. ``['forest']['accuracy']: 0.93 != 0.95``.
"""

from __future__ import annotations

import math
import pickle
import re
import reprlib
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nb2pipe.verify import estimators, figures

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_PREDICT = ("predict", "transform", "predict_proba", "decision_function")


@dataclass(frozen=True)
class Tolerance:
    """``|pipeline - notebook| <= atol + rtol * |notebook|`` for floating-point values."""

    rtol: float = 1e-9
    atol: float = 1e-12


@dataclass
class Outcome:
    ok: bool
    how: str  # what kind of comparison decided it, e.g. "DataFrame", "estimator: predict"
    detail: str = ""  # the first difference, or a note
    skipped: bool = False  # not compared (the detail says why)


class Skip(Exception):
    """The values cannot be compared; the detail says why (not a difference)."""


class Mismatch(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def short(value: Any) -> str:
    try:
        return _repr.repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__
        return f"<{type(value).__name__}>"


def type_name(t: type) -> str:
    module = getattr(t, "__module__", "") or ""
    name = getattr(t, "__qualname__", t.__name__)
    return name if module in ("builtins", "__main__", "") else f"{module}.{name}"


def _one_line(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return " ".join(lines)[:limit]


def _is_notebook_type(t: type) -> bool:
    return getattr(t, "__module__", None) == "__main__"


def _same_type(a: type, b: type) -> bool:
    """Identical, or the same class defined in the notebook (``__main__`` there, a step
    module or ``common`` in the pipeline)."""
    if a is b:
        return True
    if _is_notebook_type(a) or _is_notebook_type(b):
        # a class the notebook defines at top level may live inside a step's function in
        # the pipeline (it reads the step's variables): ``<step>.<locals>.Name``
        return _top_name(a) == _top_name(b)
    return getattr(a, "__qualname__", None) == getattr(b, "__qualname__", None) and (
        a.__module__ == b.__module__
    )


def _top_name(t: type) -> str:
    return str(getattr(t, "__qualname__", t.__name__)).rsplit(".<locals>.", 1)[-1]


def _module(name: str) -> Any:
    return sys.modules.get(name)


def _is_estimator(x: Any) -> bool:
    return callable(getattr(x, "get_params", None)) and callable(getattr(x, "fit", None))


_TIMINGS = {"refit_time_"}  # wall-clock durations: never equal between two runs
_TIMING_KEY = re.compile(r"^(mean|std)_(fit|score)_time$")


def _without_timings(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if not _TIMING_KEY.fullmatch(str(k))}


def _is_fitted(x: Any) -> bool:
    """scikit-learn's rule: ``__sklearn_is_fitted__()`` if defined (Pipeline), else any
    attribute ending with ``_``."""
    probe = getattr(x, "__sklearn_is_fitted__", None)
    if callable(probe):
        try:
            return bool(probe())
        except Exception:  # noqa: BLE001
            pass
    return bool(_fitted_attrs(x))


def _fitted_attrs(x: Any) -> list[str]:
    try:
        names = vars(x)
    except TypeError:
        return []
    return [k for k in names if k.endswith("_") and not k.startswith("_")]


class Comparer:
    """One comparison context: the tolerance and the candidate data (notebook-side values
    of the step's inputs and outputs) on which estimators are asked to predict."""

    def __init__(
        self,
        tol: Tolerance | None = None,
        data: Iterable[tuple[str, Any]] | Callable[[], Iterable[tuple[str, Any]]] = (),
    ) -> None:
        self.tol = tol or Tolerance()
        self._data_source = data
        self._data: list[tuple[str, Any]] | None = None
        self._seen: set[tuple[int, int]] = set()
        self.how = ""

    @property
    def data(self) -> list[tuple[str, Any]]:
        """Loaded on first use: only estimators need it."""
        if self._data is None:
            source = self._data_source
            self._data = list(source() if callable(source) else source)
        return self._data

    # -- entry point --------------------------------------------------------------------

    def compare(self, notebook: Any, pipeline: Any) -> Outcome:
        self._seen.clear()
        self.how = ""
        try:
            self._cmp(notebook, pipeline, "", full=True)
        except Mismatch as exc:
            return Outcome(False, self.how or type_name(type(notebook)), str(exc))
        except Skip as exc:
            return Outcome(True, self.how or type_name(type(notebook)), str(exc), skipped=True)
        except RecursionError:
            return Outcome(False, "recursion", "the value is nested too deeply to compare")
        return Outcome(True, self.how or type_name(type(notebook)))

    def _kind(self, how: str) -> None:
        if not self.how:
            self.how = how

    # -- dispatch -----------------------------------------------------------------------

    def _cmp(self, a: Any, b: Any, path: str, *, full: bool) -> None:
        """Raise Mismatch at the first difference. ``full``: compare estimators' fitted
        state too (False inside an estimator whose predictions were compared)."""
        if a is None or b is None:
            if a is not b:
                raise Mismatch(path, f"{short(a)} != {short(b)}")
            self._kind("None")
            return
        ta, tb = type(a), type(b)
        if not _same_type(ta, tb):
            raise Mismatch(
                path,
                f"type {type_name(ta)} in the notebook, {type_name(tb)} in the pipeline "
                f"({short(a)} vs {short(b)})",
            )
        np = _module("numpy")
        pd = _module("pandas")
        if isinstance(a, bool) or (np is not None and isinstance(a, np.bool_)):
            self._kind("bool")
            if bool(a) != bool(b):
                raise Mismatch(path, f"{a} != {b}")
            return
        if isinstance(a, int) or (np is not None and isinstance(a, np.integer)):
            self._kind("int")
            if int(a) != int(b):
                raise Mismatch(path, f"{a} != {b}")
            return
        if isinstance(a, float) or (np is not None and isinstance(a, np.floating)):
            self._kind("float")
            self._float(float(a), float(b), path)
            return
        if isinstance(a, complex) or (np is not None and isinstance(a, np.complexfloating)):
            self._kind("complex")
            self._float(complex(a).real, complex(b).real, path + ".real")
            self._float(complex(a).imag, complex(b).imag, path + ".imag")
            return
        if isinstance(a, (str, bytes, bytearray)):
            self._kind(ta.__name__)
            if a != b:
                raise Mismatch(path, _text_diff(a, b))
            return
        if np is not None and isinstance(a, np.ndarray):
            self._kind("ndarray")
            self._array(a, b, path)
            return
        if pd is not None and isinstance(a, (pd.DataFrame, pd.Series, pd.Index)):
            self._kind(ta.__name__)
            self._pandas(a, b, path)
            return
        if isinstance(a, (types.FunctionType, types.MethodType)):
            self._kind("function")
            self._function(a, b, path)
            return
        if isinstance(a, type):
            self._kind("class")
            if not _same_type(a, b):
                raise Mismatch(path, f"class {type_name(a)} != {type_name(b)}")
            return
        if isinstance(a, types.ModuleType):
            self._kind("module")
            if a.__name__ != b.__name__:
                raise Mismatch(path, f"module {a.__name__} != {b.__name__}")
            return
        if figures.is_artist(a):
            self._figure(a, b, path)
            return
        key = (id(a), id(b))
        if key in self._seen:  # a cycle, or a shared object already compared
            return
        self._seen.add(key)
        if _is_estimator(a):
            self._estimator(a, b, path, full=full)
            return
        if isinstance(a, Mapping):
            self._kind(ta.__name__)
            self._mapping(a, b, path, full=full)
            return
        if isinstance(a, (list, tuple)):
            self._kind(ta.__name__)
            if len(a) != len(b):
                raise Mismatch(path, f"length {len(a)} != {len(b)}")
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                self._cmp(x, y, f"{path}[{i}]", full=full)
            return
        if isinstance(a, (set, frozenset)):
            self._kind(ta.__name__)
            if a != b:
                only_a, only_b = a - b, b - a
                raise Mismatch(
                    path, f"only in the notebook: {short(only_a)}, only in the pipeline: "
                    f"{short(only_b)}"
                )  # fmt: skip
            return
        self._object(a, b, path, full=full)

    # -- scalars and arrays -------------------------------------------------------------

    def _float(self, a: float, b: float, path: str) -> None:
        if math.isnan(a) and math.isnan(b):
            return
        if a == b:
            return
        if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
            raise Mismatch(path, f"{a!r} != {b!r}")
        if abs(b - a) > self.tol.atol + self.tol.rtol * abs(a):
            raise Mismatch(path, f"{a!r} != {b!r} (difference {abs(b - a):.3g})")

    def _array(self, a: Any, b: Any, path: str) -> None:
        import numpy as np

        if a.dtype != b.dtype:
            raise Mismatch(path, f"dtype {a.dtype} != {b.dtype}")
        if a.shape != b.shape:
            raise Mismatch(path, f"shape {a.shape} != {b.shape}")
        kind = a.dtype.kind
        if kind in "fc":
            close = np.isclose(b, a, rtol=self.tol.rtol, atol=self.tol.atol, equal_nan=True)
            if not close.all():
                bad = int((~close).sum())
                idx = tuple(int(i) for i in np.argwhere(~close)[0])
                where = f"{path}[{', '.join(map(str, idx))}]"
                raise Mismatch(
                    where,
                    f"{a[idx]!r} != {b[idx]!r} ({bad} of {a.size} elements differ)",
                )
            return
        if kind == "O":
            for idx in np.ndindex(a.shape):
                self._cmp(a[idx], b[idx], f"{path}[{', '.join(map(str, idx))}]", full=True)
            return
        equal = np.asarray(a == b) if kind not in "mM" else np.asarray((a == b) | (a != a))
        if kind == "V" or equal.shape != a.shape:  # structured: whole-array comparison
            if not np.array_equal(a, b):
                raise Mismatch(path, "values differ")
            return
        if not equal.all():
            bad = int((~equal).sum())
            idx = tuple(int(i) for i in np.argwhere(~equal)[0])
            where = f"{path}[{', '.join(map(str, idx))}]"
            raise Mismatch(where, f"{a[idx]!r} != {b[idx]!r} ({bad} of {a.size} elements differ)")

    def _pandas(self, a: Any, b: Any, path: str) -> None:
        import pandas as pd

        kw: dict[str, Any] = {"check_exact": False, "rtol": self.tol.rtol, "atol": self.tol.atol}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if isinstance(a, pd.DataFrame):
                    pd.testing.assert_frame_equal(
                        a, b, check_dtype=True, check_index_type=True, check_column_type=True,
                        check_names=True, check_freq=True, check_flags=True, **kw,
                    )  # fmt: skip
                elif isinstance(a, pd.Series):
                    pd.testing.assert_series_equal(
                        a, b, check_dtype=True, check_index_type=True, check_names=True,
                        check_freq=True, check_flags=True, **kw,
                    )  # fmt: skip
                else:
                    pd.testing.assert_index_equal(a, b, exact=True, check_names=True, **kw)
        except AssertionError as exc:
            raise Mismatch(path, _one_line(str(exc))) from None
        if not isinstance(a, pd.Index) and a.attrs != b.attrs:
            raise Mismatch(path + ".attrs", f"{short(a.attrs)} != {short(b.attrs)}")

    # -- containers ---------------------------------------------------------------------

    def _mapping(self, a: Mapping[Any, Any], b: Mapping[Any, Any], path: str, *, full: bool):
        ka, kb = list(a.keys()), list(b.keys())
        same_keys = set(ka) == set(kb) if _hashable_keys(ka, kb) else ka == kb
        if not same_keys:
            only_a = [k for k in ka if k not in kb]
            only_b = [k for k in kb if k not in ka]
            raise Mismatch(
                path,
                f"keys only in the notebook: {short(only_a)}, only in the pipeline: "
                f"{short(only_b)}",
            )
        for k in ka:
            self._cmp(a[k], b[k], f"{path}[{k!r}]", full=full)
        default_a = getattr(a, "default_factory", None)
        default_b = getattr(b, "default_factory", None)
        if (default_a is None) != (default_b is None):
            raise Mismatch(path, "default_factory differs")

    # -- functions and objects ----------------------------------------------------------

    def _function(self, a: Any, b: Any, path: str) -> None:
        """Same name, code, defaults and closure values. A function the notebook defined at
        top level may live inside its step function in the pipeline (`step.<locals>.f`)."""
        if isinstance(a, types.MethodType):
            self._cmp(a.__self__, b.__self__, path + ".__self__", full=True)
            a, b = a.__func__, b.__func__
            if not isinstance(a, types.FunctionType):  # any callable bound as a method:
                self._cmp(a, b, path + ".__func__", full=True)  # scipy.stats' np.vectorize
                return
        if _defined_name(a) != _defined_name(b):
            raise Mismatch(path, f"function {a.__qualname__} != {b.__qualname__}")
        if not _same_code(a.__code__, b.__code__):
            raise Mismatch(path, f"the code of function {a.__qualname__} differs")
        self._cmp(a.__defaults__, b.__defaults__, path + ".__defaults__", full=True)
        self._cmp(a.__kwdefaults__, b.__kwdefaults__, path + ".__kwdefaults__", full=True)
        ca = [c.cell_contents for c in a.__closure__ or () if _filled(c)]
        cb = [c.cell_contents for c in b.__closure__ or () if _filled(c)]
        names = a.__code__.co_freevars
        if len(ca) != len(cb):
            raise Mismatch(path, f"closure of {a.__qualname__} differs")
        for name, x, y in zip(names, ca, cb, strict=False):
            self._cmp(x, y, f"{path}<closure {name}>", full=True)

    def _estimator(self, a: Any, b: Any, path: str, *, full: bool) -> None:
        self._kind("estimator")
        pa, pb = a.get_params(deep=False), b.get_params(deep=False)
        samples = self._samples(a) if full and _is_fitted(a) else []
        if set(pa) != set(pb):
            raise Mismatch(
                path + ".get_params()", f"parameter names differ: {sorted(pa)} vs {sorted(pb)}"
            )
        for k in pa:
            # Nested estimators: their fitted state is covered by the predictions if any.
            self._cmp(pa[k], pb[k], f"{path}.get_params()[{k!r}]", full=full and not samples)
        if not full:
            return
        fitted_a, fitted_b = _is_fitted(a), _is_fitted(b)
        if fitted_a != fitted_b:
            state = ("fitted", "not fitted") if fitted_a else ("not fitted", "fitted")
            raise Mismatch(path, f"{state[0]} in the notebook, {state[1]} in the pipeline")
        if not fitted_a:
            self.how = "estimator: params (not fitted)"
            return
        done = [label for label, X in samples if self._predictions(a, b, path, (label, X))]
        names = estimators.plain_fitted(a) if done else _fitted_attrs(a)
        if not done:
            fb = _fitted_attrs(b)
            if set(names) != set(fb):
                only_a = sorted(set(names) - set(fb))
                only_b = sorted(set(fb) - set(names))
                raise Mismatch(
                    path, f"fitted attributes only in the notebook: {only_a}, only in the "
                    f"pipeline: {only_b}"
                )  # fmt: skip
        for k in names:
            if k in _TIMINGS:
                continue
            if not hasattr(b, k):
                raise Mismatch(f"{path}.{k}", "a fitted attribute the pipeline's estimator lacks")
            x, y = getattr(a, k), getattr(b, k)
            if k == "cv_results_" and isinstance(x, dict) and isinstance(y, dict):
                x, y = _without_timings(x), _without_timings(y)
            self._cmp(x, y, f"{path}.{k}", full=True)
        if not done:
            self.how = "estimator: params + fitted attributes"
            return
        self.how = f"estimator: params + predictions on {', '.join(done)}"
        if names:
            self.how += " + fitted attributes"

    def _samples(self, est: Any) -> list[tuple[str, Any]]:
        """The step's data the estimator can predict on, and a synthetic sample shaped
        like it (held-out rows: two different models rarely agree there)."""
        found = estimators.candidates(est, self.data)
        try:
            fake = estimators.synthetic(est, found[0][1] if found else None)
        except Exception:  # noqa: BLE001 - e.g. a column of a kind we cannot sample
            fake = None
        return found + ([("a synthetic sample", fake)] if fake is not None else [])

    def _predictions(self, a: Any, b: Any, path: str, data: tuple[str, Any]) -> bool:
        name, X = data
        for method in _PREDICT:
            fa, fb = getattr(a, method, None), getattr(b, method, None)
            if not (callable(fa) and callable(fb)):
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ya = fa(_copy(X))
            except Exception:  # noqa: BLE001 - this method does not apply: try the next
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    yb = fb(_copy(X))
            except Exception as exc:  # noqa: BLE001
                raise Mismatch(
                    f"{path}.{method}({name})",
                    f"works on the notebook's estimator, fails on the pipeline's: "
                    f"{_one_line(f'{type(exc).__name__}: {exc}')}",
                ) from None
            self._cmp(ya, yb, f"{path}.{method}({name})", full=True)
            return True
        return False

    def _figure(self, a: Any, b: Any, path: str) -> None:
        self._kind("figure: what it shows")
        try:
            seen_a, seen_b = figures.shown(a), figures.shown(b)
        except Exception as exc:  # noqa: BLE001 - an artist we cannot read
            raise Skip(
                f"{path or 'the figure'} not compared: {_one_line(f'{type(exc).__name__}: {exc}')}"
            ) from None
        self._cmp(seen_a, seen_b, path, full=True)

    def _object(self, a: Any, b: Any, path: str, *, full: bool) -> None:
        ta = type(a)
        if ta is type(b) and type(ta).__eq__ is type.__eq__ and ta.__eq__ is not object.__eq__:
            self._kind(type_name(ta))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    equal = a == b
                if isinstance(equal, bool):
                    if not equal:
                        raise Mismatch(path, f"{short(a)} != {short(b)}")
                    return
            except Mismatch:
                raise
            except Exception:  # noqa: BLE001 - fall through to the structure
                pass
        state_a, state_b = _state(a), _state(b)
        if state_a is not None and state_b is not None:
            self._kind(type_name(ta))
            self._mapping(state_a, state_b, path, full=full)
            return
        own = getattr(ta, "__getstate__", None)
        if own is not None and own is not getattr(object, "__getstate__", None):
            try:  # extension types (a tree's nodes): their state, not their pickle's bytes
                got_a, got_b = a.__getstate__(), b.__getstate__()
            except Exception:  # noqa: BLE001
                got_a = got_b = None
            if isinstance(got_a, dict) and isinstance(got_b, dict):
                self._kind(type_name(ta))
                self._mapping(got_a, got_b, path, full=full)
                return
        self._kind(f"{type_name(ta)} (pickle)")
        try:
            same = pickle.dumps(a, protocol=4) == pickle.dumps(b, protocol=4)
        except Exception as exc:  # noqa: BLE001
            raise Mismatch(
                path, f"cannot compare values of type {type_name(ta)}: {_one_line(str(exc))}"
            ) from None
        if not same:
            raise Mismatch(path, f"pickles differ ({short(a)} vs {short(b)})")


def _hashable_keys(*keys: list[Any]) -> bool:
    try:
        for ks in keys:
            set(ks)
    except TypeError:
        return False
    return True


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - raises ValueError when empty
    except ValueError:
        return False
    return True


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if a.co_code != b.co_code or a.co_names != b.co_names or a.co_varnames != b.co_varnames:
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or (x != y and not (x != x and y != y)):
            return False
    return True


def _state(x: Any) -> dict[str, Any] | None:
    """The attributes of a plain object (``__dict__`` plus ``__slots__``), or None."""
    state: dict[str, Any] = {}
    has = False
    try:
        state.update(vars(x))
        has = True
    except TypeError:
        pass
    for klass in type(x).__mro__:
        for slot in getattr(klass, "__slots__", ()) or ():
            if isinstance(slot, str) and slot not in ("__dict__", "__weakref__"):
                has = True
                if hasattr(x, slot):
                    state[slot] = getattr(x, slot)
    return state if has else None


def _copy(x: Any) -> Any:
    copy: Callable[[], Any] | None = getattr(x, "copy", None)
    return copy() if callable(copy) else x


def _text_diff(a: str | bytes | bytearray, b: str | bytes | bytearray) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    lo = max(0, n - 20)
    return (
        f"differ at position {n}: {short(a[lo : n + 40])} != {short(b[lo : n + 40])}"
        if n < max(len(a), len(b))
        else f"{short(a)} != {short(b)}"
    )


def _defined_name(func: Any) -> str:
    """The qualified name without the enclosing step function: `f` for `step.<locals>.f`."""
    return func.__qualname__.rsplit(".<locals>.", 1)[-1]
