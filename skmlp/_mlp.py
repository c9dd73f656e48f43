"""The scikit-learn estimators: their parameters, validation, the fitted model.

:class:`SoftplusMLPClassifier` and :class:`SoftplusMLPRegressor` differ in
their targets only: how ``y`` is validated (``_validation.validate_call``
tells them apart), the datafit it selects (``out_activation_``) and what
``predict`` reads from the outputs. Everything else, the parameters, the
training call and persistence, is :class:`_SoftplusMLP`, which both
inherit, as scikit-learn's ``LogisticRegression`` inherits its
``SparseCoefMixin``: the scikit-learn mixin first and ``BaseEstimator``
last, so that scikit-learn >= 1.6 sees a classifier or a regressor.

A call of ``fit`` or ``partial_fit`` flows one way: the estimator validates
everything (the parameters, the data, the hidden layer sizes, the
early-stopping split) and hands the training run of :mod:`skmlp._training.loop`
plain values, its :class:`~skmlp._training.loop.Settings` and
:class:`~skmlp._training.loop.Start`; the run hands back a
:class:`~skmlp._training.loop.Result`, which :func:`fitted_attributes` alone
names as the estimator's fitted attributes (``coefs_``, ``loss_curve_``,
...), for the callbacks' model of each epoch and for the model the call
keeps. :func:`starting_point` reads them back for the next call.
"""

import copy
import functools
import re
import threading
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.utils import check_random_state

from . import _callbacks, _persistence, _validation
from ._dask import cluster as _dask
from ._dask import input as _dask_input
from ._evaluation.blocks import forward_log_proba
from ._evaluation.execution import SingleThreadedBlas, ThreadedExecutor
from ._math.datafits import DATAFITS
from ._math.layout import ParameterLayout
from ._sklearn_compat import (
    Interval,
    Options,
    StrOptions,
    _fit_context,
)
from ._training.history import State
from ._training.loop import DivergenceError, Settings, Start, build_run
from ._warnings import warn_at_user_code

__all__ = ["DivergenceError", "SoftplusMLPClassifier", "SoftplusMLPRegressor"]


