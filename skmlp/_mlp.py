"""The scikit-learn estimator: validation, the solver, the epoch loop."""

import copy
import math
import operator
import os
import sys
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    unique_labels,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from . import _callbacks, _dask, _persistence
from ._execution import SingleThreadedBlas
from ._layout import ParameterLayout
from ._objective import Objective, forward_log_proba
from ._solvers import GradientDescent, NesterovAcceleratedGradient

# Folders whose frames a warning skips to point at the user's call, as
# imported and with links resolved.
_INTERNAL = tuple(
    {
        os.path.join(folder(os.path.dirname(module.__file__)), "")
        for module in (sys.modules[__package__], sklearn)
        for folder in (os.path.abspath, os.path.realpath)
    }
)


def _warn_caller(message, category):
    """``warnings.warn`` pointing at the first frame outside skmlp and
    scikit-learn: the user's call of fit or partial_fit (or of the
    scikit-learn tool that called them), however deep the call chain."""
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)


class DivergenceError(ValueError):
    """Training produced a non-finite loss or parameter, or a loss more
    than ten thousand times its start (or the chance level
    ``log(n_classes)``, if that is larger).

    A subclass of ValueError, raised by ``fit`` and ``partial_fit``; the
    estimator is left exactly as it was before the call.
    """


# A loss above this many times the larger of the chance level
# log(n_classes) and the first loss of the training run (the loss at its
# starting weights) means that training has diverged, though the loss is
# finite. Runs that recovered rose to 6.3 times their start at most (Iris
# and the digits, GD and NAG, full batch and batches of 32, learning rates
# up to 3); runs that blew up passed 1e4 within a few epochs and went on to
# 1e11-1e233.
DIVERGENCE_FACTOR = 1e4


