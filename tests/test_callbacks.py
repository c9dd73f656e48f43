"""scikit-learn's training callbacks (sklearn.callback, scikit-learn >= 1.9).

A fit is the root task and each epoch one of its subtasks. The tests that
need the callback API skip on an older scikit-learn, where the estimator
must train as before (tested by hiding the API in a subprocess).
"""

import copy
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import DivergenceError, SoftplusMLPClassifier
from skmlp._callbacks import EpochCallbacks

try:
    import sklearn.callback as sklearn_callback
except ImportError:  # scikit-learn < 1.9
    sklearn_callback = None

requires_callbacks = pytest.mark.skipif(
    sklearn_callback is None, reason="sklearn.callback needs scikit-learn >= 1.9"
)

# The short fits here stop at max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LR = 0.3


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=150, n_features=5, n_informative=4, n_redundant=0,
        n_classes=3, random_state=0,
    )  # fmt: skip
    return StandardScaler().fit_transform(X), y


def _clf(**params):
    params = {
        "hidden_layer_sizes": (6,),
        "learning_rate_init": LR,
        "random_state": 0,
        **params,
    }
    return SoftplusMLPClassifier(**params)


def _fit_for(n_epochs, X, y, **params):
    """The model after ``n_epochs`` epochs of an uninterrupted fit."""
    return _clf(max_iter=n_epochs, **params).fit(X, y)


class Recorder:
    """Records every hook call as ``(hook, task_name, task_id)``, and the
    model handed to ``on_fit_task_end`` of each epoch."""

    def __init__(self):
        self.calls = []
        self.epoch_models = []
        self.metadata = []

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name, context.task_id))

    def on_fit_task_begin(self, estimator, context, *, metadata=None):
        self.calls.append(("begin", context.task_name, context.task_id))
        self.metadata.append(metadata)

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("end", context.task_name, context.task_id))
        if context.task_name == "epoch":
            self.epoch_models.append(fitted_estimator)

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name, context.task_id))


class AutoPropagatedRecorder(Recorder):
    """A Recorder that meta-estimators hand down to their sub-estimators."""

    max_propagation_depth = None


class StopAfter(Recorder):
    """Asks to stop at the end of epoch ``n_epochs``."""

    def __init__(self, n_epochs):
        super().__init__()
        self.n_epochs = n_epochs

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        super().on_fit_task_end(estimator, context, fitted_estimator=fitted_estimator)
        return context.task_name == "epoch" and context.task_id == self.n_epochs - 1


class RaiseAtEnd(Recorder):
    """Raises ``error`` in ``on_fit_task_end`` of the task ``task_name``,
    ``task_id``: by default a Ctrl-C, in an end-of-fit hook, or in a scoring
    callback, that the user interrupts."""

    def __init__(self, task_name, task_id, error=KeyboardInterrupt):
        super().__init__()
        self.task = (task_name, task_id)
        self.error = error

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        super().on_fit_task_end(estimator, context, fitted_estimator=fitted_estimator)
        if (context.task_name, context.task_id) == self.task:
            raise self.error


def _expected_calls(n_epochs):
    epochs = [
        call
        for epoch in range(n_epochs)
        for call in (("begin", "epoch", epoch), ("end", "epoch", epoch))
    ]
    return [
        ("setup", "fit", 0),
        ("begin", "fit", 0),
        *epochs,
        ("end", "fit", 0),
        ("teardown", "fit", 0),
    ]


@requires_callbacks
def test_each_epoch_is_a_task_of_the_fit(data):
    X, y = data
    recorder = Recorder()
    _clf(max_iter=4).set_callbacks(recorder).fit(X, y)
    assert recorder.calls == _expected_calls(4)


@requires_callbacks
def test_the_model_of_each_epoch_is_the_fit_stopped_there(data):
    X, y = data
    recorder = Recorder()
    final = _clf(max_iter=4).set_callbacks(recorder).fit(X, y)
    assert len(recorder.epoch_models) == 4
    for n_epochs, model in enumerate(recorder.epoch_models, start=1):
        expected = _fit_for(n_epochs, X, y)
        assert model.n_iter_ == n_epochs
        assert model is not final
        assert_array_equal(model.predict_proba(X), expected.predict_proba(X))
    # The models were copies: training on did not change them.
    assert not np.array_equal(
        recorder.epoch_models[0].coefs_[0], recorder.epoch_models[-1].coefs_[0]
    )