# The docstring sections the two estimators share, with the words in which
# they differ as @name@ (see _documented): one text to keep right, not two.
_SHARED_DOCS = {
    "parameters": """    hidden_layer_sizes : array-like of int, default=(100,)
        The ``i``-th element is the number of softplus units of the ``i``-th
        hidden layer. ``()`` gives no hidden layer: the model is then
        @linear_model@.

    solver : {'gd', 'nag', 'lbfgs'}, default='nag'
        ``'gd'``: ``theta <- theta - lr * grad L(theta)``. ``'nag'``: Nesterov's
        accelerated gradient, the gradient taken at the look-ahead point,
        with the momentum of ``momentum`` (FISTA on the full batch).
        ``'lbfgs'``: limited-memory BFGS (10 pairs) with a strong Wolfe line
        search, one iteration per epoch, on the full batch only; it needs no
        ``learning_rate_init``, and ``learning_rate_`` is the step of its
        last line search.

    alpha : float, default=1e-4
        Strength of the L2 penalty on the weights (not the intercepts),
        ``alpha / (2 * sum(sample_weight)) * sum ||W||^2`` as in @peer@.

    batch_size : int, default=None
        Rows per mini-batch; None (or a value at least the number of samples)
        trains on the full batch. Each mini-batch is one solver step, and
        NAG's momentum runs on across mini-batches and epochs.

    learning_rate_init : float or 'auto', default=@learning_rate_default@
        The step size of every solver step, or ``'auto'``. On the full
        batch, ``'auto'`` is Malitsky and Mishchenko's adaptive step from
        the last two gradients, ``s_k = min(sqrt(1 + s_{k-1} / s_{k-2})
        s_{k-1}, 1 / (c L_k))`` with ``L_k`` the curvature between them
        (``c = 1`` for NAG with ``restart='gradient'``, else 2): no
        evaluation beyond each step's gradient (a ``partial_fit`` call
        whose objective changed, its ``alpha`` say, takes one more). A step whose
        loss is more than 1.1 times the best before it is taken again,
        shorter (one more gradient per trial; with NAG and GD alike, the
        user guide's "NAG's safeguard"). @auto_default@
        On mini-batches, whose gradients measure no curvature, ``'auto'`` is
        backtracking (Beck and Teboulle's sufficient decrease on each
        batch), whose step never grows after the first search: a step let
        grow on one batch's evidence ran away with the momentum. So it is on
        the chunks of a stream, the ``partial_fit`` calls on other rows than
        the last call's, where the adaptive step took each chunk's
        curvature for the data's and diverged on chunks of a few rows. The
        step in use is ``learning_rate_``.

    restart : {'function', 'gradient'} or None, default='gradient'
        Adaptive restart of NAG's momentum (O'Donoghue and Candes): after a
        step from the look-ahead point ``y_k`` to ``x_k``, ``'function'``
        restarts when ``L(x_k) > L(x_{k-1})`` (one extra loss evaluation per
        step with a fixed step size), ``'gradient'`` when
        ``grad L(y_k) . (x_k - x_{k-1}) > 0``, at no cost. A restart sets
        FISTA's ``t`` back to 1 (or, with a constant ``momentum``, drops the
        momentum of one step), so the next step starts with no momentum.
        None is plain FISTA (but for the stopping rule's restart on the full
        batch, when the loss rose more than ``tol`` above its best: see
        ``tol``). Restarts rescue too large fixed steps and speed
        up ill-conditioned problems. With mini-batches the gradient test
        uses the current mini-batch's gradient, and the function test
        compares ``L(x_k)`` on the current mini-batch with ``L(x_{k-1})`` on
        the one before (the losses of two batches, see the user guide).
        Only used by ``solver='nag'``.

    momentum : 'auto', 'fista' or float in [0, 1), default='auto'
        NAG's momentum ``beta_k`` in ``y_{k+1} = x_k + beta_k (x_k -
        x_{k-1})``, the look-ahead point where the next gradient is taken.
        ``'fista'``: FISTA's ``(t_k - 1) / t_{k+1}``, which tends to 1 and
        gives the ``O(1/k^2)`` rate with exact gradients, but accumulates the
        noise of mini-batch gradients. A float ``mu``: a constant momentum,
        Nesterov's method in the form of Sutskever et al. (2013), the
        ``momentum`` of MLPClassifier with ``nesterovs_momentum=True``.
        ``'auto'`` (the default) is ``'fista'`` on the full batch and 0.9
        (MLPClassifier's default) on mini-batches. A ``partial_fit`` call on
        other rows than the last call's (the same values in another
        container, dense or sparse, count as other rows), and every call
        after it, is a chunk of a stream, on which ``'auto'`` (of ``momentum`` and of
        ``learning_rate_init``) is that of mini-batches; the first call
        cannot tell, and is a full batch. With
        a numeric ``learning_rate_init`` a loop over the chunks is exactly
        ``fit`` with ``batch_size`` the chunk size and ``shuffle=False``
        (for a regressor when the first chunk's targets have the mean of
        all of them; see :ref:`scaling_out`). Only used by ``solver='nag'``.

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).

    tol : float, default=1e-4
        Training stops when the loss (or the validation score, with
        ``early_stopping``) has not improved by at least ``tol`` for
        ``n_iter_no_change`` consecutive epochs; on the full batch, a loss
        that NAG's momentum carried more than ``tol`` above its best
        restarts the momentum instead (a rise is not a convergence; see the
        user guide). ``'lbfgs'`` stops instead
        by the tests of scipy's L-BFGS-B, as @peer@'s does: when the
        largest entry of the gradient at the new iterate is at most ``tol``,
        or when a step decreases the loss by a relative
        ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1)`` of at most 2.2e-9
        (scipy's default ``ftol``) along a direction that is not all but
        orthogonal to the gradient (see the user guide); with
        ``early_stopping`` also by the validation score.

    n_iter_no_change : int or np.inf, default=10
        Number of epochs without improvement by ``tol`` before stopping;
        ``np.inf`` never stops before ``max_iter``. Used by ``'lbfgs'``
        only with ``early_stopping``.

    shuffle : bool, default=True
        Whether to shuffle the rows before each epoch of mini-batches. Has no
        effect on the full batch.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the mini-batch order and the validation
        split. Pass an int for reproducible results.

    warm_start : bool, default=False
        If True, ``fit`` starts from the weights of the previous fit (the
        solver's momentum starts afresh). Unlike MLPClassifier, the fitted
        history (``loss_curve_``, ``n_iter_``, ``t_``) describes this fit
        alone. If ``hidden_layer_sizes`` changed since, the previous weights
        do not fit the new network and ``fit`` starts afresh (``partial_fit``
        raises a ValueError instead).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data@split@, stop
        when its score (@score@) stops improving, and keep the weights of
        the best epoch. ``fit``'s ``X_val`` and ``y_val``, when given, are the
        validation rows instead, and all the training data is trained on.
        At least two validation rows must have a positive weight@vary@,
        or ``fit`` raises a ValueError. Not available in ``partial_fit``.

    validation_fraction : float, default=0.1
        Fraction of the training data held out with ``early_stopping``;
        not used when ``fit`` is given ``X_val`` and ``y_val``.

    verbose : bool, default=False
        Print ``Iteration k, loss = ...`` after every epoch, and with
        ``early_stopping`` ``Validation score: ...``, as @peer@ does.
""",
    "attributes": """    coefs_ : list of ndarray
        ``coefs_[l]`` is the weight matrix of layer ``l``, of shape
        ``(fan_in, fan_out)``.

    intercepts_ : list of ndarray
        ``intercepts_[l]`` is the intercept vector of layer ``l``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string feature
        names.

    n_iter_ : int
        Number of epochs run, in total over ``partial_fit`` calls.

    learning_rate_ : float
        The step size in use: ``learning_rate_init``, or with ``'auto'`` the
        step of the last step taken; for ``'lbfgs'``, the last step of its
        line search along the quasi-Newton direction.

    t_ : int
        Number of training rows seen by the solver, over all epochs.

    loss_ : float
        Objective over the last epoch.

    loss_curve_ : list of float
        ``loss_curve_[k]`` is the objective over epoch ``k``, evaluated at
        the points where the gradients were taken (the look-ahead points for
        NAG), averaged over the epoch's mini-batches by weight.

    best_loss_ : float or None
        Lowest ``loss_curve_`` entry; None with ``early_stopping``.

    validation_scores_ : list of float or None
        The score (@score@) of the validation rows after each epoch,
        with ``early_stopping``; None otherwise.

    validation_loss_curve_ : list of float or None
        The loss on the validation rows after each epoch, with
        ``early_stopping``; None otherwise. It is the weighted mean
        @validation_loss@ of the predictions, without the penalty that
        ``loss_curve_`` includes, measured at the epoch's end point (whose
        score is ``validation_scores_``).

    best_validation_score_ : float or None
        Best of ``validation_scores_``; None without ``early_stopping``.

    n_layers_ : int
        Number of layers, input and output included.
""",
    "references": """    References
    ----------
    .. [1] Y. Nesterov, "A method for solving the convex programming problem
       with convergence rate O(1/k^2)", Soviet Math. Dokl. 27 (1983).
    .. [2] A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding
       algorithm for linear inverse problems", SIAM J. Imaging Sci. 2(1)
       (2009), 183-202.
    .. [3] B. O'Donoghue and E. Candes, "Adaptive restart for accelerated
       gradient schemes", Found. Comput. Math. 15 (2015), 715-732.
    .. [4] K. Scheinberg, D. Goldfarb and X. Bai, "Fast first-order methods
       for composite convex optimization with backtracking", Found. Comput.
       Math. 14 (2014), 389-417.
    .. [5] I. Sutskever, J. Martens, G. Dahl and G. Hinton, "On the importance
       of initialization and momentum in deep learning", ICML 2013.
""",
}


