"""Warnings that point at the user's line (skmlp/_warnings.py)."""

import importlib
import sys
import warnings

import pytest

from skmlp._warnings import library_paths, warn_at_user_code


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A package ``lib`` whose ``inner`` warns through ``outer``, and a
    sibling package ``lib2`` (whose folder's name starts with ``lib``) that
    calls ``lib``."""
    for name, source in {
        "lib/__init__.py": "",
        "lib/inner.py": (
            "from skmlp._warnings import warn_at_user_code\n"
            "def warn(libraries):\n"
            "    warn_at_user_code('deep', UserWarning, libraries=libraries)\n"
        ),
        "lib/outer.py": (
            "from lib import inner\ndef call(libraries):\n    inner.warn(libraries)\n"
        ),
        "lib2/__init__.py": "",
        "lib2/caller.py": (
            "from lib import outer\ndef call(libraries):\n    outer.call(libraries)\n"
        ),
    }.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("lib"), importlib.import_module("lib2.caller")
    for name in ("lib", "lib.inner", "lib.outer", "lib2", "lib2.caller"):
        sys.modules.pop(name, None)


def test_the_warning_names_the_first_line_outside_the_libraries(library):
    lib, _ = library
    outer = importlib.import_module("lib.outer")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outer.call(library_paths([lib]))
        line = sys._getframe().f_lineno - 1
    [warning] = caught
    assert warning.filename == __file__
    assert warning.lineno == line
    assert str(warning.message) == "deep"


def test_a_sibling_folder_with_the_same_prefix_is_not_a_library(library):
    # lib2/ starts with "lib": only lib/ itself is passed over.
    lib, caller = library
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        caller.call(library_paths([lib]))
    [warning] = caught
    assert warning.filename == caller.__file__


def test_single_file_modules_are_passed_over_by_their_file(library):
    lib, caller = library
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        caller.call(library_paths([lib], files=[caller]))
        line = sys._getframe().f_lineno - 1
    [warning] = caught
    assert (warning.filename, warning.lineno) == (__file__, line)


def test_a_warning_instance_keeps_its_class():
    class Custom(UserWarning):
        pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_at_user_code(Custom("text"))
    [warning] = caught
    assert warning.category is Custom
    assert warning.filename == __file__


def test_in_a_thread_a_library_started_the_warning_names_the_librarys_call():
    # joblib's workers (threads here, processes with loky) run the fits of
    # cross_validate(n_jobs=2): no user frame is on their stack, and the
    # warning named the start of the thread or process in the standard
    # library (multiprocessing/process.py with loky).
    import numpy as np
    import sklearn.model_selection._validation as model_selection
    from joblib import parallel_backend
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_validate

    from skmlp import SoftplusMLPClassifier

    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 3), np.arange(60) % 2
    model = SoftplusMLPClassifier(hidden_layer_sizes=(3,), max_iter=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        with parallel_backend("threading", n_jobs=2):
            cross_validate(model, X, y, cv=2, n_jobs=2)
    files = {w.filename for w in caught if issubclass(w.category, ConvergenceWarning)}
    assert files == {model_selection.__file__}
    # In the calling thread, the user's line, as before.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        cross_validate(model, X, y, cv=2)
    assert {w.filename for w in caught} == {__file__}