@requires_callbacks
@pytest.mark.parametrize(
    "task, n_kept",
    [(("fit", 0), 4), (("epoch", 2), 3)],
    ids=["in-the-end-of-fit-hook", "in-the-hook-of-epoch-3"],
)
def test_a_ctrl_c_in_an_end_hook_keeps_every_finished_epoch(data, task, n_kept):
    X, y = data
    callback = RaiseAtEnd(*task)
    clf = _clf(max_iter=4).set_callbacks(callback)
    with pytest.warns(UserWarning, match="interrupted") as record:
        assert clf.fit(X, y) is clf
    assert f"last finished epoch ({n_kept})" in str(record[0].message)
    expected = _fit_for(n_kept, X, y)
    assert clf.n_iter_ == n_kept
    assert clf.loss_curve_ == expected.loss_curve_
    for a, b in zip(
        clf.coefs_ + clf.intercepts_, expected.coefs_ + expected.intercepts_
    ):
        assert_array_equal(a, b)
    # The callbacks were torn down all the same.
    assert callback.calls[-1][0] == "teardown"


@requires_callbacks
def test_callbacks_receive_sample_weight_as_metadata(data):
    X, y = data
    weight = np.linspace(0.5, 2, len(y))
    recorder = Recorder()
    _clf(max_iter=2).set_callbacks(recorder).fit(X, y, sample_weight=weight)
    assert len(recorder.metadata) == 3  # the fit and its 2 epochs
    for metadata in recorder.metadata:
        assert metadata["sample_weight"] is weight


@requires_callbacks
def test_scoring_monitor_logs_the_accuracy_after_every_epoch(data):
    X, y = data
    monitor = sklearn_callback.ScoringMonitor(scoring="accuracy")
    clf = _clf(max_iter=5).set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == [0, 1, 2, 3, 4]
    expected = [accuracy_score(y, _fit_for(k, X, y).predict(X)) for k in range(1, 6)]
    assert_allclose([row["accuracy"] for row in epochs], expected)
    # The accuracy changes as the model trains: the rows are not one value.
    assert len(set(expected)) > 1
    (whole_fit,) = [row for row in rows if row["task_name"] == "fit"]
    assert whole_fit["accuracy"] == clf.score(X, y)


@requires_callbacks
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_callback_asking_to_stop_ends_training_at_that_epoch(data, early_stopping):
    X, y = data
    stopper = StopAfter(3)
    params = {"early_stopping": early_stopping, "validation_fraction": 0.2}
    with warnings.catch_warnings():
        # A stop asked for is not a failure to converge.
        warnings.simplefilter("error", ConvergenceWarning)
        clf = _clf(max_iter=50, **params).set_callbacks(stopper).fit(X, y)
    assert clf.n_iter_ == 3
    assert len(clf.loss_curve_) == 3
    assert stopper.calls == _expected_calls(3)
    expected = _fit_for(3, X, y, **params)
    for coef, expected_coef in zip(clf.coefs_, expected.coefs_):
        assert_array_equal(coef, expected_coef)
    if early_stopping:
        assert clf.validation_scores_ == expected.validation_scores_


@requires_callbacks
def test_partial_fit_is_a_fit_of_one_epoch(data):
    X, y = data
    recorder = Recorder()
    clf = _clf().set_callbacks(recorder)
    clf.partial_fit(X, y, classes=np.unique(y))
    clf.partial_fit(X, y)
    assert recorder.calls == 2 * _expected_calls(1)
    assert recorder.epoch_models[1].n_iter_ == 2


@requires_callbacks
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_callbacks_are_torn_down_when_training_diverges(data):
    X, y = data
    recorder = Recorder()
    clf = _clf(learning_rate_init=1e100, max_iter=5).set_callbacks(recorder)
    with pytest.raises(DivergenceError):
        clf.fit(X, y)
    assert recorder.calls[0] == ("setup", "fit", 0)
    assert recorder.calls[-1] == ("teardown", "fit", 0)
    assert [call[0] for call in recorder.calls].count("teardown") == 1
    assert not hasattr(clf, "coefs_")
    assert not hasattr(clf, "_callback_fit_ctx")


