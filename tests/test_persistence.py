"""What a saved model holds, and models saved by an earlier skmlp.

The files in ``tests/data`` were saved by commit 1ff78b6, whose solvers held
their step rule as a ``step_size`` dict (``tests/data/make_saved_models.py``
made them, with the ``coefs_`` that one more ``partial_fit`` gave there).
"""

import importlib.util
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.exceptions import InconsistentVersionWarning as SklearnVersionWarning

from skmlp import SoftplusMLPClassifier
from skmlp._solvers.adaptive_step import AdaptiveStep
from skmlp._solvers.step_size import Backtracking, FixedStep

DATA = Path(__file__).parent / "data"

# The libraries under which tests/data/make_saved_models.py made the files.
# Under others (the oldest supported versions in CI) NumPy's and BLAS's
# rounding differs: the largest difference of a trajectory on the oldest
# supported versions was 1e-11 relative (docs/performance.md, "Results do
# not depend on the number of threads", says why rounding moves). The
# processor matters too: OpenBLAS picks its kernels by it (the files were
# made with its SkylakeX kernels, on an Intel Xeon), and another kernel
# (Haswell's, on an AMD EPYC) rounds some products one unit in the last
# place apart.
MADE_WITH = {
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "scikit-learn": "1.9.1",
    "blas kernels": "SkylakeX",
}


def assert_as_saved(actual, saved):
    """``actual`` is the ``saved`` array to 1e-9 (relative).

    Under the libraries that made the files (:data:`MADE_WITH`) this was
    equality to the bit, until softplus came to compute ``log1p(exp(z))``
    as ``log(1 + exp(z))`` plus a correction (skmlp._math.activations),
    which rounds its last bit differently from the ``log1p`` of the version
    that made them, under every library. The trajectories are as they were
    to rounding: the largest difference after that change was 8e-12
    relative (numpy 2.4.6, OpenBLAS's Haswell kernels on an AMD EPYC).
    """
    np.testing.assert_allclose(actual, saved, rtol=1e-9, atol=1e-12)


ESTIMATOR_CLASS = "skmlp._mlp.SoftplusMLPClassifier"

# The rule each saved model's step_size dict becomes, and its c.
SAVED = {
    "gd_adaptive": (AdaptiveStep, 2.0),
    "nag_backtracking": (Backtracking, None),
    "nag_fixed": (FixedStep, None),
    "lbfgs": (None, None),
}


def saved_models():
    """``tests/data/make_saved_models.py``, the script that made the files
    (its data and its fits, which the tests repeat)."""
    spec = importlib.util.spec_from_file_location(
        "make_saved_models", DATA / "make_saved_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def iris():
    return saved_models().iris()


def load(name, library):
    # A later skmlp or scikit-learn version warns that the file is older:
    # expected here, whatever the versions.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnVersionWarning)
        if library == "joblib":
            return _load_pickle(lambda: joblib.load(DATA / f"{name}.joblib"))
        sio = pytest.importorskip("skops.io")
        return sio.load(DATA / f"{name}.skops", trusted=[ESTIMATOR_CLASS])


def _load_pickle(load):
    """``load()``; a skip where this NumPy cannot read the random generator
    that a later NumPy pickled (NumPy's pickles do not go back to its older
    releases: not a limitation of skmlp's, nor one it could lift)."""
    try:
        return load()
    except ValueError as error:
        if "is not a known BitGenerator" not in str(error):
            raise
        pytest.skip(
            f"NumPy {np.__version__} cannot read a random generator pickled by "
            f"NumPy {MADE_WITH['numpy']}"
        )


@pytest.mark.parametrize("library", ["joblib", "skops"])
@pytest.mark.parametrize("name", SAVED)
def test_a_model_saved_by_1ff78b6_loads_and_goes_on_as_it_did(name, library):
    X, y = iris()
    clf = load(name, library)
    rule, curvature_factor = SAVED[name]
    solver = vars(clf._solver)
    assert "step_size" not in solver
    if rule is not None:
        assert type(clf._solver.step_rule) is rule
        if curvature_factor is not None:
            assert clf._solver.step_rule.curvature_factor == curvature_factor
    clf.partial_fit(X, y)
    with np.load(DATA / f"{name}.npz") as saved:
        expected = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    assert len(clf.coefs_) == len(expected)
    for coef, saved_coef in zip(clf.coefs_, expected):
        assert_as_saved(coef, saved_coef)


@pytest.mark.parametrize(
    "name, rule",
    [
        ("gd_adaptive", "adaptive"),
        ("nag_backtracking", "backtracking"),
        ("nag_fixed", "fixed"),
    ],
)
def test_the_files_hold_the_step_size_dicts_of_1ff78b6(name, rule):
    # Else the test above would not exercise the conversion.
    attributes = _saved_state(DATA / f"{name}.joblib")["_solver"]["attributes"]
    assert attributes["step_size"]["rule"] == rule
    assert "step_rule" not in attributes


def _saved_state(path):
    """The state a joblib file gives ``__setstate__``, not rebuilt."""
    captured = {}

    def capture(self, state):
        captured.update(state)

    original = SoftplusMLPClassifier.__setstate__
    SoftplusMLPClassifier.__setstate__ = capture
    try:
        _load_pickle(lambda: joblib.load(path))
    finally:
        SoftplusMLPClassifier.__setstate__ = original
    return captured


@pytest.mark.parametrize(
    "params, rule",
    [
        ({"solver": "gd", "learning_rate_init": 0.3}, "FixedStep"),
        ({"solver": "nag", "learning_rate_init": "auto"}, "AdaptiveStep"),
        (
            {"solver": "nag", "learning_rate_init": "auto", "batch_size": 50},
            "Backtracking",
        ),
    ],
)
def test_a_saved_step_rule_is_its_name_and_its_plain_attributes(params, rule):
    X, y = iris()
    clf = SoftplusMLPClassifier((4,), random_state=0, max_iter=3, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    saved = clf.__getstate__()["_solver"]["attributes"]["step_rule"]
    assert saved["class"] == rule
    attributes = vars(clf._solver.step_rule)
    assert saved["attributes"].keys() == attributes.keys()
    for name, value in attributes.items():
        np.testing.assert_array_equal(saved["attributes"][name], value)
    plain = (bool, int, float, str, type(None), np.ndarray)
    assert all(isinstance(value, plain) for value in saved["attributes"].values())
    # The estimator's own rule is untouched by saving.
    assert type(clf._solver.step_rule).__name__ == rule
    loaded = pickle.loads(pickle.dumps(clf))
    assert type(loaded._solver.step_rule).__name__ == rule
    for name, value in vars(clf._solver.step_rule).items():
        np.testing.assert_array_equal(getattr(loaded._solver.step_rule, name), value)


def test_a_saved_step_rule_of_an_unknown_class_raises_a_clear_error():
    X, y = iris()
    clf = SoftplusMLPClassifier((4,), solver="nag", random_state=0, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = clf.fit(X, y).__getstate__()
    state["_solver"]["attributes"]["step_rule"]["class"] = "builtins.eval"
    with pytest.raises(ValueError, match="step rule is saved as class 'builtins.eval'"):
        SoftplusMLPClassifier.__new__(SoftplusMLPClassifier).__setstate__(state)