def _documented(**words):
    """Complete a class docstring: each line ``    @section@`` becomes the
    shared section of :data:`_SHARED_DOCS`, then each ``@word@`` the
    estimator's ``words[word]``."""

    def complete(cls):
        doc = cls.__doc__
        for section, text in _SHARED_DOCS.items():
            doc = doc.replace(f"    @{section}@\n", text + "\n")
        for word, text in words.items():
            doc = doc.replace(f"@{word}@", text)
        missing = re.findall(r"@\w+@", doc)
        if missing:
            raise RuntimeError(f"{cls.__name__}'s docstring lacks {missing}")
        cls.__doc__ = doc
        return cls

    return complete


def _checked_on_every_call(partial_fit):
    """Check the parameters on every call of ``partial_fit``, not only on
    the first.

    scikit-learn's ``_fit_context`` checks those of a ``partial_fit`` on its
    first call only, as its own estimators' ``partial_fit`` do. Here
    ``set_params`` between calls is documented (a smaller learning rate
    after a divergence, another solver), and a value set so went unchecked:
    an unknown solver trained as L-BFGS, ``batch_size=0`` ended in a
    ZeroDivisionError. The check comes before
    ``_fit_context``, which tells nested calls to skip theirs, and is
    skipped as the context's own is, by ``skip_parameter_validation``.
    """

    @functools.wraps(partial_fit)
    def checked(self, *args, **kwargs):
        if not get_config()["skip_parameter_validation"]:
            self._validate_params()
        return partial_fit(self, *args, **kwargs)

    return checked


# The calls of fit or partial_fit running in this thread, innermost last
# (_RunningCall): each collects the commits of its estimator, to undo them
# if it ends in an error, and the warnings of its training's end, to give
# them only if it does not (_rolled_back_on_error).
_COMMITS = threading.local()
# What an attribute that did not exist before a commit was.
_ABSENT = object()