@_callbacks.with_callback_support
class SoftplusMLPClassifier(ClassifierMixin, BaseEstimator):
    """Multilayer perceptron with softplus hidden layers, trained by GD or NAG.

    The network maps the input through softplus hidden layers to a softmax
    over the classes and minimises the cross-entropy with an L2 penalty, the
    objective of :class:`~sklearn.neural_network.MLPClassifier`. It is
    trained by steepest descent (``solver='gd'``) or Nesterov's accelerated
    gradient (``solver='nag'``), on the full batch or on mini-batches.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        The ``i``-th element is the number of softplus units of the ``i``-th
        hidden layer. ``()`` gives no hidden layer: multinomial logistic
        regression.

    solver : {'gd', 'nag'}, default='nag'
        ``'gd'``: ``theta <- theta - lr * grad L(theta)``. ``'nag'``: Nesterov's
        accelerated gradient (FISTA with no proximal term), the gradient taken
        at the look-ahead point.

    alpha : float, default=1e-4
        Strength of the L2 penalty on the weights (not the intercepts),
        ``alpha / (2 * sum(sample_weight)) * sum ||W||^2`` as in MLPClassifier.

    batch_size : int, default=None
        Rows per mini-batch; None (or a value at least the number of samples)
        trains on the full batch. Each mini-batch is one solver step, and the
        NAG sequence runs on across mini-batches and epochs.

    learning_rate_init : float or 'auto', default=0.1
        The step size of every solver step, or ``'auto'``: backtracking on
        the Lipschitz constant of the gradient, so that no step size needs
        tuning. Each step takes the largest step ``s`` (a power of 2) with
        Beck and Teboulle's sufficient decrease
        ``L(x - s g) <= L(x) - s/2 ||g||^2`` at the point ``x`` where the
        gradient ``g`` is taken, starting from twice the last step when that
        one passed at once, so the step follows the curvature up and down.
        For NAG, ``t`` follows Scheinberg, Goldfarb and Bai's rule for
        changing steps. Costs about 1.6 loss evaluations per step, plus for
        NAG about 0.6 extra gradients (a rejected trial moves the look-ahead
        point); in 350 steps it matched or beat the best fixed step of a grid
        on three of four data sets, all but Iris (see the solver
        measurements). With mini-batches the search runs on each mini-batch's
        objective. The step in use is ``learning_rate_``.

    restart : {'function', 'gradient'} or None, default='gradient'
        Adaptive restart of NAG's momentum (O'Donoghue and Candes): after a
        step from the look-ahead point ``y_k`` to ``x_k``, ``'function'``
        restarts when ``L(x_k) > L(x_{k-1})`` (one extra loss evaluation per
        step with a fixed step size), ``'gradient'`` when
        ``grad L(y_k) . (x_k - x_{k-1}) > 0``, at no cost. A restart sets
        FISTA's ``t`` back to 1, so the next step starts with no momentum.
        None is plain FISTA. Restarts speed up ill-conditioned convex
        problems by orders of magnitude and rescue too large fixed steps;
        with a well-chosen step on the measured networks they rarely fire.
        With mini-batches the tests use the current mini-batch's objective.
        Only used by ``solver='nag'``.

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).

    tol : float, default=1e-4
        Training stops when the loss (or the validation accuracy, with
        ``early_stopping``) has not improved by at least ``tol`` for
        ``n_iter_no_change`` consecutive epochs.

    n_iter_no_change : int, default=10
        Number of epochs without improvement by ``tol`` before stopping.

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
        alone.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified),
        stop when its accuracy stops improving, and keep the weights of the
        best epoch. Not available in ``partial_fit``.

    validation_fraction : float, default=0.1
        Fraction of the training data held out with ``early_stopping``.

    verbose : bool, default=False
        Print ``Iteration k, loss = ...`` after every epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coefs_ : list of ndarray
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
        step of the last step taken.

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
        Accuracy on the held-out set after each epoch, with
        ``early_stopping``; None otherwise.

    best_validation_score_ : float or None
        Best of ``validation_scores_``; None without ``early_stopping``.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs, ``len(classes_)`` (also 2 for binary problems).

    out_activation_ : str
        Always ``'softmax'``.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : scikit-learn's perceptron, with
        adaptive solvers and other activations.
    sklearn.linear_model.LogisticRegression : the model with no hidden layer.

    Notes
    -----
    With sample weights ``w`` the objective is::

        L(theta) = sum_i w_i CE_i / sum_i w_i
                   + alpha / (2 sum_i w_i) * sum_l ||W_l||_F^2

    over the rows of the full batch or of one mini-batch. Softplus is computed
    as ``max(z, 0) + log1p(exp(-|z|))`` and the log-softmax with the row
    maximum subtracted, so neither overflows. All parameters live in one flat
    vector; ``coefs_`` and ``intercepts_`` are its layers.

    A step that produces a non-finite loss or parameter raises a ValueError
    and leaves the estimator as it was before the call.

    References
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

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "solver": [StrOptions({"gd", "nag"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate_init": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "restart": [StrOptions({"function", "gradient"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        solver="nag",
        alpha=1e-4,
        batch_size=None,
        learning_rate_init=0.1,
        restart="gradient",
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
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. A Dask array or DataFrame, with a ``distributed``
            client running, is trained where its blocks are (see
            :ref:`scaling_out`).

        y : array-like of shape (n_samples,)
            Class labels.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch over ``X`` and ``y``.

        On the full batch this is exactly one solver step; the solver's state
        (NAG's previous iterate and ``t``) carries over between calls, so
        ``N`` calls equal ``fit`` with ``max_iter=N``. A ``learning_rate_init``
        or ``restart`` changed since the last call takes effect (a smaller
        rate after a divergence, say); another ``solver`` starts afresh from
        the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. On a Dask array or DataFrame, with a ``distributed``
            client running, one full-batch step where its blocks are.

        y : array-like of shape (n_samples,)
            Class labels.

        classes : array-like of shape (n_classes,), default=None
            All the classes that ``y`` can take over all calls. Required on
            the first call, ignored on later ones.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.

        Returns
        -------
        self : object
            The trained estimator.
        """
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

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
            ``classes_``. A lazy Dask array for a Dask array or DataFrame.
        """
        check_is_fitted(self)
        if _dask.is_dask_collection(X):
            return _dask.predict_log_proba(self, X)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        if sp.issparse(X):
            X = X.tocsr()
        return forward_log_proba(self.coefs_, self.intercepts_, X)

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
            rows sum to 1. A lazy Dask array for a Dask array or DataFrame.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The most probable class of each row. A lazy Dask array for a
            Dask array or DataFrame.
        """
        if _dask.is_dask_collection(X):
            return _dask.predict(self, X)
        log_proba = self.predict_log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``X`` and ``y``, weighted by ``sample_weight``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test rows; for a Dask array or DataFrame the accuracy is computed
            where its blocks are.

        y : array-like of shape (n_samples,)
            True labels of the rows.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        score : float
            Weighted fraction of rows whose predicted class is ``y``.
        """
        if _dask.is_dask_collection(X):
            return _dask.score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight)

    def __getstate__(self):
        return _persistence.saved_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_persistence.loaded_state(self, state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------
    # Training

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        # Everything below writes to self only at the very end; on any error
        # (divergence included) the estimator is put back as it was.
        # The callback context is opened before the snapshot, so that a failed
        # fit keeps it and _fit_context can still tear the callbacks down.
        callbacks = _callbacks.EpochCallbacks(
            self, X, y, sample_weight, max_epochs=1 if incremental else self.max_iter
        )
        saved_state = dict(self.__dict__)
        try:
            self._fit_unsafe(X, y, sample_weight, incremental, classes, callbacks)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            raise
        return self

    def _fit_unsafe(self, X, y, sample_weight, incremental, classes, callbacks):
        fitted = hasattr(self, "coefs_")
        if incremental:
            first_call = _check_partial_fit_first_call(self, classes)
        else:
            first_call = not (self.warm_start and fitted)
        if _dask.on_cluster(X):
            # Rows held by a Dask cluster stay there: see skmlp/_dask.py.
            _dask.fit(self, X, y, sample_weight, incremental, first_call, callbacks)
            return
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=first_call,
        )
        if sp.issparse(X):
            X = X.tocsr()
        check_classification_targets(y)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        y_codes = self._encode_labels(y, incremental, first_call)
        network, theta, solver, rng, history = self._start_training(
            X.shape[1], X.dtype, incremental, first_call
        )
        if self.early_stopping:
            X, X_val, y_codes, y_val, sample_weight, sw_val = train_test_split(
                X,
                y_codes,
                sample_weight,
                random_state=rng,
                test_size=self.validation_fraction,
                stratify=y_codes,
            )
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase "
                    "'validation_fraction' or the size of your dataset."
                )
            validation = (X_val, y_val, sw_val)
        else:
            validation = None

        if sample_weight.sum() <= 0:
            raise ValueError("The sum of sample_weight must be positive.")

        # The whole loop runs with single-threaded BLAS, the evaluations
        # sharing the rows between n_threads workers themselves, so that the
        # solvers' dot products over all parameters round the same whatever
        # the thread limit (and OpenBLAS's threads do not spin beside ours).
        with SingleThreadedBlas() as n_threads:
            theta, solver, rng = self._run_epochs(
                network,
                theta,
                solver,
                rng,
                history,
                callbacks,
                train=(X, y_codes, sample_weight),
                validation=validation,
                incremental=incremental,
                n_threads=n_threads,
            )

        self._finish_training(network, theta, solver, rng, history, callbacks)

    # The start and the end of a training run, shared by the rows in memory
    # (above) and the rows on a Dask cluster (skmlp/_dask.py).

    def _start_training(self, n_features, dtype, incremental, first_call):
        """The layout, initial ``theta``, solver, random generator and history
        of a training run."""
        network = ParameterLayout(
            (n_features, *self._validate_hidden_layer_sizes(), len(self.classes_))
        )
        if first_call or not hasattr(self, "coefs_"):
            self._rng = check_random_state(self.random_state)
            theta = network.initialize(self._rng, dtype)
        else:
            if not incremental:
                self._rng = check_random_state(self.random_state)
            theta = network.pack(self.coefs_, self.intercepts_, dtype)
        rng = copy.deepcopy(self._rng) if incremental else self._rng

        solver = self._new_solver()
        if incremental and not first_call and type(self._solver) is type(solver):
            # Carry the state over, but follow parameters changed since the
            # last call (a smaller rate after a divergence, say).
            solver = copy.deepcopy(self._solver)
            solver.set_learning_rate(self.learning_rate_init)
            if self.solver == "nag":
                solver.restart = self.restart

        history = _History.start(self, continuing=incremental and not first_call)
        return network, theta, solver, rng, history

    def _finish_training(self, network, theta, solver, rng, history, callbacks):
        """Write the fitted attributes of a finished training run."""
        coefs, intercepts = network.unpack(theta)
        self.coefs_ = coefs
        self.intercepts_ = intercepts
        self._solver = copy.copy(solver)  # without its work space
        self.learning_rate_ = solver.learning_rate
        self._rng = rng
        self.n_layers_ = network.n_layers + 1
        self.n_outputs_ = len(self.classes_)
        self.out_activation_ = "softmax"
        history.commit(self)
        callbacks.end_fit()

    def _run_epochs(
        self,
        network,
        theta,
        solver,
        rng,
        history,
        callbacks,
        train,
        validation,
        incremental,
        n_threads,
    ):
        """Run one epoch (``incremental``) or up to ``max_iter``.

        Returns the final ``theta``, solver and random generator: those of
        the last finished epoch if the user interrupts training.
        """
        if not isinstance(train, tuple):
            # The full-batch objective of rows held elsewhere (a Dask cluster).
            full_objective, n_samples, batches = train, train.n_samples, None
        else:
            X, y, sample_weight = train
            n_samples = X.shape[0]
            batch_size = min(self.batch_size or n_samples, n_samples)
            if batch_size == n_samples:
                full_objective = Objective(
                    network, X, y, sample_weight, self.alpha, n_threads
                )
                batches = None
            else:
                full_objective = None
                batches = list(gen_batches(n_samples, batch_size))

        shuffling = batches is not None and self.shuffle

        def snapshot():
            # Cheap enough for every epoch: solvers rebind their arrays and
            # never write into them, so a shallow copy keeps their state.
            return (
                theta.copy(),
                copy.copy(solver),
                rng.get_state() if shuffling else None,
            )

        finished = snapshot()
        try:
            # Overflow on the way to a divergence is reported by the
            # DivergenceError below, with advice; numpy's warnings add noise.
            with np.errstate(over="ignore", invalid="ignore"):
                for _ in range(1 if incremental else self.max_iter):
                    callbacks.begin_epoch()
                    if full_objective is not None:
                        epoch_loss = solver.step(theta, full_objective)
                        self._check_finite(epoch_loss)
                        self._check_blow_up(epoch_loss, history)
                    else:
                        epoch_loss = self._minibatch_epoch(
                            network,
                            theta,
                            solver,
                            rng,
                            train,
                            batches,
                            n_threads,
                            history,
                        )
                    # A sum is finite only if every term is (an inf or a
                    # NaN cannot cancel out); it costs half the elementwise
                    # test, which settles the rare overflow of the sum.
                    if not (math.isfinite(theta.sum()) or np.isfinite(theta).all()):
                        self._check_finite(np.inf)

                    history.add_epoch(epoch_loss, n_samples)
                    if callable(validation):
                        # Scored where the held-out rows live (a Dask cluster).
                        history.add_validation(validation(theta), theta)
                    elif validation is not None:
                        history.add_validation(
                            _accuracy(network, theta, *validation, n_threads), theta
                        )
                    finished = snapshot()
                    history.checkpoint()
                    # Printed once the epoch is kept: an interrupt after the
                    # line keeps the model it reports.
                    if self.verbose:
                        print(f"Iteration {history.n_iter}, loss = {epoch_loss:.8f}")

                    if callbacks.end_epoch(network, theta, history.n_iter):
                        break
                    if history.should_stop(self.n_iter_no_change):
                        if self.verbose:
                            print(self._stopping_message())
                        break
                else:
                    if not incremental:
                        _warn_caller(
                            f"Stochastic Optimizer: Maximum iterations "
                            f"({self.max_iter}) reached and the optimization "
                            "hasn't converged yet.",
                            ConvergenceWarning,
                        )
        except KeyboardInterrupt:
            if not history.n_new_epochs:
                raise
            _warn_caller(
                "Training interrupted by user; the model of the last finished "
                f"epoch ({history.n_iter}) is kept.",
                UserWarning,
            )
            theta, solver, rng_state = finished
            if rng_state is not None:
                rng.set_state(rng_state)
            history.rollback()

        if validation is not None:
            theta = history.best_theta
            # The momentum belongs to the last iterate, not to the best one.
            solver.reset_momentum()
        return theta, solver, rng

    def _minibatch_epoch(
        self, network, theta, solver, rng, train, batches, n_threads, history
    ):
        """One solver step per mini-batch; returns the epoch's mean loss."""
        X, y, sample_weight = train
        n_samples = X.shape[0]
        order = rng.permutation(n_samples) if self.shuffle else np.arange(n_samples)
        total_weight = float(sample_weight.sum())
        epoch_loss = 0.0
        objective = None
        for batch in batches:
            rows = order[batch]
            weight = sample_weight[rows]
            if not weight.any():
                # The objective of rows that all weigh zero is 0/0: they
                # carry no information, so they take no step.
                continue
            if objective is None:
                objective = Objective(
                    network, X[rows], y[rows], weight, self.alpha, n_threads
                )
            else:
                # The same objective on the next batch, with its buffers.
                objective.set_rows(X[rows], y[rows], weight)
            loss = solver.step(theta, objective)
            self._check_finite(loss)
            self._check_blow_up(loss, history)
            epoch_loss += loss * objective.weight_sum / total_weight
        return epoch_loss

    def _stopping_message(self):
        what = "Validation score" if self.early_stopping else "Training loss"
        return (
            f"{what} did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs. Stopping."
        )

    def _new_solver(self):
        if self.solver == "gd":
            return GradientDescent(self.learning_rate_init)
        return NesterovAcceleratedGradient(self.learning_rate_init, self.restart)

    @staticmethod
    def _check_finite(loss):
        if not math.isfinite(loss):
            raise DivergenceError(
                "Training diverged: the loss or a parameter became non-finite "
                "(inf or NaN). Try a smaller learning_rate_init, or scale the "
                "input features (for example with StandardScaler). The "
                "estimator was left as it was before this call."
            )

    def _check_blow_up(self, loss, history):
        """Raise ``DivergenceError`` for a finite loss far above the start.

        ``loss`` is that of a step (a whole batch or a mini-batch), at the
        point where the gradient was taken; the first one of a training run
        is its start.
        """
        if history.start_loss is None:
            history.start_loss = loss
        reference = max(math.log(len(self.classes_)), history.start_loss)
        if loss > DIVERGENCE_FACTOR * reference:
            raise DivergenceError(
                f"Training diverged: the loss reached {loss:.3g}, more than "
                f"{DIVERGENCE_FACTOR:.0e} times {reference:.3g} (the larger of "
                "its first value and the chance level log(n_classes)). Try a "
                "smaller learning_rate_init, or scale the input features (for "
                "example with StandardScaler). The estimator was left as it "
                "was before this call."
            )

    def _validate_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if any(
            isinstance(size, bool) or not isinstance(size, Integral) or size <= 0
            for size in sizes
        ):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return tuple(int(size) for size in sizes)

    def _encode_labels(self, y, incremental, first_call):
        """Set or check ``classes_``; return ``y`` as indices into it."""
        if not incremental and first_call:
            self.classes_ = unique_labels(y)
        else:
            labels = unique_labels(y)
            unseen = np.setdiff1d(labels, self.classes_)
            if (
                not incremental
                and self.warm_start
                and len(np.setdiff1d(self.classes_, labels)) + len(unseen)
            ):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes "
                    f"as in the previous call to fit. Previously got "
                    f"{self.classes_}, `y` has {labels}"
                )
            if len(unseen):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {labels}."
                )
        return np.searchsorted(self.classes_, y)


