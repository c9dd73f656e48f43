"""Nothing the user had is lost: divergence, interruption, unscaled data."""

import json
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from skmlp import DivergenceError, SoftplusMLPClassifier

X_IRIS, Y_IRIS = load_iris(return_X_y=True)


def _trained(**params):
    params = {
        "hidden_layer_sizes": (8,),
        "learning_rate_init": 0.01,
        "max_iter": 30,
        "random_state": 0,
        **params,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftplusMLPClassifier(**params).fit(X_IRIS, Y_IRIS)


def _snapshot(estimator):
    """Every attribute, bit for bit (pickle compares arrays by their bytes)."""
    return pickle.dumps(estimator.__dict__)


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_diverging_partial_fit_leaves_the_trained_model_bit_for_bit(solver):
    clf = _trained(solver=solver)
    # Set directly, not through set_params, so that nothing needs undoing
    # before the comparison; the new rate must take effect in partial_fit.
    clf.learning_rate_init = 1e300
    before = _snapshot(clf)
    with pytest.raises(ValueError, match="diverged.*learning_rate_init"):
        clf.partial_fit(X_IRIS * 1e10, Y_IRIS)
    assert _snapshot(clf) == before


def test_a_smaller_rate_after_divergence_continues_training():
    clf = _trained(solver="nag")
    n_iter = clf.n_iter_
    clf.learning_rate_init = 1e300
    with pytest.raises(ValueError, match="diverged"):
        clf.partial_fit(X_IRIS * 1e10, Y_IRIS)
    clf.learning_rate_init = 0.01
    clf.partial_fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == n_iter + 1
    assert np.isfinite(clf.loss_)


def test_diverging_fresh_fit_leaves_a_fitted_model_bit_for_bit():
    clf = _trained()
    clf.learning_rate_init = 1e300
    before = _snapshot(clf)
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X_IRIS[:, :2] * 1e10, Y_IRIS)  # other width: a reset would show
    assert _snapshot(clf) == before
    assert clf.n_features_in_ == 4


@pytest.mark.parametrize("scale", [1e3, 1e8, 1e150])
@pytest.mark.parametrize("learning_rate", [0.001, 0.1, 10.0])
def test_unscaled_large_values_converge_or_raise_never_a_nan_model(
    scale, learning_rate
):
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(8,),
        learning_rate_init=learning_rate,
        max_iter=20,
        random_state=0,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_IRIS * scale, Y_IRIS)
    except ValueError as error:
        assert "diverged" in str(error)
        assert not hasattr(clf, "coefs_")
        return
    assert np.isfinite(clf.loss_curve_).all()
    assert all(np.isfinite(c).all() for c in clf.coefs_ + clf.intercepts_)
    proba = clf.predict_proba(X_IRIS * scale)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


INTERRUPTED_FIT = textwrap.dedent(
    """
    import json, signal, sys, warnings
    import numpy as np

    # As at a terminal, whatever the test runner inherited (a shell starts
    # background jobs with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from sklearn.datasets import make_classification
    from skmlp import SoftplusMLPClassifier

    X, y = make_classification(n_samples=4000, n_features=40, n_informative=10,
                               n_classes=3, random_state=0)
    params = dict(hidden_layer_sizes=(64,), learning_rate_init=0.05, tol=0.0,
                  n_iter_no_change=10**6, random_state=0)
    clf = SoftplusMLPClassifier(max_iter=10**6, verbose=True, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    reference = SoftplusMLPClassifier(max_iter=clf.n_iter_, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.fit(X, y)
    same = all(np.array_equal(a, b) for a, b in zip(
        clf.coefs_ + clf.intercepts_, reference.coefs_ + reference.intercepts_))
    print("RESULT " + json.dumps({
        "n_iter": clf.n_iter_,
        "curve_length": len(clf.loss_curve_),
        "same_as_fit_to_that_epoch": same,
        "warnings": [str(w.message) for w in caught],
    }), flush=True)
    """
)


