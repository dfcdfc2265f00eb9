"""Cache-key ingredients: code from its syntax tree, shared code, values, files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from nb2pipe.runtime.hashing import (
    FileHasher,
    canonical,
    code_hash,
    common_hashes,
    digest_algorithm,
    digest_bytes,
    digest_file,
    matches,
    sha256_bytes,
    sha256_file,
)
from nb2pipe.runtime.tracemap import cell_of

STEP = '''
"""Doc."""
import pandas as pd


def train(X, *, seed=0):
    """Fit."""
    # cell 7
    model = fit(X, seed)  # a comment
    return {"model": model}
'''


def test_code_hash_ignores_comments_markers_docstrings() -> None:
    base = code_hash(STEP)
    assert code_hash(STEP.replace("# a comment", "")) == base
    assert code_hash(STEP.replace("# cell 7", "# cell 9\n\n")) == base
    assert code_hash(STEP.replace('"""Fit."""', '"""Fit the model on X."""')) == base
    assert code_hash(STEP.replace("seed=0", "seed=1")) != base
    assert code_hash(STEP.replace("fit(X, seed)", "fit(X, seed + 1)")) != base
    assert code_hash(STEP.replace("import pandas as pd", "import numpy as pd")) != base


COMMON = """
import numpy as np
SCALE = 2

def helper(x):
    return np.sqrt(x) * SCALE

def evaluate(x):
    return helper(x) + 1

def unrelated():
    return 3
"""


def test_common_hashes_follow_references() -> None:
    base = common_hashes(COMMON, ["evaluate", "unrelated"])
    changed = common_hashes(COMMON.replace("SCALE = 2", "SCALE = 3"), ["evaluate", "unrelated"])
    assert changed["evaluate"] != base["evaluate"]  # through helper -> SCALE
    assert changed["unrelated"] == base["unrelated"]
    moved = common_hashes(
        "# header\n" + COMMON.replace("return 3", "return 3  # three"), ["unrelated"]
    )
    assert moved["unrelated"] == base["unrelated"]
    assert common_hashes(COMMON, ["nope"]) == {"nope": "missing"}


def test_canonical_tells_values_apart() -> None:
    values = [1, 1.0, True, "1", [1], (1,), {"a": 1}, None, {"a": (1,)}, {"a": [1]}]
    assert len({repr(canonical(v)) for v in values}) == len(values)
    assert canonical({"a": 1, "b": 2}) == canonical({"b": 2, "a": 1})


def test_file_hasher_remembers_and_notices(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    old = time.time() - 60
    os.utime(data, (old, old))
    cache = tmp_path / "files.json"
    hasher = FileHasher(cache)
    first = hasher.hash(data)
    assert first == digest_file(data) and len(first) == 32  # xxh3-128
    hasher.save()
    assert cache.exists()
    data.write_text("a,b\n1,3\n")  # same size, new mtime
    assert FileHasher(cache).hash(data) != first
    assert FileHasher(cache).hash(tmp_path / "missing.csv") is None
    assert FileHasher(None).hash(tmp_path) is None  # a directory


def test_file_hasher_rehashes_entries_of_another_algorithm(tmp_path: Path) -> None:
    """A files.json written with sha256 (stores before v2) is not taken for xxh3."""
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    old = time.time() - 60
    os.utime(data, (old, old))
    st = data.stat()
    cache = tmp_path / "files.json"
    stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
    cache.write_text(json.dumps({os.path.realpath(data): [stamp, sha256_file(data)]}))
    assert FileHasher(cache).hash(data) == digest_file(data)


def test_digests_by_length() -> None:
    data = b"nb2pipe"
    assert digest_algorithm(sha256_bytes(data)) == "sha256"
    assert digest_algorithm(digest_bytes(data)) == "xxh3_128"
    assert matches(data, sha256_bytes(data)) and matches(data, digest_bytes(data))
    assert not matches(b"other", digest_bytes(data)) and not matches(data, "ab" * 20)


def test_cell_markers(tmp_path: Path) -> None:
    src = tmp_path / "s.py"
    src.write_text("def f():\n    # cell 3\n    a = 1\n    b = 2\n    # cell 5\n    c = 3\n")
    assert cell_of(str(src), 4) == (3, 2)
    assert cell_of(str(src), 6) == (5, 1)
    assert cell_of(str(src), 1) == (None, None)