def _accuracy(network, theta, X, y, sample_weight, n_threads):
    """Weighted accuracy of the network ``theta`` on ``X``, ``y``."""
    coefs, intercepts = network.unpack(theta)
    log_proba = forward_log_proba(coefs, intercepts, X, n_threads)
    predicted = np.argmax(log_proba, axis=1)
    return float(np.average(predicted == y, weights=sample_weight))


class _History:
    """Loss curve, stopping counters and validation scores of a training run.

    Kept apart from the estimator so that a run that fails leaves the
    estimator's attributes untouched: ``commit`` writes them at the end.
    """

    _SCALARS = (
        "start_loss",
        "best_loss",
        "best_validation_score",
        "best_theta",
        "no_improvement_count",
        "n_iter",
        "t",
        "n_new_epochs",
    )

    def __init__(self, early_stopping, tol):
        self.early_stopping = early_stopping
        self.tol = tol
        self.loss_curve = []
        self.validation_scores = [] if early_stopping else None
        self.start_loss = None
        self.best_loss = np.inf
        self.best_validation_score = -np.inf
        self.best_theta = None
        self.no_improvement_count = 0
        self.n_iter = 0
        self.t = 0
        self.n_new_epochs = 0

    @classmethod
    def start(cls, estimator, continuing):
        history = cls(estimator.early_stopping, estimator.tol)
        if continuing:
            history.loss_curve = list(estimator.loss_curve_)
            history.start_loss = estimator.loss_curve_[0]
            # None after a fit with early stopping, which tracked accuracy.
            history.best_loss = (
                min(estimator.loss_curve_)
                if estimator.best_loss_ is None
                else estimator.best_loss_
            )
            history.no_improvement_count = estimator._no_improvement_count
            history.n_iter = estimator.n_iter_
            history.t = estimator.t_
        history.checkpoint()
        return history

    def add_epoch(self, loss, n_samples):
        self.loss_curve.append(float(loss))
        self.n_iter += 1
        self.n_new_epochs += 1
        self.t += n_samples
        if not self.early_stopping:
            if loss > self.best_loss - self.tol:
                self.no_improvement_count += 1
            else:
                self.no_improvement_count = 0
            self.best_loss = min(self.best_loss, float(loss))

    def add_validation(self, score, theta):
        self.validation_scores.append(score)
        if score < self.best_validation_score + self.tol:
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        if score > self.best_validation_score:
            self.best_validation_score = score
            self.best_theta = theta.copy()

    def should_stop(self, n_iter_no_change):
        return self.no_improvement_count > n_iter_no_change

    # A plain callable (not a method): it takes the history as argument.
    _get_scalars = operator.attrgetter(*_SCALARS)

    def checkpoint(self):
        """Remember the state after a finished epoch."""
        self._saved = _History._get_scalars(self)

    def rollback(self):
        """Go back to the last checkpoint (after an interrupted epoch)."""
        for name, value in zip(self._SCALARS, self._saved):
            setattr(self, name, value)
        del self.loss_curve[self.n_iter :]
        if self.validation_scores is not None:
            del self.validation_scores[self.n_new_epochs :]

    def commit(self, estimator):
        """Write the fitted attributes of the run to ``estimator``."""
        estimator.loss_curve_ = self.loss_curve
        estimator.loss_ = self.loss_curve[-1]
        estimator.n_iter_ = self.n_iter
        estimator.t_ = self.t
        estimator._no_improvement_count = self.no_improvement_count
        if self.early_stopping:
            estimator.best_loss_ = None
            estimator.validation_scores_ = self.validation_scores
            estimator.best_validation_score_ = self.best_validation_score
        else:
            estimator.best_loss_ = self.best_loss
            estimator.validation_scores_ = None
            estimator.best_validation_score_ = None