def test_keyboard_interrupt_keeps_the_last_finished_epoch_and_warns():
    process = subprocess.Popen(
        # Unbuffered, so that the signal follows the fifth line closely.
        [sys.executable, "-u", "-c", INTERRUPTED_FIT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stdout:
            if line.startswith("Iteration 5,"):
                process.send_signal(signal.SIGINT)
                break
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    (result_line,) = [line for line in out.splitlines() if line.startswith("RESULT")]
    result = json.loads(result_line[len("RESULT ") :])
    assert result["n_iter"] >= 5
    assert result["curve_length"] == result["n_iter"]
    assert result["same_as_fit_to_that_epoch"]
    assert any("interrupted" in message for message in result["warnings"])


# ----------------------------------------------------------------------------
# A change of architecture between calls


@pytest.mark.parametrize("solver", ["gd", "nag"])
@pytest.mark.parametrize("before, after", [((), (3,)), ((3,), ()), ((3,), (3, 2))])
def test_partial_fit_after_a_change_of_hidden_layers_raises_and_keeps_the_model(
    solver, before, after
):
    clf = SoftplusMLPClassifier(before, solver=solver, random_state=0)
    clf.partial_fit(X_IRIS, Y_IRIS, classes=[0, 1, 2])
    saved = _snapshot(clf)
    clf.set_params(hidden_layer_sizes=after)
    message = f"hidden_layer_sizes changed from {before} to {after}"
    with pytest.raises(ValueError, match=re.escape(message)):
        clf.partial_fit(X_IRIS, Y_IRIS)
    clf.set_params(hidden_layer_sizes=before)
    assert _snapshot(clf) == saved


@pytest.mark.parametrize("before, after", [((3,), ()), ((), (3,)), ((3,), (5,))])
def test_a_warm_start_fit_after_a_change_of_hidden_layers_starts_afresh(before, after):
    clf = _trained(hidden_layer_sizes=before, warm_start=True, max_iter=5)
    clf.set_params(hidden_layer_sizes=after)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_IRIS, Y_IRIS)
    fresh = _trained(hidden_layer_sizes=after, max_iter=5)
    assert [c.shape for c in clf.coefs_] == [c.shape for c in fresh.coefs_]
    for a, b in zip(clf.coefs_ + clf.intercepts_, fresh.coefs_ + fresh.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert clf.loss_curve_ == fresh.loss_curve_


# ----------------------------------------------------------------------------
# Sample weights the training cannot use


@pytest.mark.parametrize("row", range(0, 150, 15))
def test_early_stopping_with_one_weighted_row_says_which_part_has_no_weight(
    row, capsys
):
    # One weighted row lands either in the training or in the validation
    # part of the split: the other part has no weight at all.
    weights = np.zeros(150)
    weights[row] = 2.0
    clf = SoftplusMLPClassifier(
        (4,), early_stopping=True, validation_fraction=0.5, verbose=True
    )
    with pytest.raises(ValueError) as error:
        clf.fit(X_IRIS, Y_IRIS, sample_weight=weights)
    message = str(error.value)
    assert re.search(r"left the (training|validation) rows with no weight", message)
    # Raised before training: no epoch ran.
    assert "Iteration" not in capsys.readouterr().out
    assert not hasattr(clf, "coefs_")


def test_weights_that_sum_past_the_float_range_are_said_out_of_range():
    clf = SoftplusMLPClassifier((4,), random_state=0)
    with pytest.raises(ValueError, match="sample_weight is out of range") as error:
        clf.fit(X_IRIS, Y_IRIS, sample_weight=np.full(150, 1e307))
    assert not isinstance(error.value, DivergenceError)
    # The same weights divided by a common factor train.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(max_iter=2).fit(X_IRIS, Y_IRIS, sample_weight=np.full(150, 1.0))
    assert clf.n_iter_ == 2


@pytest.mark.parametrize("solver", ["gd", "nag"])
@pytest.mark.parametrize(
    "params, weight",
    [({"learning_rate_init": 1e250}, 1.0), ({}, 1e-300)],
    ids=["huge rate", "tiny weights"],
)
def test_a_divergence_with_early_stopping_is_a_divergence(solver, params, weight):
    # The first step lands on finite weights so large that the outputs
    # overflow: the validation score, taken before any loss of that point,
    # is the first to see it. (Weights of a tiny sum make the penalty
    # alpha / sum(w) huge.)
    clf = _trained(solver=solver)
    before = _snapshot(clf)
    clf.set_params(early_stopping=True, **params)
    with pytest.raises(DivergenceError, match="diverged") as error:
        clf.fit(X_IRIS, Y_IRIS, sample_weight=np.full(150, weight))
    assert "far outside" not in str(error.value)
    # The same run without early stopping says the same.
    clf.set_params(early_stopping=False)
    with pytest.raises(DivergenceError, match="diverged"):
        clf.fit(X_IRIS, Y_IRIS, sample_weight=np.full(150, weight))
    clf.set_params(learning_rate_init=0.01)
    assert _snapshot(clf) == before


def test_prediction_on_inputs_far_outside_the_training_range_says_so():
    # The message that early stopping no longer gives for a divergence
    # stays for the inputs it describes.
    clf = _trained(early_stopping=True)
    # A row along the signs of the first layer's widest column: its
    # pre-activation, 1e308 times the column's absolute sum, overflows.
    column = np.abs(clf.coefs_[0]).sum(axis=0).argmax()
    assert np.abs(clf.coefs_[0][:, column]).sum() > np.finfo(np.float64).max / 1e308
    row = 1e308 * np.sign(clf.coefs_[0][:, column])
    with pytest.raises(ValueError, match="X is far outside the range") as error:
        clf.predict(row[np.newaxis])
    assert not isinstance(error.value, DivergenceError)


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_non_finite_inputs_with_the_checks_off_are_named_not_called_far_out(
    value, container
):
    # With assume_finite=True validate_data lets NaN through: the message
    # said "whose largest absolute value is nan: X is far outside the range".
    import sklearn

    clf = _trained()
    X = X_IRIS[:3].copy()
    X[0, 0] = value
    with sklearn.config_context(assume_finite=True):
        for method in (clf.predict, clf.predict_proba):
            with pytest.raises(ValueError, match="contains NaN or infinity") as error:
                method(container(X))
            assert "far outside" not in str(error.value)


def test_weights_and_alpha_divided_by_one_factor_give_the_same_model():
    # What the out-of-range message advises: the objective divides the
    # weighted loss and the penalty by sum(w), so (w / c, alpha / c) is the
    # objective of (w, alpha). Dividing the weights alone is not.
    weights = np.random.RandomState(0).uniform(0.5, 2.0, 150)
    params = {"solver": "lbfgs", "max_iter": 20, "tol": 0.0, "alpha": 1e-2}
    reference = _trained(**params)
    scaled = _trained(**{**params, "alpha": 1e-2 / 1e6})
    weights_only = _trained(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(X_IRIS, Y_IRIS, sample_weight=weights)
        scaled.fit(X_IRIS, Y_IRIS, sample_weight=weights / 1e6)
        weights_only.fit(X_IRIS, Y_IRIS, sample_weight=weights / 1e3)
    np.testing.assert_allclose(scaled.loss_curve_, reference.loss_curve_, rtol=1e-12)
    for got, expected in zip(
        scaled.coefs_ + scaled.intercepts_, reference.coefs_ + reference.intercepts_
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert abs(weights_only.loss_ - reference.loss_) > 0.1 * reference.loss_


def test_the_out_of_range_message_says_to_divide_the_weights_and_alpha():
    clf = SoftplusMLPClassifier((4,), alpha=1e-2, random_state=0)
    with pytest.raises(ValueError, match="sample_weight is out of range") as error:
        clf.fit(X_IRIS, Y_IRIS, sample_weight=np.full(150, 1e307))
    message = str(error.value)
    assert "Divide sample_weight and alpha by the same factor" in message
    assert "only the ratios" not in message.lower()


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_tiny_sample_weights_that_make_the_penalty_diverge_say_so(solver):
    # alpha=1e-4 over weights that sum to 1.5e-298: the penalty's curvature
    # allows no step above 3e-294; the usual advice alone (a smaller rate,
    # scaled features) did not name the cause.
    clf = _trained(solver=solver)
    before = _snapshot(clf)
    with pytest.raises(DivergenceError) as error:
        clf.fit(X_IRIS, Y_IRIS, sample_weight=np.full(150, 1e-300))
    message = str(error.value)
    assert "The penalty alone allows no step above 3e-294 (this one was 0.01)" in (
        message
    )
    assert "alpha / sum(sample_weight) = 6.67e+293" in message
    # A smaller alpha raises that bound; it was said to "avoid" the
    # divergence, which the data's own curvature may still make.
    assert "A smaller alpha or sample weights of a larger scale raise that bound" in (
        message
    )
    assert _snapshot(clf) == before


@pytest.mark.parametrize("learning_rate_init", [0.01, "auto"])
def test_weights_whose_sum_overflows_the_penalty_curvature_say_so(learning_rate_init):
    # 150 weights of 1e-320 sum to a subnormal 1.5e-318: alpha / sum
    # overflows, and "no step above 0" would name nothing to act on. The
    # adaptive step's probe is 0 there, and 0 * inf (NaN) dropped the
    # advice: the message advised a smaller learning_rate_init alone.
    clf = _trained(solver="nag", learning_rate_init=learning_rate_init)
    before = _snapshot(clf)
    with pytest.raises(DivergenceError) as error:
        clf.fit(X_IRIS, Y_IRIS, sample_weight=np.full(150, 1e-320))
    message = str(error.value)
    assert "alpha / sum(sample_weight) = 0.0001 / 1.5e-318, overflows" in message
    assert "Multiply the weights alone by a large factor, or lower alpha" in message
    assert "no step above 0 " not in message
    assert _snapshot(clf) == before


def test_a_divergence_the_penalty_does_not_cause_does_not_blame_it():
    clf = SoftplusMLPClassifier((8,), learning_rate_init=1e3, random_state=0)
    with pytest.raises(DivergenceError) as error:
        clf.fit(X_IRIS * 1e10, Y_IRIS)
    assert "penalty" not in str(error.value)
    assert "learning_rate_init" in str(error.value)


def test_an_lbfgs_divergence_does_not_advise_a_learning_rate_it_does_not_use():
    # A non-finite loss (not a gradient too large for its line search) gave
    # the first-order solvers' advice, "a smaller learning_rate_init".
    clf = _trained(solver="lbfgs")
    before = _snapshot(clf)
    X = (X_IRIS * 3e37).astype(np.float32)
    with pytest.raises(DivergenceError) as error:
        clf.fit(X, Y_IRIS)
    assert "learning_rate_init" not in str(error.value)
    assert "Scale the input features" in str(error.value)
    assert _snapshot(clf) == before


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_a_curvature_beyond_the_backtracking_search_names_its_causes(solver):
    # alpha=1e300 on mini-batches of 16: the search halves the step 64 times
    # and still finds no decrease, though the gradient is right.
    clf = _trained(solver=solver)
    before = _snapshot(clf)
    clf.set_params(alpha=1e300, learning_rate_init="auto", batch_size=16)
    with pytest.raises(ValueError, match="found no step") as error:
        clf.fit(X_IRIS, Y_IRIS)
    assert "curvature is above" in str(error.value)
    assert "lower alpha" in str(error.value)
    # It is undone as a divergence is, and says so as a divergence does.
    assert str(error.value).endswith(
        "The estimator was left as it was before this call."
    )
    clf.set_params(alpha=1e-4, learning_rate_init=0.01, batch_size=None)
    assert _snapshot(clf) == before


@pytest.mark.parametrize("step", [0.0, 5e-324])
def test_the_no_step_error_of_a_search_that_reached_zero_is_an_error_not_a_crash(
    step,
):
    # A search started from a subnormal step halves it to 0: the message
    # bounds the curvature by 1 / step, which must not divide by zero.
    from skmlp._solvers.step_size import no_step_found

    error = no_step_found(step)
    assert isinstance(error, ValueError)
    assert "curvature is above inf" in str(error)


# One class: the loss is 0 whatever the weights, and only the penalty trains


@pytest.mark.parametrize("seed", range(3))
def test_a_warm_start_on_one_class_is_no_divergence(seed):
    # The first fit shrinks the weights to nothing (a penalty of 1e-55):
    # the divergence rule's floor was that penalty, since one class's chance
    # level is log 1 = 0, and the warm start's first trial of the automatic
    # step, at 4e-22, was called a divergence. The floor is now log 2.
    X = np.random.RandomState(seed).randn(60, 3)
    y = np.array(["only"] * 60)
    clf = SoftplusMLPClassifier((5,), warm_start=True, max_iter=30, random_state=seed)
    clf.fit(X, y)
    clf.fit(X, y)
    assert clf.loss_ < 1e-40
    assert np.array_equal(clf.predict(X), y)
    # A step that makes the penalty itself grow is still a divergence.
    with pytest.raises(DivergenceError, match=r"times 0\.693"):
        SoftplusMLPClassifier((5,), learning_rate_init=1e6, random_state=seed).fit(X, y)


def test_lbfgs_on_a_stream_of_one_class_leaves_out_pairs_that_underflow():
    # Over a stream's calls the penalty shrinks the weights into subnormal
    # numbers: a curvature pair's y.y became 0, and the 13th call ended in
    # a ZeroDivisionError inside the two-loop recursion.
    X = np.random.RandomState(0).randn(60, 3)
    y = np.array(["only"] * 60)
    clf = SoftplusMLPClassifier((5,), solver="lbfgs", random_state=0)
    for _ in range(40):
        clf.partial_fit(X, y, classes=["only"])
    assert clf.loss_ < 1e-300
    assert np.array_equal(clf.predict(X), y)


def test_a_divergence_is_named_and_pickled_as_skmlp_divergence_error():
    # A search's workers reported skmlp._training.loop.DivergenceError, the
    # module it is defined in, not the name it is imported by.
    import traceback

    import skmlp

    try:
        SoftplusMLPClassifier((4,), learning_rate_init=1e6, random_state=0).fit(
            X_IRIS * 1e3, Y_IRIS
        )
    except DivergenceError as error:
        caught = error
    text = "".join(traceback.format_exception_only(type(caught), caught))
    assert text.startswith("skmlp.DivergenceError: Training diverged")
    assert type(pickle.loads(pickle.dumps(caught))) is skmlp.DivergenceError