@requires_callbacks
def test_callbacks_of_a_pipeline_reach_the_epochs(data):
    X, y = data
    recorder = AutoPropagatedRecorder()
    pipeline = make_pipeline(StandardScaler(), _clf(max_iter=3))
    with warnings.catch_warnings():
        # Would warn if the classifier did not support callbacks.
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.set_callbacks(recorder).fit(X, y)
    epochs = [call for call in recorder.calls if call[1] == "epoch"]
    assert epochs == _expected_calls(3)[2:-2]
    assert len(recorder.epoch_models) == 3


@requires_callbacks
def test_a_checkpoint_saved_inside_a_pipeline_holds_nothing_of_the_pipelines_fit(
    data, tmp_path
):
    # The checkpoint of an epoch, copied while the pipeline fitted its last
    # step, held scikit-learn's _parent_callback_ctx: the pipeline's task
    # tree. skops's dump of it recursed without end, and partial_fit of the
    # loaded checkpoint filed its tasks under the finished pipeline's (with
    # a progress bar set on the pipeline, it failed).
    skops_io = pytest.importorskip("skops.io")
    X, y = data
    checkpointer = Checkpointer(tmp_path)
    pipeline = make_pipeline(StandardScaler(), _clf(max_iter=3))
    pipeline[-1].set_callbacks(checkpointer)
    pipeline.set_callbacks(AutoPropagatedRecorder())
    pipeline.fit(X, y)
    checkpoint = joblib.load(checkpointer.path(2))
    assert not hasattr(checkpoint, "_parent_callback_ctx")
    contexts = []

    class Contexts(Recorder):
        def setup(self, estimator, context):
            contexts.append(context)

    checkpoint.set_callbacks(Contexts())
    checkpoint.partial_fit(pipeline[0].transform(X), y)
    # The call's own task tree, not a branch of the pipeline's.
    (context,) = contexts
    assert context.parent is None and context.estimator_name == "SoftplusMLPClassifier"
    checkpoint.set_callbacks()
    loaded = skops_io.loads(
        skops_io.dumps(checkpoint), trusted=["skmlp._mlp.SoftplusMLPClassifier"]
    )
    assert_array_equal(loaded.predict_proba(X), checkpoint.predict_proba(X))


@requires_callbacks
def test_an_epochs_model_exists_before_any_epoch_scored_a_finite_score():
    # X_val on a scale of 1e200 makes predictions whose squared residuals
    # overflow: R^2 is -inf at every epoch, and early stopping has no best
    # epoch yet. Building the epoch's model for the callbacks was an
    # AttributeError; the fit now ends with early stopping's own error.
    from skmlp import SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = X[:, 0]
    recorder = Recorder()
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(5,), early_stopping=True, max_iter=20, random_state=0
    ).set_callbacks(recorder)
    with pytest.raises(ValueError, match="no epoch with a finite validation score"):
        model.fit(X[40:], y[40:], X_val=X[:40] * 1e200, y_val=y[:40])
    assert recorder.epoch_models
    for epoch_model in recorder.epoch_models:
        assert np.all(np.isfinite(epoch_model.predict(X)))
    assert not hasattr(model, "coefs_")


@requires_callbacks
def test_a_scoring_monitor_scores_a_pipelines_epochs_only_set_on_the_classifier(data):
    # What the scaling-out page says: ScoringMonitor scores the estimator it
    # is set on, so on the pipeline it logs nothing; set on the classifier it
    # scores each epoch's model on the data the pipeline passes it.
    X, y = data
    on_pipeline = sklearn_callback.ScoringMonitor(scoring="accuracy")
    make_pipeline(StandardScaler(), _clf(max_iter=3)).set_callbacks(on_pipeline).fit(
        X, y
    )
    with pytest.raises(ValueError, match="No logs"):
        on_pipeline.get_logs()
    monitor = sklearn_callback.ScoringMonitor(scoring="accuracy")
    pipeline = make_pipeline(StandardScaler(), _clf(max_iter=3))
    pipeline[-1].set_callbacks(monitor)
    pipeline.fit(X, y)
    scores = list(monitor.get_logs().data_as_pandas["accuracy"])
    assert len(scores) == 4  # the fit, and its three epochs
    X_scaled = pipeline[0].transform(X)
    for epoch in (1, 2, 3):
        model = make_pipeline(StandardScaler(), _clf(max_iter=epoch)).fit(X, y)
        assert accuracy_score(y, model[-1].predict(X_scaled)) in scores