class _RunningCall:
    """A running call of ``fit`` or ``partial_fit`` on ``estimator``: the
    ``commits`` it made, ``(written, previous)`` pairs, and the end-of-
    training ``warnings`` it holds back, ``(message, category)`` pairs."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.commits = []
        self.warnings = []

    def give_warnings(self):
        for message, category in self.warnings:
            warn_at_user_code(message, category)


def _running_call(estimator):
    """The innermost running call on ``estimator`` in this thread, or None."""
    for call in reversed(getattr(_COMMITS, "stack", ())):
        if call.estimator is estimator:
            return call
    return None


def _rolled_back_on_error(method):
    """Undo the model that ``method`` (``fit`` or ``partial_fit``) wrote
    when it raises an error after writing it.

    The training writes the new model only once it has succeeded, so an
    error in it leaves the estimator as it was. But scikit-learn's
    ``_fit_context`` calls the callbacks' ``teardown`` after the method has
    returned, and a ``teardown`` that raised left the new model written
    under an error. So the call's own commits are undone: the attributes
    each wrote are put back as they were, while its model is still the
    estimator's. A ``set_params`` or ``set_callbacks`` made during the call
    (by a callback) is kept, as a successful fit keeps it, and so is a
    model that another thread committed meanwhile. A Ctrl-C is no error here: it keeps
    the last epoch, as documented.

    The warnings of the training's end (no convergence, a model that learned
    nothing) are given once the call has returned, its ``teardown`` too: a
    call that then raised warned of a model that it did not keep.
    """

    @functools.wraps(method)
    def rolled_back(self, *args, **kwargs):
        stack = getattr(_COMMITS, "stack", None)
        if stack is None:
            stack = _COMMITS.stack = []
        call = _RunningCall(self)
        stack.append(call)
        try:
            try:
                result = method(self, *args, **kwargs)
            except BaseException as error:
                if not isinstance(error, Exception):
                    # A Ctrl-C keeps the finished epochs, and their warnings.
                    call.give_warnings()
                raise
            # Within the try: a warning turned into an error (a filter)
            # undoes the model, as it did when given during the training.
            call.give_warnings()
            return result
        except Exception:
            state = vars(self)
            for written, previous in reversed(call.commits):
                # A commit is undone whole, or not at all: its weights, a
                # new list at every commit, tell whether the model is still
                # the one it wrote (another thread may have committed since;
                # an attribute by attribute test would mix the two models
                # where their values are the same object, a small int).
                if state.get("coefs_", _ABSENT) is not written["coefs_"]:
                    continue
                for name, value in previous.items():
                    if value is _ABSENT:
                        state.pop(name, None)
                    else:
                        state[name] = value
            raise
        finally:
            stack.pop()

    return rolled_back


class _SoftplusMLP:
    """The parameters, the training call and persistence of the softplus
    perceptrons: what :class:`SoftplusMLPClassifier` and
    :class:`SoftplusMLPRegressor` share."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "solver": [StrOptions({"gd", "nag", "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate_init": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "restart": [StrOptions({"function", "gradient"}), None],
        "momentum": [
            StrOptions({"auto", "fista"}),
            Interval(Real, 0, 1, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "verbose": ["verbose"],
    }

    @_rolled_back_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; for a Dask array or DataFrame see :ref:`scaling_out`.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets: class labels or an indicator matrix of multilabel
            targets for the classifier, real values (one column per output)
            for the regressor.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
                default=None
            Validation rows for early stopping (``early_stopping=True``), in
            place of the ``validation_fraction`` held out of ``X``; at least
            2, as a held-out split. In a
            ``Pipeline``, ``X_val`` is transformed as ``X`` is with
            ``Pipeline(..., transform_input=["X_val"])`` (scikit-learn >=
            1.6, with metadata routing enabled). Not supported when ``X``
            is a Dask collection.

        y_val : array-like of shape (n_val,) or (n_val, n_outputs), \
                default=None
            The targets of ``X_val``: of the kind and the classes of ``y``,
            or of its outputs.

        sample_weight_val : array-like of shape (n_val,), default=None
            Non-negative weights of the validation rows; None weighs every
            row 1.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        validation = None
        if _validation.given_validation_data(self, X_val, y_val, sample_weight_val):
            validation = (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, incremental=False, validation=validation)

    def __getstate__(self):
        return _persistence.saved_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_persistence.loaded_state(self, state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @staticmethod
    def _outputs(model, X):
        """The outputs of ``model`` (a fitted view) for the rows of ``X``,
        as the datafit of its output layer reads them (``log_proba``): the
        log-probabilities of a classifier, the predictions of a
        regressor."""
        X = _validation.validate_input(model, X)
        datafit = DATAFITS[model.out_activation_]()
        return forward_log_proba(model.coefs_, model.intercepts_, X, datafit=datafit)

    # ------------------------------------------------------------------
    # Training

    def _partial_fit(self, X, y, sample_weight, classes=None):
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _fit(self, X, y, sample_weight, incremental, classes=None, validation=None):
        # Threads that evaluate the objective, kept for every evaluation of
        # the call, and let go once its model is kept.
        with ThreadedExecutor() as workers:
            return self._train(
                X, y, sample_weight, incremental, classes, validation, workers
            )

    def _train(self, X, y, sample_weight, incremental, classes, validation, workers):
        # Nothing is written to self before _commit: an error (a divergence
        # included) leaves the estimator as it was.
        callbacks = _callbacks.EpochCallbacks(
            self, X, y, sample_weight, max_epochs=1 if incremental else self.max_iter
        )
        # The whole loop runs with single-threaded BLAS, the evaluations
        # sharing the rows between the workers themselves: their contexts,
        # nested in this one, then cost next to nothing, and OpenBLAS's
        # threads do not spin beside ours. (The solvers' dot products over
        # all parameters do not need it: _execution.dot rounds the same
        # whatever the thread limit.)
        with SingleThreadedBlas():
            model, run = self._prepare(
                X,
                y,
                sample_weight,
                incremental,
                classes,
                validation,
                callbacks,
                workers,
            )
            try:
                run.run()
            except KeyboardInterrupt:
                if not run.n_new_epochs:
                    raise
                run.keep_after_interrupt()
            finally:
                # The last use of the rows: a run on a Dask cluster lets it
                # forget its blocks now, not when the traceback of an error
                # that keeps this frame is gone.
                _dask.release_run(run)
        # The new model, built once: for the end-of-fit callbacks and then
        # for the estimator. A Ctrl-C while it is built builds it again (the
        # same model: the run's result does not change), since an epoch has
        # finished.
        try:
            fitted = fitted_attributes(model, run.result())
        except KeyboardInterrupt:
            fitted = fitted_attributes(model, run.result())
            run.interrupted = True
        # The end of the call is reported before the model is written, so
        # that a callback raising there leaves the estimator as it was, as
        # it does at any epoch; the callbacks get the new model as
        # fitted_estimator. A Ctrl-C there keeps the finished epochs, as
        # anywhere else once one has finished.
        try:
            callbacks.end_fit(fitted)
        except KeyboardInterrupt:
            run.interrupted = True
        try:
            self._commit(fitted)
        except KeyboardInterrupt:
            # Ctrl-C while the attributes were written: do it again (it
            # writes the same model), so that the finished epochs are kept
            # whole.
            self._commit(fitted)
            run.interrupted = True
        run.warn_at_end(self._warn_at_end_of_call)
        return self

    def _warn_at_end_of_call(self, message, category):
        """Hold a warning of the training's end until the call has
        succeeded (:func:`_rolled_back_on_error`); give it now outside one."""
        call = _running_call(self)
        if call is None:
            warn_at_user_code(message, category)
        else:
            call.warnings.append((message, category))

    def _commit(self, fitted):
        """Write the fitted model at once: ``fitted``, every attribute a fit
        writes (:func:`fitted_attributes`).

        Only what the fit owns is written. Copying the whole state and
        assigning it back would undo a ``set_params`` (or
        ``set_callbacks``) made in between by another thread or by a
        callback. The new attributes are written by one ``dict.update``, a
        single step for another thread and for a Ctrl-C. A
        ``feature_names_in_`` that the new model lacks (a refit on unnamed
        columns of a model fitted on named ones) is removed just after: a
        reader at that instant sees the new model with the old column names,
        which only makes ``predict`` warn about the names, and a Ctrl-C
        there is caught by ``_train``, which commits again.
        """
        state = self.__dict__
        stale = [
            name
            for name in _validation.LEARNED_ATTRIBUTES
            if name not in fitted and name in state
        ]
        self._record_commit(fitted, stale)
        state.update(fitted)
        for name in stale:
            state.pop(name, None)

    def _record_commit(self, fitted, stale):
        """Tell the innermost running call on this estimator (if any) what
        the commit about to be made writes and what it replaces, so that
        the call can undo it if it fails after it (_rolled_back_on_error)."""
        call = _running_call(self)
        if call is not None:
            state = self.__dict__
            names = [*fitted, *stale]
            previous = {name: state.get(name, _ABSENT) for name in names}
            written = {**fitted, **dict.fromkeys(stale, _ABSENT)}
            call.commits.append((written, previous))

    def _prepare(
        self, X, y, sample_weight, incremental, classes, validation, callbacks, workers
    ):
        """Validate the call (on a view, see ``_validation.view``, which it
        returns) and build its training run from plain values; rows held by
        a Dask cluster stay there (skmlp/_dask/cluster.py). ``validation``
        is ``fit``'s ``(X_val, y_val, sample_weight_val)``, or None."""
        model = _validation.view(self)
        hidden = _validation.hidden_layer_sizes(model.hidden_layer_sizes)
        first_call = _validation.starts_afresh(model, hidden, incremental, classes)
        continuing = incremental and not first_call
        settings = training_settings(model, incremental)
        on_cluster = _dask.on_cluster(X)
        if validation is not None and (
            on_cluster or _dask_input.is_dask_collection(validation[0])
        ):
            raise ValueError(
                "X_val is not supported with rows on a Dask cluster: its fit "
                "holds its validation rows out of each block of X "
                "(validation_fraction). Leave X_val and y_val out, or compute "
                "X and X_val into memory first."
            )
        if on_cluster:
            rows = _dask.validate_rows(
                model, X, y, sample_weight, incremental, first_call
            )
            n_features, dtype = rows.n_features, rows.dtype
        else:
            train = _validation.validate_call(
                model, X, y, sample_weight, incremental, first_call
            )
            n_features, dtype = train[0].shape[1], train[0].dtype
        # What validation learned (classes_, ...) is on the view now: the
        # model of each epoch, and the start, are made from it.
        callbacks.set_model(functools.partial(fitted_attributes, model))
        datafit = DATAFITS[model.out_activation_]()
        if on_cluster:
            intercepts = rows.intercepts
        else:
            intercepts = datafit.intercept_only(*train[1:])
        start = starting_point(
            model, n_features, dtype, hidden, first_call, continuing, intercepts
        )
        if on_cluster:
            classes = model.classes_ if is_classifier(model) else None
            run = _dask.build_run(settings, start, rows, classes, callbacks, first_call)
            return model, run
        if validation is not None:
            validation = _validation.validate_validation_data(
                model, *validation, dtype=train[0].dtype
            )
        elif settings.early_stopping:
            # After the initial weights, from the same generator: one
            # generator seeds the whole fit (random_state), and its draws
            # keep the order they have always had (the initial weights, then
            # this split, then the mini-batch orders), so that a seed gives
            # the model it gave before and saved models stay reproducible.
            train, validation = _validation.validation_split(
                train,
                start.rng,
                settings.validation_fraction,
                getattr(model, "classes_", None),
            )
            if first_call and intercepts is not None:
                # The start is the training rows' alone: those of all the
                # rows leaked the held-out targets into the model, and made
                # it another than that of the same split given as X_val.
                start.layout.unpack(start.theta)[1][-1][:] = datafit.intercept_only(
                    *train[1:]
                )
        if validation is not None and not is_classifier(model):
            _validation.check_validation_targets_vary(train, validation)
        run = build_run(settings, start, train, validation, datafit, callbacks, workers)
        return model, run


@_callbacks.with_callback_support
@_documented(
    peer="MLPClassifier",
    linear_model="multinomial logistic regression",
    split=" (stratified but for multilabel targets)",
    vary="",
    score=(
        "``score``, the accuracy: for multilabel\n"
        "        targets the subset accuracy, a row counting if all its labels\n"
        "        are right"
    ),
    validation_loss="cross-entropy (scikit-learn's ``log_loss``)",
    learning_rate_default="'auto'",
    auto_default=(
        "The default, where a fixed 0.1 was before: that\n"
        "        stopped on the plateau of a flat start on some tables, which the\n"
        '        adaptive step crosses (the user guide\'s "The solvers" gives\n'
        "        the measurements)."
    ),
)
class SoftplusMLPClassifier(ClassifierMixin, _SoftplusMLP, BaseEstimator):
    """Softplus multilayer perceptron classifier, trained by GD, NAG or L-BFGS.

    The network maps the input through softplus hidden layers to a softmax
    over the classes and minimises the cross-entropy with an L2 penalty, the
    objective of :class:`~sklearn.neural_network.MLPClassifier` (for binary
    targets two softmax outputs where it has one logistic output: the same
    model, whose penalty counts the weights of both outputs). It is
    trained by steepest descent (``solver='gd'``) or Nesterov's accelerated
    gradient (``solver='nag'``), on the full batch or on mini-batches, or by
    the quasi-Newton method L-BFGS (``solver='lbfgs'``) on the full batch. An
    indicator matrix ``y`` (multilabel targets) gets logistic outputs, one
    per label, and the binary cross-entropy summed over labels, as in
    MLPClassifier.

    Parameters
    ----------
    @parameters@
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; ``arange(n_labels)`` for multilabel targets.

    @attributes@
    n_outputs_ : int
        Number of outputs, ``len(classes_)`` (also 2 for binary problems;
        the number of labels for multilabel targets).

    out_activation_ : str
        ``'softmax'``, or ``'logistic'`` for multilabel targets.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : scikit-learn's perceptron, with
        adaptive solvers and other activations.
    sklearn.linear_model.LogisticRegression : the model with no hidden layer,
        at ``C = 1 / alpha`` (``C = 2 / alpha`` for binary targets, whose
        penalty counts the weights of both outputs).

    Notes
    -----
    With sample weights ``w`` the objective is::

        L(theta) = sum_i w_i CE_i / sum_i w_i
                   + alpha / (2 sum_i w_i) * sum_l ||W_l||_F^2

    over the rows of the full batch or of one mini-batch, where ``CE_i`` is
    the cross-entropy of row ``i``'s softmax output and its class, or for
    multilabel targets the binary cross-entropy of its logistic outputs
    summed over the labels. Softplus is computed
    as ``log1p(exp(z))``, or where ``exp`` overflows as
    ``max(z, log1p(exp(min(z, c))))`` with ``c`` the point above which
    softplus rounds to ``z`` in the dtype (about 38 in float64, 18 in
    float32), and the log-softmax with the row maximum subtracted, so neither
    overflows and softplus is accurate to a few units in the last place. All
    parameters live in one flat vector; ``coefs_`` and ``intercepts_`` are
    its layers.

    A step whose loss or parameters are not finite, or whose loss exceeds
    1e4 times the larger of the chance level (``log(n_classes)``, ``log 2``
    for one class, or ``n_labels log 2`` for multilabel targets) and the
    first loss of the training run (at a step or at the point that ends the
    call), raises a
    :class:`DivergenceError` (a ValueError) and leaves the estimator as it
    was before the call. A Ctrl-C keeps the model of the last finished epoch.
    The fitted attributes are written together at the end of a call, so that
    ``predict`` in another thread sees the model before or after it; only
    they are written, so that a ``set_params`` from another thread during
    the call stays.

    @references@
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmlp import SoftplusMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     X, y, stratify=y, random_state=0)
    >>> clf = make_pipeline(
    ...     StandardScaler(),
    ...     SoftplusMLPClassifier(hidden_layer_sizes=(16,), random_state=0),
    ... ).fit(X_train, y_train)
    >>> clf.predict(X_test[:5])
    array([0, 0, 0, 0, 1])
    >>> round(clf.score(X_test, y_test), 2)
    1.0
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        solver="nag",
        alpha=1e-4,
        batch_size=None,
        learning_rate_init="auto",
        restart="gradient",
        momentum="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.restart = restart
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.verbose = verbose

    @_rolled_back_on_error
    @_checked_on_every_call
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch over ``X`` and ``y``.

        On the full batch this is exactly one solver step; the solver's state
        (NAG's previous iterate and ``t``) carries over between calls, so
        ``N`` calls equal ``fit`` with ``max_iter=N``. A call on other rows
        than the last call's, and every call after it, is a chunk of a
        stream: ``'auto'`` settings
        resolve as on mini-batches (a constant momentum of 0.9,
        backtracking), and calls over consecutive chunks of a larger data
        set equal ``fit(batch_size=chunk, shuffle=False)`` when
        ``learning_rate_init`` is a number (the first call, which cannot
        tell a chunk from a data set, takes the full batch's adaptive step
        for ``'auto'``).
        A ``learning_rate_init``, ``restart`` or ``momentum`` changed since
        the last call takes effect (a smaller rate after a divergence, say);
        another ``solver`` starts afresh from the current weights. Every
        call checks the parameters as ``fit`` does (scikit-learn's own
        ``partial_fit`` checks them on the first call only). The first call
        sets the model's dtype (float32 for float32 ``X``); later calls take
        their rows in it, as ``MLPClassifier``'s weights keep theirs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; for a Dask array or DataFrame see :ref:`scaling_out`.

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or an indicator matrix of multilabel targets.

        classes : array-like of shape (n_classes,), default=None
            All the classes that ``y`` can take over all calls
            (``range(n_labels)`` for multilabel targets). Required on the
            first call, checked on later ones.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.
            ``classes`` comes before it, as in
            :class:`~sklearn.linear_model.SGDClassifier` (and
            :class:`~sklearn.neural_network.MLPClassifier` before
            scikit-learn 1.7, which put ``sample_weight`` first): pass both
            by keyword in code written for either.

        Returns
        -------
        self : object
            The trained estimator.
        """
        return self._partial_fit(X, y, sample_weight, classes)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, columns in the order of
            ``classes_``: the log-softmax of the output layer, exact where
            ``log(predict_proba(X))`` rounds (probabilities near 1 and
            below the smallest normal float), and ``-inf`` where
            ``predict_proba`` underflows to 0 (a log-probability below
            about -745 in float64, -103 in float32), since scikit-learn
            requires ``predict_log_proba`` to be the log of
            ``predict_proba``. Lazy for Dask input.
        """
        log_proba = self._predict_log_proba(_validation.fitted_view(self), X)
        log_proba[np.exp(log_proba) == 0.0] = -np.inf
        return log_proba

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``;
            rows sum to 1 (for multilabel targets: one probability per
            label); lazy for Dask input.
        """
        return np.exp(self._predict_log_proba(_validation.fitted_view(self), X))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            The most probable class of each row; for multilabel targets,
            the indicator matrix of the labels of probability above 0.5 (a
            sparse CSR matrix when the model was fitted on a sparse one, as
            with MLPClassifier); lazy for Dask input.
        """
        model = _validation.fitted_view(self)
        if _dask_input.is_dask_collection(X):
            return _dask_input.predict(model, X)
        log_proba = self._predict_log_proba(model, X)
        y = DATAFITS[model.out_activation_]().predict(log_proba, model.classes_)
        # Multilabel targets fitted as a sparse matrix are predicted as one.
        return sp.csr_matrix(y) if getattr(model, "_sparse_labels", False) else y

    score = _dask_input.scored_where_the_rows_are(ClassifierMixin.score)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _predict_log_proba(self, model, X):
        if _dask_input.is_dask_collection(X):
            return _dask_input.predict_log_proba(model, X)
        return self._outputs(model, X)


@_callbacks.with_callback_support
@_documented(
    peer="MLPRegressor",
    linear_model=(
        "ridge regression (``loss='squared_error'``) or Poisson\n"
        "        regression with a log link (``'poisson'``)"
    ),
    split="",
    vary=(
        ", and their targets must vary in each output\n"
        "        whose training targets do (R² is not defined on constant\n"
        "        targets)"
    ),
    score="``score``, the R², whatever the ``loss``",
    validation_loss=(
        "loss (half the squared error averaged over the outputs, or half "
        "the Poisson deviance)"
    ),
    learning_rate_default="'auto'",
    auto_default=(
        "The default: a fixed step that suits the squared\n"
        "        error depends on the scale of the targets (0.1 diverges on\n"
        "        scikit-learn's diabetes data), which the adaptive step measures."
    ),
)
class SoftplusMLPRegressor(RegressorMixin, _SoftplusMLP, BaseEstimator):
    """Softplus multilayer perceptron regressor, trained by GD, NAG or L-BFGS.

    The regression twin of :class:`SoftplusMLPClassifier`: the same network
    of softplus hidden layers, the same solvers, parameters and guarantees,
    with an output layer for real targets. ``loss='squared_error'`` gives
    identity outputs and half the squared error, averaged over the outputs
    (the loss :class:`~sklearn.neural_network.MLPRegressor` reports);
    ``loss='poisson'`` gives exponential outputs (a log link) and half the
    Poisson deviance, for counts and other non-negative targets. ``y`` may
    have one target or several (one output each).

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The datafit. ``'squared_error'``: row ``i`` costs ``||z_i -
        y_i||^2 / (2 K)`` for ``K`` outputs ``z_i``. ``'poisson'``: the
        prediction is ``mu_i = exp(z_i)`` and row ``i`` costs ``sum_k
        y_ik log(y_ik / mu_ik) - y_ik + mu_ik``; every ``y`` must be
        non-negative.

    @parameters@
    Attributes
    ----------
    @attributes@
    n_outputs_ : int
        Number of outputs: the columns of ``y`` (1 for a 1-d ``y``).

    out_activation_ : str
        ``'identity'`` for ``loss='squared_error'``, ``'exp'`` for
        ``'poisson'``, as in MLPRegressor.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : scikit-learn's perceptron, with
        adaptive solvers and other activations.
    sklearn.linear_model.Ridge : the model with no hidden layer and the
        squared error (with Ridge's ``alpha`` ``n_outputs_`` times this
        ``alpha``).
    sklearn.linear_model.PoissonRegressor : the model with no hidden layer
        and the Poisson loss (with its ``alpha`` this ``alpha`` divided by
        the sum of the sample weights).

    Notes
    -----
    With sample weights ``w`` the objective is::

        L(theta) = sum_i w_i l_i / sum_i w_i
                   + alpha / (2 sum_i w_i) * sum_l ||W_l||_F^2

    with ``l_i`` the loss of row ``i`` above; the user guide's
    :ref:`regression` derives its gradient. A step whose loss or
    parameters are not finite, or whose loss exceeds 1e4 times the larger
    of the loss of predicting every row by the targets' weighted mean and
    the first loss of the training run, raises a :class:`DivergenceError`
    and leaves the estimator as it was before the call. Rows on a Dask
    cluster train there, as the classifier's do (:ref:`scaling_out`).

    @references@
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmlp import SoftplusMLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> reg = make_pipeline(
    ...     StandardScaler(),
    ...     SoftplusMLPRegressor(
    ...         hidden_layer_sizes=(16,), early_stopping=True, random_state=0
    ...     ),
    ... ).fit(X_train, y_train)
    >>> reg.predict(X_test[:3]).shape
    (3,)
    >>> round(reg.score(X_test, y_test), 2)
    0.39
    """

    _parameter_constraints: dict = {
        **_SoftplusMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        *,
        solver="nag",
        alpha=1e-4,
        batch_size=None,
        learning_rate_init="auto",
        restart="gradient",
        momentum="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        verbose=False,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.restart = restart
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.verbose = verbose

    @_rolled_back_on_error
    @_checked_on_every_call
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch over ``X`` and ``y``.

        As :meth:`SoftplusMLPClassifier.partial_fit`: on the full batch
        exactly one solver step, the solver's state carrying over between
        calls, so that ``N`` calls equal ``fit`` with ``max_iter=N``. The
        first call learns the number of outputs from ``y``; later calls
        must have as many. The first call sets the model's dtype too; later
        calls take their rows in it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.

        Returns
        -------
        self : object
            The trained estimator.
        """
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted targets (for ``loss='poisson'`` the predicted
            means ``exp(z)``), 1-d when the model has one output, as
            MLPRegressor's; lazy for Dask input.
        """
        model = _validation.fitted_view(self)
        if _dask_input.is_dask_collection(X):
            return _dask_input.predict_targets(model, X)
        predictions = self._outputs(model, X)
        if predictions.shape[1] == 1:
            return predictions.ravel()
        return predictions

    score = _dask_input.scored_where_the_rows_are(RegressorMixin.score)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        # The Poisson deviance is defined for y >= 0 only.
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags


# The estimator's parameters that a training run uses as they are: the
# fields of the same names of its Settings.
_RUN_PARAMETERS = (
    "solver",
    "learning_rate_init",
    "restart",
    "momentum",
    "alpha",
    "tol",
    "batch_size",
    "shuffle",
    "n_iter_no_change",
    "verbose",
    "early_stopping",
    "validation_fraction",
)


def training_settings(model, incremental):
    """The :class:`~skmlp._training.loop.Settings` of a call of ``fit``
    (``incremental=False``) or ``partial_fit`` on ``model``, the estimator
    or its view: the parameters of :data:`_RUN_PARAMETERS`, and the epochs
    of the call."""
    return Settings(
        **{name: getattr(model, name) for name in _RUN_PARAMETERS},
        max_epochs=1 if incremental else model.max_iter,
        warn_unconverged=not incremental,
    )


def starting_point(
    model, n_features, dtype, hidden, first_call, continuing, intercepts=None
):
    """The :class:`~skmlp._training.loop.Start` of a call on ``n_features``
    columns of ``dtype``, from ``model`` (the call's validated view).

    ``hidden`` are the validated hidden layer sizes, ``first_call`` whether
    the call starts afresh (``_validation.starts_afresh``), ``continuing``
    whether it is a ``partial_fit`` that goes on from the last call: then
    with a copy of its generator, its history and its solver. A ``fit``
    draws from a new generator, even with a warm start, and the initial
    weights are its first draws (``check_gradients`` relies on that).
    ``intercepts``, the datafit's ``intercept_only`` of the training rows
    (None for a classifier), replace the drawn output intercepts of a call
    that starts afresh, after the draws, which stay in their order.
    """
    layout = ParameterLayout((n_features, *hidden, _validation.n_outputs(model)))
    if continuing:
        return Start(
            layout,
            layout.pack(model.coefs_, model.intercepts_, dtype),
            copy.deepcopy(model._rng),
            history=fitted_history(model),
            solver=model._solver,
        )
    rng = check_random_state(model.random_state)
    if first_call:
        theta = layout.initialize(rng, dtype)
        if intercepts is not None:
            layout.unpack(theta)[1][-1][:] = intercepts
    else:
        theta = layout.pack(model.coefs_, model.intercepts_, dtype)
    return Start(layout, theta, rng)


def fitted_history(model):
    """The history of the fitted ``model``, as a ``_history.State``: what
    a ``partial_fit`` goes on from."""
    return State(
        loss_curve=model.loss_curve_,
        validation_scores=model.validation_scores_,
        # Models saved before it existed have none.
        validation_loss_curve=getattr(model, "validation_loss_curve_", None),
        best_loss=model.best_loss_,
        best_validation_score=model.best_validation_score_,
        no_improvement_count=model._no_improvement_count,
        n_iter=model.n_iter_,
        t=model.t_,
    )


def fitted_attributes(model, result):
    """Every attribute a fit writes, for the model of ``result`` (a
    ``_training.Result``): those that validating the call's data gave
    ``model`` (its view: ``classes_``, ``n_features_in_``, ...) and those
    of the run's kept epoch, new objects.

    The one place that names the fitted attributes, for the model of each
    epoch that the callbacks get as for the one the call keeps: the two are
    the same model, that of ``fit`` stopped at that epoch.
    """
    coefs, intercepts = result.layout.unpack(result.theta)
    history = result.history
    return {
        **_validation.learned_attributes(model),
        "coefs_": coefs,
        "intercepts_": intercepts,
        "_solver": result.solver,
        "learning_rate_": result.solver.learning_rate,
        "_rng": result.rng,
        "n_layers_": result.layout.n_layers + 1,
        "n_outputs_": result.layout.layer_sizes[-1],
        "loss_curve_": history.loss_curve,
        "loss_": history.loss_curve[-1],
        "n_iter_": history.n_iter,
        "t_": history.t,
        "_no_improvement_count": history.no_improvement_count,
        "best_loss_": history.best_loss,
        "validation_scores_": history.validation_scores,
        "validation_loss_curve_": history.validation_loss_curve,
        "best_validation_score_": history.best_validation_score,
    }
