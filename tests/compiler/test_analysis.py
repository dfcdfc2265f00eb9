"""The analysis (SPEC section 2): a table of tricky snippets with the inputs, outputs and
parameters expected of every step, then errors, warnings, magics and parameters."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest

from nb2pipe.codegen.spec import to_spec
from nb2pipe.errors import AnalysisError, Nb2pipeError, StrictError, TagError
from nb2pipe.runtime.spec import Edge

IMPORTS = ("imports", "import numpy as np\nimport pandas as pd")
SKLEARN = (
    "imports",
    "from sklearn.linear_model import LinearRegression\n"
    "from sklearn.pipeline import Pipeline\n"
    "from sklearn.preprocessing import StandardScaler",
)


@dataclass(frozen=True)
class E:
    """What one step should look like. ``i``: inputs as "var<producer ...", ``o``: outputs,
    ``p``: parameters read, ``m``: inputs changed in place (None: not checked)."""

    i: str = ""
    o: str = ""
    p: str = ""
    m: str | None = None

    def inputs(self) -> dict[str, str]:
        return dict(w.split("<") for w in self.i.split())


CASES = [
    # ------------------------------------------------------------ scopes
    pytest.param(
        [("step:a", "xs = [1, 2]\ni = 5"), ("step:b", "ys = [i * 2 for i in xs]\nprint(i)")],
        {"a": E(o="xs i"), "b": E(i="xs<a i<a", o="ys")},
        id="comprehension-variable-does-not-leak",
    ),
    pytest.param(
        [("step:a", "x = 0\nxs = [1]"), ("step:b", "ys = [x for x in xs]")],
        {"a": E(o="xs"), "b": E(i="xs<a", o="ys")},
        id="comprehension-target-is-not-an-input",
    ),
    pytest.param(
        [
            ("step:a", "m = [[1, 2]]\nlim = 1"),
            ("step:b", "f = {v: k for row in m for v in row if v > lim for k in [v]}"),
        ],
        {"b": E(i="m<a lim<a", o="f")},
        id="nested-generators-and-conditions",
    ),
    pytest.param(
        [
            ("step:a", "k = 3"),
            ("step:b", "def f():\n    def g():\n        return k\n    return g()\nr = f()"),
        ],
        {"b": E(i="k<a", o="r")},
        id="nested-function-reads-a-global-when-called",
    ),
    pytest.param(
        [("step:a", "k = 1"), ("step:b", "def f():\n    k = 2\n    return k\nr = f()")],
        {"a": E(o="k"), "b": E(o="r")},
        id="function-local-shadows-a-global",
    ),
    pytest.param(
        [("step:a", "x = 1\ny = 2"), ("step:b", "r = (lambda x: x + y)(3)")],
        {"a": E(o="y"), "b": E(i="y<a", o="r")},
        id="lambda-parameter-shadows",
    ),
    pytest.param(
        [
            ("step:a", "xs = [3, 1]\nsign = -1"),
            ("step:b", "ys = sorted(xs, key=lambda v: sign * v)"),
        ],
        {"b": E(i="xs<a sign<a", o="ys")},
        id="lambda-closure",
    ),
    pytest.param(
        [
            ("step:a", "k = 3\nn = 2"),
            (
                "step:b",
                "class C:\n    k = 5\n    z = k + n\n    def m(self):\n        return k\nc = C()",
            ),
        ],
        {"b": E(i="k<a n<a", o="c")},
        id="class-body-scope",
    ),
    pytest.param(
        [("step:a", "k = 3"), ("step:b", "def f(x=k):\n    return x\nr = f()")],
        {"b": E(i="k<a", o="r")},
        id="default-argument-read-at-definition",
    ),
    pytest.param(
        [
            ("step:a", "k = 2"),
            (
                "step:b",
                "def outer():\n    acc = 0\n    def inner():\n        nonlocal acc\n        acc += k\n    inner()\n    return acc\nr = outer()",
            ),
        ],
        {"b": E(i="k<a", o="r")},
        id="nonlocal",
    ),
    pytest.param(
        [
            ("step:a", "counter = 0"),
            ("step:b", "def inc():\n    global counter\n    counter += 1\ninc()"),
            ("step:c", "print(counter)"),
        ],
        {"b": E(i="counter<a", o="counter", m="counter"), "c": E(i="counter<b")},
        id="global-augmented-in-a-function",
    ),
    pytest.param(
        [("step:a", "n = 3"), ("step:b", "s = f'{n:>{n}}'")],
        {"b": E(i="n<a", o="s")},
        id="f-string",
    ),
    # ------------------------------------------------------------ control flow
    pytest.param(
        [("step:a", "x = 1\ny = 2"), ("step:b", "del x\nz = y"), ("step:c", "w = z")],
        {"a": E(o="x y"), "b": E(i="x<a y<a", o="z"), "c": E(i="z<b", o="w")},
        id="del-name",
    ),
    pytest.param(
        [
            ("step:a", "c = True"),
            ("step:b", "if c:\n    v = 1\nelse:\n    v = 2"),
            ("step:c", "print(v)"),
        ],
        {"b": E(i="c<a", o="v"), "c": E(i="v<b")},
        id="if-else-binds-on-both-paths",
    ),
    pytest.param(
        [("step:a", "v = 0\nc = True"), ("step:b", "if c:\n    v = 1"), ("step:c", "print(v)")],
        {"a": E(o="v c"), "b": E(i="c<a v<a", o="v"), "c": E(i="v<b")},
        id="if-without-else-keeps-the-earlier-value",
    ),
    pytest.param(
        [
            ("step:a", "v = 0"),
            ("step:b", "try:\n    v = int('3')\nexcept ValueError:\n    pass"),
            ("step:c", "print(v)"),
        ],
        {"b": E(i="v<a", o="v"), "c": E(i="v<b")},
        id="try-may-not-bind",
    ),
    pytest.param(
        [
            ("step:a", "s = '3'\nv = 0"),
            ("step:b", "try:\n    v = int(s)\nexcept ValueError:\n    v = -1"),
            ("step:c", "print(v)"),
        ],
        {"a": E(o="s"), "b": E(i="s<a", o="v")},
        id="try-except-both-bind",
    ),
    pytest.param(
        [
            ("step:a", "total = 0\nxs = [1, 2]"),
            ("step:b", "for x in xs:\n    total = total + x"),
            ("step:c", "print(total)"),
        ],
        {"b": E(i="xs<a total<a", o="total"), "c": E(i="total<b")},
        id="for-loop",
    ),
    pytest.param(
        [("step:a", "n = 1"), ("step:b", "while n < 10:\n    n = n * 2"), ("step:c", "print(n)")],
        {"b": E(i="n<a", o="n"), "c": E(i="n<b")},
        id="while-loop",
    ),
    pytest.param(
        [
            ("step:a", "path = 'data.txt'"),
            ("step:b", "with open(path) as fh:\n    text = fh.read()"),
            ("step:c", "print(text)"),
        ],
        {"b": E(i="path<a", o="text"), "c": E(i="text<b")},
        id="with",
    ),
    pytest.param(
        [
            ("step:a", "xs = [1, 2, 3]"),
            ("step:b", "if (n := len(xs)) > 2:\n    pass"),
            ("step:c", "print(n)"),
        ],
        {"b": E(i="xs<a", o="n"), "c": E(i="n<b")},
        id="walrus",
    ),
    pytest.param(
        [
            ("step:a", "xs = [1, 2, 3]"),
            ("step:b", "ys = [last := x for x in xs]"),
            ("step:c", "print(last)"),
        ],
        {"b": E(i="xs<a", o="last"), "c": E(i="last<b")},
        id="walrus-in-a-comprehension-binds-outside",
    ),
    pytest.param(
        [
            ("step:a", "xs = [1, 2, 3]"),
            ("step:b", "ys = [y for x in xs if (y := x * 2) > 2]"),
            ("step:c", "print(y, ys)"),
        ],
        {"b": E(i="xs<a", o="y ys"), "c": E(i="y<b ys<b")},
        id="walrus-in-a-comprehension-condition-read-by-its-element",
    ),
    pytest.param(
        [
            ("step:a", "xs = [1, 2, 3]"),
            ("step:b", "first, *rest = xs"),
            ("step:c", "print(first, rest)"),
        ],
        {"b": E(i="xs<a", o="first rest"), "c": E(i="first<b rest<b")},
        id="star-unpacking",
    ),
    pytest.param(
        [("step:a", "n = 1"), ("step:b", "n += 1"), ("step:c", "print(n)")],
        {"b": E(i="n<a", o="n", m="n"), "c": E(i="n<b")},
        id="augmented-assignment",
    ),
    pytest.param(
        [
            ("step:a", "cmd = ('go', 3)"),
            (
                "step:b",
                "match cmd:\n    case ('go', k):\n        dist = k\n    case _:\n        dist = 0",
            ),
            ("step:c", "print(dist)"),
        ],
        {"b": E(i="cmd<a", o="dist"), "c": E(i="dist<b")},
        id="match-with-wildcard",
    ),
    pytest.param(
        [
            ("step:a", "dist = -1\ncmd = ('go', 3)"),
            ("step:b", "match cmd:\n    case ('go', k) if k > 0:\n        dist = k"),
            ("step:c", "print(dist)"),
        ],
        {"b": E(i="cmd<a dist<a", o="dist"), "c": E(i="dist<b")},
        id="match-that-may-not-bind",
    ),
    pytest.param(
        [
            ("step:a", "x = 0"),
            ("step:b", "if __name__ == '__main__':\n    x = 1"),
            ("step:c", "print(x)"),
        ],
        {"b": E(i="x<a", o="x"), "c": E(i="x<b")},
        id="main-guard",
    ),
    # ------------------------------------------------------------ mutation
    pytest.param(
        [("step:a", "d = {}"), ("step:b", "d['k'] = 1"), ("step:c", "print(d)")],
        {"b": E(i="d<a", o="d", m="d"), "c": E(i="d<b")},
        id="subscript-assignment",
    ),
    pytest.param(
        [
            ("step:a", "import types\no = types.SimpleNamespace()"),
            ("step:b", "o.a = 1"),
            ("step:c", "print(o)"),
        ],
        {"b": E(i="o<a", o="o", m="o"), "c": E(i="o<b")},
        id="attribute-assignment",
    ),
    pytest.param(
        [("step:a", "d = {'k': 1}"), ("step:b", "del d['k']"), ("step:c", "print(d)")],
        {"b": E(i="d<a", o="d", m="d"), "c": E(i="d<b")},
        id="del-subscript",
    ),
    pytest.param(
        [
            ("step:a", "counts = {'a': 0}"),
            ("step:b", "counts['a'] += 1"),
            ("step:c", "print(counts)"),
        ],
        {"b": E(i="counts<a", o="counts", m="counts"), "c": E(i="counts<b")},
        id="augmented-subscript",
    ),
    pytest.param(
        [
            IMPORTS,
            ("step:a", "df = pd.DataFrame({'a': [1, None]})"),
            ("step:b", "df.dropna(inplace=True)"),
            ("step:c", "print(df)"),
        ],
        {"b": E(i="df<a", o="df", m="df"), "c": E(i="df<b")},
        id="inplace-true",
    ),
    pytest.param(
        [
            SKLEARN,
            ("step:a", "m = LinearRegression()\nX = [[1], [2]]\ny = [1, 2]"),
            ("step:b", "m.fit(X, y)"),
            ("step:c", "print(m.coef_)"),
        ],
        {"b": E(i="m<a X<a y<a", o="m", m="m"), "c": E(i="m<b")},
        id="fit",
    ),
    pytest.param(
        [("step:a", "xs = []"), ("step:b", "xs.append(1)"), ("step:c", "print(xs)")],
        {"b": E(i="xs<a", o="xs", m="xs"), "c": E(i="xs<b")},
        id="append",
    ),
    pytest.param(
        [("step:a", "d = {}"), ("step:b", "d.update(a=1)"), ("step:c", "print(d)")],
        {"b": E(i="d<a", o="d", m="d"), "c": E(i="d<b")},
        id="update",
    ),
    pytest.param(
        [("step:a", "xs = [3, 1]"), ("step:b", "xs.sort()"), ("step:c", "print(xs)")],
        {"b": E(i="xs<a", o="xs", m="xs"), "c": E(i="xs<b")},
        id="sort",
    ),
    pytest.param(
        [("step:a", "xs = [3, 1]"), ("step:b", "v = xs.pop()"), ("step:c", "print(xs, v)")],
        {"b": E(i="xs<a", o="xs v", m="xs"), "c": E(i="xs<b v<b")},
        id="pop",
    ),
    pytest.param(
        [
            IMPORTS,
            ("step:a", "arr = np.arange(5)"),
            ("step:b", "np.random.shuffle(arr)"),
            ("step:c", "print(arr)"),
        ],
        {"b": E(i="arr<a", o="arr", m="arr"), "c": E(i="arr<b")},
        id="np-random-shuffle",
    ),
    pytest.param(
        [
            SKLEARN,
            (
                "functions",
                "def train_all(models, X, y):\n    for m in models:\n        m.fit(X, y)",
            ),
            (
                "step:a",
                "m1 = LinearRegression()\nm2 = LinearRegression()\nX = [[1], [2]]\ny = [1, 2]",
            ),
            ("step:b", "train_all([m1, m2], X, y)"),
            ("step:c", "print(m1, m2)"),
        ],
        {"b": E(i="m1<a m2<a X<a y<a", o="m1 m2", m="m1 m2"), "c": E(i="m1<b m2<b")},
        id="function-changing-the-items-of-a-list-argument",
    ),
    pytest.param(
        [
            SKLEARN,
            (
                "functions",
                "def fit_one(m, X, y):\n    m.fit(X, y)\n\n\ndef fit_all(ms, X, y):\n    for m in ms:\n        fit_one(m, X, y)",
            ),
            ("step:a", "m1 = LinearRegression()\nX = [[1], [2]]\ny = [1, 2]"),
            ("step:b", "fit_all((m1,), X, y)"),
            ("step:c", "print(m1)"),
        ],
        {"b": E(i="m1<a X<a y<a", o="m1", m="m1"), "c": E(i="m1<b")},
        id="mutation-through-a-call-to-another-notebook-function",
    ),
    pytest.param(
        [
            (
                "functions",
                "def mark(*ds, **opts):\n    for d in ds:\n        d['x'] = 1\n    opts['log'].append(1)",
            ),
            ("step:a", "p = {}\nq = {}\nlog = []\nkeep = []"),
            ("step:b", "mark(p, q, log=log, other=keep)"),
            ("step:c", "print(p, q, log, keep)"),
        ],
        {
            "b": E(i="p<a q<a log<a keep<a", o="p q log keep", m="p q log keep"),
            "c": E(i="p<b q<b log<b keep<b"),
        },
        id="star-args-and-keyword-args-changed",
    ),
    pytest.param(
        [
            IMPORTS,
            ("step:a", "order = np.arange(6)"),
            ("step:b", "np.random.default_rng(1).shuffle(order)"),
            ("step:c", "r = order.tolist()"),
        ],
        {"b": E(i="order<a", o="order", m="order"), "c": E(i="order<b", o="r")},
        id="generator-shuffle-on-a-call-result",
    ),
    pytest.param(
        [
            ("step:a", "import heapq\nh = []"),
            ("step:b", "import heapq\nheapq.heappush(h, 3)"),
            ("step:c", "print(h)"),
        ],
        {"b": E(i="h<a", o="h", m="h"), "c": E(i="h<b")},
        id="heappush",
    ),
    pytest.param(
        [
            ("functions", "def add_col(frame):\n    frame['x'] = 1"),
            ("step:a", "d = {}"),
            ("step:b", "add_col(d)"),
            ("step:c", "print(d)"),
        ],
        {"b": E(i="d<a", o="d", m="d"), "c": E(i="d<b")},
        id="shared-function-assigns-into-its-parameter",
    ),
    pytest.param(
        [
            ("step:a", "d = {}"),
            (
                "step:b",
                "def add_col(frame, value):\n    target = frame\n    target['x'] = value\nadd_col(value=1, frame=d)",
            ),
            ("step:c", "print(d)"),
        ],
        {"b": E(i="d<a", o="d", m="d"), "c": E(i="d<b")},
        id="step-function-assigns-into-its-parameter-by-keyword-through-an-alias",
    ),
    pytest.param(
        [
            ("step:a", "store = []"),
            ("step:b", "def push(v):\n    store.append(v)\npush(1)"),
            ("step:c", "print(store)"),
        ],
        {"b": E(i="store<a", o="store", m="store"), "c": E(i="store<b")},
        id="function-changes-a-global",
    ),
    pytest.param(
        [
            ("step:a", "a = []\nb = []"),
            ("step:b", "for lst in [a, b]:\n    lst.append(1)"),
            ("step:c", "print(a, b)"),
        ],
        {"b": E(i="a<a b<a", o="a b", m="a b"), "c": E(i="a<b b<b")},
        id="alias-through-a-list-and-a-loop",
    ),
    pytest.param(
        [
            SKLEARN,
            (
                "step:a",
                "m1 = LinearRegression()\nm2 = LinearRegression()\nX = [[1], [2]]\ny = [1, 2]",
            ),
            (
                "step:b",
                "models = {'a': m1, 'b': m2}\nfor name, mdl in models.items():\n    mdl.fit(X, y)",
            ),
            ("step:c", "print(m1, m2)"),
        ],
        {"b": E(i="m1<a m2<a X<a y<a", o="m1 m2", m="m1 m2"), "c": E(i="m1<b m2<b")},
        id="alias-through-dict-items",
    ),
    pytest.param(
        [
            SKLEARN,
            (
                "step:a",
                "pipe = Pipeline([('scale', StandardScaler()), ('clf', LinearRegression())])",
            ),
            ("step:b", "m = pipe.named_steps['clf']\nm.set_params(fit_intercept=False)"),
            ("step:c", "print(pipe)"),
        ],
        {"b": E(i="pipe<a", o="pipe", m="pipe"), "c": E(i="pipe<b")},
        id="alias-through-named-steps",
    ),
    pytest.param(
        [("step:a", "src = [1]"), ("step:b", "x = y = src\ny.append(2)"), ("step:c", "print(src)")],
        {"b": E(i="src<a", o="src", m="src"), "c": E(i="src<b")},
        id="alias-through-chained-assignment",
    ),
    pytest.param(
        [("step:a", "d = {}"), ("step:b", "lst = [d]\nlst[0]['x'] = 1"), ("step:c", "print(d)")],
        {"b": E(i="d<a", o="d", m="d"), "c": E(i="d<b")},
        id="alias-through-a-subscript-of-a-list",
    ),
    pytest.param(
        [
            ("step:a", "xs = []"),
            ("step:b", "if (ys := xs) is not None:\n    ys.append(1)"),
            ("step:c", "print(xs)"),
        ],
        {"b": E(i="xs<a", o="xs", m="xs"), "c": E(i="xs<b")},
        id="alias-through-walrus",
    ),
    pytest.param(
        [
            ("functions", "def same(x, scale=1):\n    y = x\n    return y"),
            ("step:a", "d = {'k': 1}\ne = {}"),
            ("step:b", "def f0(x):\n    return x\nb = f0(d)\nb[0] = 0\nc = same(e, 2)\nc['z'] = 1"),
            ("step:c", "print(d, e)"),
        ],
        {"b": E(i="d<a e<a", o="d e", m="d e"), "c": E(i="d<b e<b")},
        id="alias-through-a-function-returning-its-argument",
    ),
    pytest.param(
        [
            ("functions", "def fresh(x):\n    return dict(x)"),
            ("step:a", "d = {'k': 1}"),
            ("step:b", "b = fresh(d)\nb[0] = 0"),
            ("step:c", "print(d)"),
        ],
        {"b": E(i="d<a", o="b", m=""), "c": E(i="d<a")},
        id="a-function-returning-a-new-object-is-no-alias",
    ),
    # ------------------------------------------------------------ read-only calls
    pytest.param(
        [
            IMPORTS,
            ("step:a", "df = pd.DataFrame({'a': [1, 2]})"),
            ("step:b", "s = df.describe()\nh = df.head()"),
            ("step:c", "t = df.copy()\ng = df.groupby('a').sum()"),
            ("step:d", "print(s, h, t, g)"),
        ],
        {
            "b": E(i="df<a", o="s h", m=""),
            "c": E(i="df<a", o="t g", m=""),
            "d": E(i="s<b h<b t<c g<c"),
        },
        id="describe-head-copy-groupby-keep-branches-parallel",
    ),
    pytest.param(
        [
            SKLEARN,
            ("step:a", "m = LinearRegression().fit([[1], [2]], [1, 2])\nX = [[1]]\ny = [1]"),
            ("step:b", "p = m.predict(X)"),
            ("step:c", "s = m.score(X, y)"),
            ("step:d", "print(p, s)"),
        ],
        {
            "b": E(i="m<a X<a", o="p", m=""),
            "c": E(i="m<a X<a y<a", o="s", m=""),
            "d": E(i="p<b s<c"),
        },
        id="predict-score-keep-branches-parallel",
    ),
    # ------------------------------------------------------------ terminal steps, parameters
    pytest.param(
        [
            ("step:a", "import math\nx = 1"),
            (
                "step:b",
                "y = x * 2\nz = math.sqrt(y)\ndef helper():\n    return 1\ntmp = 3\ndel tmp",
            ),
        ],
        {"a": E(o="x"), "b": E(i="x<a", o="y z")},
        id="terminal-step-keeps-every-name-it-defines",
    ),
    pytest.param(
        [("step:a", "x = 1\ny = 2"), ("step:b", "w = y"), ("step:c", "v = x")],
        {"a": E(o="x y"), "b": E(i="y<a", o="w"), "c": E(i="x<a", o="v")},
        id="two-terminal-steps",
    ),
    pytest.param(
        [
            ("parameters", "n = 3  # how many\nrate = 0.5"),
            ("step:a", "xs = [rate] * n"),
            ("step:b", "print(xs, n)"),
        ],
        {"a": E(o="xs", p="n rate"), "b": E(i="xs<a", p="n")},
        id="parameters-are-not-data-edges",
    ),
    pytest.param(
        [("parameters", "n = 1"), ("step:a", "n = n + 1\nm = n"), ("step:b", "print(n, m)")],
        {"a": E(o="n m", p="n"), "b": E(i="n<a m<a")},
        id="step-reassigning-a-parameter-makes-it-data",
    ),
    pytest.param(
        [("parameters", "cfg = {'a': 1}"), ("step:a", "cfg['b'] = 2"), ("step:b", "print(cfg)")],
        {"a": E(o="cfg", p="cfg"), "b": E(i="cfg<a")},
        id="step-changing-a-parameter-makes-it-data",
    ),
    pytest.param(
        [
            ("imports", "import math\nTAU = 2 * math.pi"),
            ("functions", "def area(r):\n    return TAU * r * r / 2"),
            ("step:a", "r = 2.0"),
            ("step:b", "s = area(r)"),
        ],
        {"a": E(o="r"), "b": E(i="r<a", o="s")},
        id="imports-and-shared-definitions-are-not-data-edges",
    ),
    # ------------------------------------------------------------ display lines, magics, metrics
    pytest.param(
        [("step:a", "y = 1\nz = 2"), ("step:b", "w = z\ny")],
        {"a": E(o="z"), "b": E(i="z<a", o="w")},
        id="trailing-display-name-dropped",
    ),
    pytest.param(
        [
            ("step:a", "import types\ny = types.SimpleNamespace(s=1)\nz = 2"),
            ("step:b", "w = z\ny.s, y"),
        ],
        {"a": E(o="z"), "b": E(i="z<a", o="w")},
        id="trailing-display-attribute-tuple-dropped",
    ),
    pytest.param(
        [("step:a", "y = [1]\nz = 2"), ("step:b", "w = z\nprint(y)")],
        {"a": E(o="y z"), "b": E(i="z<a y<a", o="w")},
        id="trailing-call-kept",
    ),
    pytest.param(
        [("step:a", "%time x = sum([1, 2])"), ("step:b", "print(x)")],
        {"a": E(o="x"), "b": E(i="x<a")},
        id="time-magic-keeps-its-statement",
    ),
    pytest.param(
        [("step:a", "%%time\nx = 1\ny = 2"), ("step:b", "print(y)")],
        {"a": E(o="y"), "b": E(i="y<a")},
        id="time-cell-magic-keeps-its-body",
    ),
    pytest.param(
        [("step:a", "loss = 0.1"), ("step:b", "acc = 0.9"), ("metrics", "loss\nacc")],
        {"a": E(o="loss"), "b": E(o="acc")},
        id="metrics-cell-adds-no-inputs",
    ),
    pytest.param(
        [("step:a", "x = 1"), ("skip", "y = x + 1\nprint(y)"), ("step:b", "z = x")],
        {"a": E(o="x"), "b": E(i="x<a", o="z")},
        id="skip-cell-left-out",
    ),
]


@pytest.mark.parametrize(("cells", "expected"), CASES)
def test_inputs_outputs_params(load_cells, cells, expected):
    pipe = load_cells(cells)
    for name, want in expected.items():
        step = pipe.step(name)
        got = (step.inputs, set(step.outputs), set(step.params))
        assert got == (want.inputs(), set(want.o.split()), set(want.p.split())), name
        if want.m is not None:
            assert set(step.mutates) == set(want.m.split()), name


def test_table_is_big_enough():
    assert len(CASES) >= 40


# ---------------------------------------------------------------- edges and order


def test_edges_follow_notebook_order_last_writer_wins(load_cells):
    pipe = load_cells([("step:a", "x = 1"), ("step:b", "x = 2"), ("step:c", "print(x)")])
    assert pipe.step("c").inputs == {"x": "b"}
    assert pipe.step("a").outputs == ("x",)  # terminal: kept although b rebinds it


def test_after_tag_adds_an_ordering_edge(load_cells):
    pipe = load_cells([("step:a", "x = 1"), ("step:b after:a", "y = 2")])
    assert pipe.step("b").after == ("a",)
    assert Edge("a", "b") in to_spec(pipe).edges


def test_inputs_in_first_read_order(load_cells):
    pipe = load_cells([("step:a", "x = 1\ny = 2\nz = 3"), ("step:b", "w = z + x + y")])
    assert list(pipe.step("b").inputs) == ["z", "x", "y"]


# ---------------------------------------------------------------- definitions in step cells


def test_class_defined_in_a_step_is_hoisted_and_imported_by_a_later_step(load_cells):
    cells = [
        ("step:a", "class Box:\n    def __init__(self, v):\n        self.v = v\nb = Box(2)"),
        ("step:b", "c = Box(b.v + 1)"),
    ]
    pipe = load_cells(cells)
    a, b = pipe.step("a"), pipe.step("b")
    assert [f.source.splitlines()[0] for f in a.hoisted] == ["class Box:"]
    assert all("class Box" not in f.source for f in a.body)
    assert b.uses_steps == {"a": ("Box",)}
    assert b.inputs == {"b": "a"}


def test_function_using_only_imports_is_hoisted(load_cells):
    cells = [
        ("imports", "import math"),
        ("step:a", "def norm(v):\n    return math.sqrt(sum(x * x for x in v))\nn = norm([3, 4])"),
        ("step:b", "m = norm([1, 0])"),
    ]
    pipe = load_cells(cells)
    assert [f.source.splitlines()[0] for f in pipe.step("a").hoisted] == ["def norm(v):"]
    assert pipe.step("b").uses_steps == {"a": ("norm",)}


def test_class_reading_step_variables_stays_inside_with_a_warning(load_cells, warnings):
    cells = [("step:a", "k = 2"), ("step:b", "class C:\n    n = k\nc = C()")]
    pipe = load_cells(cells)
    assert pipe.step("b").hoisted == ()
    [w] = warnings(pipe, "local-class")
    assert "'C'" in w and "cell 2" in w


def test_import_in_a_step_cell_is_kept(load_cells):
    pipe = load_cells(
        [("step:a", "import math\nfrom os import path as p\nr = math.sqrt(p.sep.count('/'))")]
    )
    step = pipe.step("a")
    assert "import math" in step.imports
    assert "from os import path as p" in step.imports


def test_module_function_named_like_a_mutating_method_in_the_same_step(load_cells):
    cells = [
        (
            "step:a",
            "import numpy as np\nimport re\narr = np.append(np.arange(3), 5)\npat = re.compile('a')",
        ),
        ("step:b", "import numpy as np\nb = np.sort(arr)"),
    ]
    pipe = load_cells(cells)
    assert pipe.step("a").outputs == ("arr",)
    assert pipe.step("b").inputs == {"arr": "a"}


def test_module_functions_named_like_mutating_methods_are_not_data(load_cells):
    cells = [
        ("imports", "import os\nimport re\nimport numpy as np"),
        (
            "step:a",
            "pat = re.compile('a')\narr = np.append(np.arange(3), 5)\nos.remove('nope') if False else None",
        ),
        ("step:b", "m = re.match('a', 'a')\nb = np.sort(arr)\nprint(os.sep)"),
    ]
    pipe = load_cells(cells)
    assert pipe.step("b").inputs == {"arr": "a"}
    assert pipe.step("b").outputs == ("m", "b")


# ---------------------------------------------------------------- process-wide settings


def test_settings_in_the_imports_cell_are_replayed(load_cells, warnings):
    cells = [
        (
            "imports",
            "import numpy as np\nimport pandas as pd\nnp.random.seed(0)\n"
            "pd.set_option('mode.copy_on_write', True)",
        ),
        ("step:a", "x = np.random.rand(3)"),
        ("step:b", "y = pd.Series(x)"),
    ]
    pipe = load_cells(cells)
    [frag] = pipe.settings
    assert frag.source == "pd.set_option('mode.copy_on_write', True)"
    assert warnings(pipe) == []
    for step in pipe.steps:  # each step imports what the settings use
        assert "import pandas as pd" in step.imports
    # The seed of the global stream runs once, in the first step that draws.
    assert [f.source for f in pipe.step("a").seeds] == ["np.random.seed(0)"]
    assert "import numpy as np" in pipe.step("a").imports
    assert pipe.step("b").seeds == ()


def test_seed_before_the_first_step_runs_in_the_first_drawing_step(load_cells, warnings):
    cells = [
        (
            "",
            "import warnings\nimport numpy as np\nnp.random.seed(1)\nwarnings.filterwarnings('ignore')",
        ),
        ("step:a", "x = np.random.rand(3)"),
    ]
    pipe = load_cells(cells)
    assert [s.name for s in pipe.steps] == ["a"]
    assert [f.source for f in pipe.settings] == ["warnings.filterwarnings('ignore')"]
    assert [f.source for f in pipe.step("a").seeds] == ["np.random.seed(1)"]
    assert pipe.step("a").random == ("numpy",)
    assert warnings(pipe) == []


def test_seed_mixed_with_code_before_the_first_step_stays_in_setup(load_cells):
    cells = [
        ("", "import numpy as np\nimport pandas as pd\nnp.random.seed(0)\n"
         "pd.set_option('mode.copy_on_write', True)\nbase = 10"),
        ("step:a", "x = np.random.rand() + base"),
    ]  # fmt: skip
    pipe = load_cells(cells)
    assert [f.source for f in pipe.settings] == ["pd.set_option('mode.copy_on_write', True)"]
    setup = pipe.step("setup")
    assert "np.random.seed(0)" in setup.body[0].source  # it runs where the notebook has it
    assert (setup.outputs, setup.random) == (("base", "__random_state__"), ("numpy",))
    assert pipe.step("a").inputs == {"base": "setup", "__random_state__": "setup"}


def test_effect_only_import_kept_in_every_step(load_cells):
    cells = [
        ("imports", "from sklearn.experimental import enable_iterative_imputer\nimport math"),
        ("step:a", "x = math.pi"),
        ("step:b", "y = x"),
    ]
    pipe = load_cells(cells)
    for step in pipe.steps:
        assert "from sklearn.experimental import enable_iterative_imputer" in step.imports


def test_setting_inside_a_step_is_a_warning(load_cells, warnings):
    cells = [
        ("imports", "import numpy as np\nimport pandas as pd"),
        ("step:a", "pd.set_option('display.width', 99)\nx = np.random.rand()"),
        ("step:b", "y = x"),
    ]
    pipe = load_cells(cells)
    [w] = warnings(pipe, "setting-in-step")
    assert "cell 2, line 1" in w and "'a'" in w


def test_seed_inside_a_step_is_carried_not_a_warning(load_cells, warnings):
    cells = [
        ("imports", "import numpy as np"),
        ("step:a", "np.random.seed(0)\nx = np.random.rand()"),
        ("step:b", "y = np.random.rand() + x"),
    ]
    pipe = load_cells(cells)
    assert warnings(pipe) == []
    assert pipe.step("b").inputs == {"x": "a", "__random_state__": "a"}


# ---------------------------------------------------------------- errors


def _error(load_cells, cells, kind=Nb2pipeError, **kw):
    with pytest.raises(kind) as info:
        load_cells(cells, **kw)
    return info.value


def test_undefined_name_names_cell_and_line(load_cells):
    err = _error(load_cells, [("step:a", "x = 1"), ("step:b", "y = 2\nz = x + zzz")], AnalysisError)
    assert (err.cell, err.line) == (2, 2)
    assert "'zzz'" in err.message


def test_undefined_name_inside_a_function_called_by_a_step(load_cells):
    err = _error(load_cells, [("step:a", "def f():\n    return nope\nr = f()")], AnalysisError)
    assert "'nope'" in err.message and err.cell == 1


def test_name_read_before_it_is_bound_in_the_same_step(load_cells):
    err = _error(load_cells, [("step:a", "y = q\nq = 2")], AnalysisError)
    assert "'q'" in err.message and err.line == 1


def test_name_deleted_by_an_earlier_step_is_undefined(load_cells):
    err = _error(load_cells, [("step:a", "x = 1"), ("step:b", "del x"), ("step:c", "print(x)")])
    assert "'x'" in err.message and err.cell == 3


def test_name_defined_only_in_a_skip_cell(load_cells):
    err = _error(load_cells, [("step:a", "x = 1"), ("skip", "w = 5"), ("step:b", "y = x + w")])
    assert "skip" in err.message and "'w'" in err.message
    assert (err.cell, err.line) == (3, 1)


def test_ipython_names_are_not_errors(load_cells):
    pipe = load_cells([("step:a", "x = 1\ndisplay(x)")])
    assert "from IPython.display import display" in pipe.step("a").imports


def test_undefined_after_star_import_is_a_warning(load_cells, warnings):
    pipe = load_cells([("imports", "from math import *"), ("step:a", "x = sqrt(2)")])
    [w] = warnings(pipe)
    assert "'sqrt'" in w and "star import" in w


def test_cycle_via_after_is_an_error(load_cells):
    err = _error(load_cells, [("step:a after:b", "x = 1"), ("step:b", "y = x")], AnalysisError)
    assert "cycle" in err.message and "a -> b" in err.message
    assert err.cell == 1


def test_unknown_after_target_is_an_error(load_cells):
    err = _error(load_cells, [("step:a", "x = 1"), ("step:b after:nope", "y = x")], TagError)
    assert "after:nope" in err.message and err.cell == 2


def test_syntax_error_names_cell_and_line(load_cells):
    err = _error(load_cells, [("step:a", "x = 1\ny = (2 +\n")], AnalysisError)
    assert "syntax error" in err.message and err.cell == 1 and err.line is not None


def test_global_declared_in_a_function_for_a_new_name_is_refused(load_cells):
    cells = [
        ("step:a", "def setup():\n    global cfg\n    cfg = {}\nsetup()"),
        ("step:b", "print(cfg)"),
    ]
    err = _error(load_cells, cells, AnalysisError)
    assert "'cfg'" in err.message and (err.cell, err.line) == (1, 2)


# ---------------------------------------------------------------- warnings


def test_skip_cell_changing_an_input_is_a_warning(load_cells, warnings):
    pipe = load_cells([("step:a", "x = [1]"), ("skip", "x.append(2)"), ("step:b", "y = len(x)")])
    [w] = warnings(pipe, "skip-changes-input")
    assert "'x'" in w and "cell 2" in w


def test_skip_cell_overwritten_by_a_kept_step_is_fine(load_cells, warnings):
    pipe = load_cells([("skip", "x = 5"), ("step:a", "x = 1"), ("step:b", "y = x")])
    assert warnings(pipe) == []


def test_skip_cell_reading_only_is_fine(load_cells, warnings):
    pipe = load_cells([("step:a", "x = [1]"), ("skip", "print(x)"), ("step:b", "y = len(x)")])
    assert warnings(pipe) == []


def test_strict_turns_a_warning_into_an_error(load_cells):
    cells = [("imports", "import pandas as pd"), ("step:a", "pd.set_option('a', 1)\nx = 1")]
    assert load_cells(cells).diagnostics  # converts without --strict
    err = _error(load_cells, cells, StrictError, strict=True)
    assert "--strict" in err.message and (err.cell, err.line) == (2, 1)


def test_strict_ignores_notes(load_cells):
    pipe = load_cells([("step:a", "%matplotlib inline\nx = 1")], strict=True)
    assert [d.severity for d in pipe.diagnostics] == ["note"]


def test_names_assigned_in_a_metrics_cell_are_metrics(load_cells):
    pipe = load_cells([("step:a", "x = 2"), ("metrics", "sq = x * x\nprint(x)")])
    assert set(pipe.step("a").metrics) == {"sq", "x"}


def test_unknown_method_on_an_input_is_a_guarded_note(load_cells):
    cells = [
        ("step:a", "import types\no = types.SimpleNamespace(poke=print)"),
        ("step:b", "o.poke()"),
        ("step:c", "print(o)"),
    ]
    pipe = load_cells(cells)
    assert pipe.step("c").inputs == {"o": "a"}  # assumed unchanged, checked at run time
    assert any(d.code == "guarded-call" and "o.poke()" in d.message for d in pipe.diagnostics)


# ---------------------------------------------------------------- magics and shell


def _body(pipe, step):
    return "\n".join(f.source for f in pipe.step(step).body)


def test_matplotlib_and_friends_dropped_with_a_note(load_cells):
    pipe = load_cells(
        [("step:a", "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\nx = 1")]
    )
    assert _body(pipe, "a") == "x = 1"
    assert sum("dropped" in d.message for d in pipe.diagnostics) == 3


def test_time_magic_keeps_the_statement(load_cells):
    pipe = load_cells([("step:a", "%time x = sum([1, 2])"), ("step:b", "y = x")])
    assert _body(pipe, "a") == "x = sum([1, 2])"


def test_timeit_options_stripped(load_cells):
    pipe = load_cells([("step:a", "x = [2, 1]\n%timeit -n 3 -r 1 sorted(x)")])
    assert _body(pipe, "a") == "x = [2, 1]\nsorted(x)"


def test_pip_install_moves_to_requirements(load_cells):
    pipe = load_cells([("step:a", "!pip install foo-bar[extra]==1.0\n%pip install Baz\nx = 1")])
    assert {"foo-bar", "baz"} <= set(pipe.requirements)
    assert _body(pipe, "a") == "x = 1"


def test_shell_line_becomes_subprocess_run(load_cells, warnings):
    pipe = load_cells([("step:a", "!ls -la\nx = 1")])
    assert "subprocess.run('ls -la', shell=True, check=True)" in _body(pipe, "a")
    assert "import subprocess" in pipe.step("a").imports
    assert any("shell command" in w for w in warnings(pipe))


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("x = 1\n%%bash\necho hi", 2, "not on the cell's first line"),
        ("%%bash\necho hi", 1, "%%bash"),
        ("%%writefile a.txt\nhi", 1, "%%writefile"),
        ("x = 1\n%foo bar", 2, "%foo"),
        ("%cd /tmp", 1, "%cd"),
        ("x = !ls", 1, "assigning the output"),
        ("!echo {x}", 1, "interpolates"),
        ("!pip uninstall foo", 1, "pip install"),
    ],
)
def test_magics_that_cannot_run_are_errors(load_cells, source, line, words):
    err = _error(load_cells, [("step:a", source)], AnalysisError)
    assert words in err.message
    assert (err.cell, err.line) == (1, line)
    assert "skip" in (err.hint or "")


@pytest.mark.parametrize(
    "source",
    [
        "%time x = 1\ns = '''\n%d items\n!important\n'''",
        "%time x = 1\ny = (x\n     != 2)",
        "%time x = 3\nz = (x\n%x)",
        "%time x = 1\nw = x \\\n    + 1",
    ],
)
def test_magic_syntax_only_at_the_start_of_a_statement(load_cells, source):
    """Lines inside a multi-line string or an open bracket are Python, even when they
    start with % or !."""
    pipe = load_cells([("step:a", source)])
    assert _body(pipe, "a") == source.replace("%time ", "", 1)


def test_magic_in_a_skip_cell_is_fine(load_cells):
    pipe = load_cells([("step:a", "x = 1"), ("skip", "%%bash\necho hi"), ("skip", "%foo")])
    assert [s.name for s in pipe.steps] == ["a"]


def test_display_only_cell_magic_dropped(load_cells):
    pipe = load_cells([("step:a", "x = 1"), ("", "%%html\n<b>hi</b>")])
    assert _body(pipe, "a") == "x = 1"


def test_main_guard_runs(load_cells):
    pipe = load_cells([("step:a", "if __name__ == '__main__':\n    x = 1\nelse:\n    x = 2")])
    body = _body(pipe, "a")
    tree = ast.parse(body)
    assert isinstance(tree.body[0], ast.If)
    assert "__name__" not in ast.unparse(tree.body[0].test)


def test_display_line_dropped_from_the_body(load_cells):
    pipe = load_cells([("step:a", "x = [1]\nx.append(2)\nx"), ("step:b", "y = x\ny[0]")])
    assert _body(pipe, "a") == "x = [1]\nx.append(2)"
    assert _body(pipe, "b") == "y = x"


# ---------------------------------------------------------------- parameters


PARAMS = """\
import os
n: int = 3  # number of things
rate = 0.5  # type: float
ratio = 1  # type: float; a float given as an int
flag = True
name = "abc"  # the name
nothing = None
opt: str | None = None  # optional text
old: "Optional[int]" = None
xs = [1, 2]
cfg = {"a": 1, "b": [2]}
pair = (1, "x")
f2: float = 1  # a float from an int
db_password = "hunter2"
api = "x"  # secret: the API key
auth_token = ""
out = os.path.join(name, "x")  # derived
"""


@pytest.fixture
def params_pipe(load_cells):
    return load_cells(
        [
            ("parameters", PARAMS),
            (
                "step:a",
                "print(n, rate, ratio, flag, name, nothing, opt, old, xs, cfg, pair, f2, db_password, api, auth_token, out)",
            ),
        ]
    )


@pytest.mark.parametrize(
    ("name", "ptype", "default", "optional", "help_text"),
    [
        ("n", "int", 3, False, "number of things"),
        ("rate", "float", 0.5, False, ""),
        ("ratio", "float", 1.0, False, "a float given as an int"),
        ("flag", "bool", True, False, ""),
        ("name", "str", "abc", False, "the name"),
        ("nothing", "Any", None, True, ""),
        ("opt", "str", None, True, "optional text"),
        ("old", "int", None, True, ""),
        ("xs", "list", [1, 2], False, ""),
        ("cfg", "dict", {"a": 1, "b": [2]}, False, ""),
        ("pair", "tuple", (1, "x"), False, ""),
        ("f2", "float", 1.0, False, "a float from an int"),
    ],
)
def test_parameter_types_defaults_help(params_pipe, name, ptype, default, optional, help_text):
    [p] = [p for p in params_pipe.parameters if p.name == name]
    assert (p.type, p.default, p.optional, p.help) == (ptype, default, optional, help_text)
    assert type(p.default) is type(default)
    assert not p.secret


@pytest.mark.parametrize(
    ("name", "help_text"),
    [("db_password", ""), ("api", "the API key"), ("auth_token", "")],
)
def test_secret_parameters(params_pipe, name, help_text):
    [p] = [p for p in params_pipe.parameters if p.name == name]
    assert p.secret and p.default is None
    assert p.env == name.upper()
    assert p.help == help_text


def test_derived_values(params_pipe):
    assert [d.name for d in params_pipe.derived] == ["out"]
    assert "out" not in {p.name for p in params_pipe.parameters}
    assert [f.source for f in params_pipe.derive] == ['out = os.path.join(name, "x")  # derived']
    assert params_pipe.derive_imports == ("import os",)
    assert "out" in params_pipe.step("a").params


def test_parameter_order_is_the_notebook_order(params_pipe):
    names = [p.name for p in params_pipe.parameters]
    assert names[:3] == ["n", "rate", "ratio"]


def test_parameter_type_mismatch_is_an_error(load_cells):
    err = _error(load_cells, [("parameters", "x = 1\nn: int = 'three'")], AnalysisError)
    assert "'n'" in err.message and (err.cell, err.line) == (1, 2)


def test_parameter_defined_twice_across_cells(load_cells):
    err = _error(load_cells, [("parameters", "n = 1"), ("parameters", "n = 2")], AnalysisError)
    assert "twice" in err.message


def test_derived_value_reading_a_non_parameter(load_cells):
    err = _error(load_cells, [("parameters", "n = 1\nm = n * undefined_thing")], AnalysisError)
    assert "'undefined_thing'" in err.message and err.line == 2


def test_parameter_reassigned_in_its_own_cell_is_derived(load_cells):
    pipe = load_cells([("parameters", "n = 1\nn = n + 1"), ("step:a", "m = n")])
    assert [p.name for p in pipe.parameters] == []
    assert [d.name for d in pipe.derived] == ["n"]


def test_step_reassigning_a_parameter_gets_a_note(load_cells):
    pipe = load_cells([("parameters", "n = 1"), ("step:a", "n = 2"), ("step:b", "m = n")])
    assert pipe.step("b").inputs == {"n": "a"}
    assert any("reassigns parameter 'n'" in d.message for d in pipe.diagnostics)


def test_papermill_injected_cell_does_not_change_parameters(load_cells):
    pipe = load_cells(
        [("parameters", "n = 1"), ("injected-parameters", "n = 5"), ("step:a", "m = n")]
    )
    assert [(p.name, p.default) for p in pipe.parameters] == [("n", 1)]


@pytest.mark.parametrize("value", ["{1, 2}", "[{1, 2}]", "b'abc'", "1j", "{(1, 2): 3}", "10 ** 3"])
def test_values_without_a_parameter_form_are_derived(load_cells, value):
    pipe = load_cells([("parameters", f"n = 1\nx = {value}"), ("step:a", "y = x")])
    assert [p.name for p in pipe.parameters] == ["n"]
    assert [d.name for d in pipe.derived] == ["x"]