@requires_callbacks
def test_progress_bar_shows_the_epochs_of_the_fit(data, capsys):
    pytest.importorskip("rich")
    X, y = data
    _clf(max_iter=5).set_callbacks(sklearn_callback.ProgressBar()).fit(X, y)
    out = capsys.readouterr().out
    assert "SoftplusMLPClassifier - fit" in out
    assert "100%" in out


@requires_callbacks
def test_a_fit_without_callbacks_opens_no_callback_context(data, monkeypatch):
    X, y = data

    def fail(*args, **kwargs):
        raise AssertionError("a callback context was opened")

    monkeypatch.setattr(SoftplusMLPClassifier, "_init_callback_context", fail)
    clf = _fit_for(3, X, y)
    assert clf.n_iter_ == 3


def test_epoch_callbacks_do_nothing_without_the_callback_api(data):
    X, y = data

    class NoCallbackAPI:
        pass

    callbacks = EpochCallbacks(NoCallbackAPI(), X, y, None, max_epochs=3)
    callbacks.begin_epoch()

    def no_model():
        raise AssertionError("the model was built without a callback to get it")

    callbacks.set_model(no_model)
    assert callbacks.end_epoch(no_model) is False
    callbacks.end_fit({})


@requires_callbacks
def test_without_the_callback_api_the_estimator_trains_as_before(data, tmp_path):
    # scikit-learn < 1.9 has no CallbackSupportMixin; hiding it in a fresh
    # interpreter leaves an estimator without set_callbacks that trains to
    # exactly the same model.
    X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(
        f"""
        import warnings
        import numpy as np
        # scikit-learn's own modules that use the mixin are loaded first.
        import sklearn.linear_model, sklearn.model_selection, sklearn.pipeline
        import sklearn.preprocessing
        import sklearn.callback

        del sklearn.callback.CallbackSupportMixin
        from skmlp import SoftplusMLPClassifier

        X, y = np.load("{tmp_path / "X.npy"}"), np.load("{tmp_path / "y.npy"}")
        warnings.simplefilter("ignore")
        clf = SoftplusMLPClassifier(
            hidden_layer_sizes=(6,), learning_rate_init={LR}, max_iter=4,
            random_state=0,
        ).fit(X, y)
        np.save("{tmp_path / "proba.npy"}", clf.predict_proba(X))
        print(hasattr(clf, "set_callbacks"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
    assert_array_equal(
        np.load(tmp_path / "proba.npy"), _fit_for(4, X, y).predict_proba(X)
    )


@requires_callbacks
def test_the_model_of_each_epoch_predicts_multilabel_targets(data):
    X, _ = data
    y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0])
    recorder = Recorder()
    _clf(max_iter=3).set_callbacks(recorder).fit(X, y.astype(int))
    for n_epochs, model in enumerate(recorder.epoch_models, start=1):
        expected = _fit_for(n_epochs, X, y.astype(int))
        assert model.out_activation_ == "logistic"
        assert_array_equal(model.predict(X), expected.predict(X))
        assert_array_equal(model.predict_proba(X), expected.predict_proba(X))


# What a fit writes, compared by value: the fitted attributes, public and
# private (the solver's state and the generator that the next partial_fit
# goes on from). Not the parameters, nor the callbacks set on the estimator.
_NOT_FITTED = {"_skl_callbacks"}


def _fitted_state(estimator):
    params = estimator.get_params(deep=False)
    return {
        name: value
        for name, value in vars(estimator).items()
        if name not in params and name not in _NOT_FITTED
    }


def _assert_equal_values(a, b, where):
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, np.random.RandomState):
        state_a, state_b = a.get_state(legacy=False), b.get_state(legacy=False)
        _assert_equal_values(state_a, state_b, where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal_values(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal_values(x, y, f"{where}[{i}]")
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        # The solver: its state, attribute by attribute.
        _assert_equal_values(vars(a), vars(b), f"{where}.__dict__")
    else:
        assert a == b, where


def _assert_same_fitted_model(a, b):
    _assert_equal_values(_fitted_state(a), _fitted_state(b), "fitted state")


class Checkpointer(Recorder):
    """Saves the model of every epoch with joblib, as a checkpointing
    callback would, and records the hooks."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        super().on_fit_task_end(estimator, context, fitted_estimator=fitted_estimator)
        if context.task_name == "epoch":
            joblib.dump(fitted_estimator, self.path(context.task_id + 1))

    def path(self, n_epochs):
        return self.folder / f"epoch-{n_epochs}.joblib"


# Mini-batches in a shuffled order, NAG's momentum running across them: the
# next partial_fit goes on from the solver's state and the generator exactly
# as fit goes on to its next epoch (tests/test_mlp.py pins it), and both are
# part of the model. tol=0 and n_iter_no_change keep fit from stopping early.
_EXACT = dict(solver="nag", batch_size=50, shuffle=True, tol=0.0, n_iter_no_change=100)


@requires_callbacks
@pytest.mark.parametrize(
    "previous_fit, warm_start",
    [(None, False), (30, False), (30, True)],
    ids=["first-fit", "refit", "warm-start-refit"],
)
def test_the_model_of_each_epoch_is_that_of_fit_with_max_iter_that_epoch_whole(
    data, tmp_path, previous_fit, warm_start
):
    # The model a callback gets for epoch k is what fit(max_iter=k) gives, in
    # every fitted attribute, whatever the estimator held before (a refit
    # carried the previous fit's loss_curve_, t_ and solver); saved and
    # loaded, one partial_fit takes it where fit(max_iter=k + 1) goes.
    X, y = data
    n_epochs = 4
    start = _clf(warm_start=warm_start, **_EXACT)
    if previous_fit is not None:
        start.set_params(max_iter=previous_fit, random_state=1).fit(X, y)
        start.set_params(random_state=0)

    def fit_for(k):
        return copy.deepcopy(start).set_params(max_iter=k).fit(X, y)

    checkpointer = Checkpointer(tmp_path)
    clf = copy.deepcopy(start).set_params(max_iter=n_epochs)
    clf.set_callbacks(checkpointer).fit(X, y)
    assert len(checkpointer.epoch_models) == n_epochs
    for k, model in enumerate(checkpointer.epoch_models, start=1):
        expected = fit_for(k)
        _assert_same_fitted_model(model, expected)
        assert model.n_iter_ == k == len(model.loss_curve_)
        saved = joblib.load(checkpointer.path(k))
        _assert_same_fitted_model(saved, expected)
        # Without callbacks, and without the bookkeeping of the fit that
        # saved it: the next call opens no callback task of that fit.
        assert not hasattr(saved, "_callback_fit_ctx")
        saved.set_callbacks()
        _assert_same_fitted_model(saved.partial_fit(X, y), fit_for(k + 1))
    # The last epoch's model is the fitted estimator; the earlier ones were
    # not changed by the epochs after them.
    _assert_same_fitted_model(checkpointer.epoch_models[-1], clf)
    assert checkpointer.epoch_models[0].n_iter_ == 1


@requires_callbacks
def test_the_model_of_each_epoch_with_early_stopping_is_the_best_so_far(data):
    # fit(max_iter=k) with early stopping keeps the best epoch up to k, with
    # the momentum dropped: the model a callback gets, and the one it keeps
    # if it asks to stop there.
    X, y = data
    params = dict(early_stopping=True, validation_fraction=0.2)
    recorder = Recorder()
    clf = _clf(max_iter=8, **params).set_callbacks(recorder).fit(X, y)
    scores = clf.validation_scores_
    assert any(scores[k] < max(scores[:k]) for k in range(1, len(scores))), (
        "no epoch worse than an earlier one: the test shows nothing"
    )
    for k, model in enumerate(recorder.epoch_models, start=1):
        _assert_same_fitted_model(model, _fit_for(k, X, y, **params))


def _snapshot(estimator):
    """A deep copy of the estimator's state but its callbacks (compared by
    identity)."""
    return {
        name: copy.deepcopy(value)
        for name, value in vars(estimator).items()
        if name != "_skl_callbacks"
    }


@requires_callbacks
@pytest.mark.parametrize("task_name", ["fit", "epoch"])
@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_callback_raising_at_the_end_leaves_the_estimator_as_it_was(
    data, task_name, fitted, method
):
    # An error in the end-of-fit hook raises from fit, as one at an epoch
    # does, and, as there, leaves every attribute as it was: the new model
    # was not written (n_iter_ went from 6 to 5 before).
    X, y = data
    clf = _clf(max_iter=5)
    if fitted:
        clf.set_params(max_iter=6, random_state=1).fit(X, y)
        clf.set_params(max_iter=5, random_state=0)
    callback = RaiseAtEnd(
        task_name, 0, RuntimeError(f"failed at the end of a {task_name}")
    )
    clf.set_callbacks(callback)
    before = _snapshot(clf)
    kwargs = {"classes": np.unique(y)} if method == "partial_fit" else {}
    with pytest.raises(RuntimeError, match=f"end of a {task_name}"):
        getattr(clf, method)(X, y, **kwargs)
    assert clf._skl_callbacks == [callback]
    _assert_equal_values(_snapshot(clf), before, "state")
    assert callback.calls[-1][0] == "teardown"


class RaiseAtTeardown(Recorder):
    """Raises in ``teardown``, which scikit-learn's ``_fit_context`` calls
    after the fit has returned, the new model written."""

    def teardown(self, estimator, context):
        super().teardown(estimator, context)
        raise RuntimeError("failed in teardown")


@requires_callbacks
@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_callback_raising_in_teardown_leaves_the_estimator_as_it_was(
    data, fitted, method
):
    # The fit succeeded, but the call raises: the estimator keeps the model
    # it had (none, if it had none), as after any other error in a fit.
    X, y = data
    clf = _clf(max_iter=5)
    if fitted:
        clf.set_params(max_iter=6, random_state=1).fit(X, y)
        clf.set_params(max_iter=5, random_state=0)
    callback = RaiseAtTeardown()
    clf.set_callbacks(callback)
    before = _snapshot(clf)
    kwargs = {"classes": np.unique(y)} if method == "partial_fit" else {}
    with pytest.raises(RuntimeError, match="in teardown"):
        getattr(clf, method)(X, y, **kwargs)
    assert callback.calls[-1][0] == "teardown"
    assert clf._skl_callbacks == [callback]
    _assert_equal_values(_snapshot(clf), before, "state")
    # The next call, with the callback gone, trains as from that state.
    clf.set_callbacks()
    getattr(clf, method)(X, y, **kwargs)
    assert clf.n_iter_ == (5 if method == "fit" else 7 if fitted else 1)


@requires_callbacks
def test_a_call_failing_in_teardown_gives_no_warning_of_the_model_undone(data):
    # The warnings of the training's end were given before the teardown
    # raised: "Maximum iterations reached", of a model that the call then
    # undid. They are given once the call has succeeded.
    X, y = data
    clf = _clf(max_iter=5)
    clf.set_callbacks(RaiseAtTeardown())
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="in teardown"):
            clf.fit(X, y)
    assert not record
    assert not hasattr(clf, "coefs_")
    # Without the failing callback the same call warns, at the user's line.
    clf.set_callbacks()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations") as record:
        clf.fit(X, y)
    assert record[0].filename == __file__
    # A warning made an error by a filter still undoes the model, as when it
    # was given during the training.
    clf.set_params(max_iter=3)
    before = _snapshot(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            clf.fit(X, y)
    _assert_equal_values(_snapshot(clf), before, "state")


@requires_callbacks
def test_parameters_a_callback_set_stay_when_the_call_then_fails(data):
    # Only the fitted state is put back: a parameter set by a callback
    # during the fit stays, as it does when the fit succeeds.
    X, y = data

    class TunerThenFail(RaiseAtTeardown):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "fit":
                estimator.set_params(alpha=0.5)

    clf = _clf(max_iter=3).set_callbacks(TunerThenFail())
    with pytest.raises(RuntimeError, match="in teardown"):
        clf.fit(X, y)
    assert clf.alpha == 0.5
    assert not hasattr(clf, "coefs_")


@requires_callbacks
def test_callbacks_a_callback_set_stay_when_the_call_then_fails(data):
    # set_callbacks during a fit that then raises is kept, as set_params
    # is and as both are when the fit succeeds: the rollback undoes the
    # model the call wrote, not what a callback changed.
    X, y = data
    quiet = Recorder()

    class SwitchThenFail(RaiseAtTeardown):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "epoch" and context.task_id == 1:
                estimator.set_callbacks(quiet)

    clf = _clf(max_iter=3).set_callbacks(SwitchThenFail())
    with pytest.raises(RuntimeError, match="in teardown"):
        clf.fit(X, y)
    assert clf._skl_callbacks == [quiet]
    assert not hasattr(clf, "coefs_")


def _fit_in_thread_a(clf, X, y):
    """``clf.fit(X, y)`` started in a thread named "A"; the thread, and the
    list that gets the RuntimeError it raises, if any."""
    import threading

    errors = []

    def fit_in_a():
        try:
            clf.fit(X, y)
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=fit_in_a, name="A")
    thread.start()
    return thread, errors


@requires_callbacks
def test_a_failing_call_does_not_undo_a_model_another_thread_committed(data):
    # Thread A's fit waits in a callback while the main thread's fit on the
    # same estimator succeeds; A then fails. A wrote no model, and the
    # main thread's stays (the rollback restored the state of A's start).
    import threading

    X, y = data
    started, other_done = threading.Event(), threading.Event()

    class FailInA(Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if threading.current_thread().name == "A":
                started.set()
                other_done.wait(60)
                raise RuntimeError("A failed")

    clf = _clf(max_iter=3).set_callbacks(FailInA())
    thread, errors = _fit_in_thread_a(clf, X, y)
    assert started.wait(60)
    clf.fit(X, y)
    committed = clf.coefs_
    other_done.set()
    thread.join(60)
    assert [str(error) for error in errors] == ["A failed"]
    assert clf.coefs_ is committed


def test_a_call_failing_after_its_commit_leaves_a_later_commit_whole(data, monkeypatch):
    # Thread A commits its model, then fails (as a teardown would) only
    # after the main thread's fit has committed another: A's rollback must
    # not touch the main thread's model. Undone attribute by attribute,
    # where the value was still the one A wrote, it would take back those
    # that are the same object in both models (n_iter_, a small int) and
    # leave a mix of the two. (Two fits with callbacks at once cannot show
    # it: scikit-learn keeps the callback context on the estimator.)
    import threading

    X, y = data
    committed, other_done = threading.Event(), threading.Event()
    commit = SoftplusMLPClassifier._commit

    def commit_then_fail_in_a(self, fitted):
        commit(self, fitted)
        if threading.current_thread().name == "A":
            committed.set()
            other_done.wait(60)
            raise RuntimeError("A failed after its commit")

    monkeypatch.setattr(SoftplusMLPClassifier, "_commit", commit_then_fail_in_a)
    clf = _clf(max_iter=3)
    thread, errors = _fit_in_thread_a(clf, X, y)
    assert committed.wait(60)
    clf.set_params(random_state=1).fit(X, y)
    model = _snapshot(clf)
    other_done.set()
    thread.join(60)
    assert [str(error) for error in errors] == ["A failed after its commit"]
    assert clf.n_iter_ == 3
    _assert_equal_values(_snapshot(clf), model, "state")


@requires_callbacks
@pytest.mark.parametrize("fitted", [False, True], ids=["first-fit", "refit"])
def test_the_end_of_fit_hook_gets_the_new_model_before_the_estimator_takes_it(
    data, fitted
):
    # The root task's on_fit_task_end runs before the model is written (so
    # that an error there can leave the estimator as it was): its
    # fitted_estimator is the new model, whole, while the estimator still
    # holds the one from before the call.
    X, y = data
    clf = _clf(max_iter=3, **_EXACT)
    if fitted:
        clf.set_params(max_iter=7).fit(X, y)
        clf.set_params(max_iter=3)
    before = _snapshot(clf)
    seen = {}

    class AtTheEnd(Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "fit":
                seen["fitted_estimator"] = fitted_estimator
                # But for the bookkeeping of the fit under way.
                state = _snapshot(estimator)
                del state["_callback_fit_ctx"], state["_skl_callbacks_to_teardown"]
                seen["estimator"] = state

    clf.set_callbacks(AtTheEnd()).fit(X, y)
    _assert_same_fitted_model(seen["fitted_estimator"], clf)
    _assert_same_fitted_model(seen["fitted_estimator"], _fit_for(3, X, y, **_EXACT))
    assert seen["fitted_estimator"] is not clf
    _assert_equal_values(seen["estimator"], before, "state in the hook")


@requires_callbacks
def test_set_params_from_a_callback_stays_and_takes_effect_at_the_next_fit(data):
    # A callback may change the estimator's parameters during the fit (at an
    # epoch, and in the end-of-fit hook, which now runs before the commit):
    # the commit does not write them back, and the running fit goes on with
    # those it started with.
    X, y = data

    class Tuner(Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "epoch" and context.task_id == 0:
                estimator.set_params(alpha=0.5, max_iter=2)
            if context.task_name == "fit":
                estimator.set_params(learning_rate_init=0.05)

    clf = _clf(max_iter=4).set_callbacks(Tuner()).fit(X, y)
    assert (clf.alpha, clf.max_iter, clf.learning_rate_init) == (0.5, 2, 0.05)
    _assert_same_fitted_model(clf, _fit_for(4, X, y))


@requires_callbacks
def test_the_model_of_an_epoch_that_restarts_the_momentum_holds_the_restart():
    # The stopping rule's momentum restart came after the callbacks had the
    # epoch's model: a callback's model (or a fit a callback stopped there)
    # went on 3e-3 away from fit(max_iter=k + 1).
    from skmlp import SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(300, 4) * [1, 3, 0.3, 10]
    y = X @ [1.0, 0.5, 2.0, 0.1] + 0.2 * rng.randn(300)
    params = dict(hidden_layer_sizes=(), tol=1e-10, random_state=0)
    recorder = Recorder()
    SoftplusMLPRegressor(max_iter=5000, **params).set_callbacks(recorder).fit(X, y)

    def fit_for(n_epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return SoftplusMLPRegressor(max_iter=n_epochs, **params).fit(X, y)

    # The epoch of the restart, by fits stopped at each epoch (near 153).
    restarted = next(k for k in range(100, 300) if fit_for(k)._solver.n_restarts)
    model = copy.deepcopy(recorder.epoch_models[restarted - 1])
    assert model._solver.n_restarts == 1
    model.partial_fit(X, y)
    assert_array_equal(model.coefs_[0], fit_for(restarted + 1).coefs_[0])


@requires_callbacks
def test_an_epochs_model_went_through_the_next_steps_safeguard():
    # Iris with GD and the adaptive step: the 19th step leaves an iterate
    # that the next step's safeguard takes again. The model a callback gets
    # after epoch 19 is fit(max_iter=19)'s, which went through it (it was
    # the iterate before), and the fit goes on with the steps of one
    # without a callback.
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(solver="gd", learning_rate_init="auto", tol=0.0)
    recorder = Recorder()
    watched = _clf(max_iter=25, **params).set_callbacks(recorder).fit(X, y)
    at_19 = _fit_for(19, X, y, **params)
    assert at_19._solver.n_retakes == 1
    _assert_same_model(recorder.epoch_models[18], at_19)
    unwatched = _fit_for(25, X, y, **params)
    _assert_same_model(watched, unwatched)
    assert watched._solver.n_retakes == unwatched._solver.n_retakes


def _assert_same_model(a, b):
    for x, z in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(x, z)
    assert a.loss_curve_ == b.loss_curve_
    assert a.learning_rate_ == b.learning_rate_
