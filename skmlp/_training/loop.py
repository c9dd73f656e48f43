"""The epoch loop: batches, stopping, history, interrupts and divergence.

A :class:`TrainingRun` is one call of ``fit`` or ``partial_fit`` once the
estimator has validated the data. It is built from plain values, and
knows nothing of the estimator: the training :class:`Settings` (the
estimator's parameters that the run uses), the :class:`Start` (the
parameter layout, the starting ``theta``, the random generator, the
history and solver that a ``partial_fit`` goes on from) and the
:class:`TrainingData` (the objective of the training rows and the
validation score); :func:`build_run` makes the data of rows in memory,
``_dask.build_run`` that of rows on a Dask cluster. The run takes the
epochs, watches for divergence, and after every finished epoch takes one
:class:`Checkpoint` of everything a fitted model holds: the point, the
solver's state, the random generator and the history. A user's Ctrl-C
keeps the last checkpoint, whichever line it lands on, since the
checkpoint is replaced whole in one assignment. What the run hands back
is a :class:`Result` of the kept checkpoint, in plain values too: only the
estimator names its fitted attributes.

The solver calls the objective; the loop itself uses only ``step``,
``snapshot``, ``reset_momentum``, ``learning_rate``, ``converged``,
``tests_convergence``, ``streaming`` and, where it has them,
``has_momentum``, ``carries_momentum`` and ``restart_momentum``
of the solver,
and of the objective ``set_rows`` (mini-batches), ``value`` (the point
that ends a call), ``datafit_value`` (the chance-level test's),
``weight_sum``, ``datafit`` (its ``chance_loss``) and,
where the objective has them,
``loss_bound`` (the bound that spares that evaluation) and ``penalty``
(its ``alpha``, for the advice of a divergence).
"""

import copy
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches

from .._evaluation.blocks import OutputOverflow, forward_log_proba
from .._evaluation.objective import Objective
from .._math.datafits import scaled_weights
from .._solvers.first_order import make_solver
from .._solvers.lbfgs import FTOL, GradientOverflow
from .._solvers.step_size import NoStepFound
from .._warnings import warn_at_user_code
from .history import History

# A loss above this many times the larger of the chance level (log(n_classes),
# or n_labels log 2 for multilabel targets; for a regressor the loss of
# predicting the targets' weighted mean)
# and the first loss of the training run (the loss at its starting weights)
# means that training has diverged, though the loss is finite. The evidence
# for the factor is in docs/solver_measurements.md, "The divergence
# threshold".
DIVERGENCE_FACTOR = 1e4

# A solver that converges at a loss within this fraction of the chance
# level (a regressor's R^2 below about 1e-6 on its training rows) is
# reported: it has learned nothing from the inputs.
CHANCE_RTOL = 1e-6

_ADVICE = (
    "Try a smaller learning_rate_init, or scale the input features (for "
    "example with StandardScaler). The estimator was left as it was before "
    "this call."
)

# For L-BFGS, whose line search has no learning_rate_init, a gradient too
# large for it comes from unscaled features or a strong penalty; the
# objective divides the penalty by the sum of the weights, so weights of a
# small sum strengthen it as much as a large alpha.
_LBFGS_ADVICE = (
    "Scale the input features (for example with StandardScaler), or lower "
    "alpha: the penalty is alpha / (2 sum(sample_weight)) ||W||^2, so "
    "sample weights of a small sum raise it too. The estimator was left as "
    "it was before this call."
)


def _lbfgs_advice(alpha):
    """L-BFGS's advice, without the penalty's part when ``alpha`` is 0
    (which it told to lower)."""
    if alpha:
        return _LBFGS_ADVICE
    return (
        "Scale the input features (for example with StandardScaler). The "
        "estimator was left as it was before this call."
    )


class DivergenceError(ValueError):
    """Training produced a non-finite loss or parameter, or a loss more
    than ten thousand times its start (or the chance level
    ``log(n_classes)``, ``log 2`` for one class, ``n_labels log 2`` for
    multilabel targets, the loss
    of predicting the targets' weighted mean for a regressor, if that is
    larger).

    A subclass of ValueError, raised by ``fit`` and ``partial_fit``; the
    estimator is left exactly as it was before the call.

    Examples
    --------
    A step far too large for unscaled features:

    >>> import numpy as np
    >>> from skmlp import DivergenceError, SoftplusMLPClassifier
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]) * 1e3, [0, 0, 1, 1]
    >>> clf = SoftplusMLPClassifier(
    ...     hidden_layer_sizes=(4,), solver="gd", learning_rate_init=1e4,
    ...     random_state=0)
    >>> try:
    ...     clf.fit(X, y)
    ... except DivergenceError as error:
    ...     print(str(error)[:18])
    Training diverged:
    >>> hasattr(clf, "coefs_")  # it had no model, and has none
    False
    """

    # Named as it is imported, skmlp.DivergenceError, in tracebacks (a
    # search's workers reported skmlp._training.loop.DivergenceError) and
    # in pickles, which find it there.
    __module__ = "skmlp"


@dataclass(frozen=True)
class Settings:
    """The estimator's parameters that a training run uses, validated.

    Parameters
    ----------
    solver, learning_rate_init, restart, momentum : str, float or None
        Which solver, and its parameters (``_solvers.make_solver``).
    alpha : float
        Strength of the L2 penalty.
    tol : float
        The improvement that resets the count of epochs without one, and
        L-BFGS's tolerance.
    batch_size : int or None
        Rows per solver step; None (or at least the number of training
        rows) for the full batch.
    max_epochs : int
        ``max_iter`` for ``fit``, 1 for ``partial_fit``.
    warn_unconverged : bool
        Whether to warn when the run ends at ``max_epochs`` unconverged
        (``fit`` does, ``partial_fit`` does not).
    shuffle : bool
        Whether mini-batches are drawn in a new random order every epoch.
    n_iter_no_change : int or inf
        Epochs without improvement by ``tol`` before stopping (of the
        validation score, or of the loss for a solver without a convergence
        test of its own).
    verbose : bool
        Whether to print a line per epoch.
    early_stopping : bool
        Whether the validation score decides when to stop, and which epoch
        is kept.
    validation_fraction : float
        The fraction of the rows held out with ``early_stopping``.
    """

    solver: str
    learning_rate_init: object
    restart: object
    momentum: object
    alpha: float
    tol: float
    batch_size: object
    max_epochs: int
    warn_unconverged: bool
    shuffle: bool
    n_iter_no_change: float
    verbose: bool
    early_stopping: bool
    validation_fraction: float


@dataclass(frozen=True)
class Start:
    """Where a run starts.

    Parameters
    ----------
    layout : ParameterLayout
        The layout of ``theta``.
    theta : ndarray
        The starting point, which the run moves in place.
    rng : RandomState
        The generator of the mini-batch orders, the run's own.
    history : _history.State or None
        The history to go on from (a continued ``partial_fit``), or None
        for a new one.
    solver : solver or None
        The solver of the previous ``partial_fit`` call to go on from
        (``make_solver``'s ``continued``), or None.
    """

    layout: object
    theta: np.ndarray
    rng: np.random.RandomState
    history: object = None
    solver: object = None


@dataclass(frozen=True)
class Result:
    """What a run keeps: the model of its kept epoch, in plain values.

    ``theta`` (a new vector, of ``layout``) is the kept point, with early
    stopping the best one; ``solver`` a snapshot of the solver, ``rng`` a
    generator in the kept epoch's state, ``history`` a
    :class:`~skmlp._training.history.State`. New objects, which the run does not
    touch again.
    """

    theta: np.ndarray
    layout: object
    solver: object
    rng: np.random.RandomState
    history: object


class Checkpoint(namedtuple("Checkpoint", "theta solver rng_state history")):
    """The state after a finished epoch, all a fitted model holds.

    ``theta`` and the solver are copies that later epochs do not touch;
    ``history`` is a :meth:`History.record`, a ``History.Record``. A named
    tuple rather than a frozen dataclass: one is taken after every epoch,
    and on tiny problems the dataclass's slower construction shows in the
    time per epoch (docs/performance.md, "Costs behind the code's choices").
    """

    __slots__ = ()


def divergence_threshold(start_loss, chance_loss):
    """The loss above which training has diverged: ``DIVERGENCE_FACTOR``
    times the larger of ``start_loss`` (the first loss of the training run)
    and ``chance_loss``, the loss of predicting every output at chance level
    (the datafit's ``chance_loss``)."""
    return DIVERGENCE_FACTOR * max(chance_loss, start_loss)


def check_loss(loss, start_loss, chance_loss, advice=_ADVICE):
    """Raise :class:`DivergenceError` if ``loss`` shows a diverged training:
    a non-finite loss, or one above :func:`divergence_threshold`. The
    message ends with ``advice``."""
    if not math.isfinite(loss):
        raise DivergenceError(
            "Training diverged: the loss or a parameter became non-finite "
            f"(inf or NaN). {advice}"
        )
    if loss > divergence_threshold(start_loss, chance_loss):
        reference = max(chance_loss, start_loss)
        raise DivergenceError(
            f"Training diverged: the loss reached {loss:.3g}, more than "
            f"{DIVERGENCE_FACTOR:.0e} times {reference:.3g} (the larger of its "
            f"first value and the loss at chance level, that of predicting "
            f"without the inputs). {advice}"
        )


def _target_advice(datafit):
    """What a divergence of a regressor says of the targets: their scale is
    the loss's, which scaling the inputs does not change. The squared
    error's gradient grows with the residuals; the Poisson loss's with the
    counts, whose constant factor the log link takes as a shift of the
    output's intercept (Poisson targets of 1e20 on standardised inputs,
    whose L-BFGS gradient overflowed float32, were told to scale the
    inputs, or lower alpha, which was 0)."""
    if datafit.out_activation == "identity":
        return (
            "Targets of a large scale make large residuals and gradients: "
            "scale them too (TransformedTargetRegressor with a StandardScaler). "
        )
    if datafit.out_activation == "exp":
        return (
            "Counts of a large scale make large gradients: divide them by a "
            "constant, and multiply the predictions by it "
            "(TransformedTargetRegressor with func and inverse_func). "
        )
    return ""


def penalty_advice(alpha, weight_sum, step):
    """What to say, before the usual advice, of a divergence at ``step``
    when the penalty makes it: its Hessian on the weights is
    ``alpha / weight_sum`` times the identity, and a gradient step above
    twice the inverse of a curvature multiplies the error along it by more
    than 1 in size. Sample weights of a small sum make that curvature large
    though ``alpha`` is small (1e-4 over weights of 1e-300). Empty when the
    penalty's curvature alone allows the step."""
    if not alpha or not isinstance(step, float):
        return ""
    with np.errstate(over="ignore"):
        curvature = alpha / weight_sum
    if math.isinf(curvature):
        # Weights of a subnormal sum: 2 / curvature would read "no step
        # above 0", which names no number the user can act on. Any step is
        # too long, 0 too: the adaptive step's probe came out as 0 there,
        # and 0 * inf is NaN, which dropped this advice.
        return (
            f"The penalty's curvature, alpha / sum(sample_weight) = "
            f"{alpha:.3g} / {weight_sum:.3g}, overflows: the weights sum to "
            "too little for any step, the penalty outweighing the data beyond "
            "the range of floating point. Multiply the weights alone by a "
            "large factor, or lower alpha, to weaken the penalty (scaling "
            "both alike leaves the objective, and this curvature, as it is). "
        )
    if not step * curvature > 2:
        return ""
    # A smaller alpha lifts the penalty's bound only: the data's own
    # curvature may still want a smaller step (a step of 1e9 on unscaled
    # features diverged at alpha=1e-12 too), and the usual advice follows.
    remedy = (
        "A smaller alpha or sample weights of a larger scale raise that bound "
        "(the objective depends on sample_weight / alpha only); a smaller step "
        "passes it. "
    )
    return (
        f"The penalty alone allows no step above {2 / curvature:.3g} (this "
        f"one was {step:.3g}): its curvature is alpha / sum(sample_weight) = "
        f"{curvature:.3g}, alpha divided by the sum of the weights. {remedy}"
    )


def held_out_evaluation(layout, X, y, sample_weight, executor, datafit):
    """The score and the loss of ``theta`` on the held-out rows ``X``, ``y``,
    as a function of ``theta`` that returns the pair: one forward pass for
    both.

    The score is the datafit's ``held_out_score``, the estimator's
    ``score``: the weighted accuracy, as ``accuracy_score`` gives it (for
    multilabel targets the subset accuracy: a row counts if all its labels
    are right), or a regressor's R². The loss is the datafit's weighted mean
    over the rows, without the penalty: the loss of the predictions, as
    ``log_loss`` gives it for classes, which does not change with ``alpha``
    as ``loss_curve_`` does.
    ``executor`` runs the parts of the predictions (the training objective's:
    its threads).
    """
    # The score and the mean loss do not change, to the bit, but uniform
    # weights of 1e306 no longer overflow the weighted sums of squares of
    # R^2, which was NaN, then a false 1.0, and early stopping kept an
    # epoch of R^2 0.33 where the best was 0.997.
    sample_weight = scaled_weights(sample_weight)
    weight_sum = float(np.sum(sample_weight))

    def evaluate(theta):
        coefs, intercepts = layout.unpack(theta)
        log_proba = forward_log_proba(
            coefs, intercepts, X, datafit=datafit, executor=executor
        )
        score = datafit.held_out_score(log_proba, y, sample_weight)
        loss = datafit.held_out_loss(log_proba, y, sample_weight) / weight_sum
        return score, loss

    return evaluate


@dataclass
class TrainingState:
    """What the epochs change.

    ``theta`` is updated in place; the solver keeps its own state (momentum,
    step size); ``rng`` draws the order of the mini-batches.
    """

    theta: np.ndarray
    solver: object
    rng: np.random.RandomState
    history: History


@dataclass(frozen=True)
class TrainingData:
    """The training rows of a run and what evaluates them.

    ``objective`` is the objective of the ``n_samples`` training rows.
    ``rows`` are those rows, ``(X, y, sample_weight)`` with ``y`` as the objective's
    datafit takes it, onto which mini-batches move the objective with ``set_rows``;
    None for rows held elsewhere (a Dask cluster), which the objective
    evaluates in full batch only. ``held_out`` (None without early
    stopping) gives the score and the loss of ``theta`` on the held-out rows
    (:func:`held_out_evaluation`). ``chance_loss`` is the datafit's
    ``chance_loss`` of rows held elsewhere, which their holder computes
    (None: the run computes it from ``rows``, or with none, from the number
    of outputs alone, as a classifier's).
    """

    objective: object
    n_samples: int
    rows: tuple = None
    held_out: object = None
    chance_loss: float = None


class TrainingRun:
    """The epochs of one call of ``fit`` or ``partial_fit``.

    Parameters
    ----------
    settings : Settings
        The estimator's parameters that the run uses.
    start : Start
        The starting point, generator, history and solver to go on from;
        the run changes ``theta`` and the generator.
    data : TrainingData
        The training and validation rows and the objective.
    callbacks : EpochCallbacks
        The callback hooks of the call.

    Attributes
    ----------
    kept : Checkpoint
        The state after the last finished epoch (the start before the first).
    reached_max_epochs : bool
        Whether the run ended at ``max_epochs`` without meeting its stopping
        rule nor being stopped by a callback.
    interrupted : bool
        Whether the user interrupted the call (set by the estimator, too, for
        a Ctrl-C after the run).
    """

    def __init__(self, settings, start, data, callbacks):
        full_batch = (
            settings.batch_size is None or settings.batch_size >= data.n_samples
        )
        rows = _rows_fingerprint(data.objective) if data.rows is not None else None
        chunk = _is_chunk(start.solver, rows)
        solver = make_solver(
            settings.solver,
            settings.learning_rate_init,
            settings.restart,
            settings.momentum,
            settings.tol,
            full_batch=full_batch,
            continued=start.solver,
            # 'auto' resolves as on mini-batches for a chunk of a stream.
            chunk=chunk,
        )
        solver.rows_fingerprint = rows
        solver.streaming = chunk
        if start.history is None:
            history = History(settings.early_stopping, settings.tol)
        else:
            history = History.continuing(
                start.history, settings.early_stopping, settings.tol
            )
        self.layout = start.layout
        self.state = TrainingState(start.theta, solver, start.rng, history)
        self.data = data
        self.settings = settings
        self.callbacks = callbacks
        self.batches = (
            None
            if data.rows is None or full_batch
            else list(gen_batches(data.n_samples, settings.batch_size))
        )
        self._shuffling = self.batches is not None and settings.shuffle
        self.reached_max_epochs = False
        self.interrupted = False
        self.learned_nothing = None
        # Whether the no-improvement rule ended the run.
        self.stopped_by_rule = False
        self.final_point_checked = False
        # The checkpoint whose iterate went through the next step's
        # safeguard (_look_ahead), once.
        self._looked_ahead = None
        self._threshold = None
        self.kept = self._checkpoint()
        # Rows held on a Dask cluster are not here: a regressor's chance
        # level comes with them, a classifier's needs no targets.
        _, y, weight = (None, None, None) if data.rows is None else data.rows
        self._chance_loss = data.chance_loss
        if self._chance_loss is None:
            self._chance_loss = data.objective.datafit.chance_loss(
                self.layout.layer_sizes[-1], y, weight
            )

    @property
    def n_new_epochs(self):
        """Epochs finished and kept in this call."""
        return self.kept.history.n_new_epochs

    def run(self):
        """Run the epochs, then check the point to keep.

        Raises :class:`DivergenceError` if training diverged. A
        ``KeyboardInterrupt`` goes through; ``kept`` is then the last
        finished epoch.
        """
        state, data = self.state, self.data
        history = state.history
        # Overflow on the way to a divergence is reported by a
        # DivergenceError, with advice; numpy's warnings add noise.
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(self.settings.max_epochs):
                self.callbacks.begin_epoch()
                loss = self._minibatch_epoch() if self.batches else self._step()
                # A sum is finite only if every term is (an inf or a NaN
                # cannot cancel out); it costs half the elementwise test,
                # which settles the rare overflow of the sum.
                theta = state.theta
                if not (math.isfinite(theta.sum()) or np.isfinite(theta).all()):
                    self._check(math.inf)
                history.add_epoch(loss, data.n_samples)
                if data.held_out is not None:
                    history.add_validation(*self._held_out(theta), theta)
                # Part of the epoch, before it is kept: the callbacks and
                # a fit stopped here see the restart.
                restarted = self._restart_if_carried_uphill()
                # The one assignment that keeps the epoch.
                self.kept = self._checkpoint()
                # Printed once the epoch is kept: an interrupt after the line
                # keeps the model it reports.
                if self.settings.verbose:
                    print(f"Iteration {history.n_iter}, loss = {loss:.8f}")
                    if data.held_out is not None:
                        # MLPClassifier's line, after the loss's.
                        print(f"Validation score: {history.validation_scores[-1]:f}")
                    if restarted:
                        print(
                            "Training loss rose above its best by more than "
                            f"tol={history.tol:g}: momentum restarted."
                        )
                # The callbacks get the model of the epoch just kept, whole.
                if self.callbacks.end_epoch(self.result):
                    break
                stopping = self._stopping_message()
                if stopping is not None:
                    if self.settings.verbose:
                        print(stopping)
                    break
            else:
                self.reached_max_epochs = True
            self.check_final_point()
            # Judged here, while rows on a Dask cluster are still there.
            self.learned_nothing = (
                self._converged_at_chance() if self.settings.warn_unconverged else None
            )

    def keep_after_interrupt(self):
        """After a Ctrl-C in :meth:`run`, once an epoch has finished: keep
        the last finished one, checked as at the end of any run."""
        self.interrupted = True
        self.check_final_point()

    def warn_at_end(self, warn=warn_at_user_code):
        """Warn the user of an interrupted or unconverged run, by ``warn``
        (called as :func:`~skmlp._warnings.warn_at_user_code`; the estimator
        passes one that holds the warning until its call has succeeded)."""
        if self.interrupted:
            n_iter = self.kept.history.n_iter
            if self.data.held_out is None:
                kept = f"the model of the last finished epoch ({n_iter}) is kept."
            else:
                # Early stopping keeps the best epoch, as when it stops.
                kept = (
                    f"of the {n_iter} epochs finished, the model of the best by "
                    "the validation score is kept, as early stopping keeps it."
                )
            warn(f"Training interrupted by user; {kept}", UserWarning)
        elif self.reached_max_epochs and self.settings.warn_unconverged:
            # MLPClassifier's words; "stochastic" only for mini-batches.
            stochastic = "Stochastic Optimizer: " if self.batches else ""
            warn(
                f"{stochastic}Maximum iterations ({self.settings.max_epochs}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        elif self.settings.warn_unconverged:
            loss = self.learned_nothing
            if loss is None:
                return
            solver = type(self.state.solver).__name__
            penalty = (
                "or alpha is so strong that predicting the mean is the "
                "objective's minimum, "
                if self.settings.alpha
                else ""
            )
            if self.data.held_out is not None:
                self._warn_kept_at_chance(loss, penalty, warn)
                return
            tol = self.settings.tol
            small_targets = self._small_targets_clause()
            if self.stopped_by_rule:
                what = "stopped"
                cause = (
                    f"its loss improved by less than tol={tol:g} for "
                    f"n_iter_no_change={self.settings.n_iter_no_change} "
                    "epochs, an amount in the loss's units"
                    + small_targets
                    + ", "
                    + self._small_step_clause()
                )
                last = self._small_step_advice() + "or lower tol."
            else:
                what = "converged"
                cause, last = self._convergence_cause(small_targets)
            warn(
                f"{solver} {what} at a loss of {loss:.6g}{self._penalty_left_out()}, "
                "no lower than "
                f"that of predicting the targets' mean ({self._chance_loss:.6g}): "
                f"the model has learned nothing from the inputs. Either {cause}"
                f"{penalty}or the inputs do not predict the targets. "
                # Large targets' advice where they are large: of a loss above
                # 1, where L-BFGS's decrease test is relative (targets of
                # unit scale were told of "targets of a large scale").
                + (
                    _target_advice(self.data.objective.datafit)
                    if not self.stopped_by_rule and self._chance_loss > 1
                    else ""
                )
                + "Scale the input features (for example with StandardScaler), "
                + ("lower alpha, " if self.settings.alpha else "")
                + last,
                ConvergenceWarning,
            )

    def _small_step_clause(self):
        """A cause that a fixed ``learning_rate_init`` adds: a step of 1e-6
        left a regressor at the mean's level, and the warning named every
        cause but the one set by hand (the adaptive step reached an R^2 of
        0.96 there)."""
        if self._step_set_by_hand() is None:
            return ""
        return (
            f"or learning_rate_init={self.settings.learning_rate_init:g} "
            "is too small to move the weights, "
        )

    def _small_step_advice(self):
        if self._step_set_by_hand() is None:
            return ""
        return "raise learning_rate_init (or take 'auto'), "

    def _step_set_by_hand(self):
        """The fixed ``learning_rate_init`` of GD or NAG, or None: 'auto',
        or L-BFGS, whose line search does not use it."""
        rate = self.settings.learning_rate_init
        if isinstance(rate, str) or self.settings.solver == "lbfgs":
            return None
        return rate

    def _penalty_left_out(self):
        """Said of the loss that the warnings of a fit at the chance level
        give, when there is a penalty to leave out of it."""
        return " (the penalty left out)" if self.settings.alpha else ""

    def _small_targets_clause(self):
        """A clause on the targets' scale, when it makes the loss of their
        mean small beside the amount that the stopping test, in the loss's
        units, counts as no progress: below ``tol`` for the no-improvement
        rule and for L-BFGS's gradient test (a gradient is of the
        residuals' scale); for L-BFGS's decrease test, which divides by the
        larger of the loss and 1 and so is an absolute ``FTOL`` below a
        loss of 1, when ``FTOL`` is more than a millionth of it (this
        warning's own margin, ``CHANCE_RTOL``). Empty otherwise."""
        chance, tol = self._chance_loss, self.settings.tol
        stopped_by = getattr(self.state.solver, "stopped_by", None)
        if self.stopped_by_rule or stopped_by == "gradient":
            if chance < tol:
                return (
                    " (the targets' scale makes the loss of their mean "
                    f"{chance:.3g}, below tol: scale them, or lower tol)"
                )
        elif stopped_by == "decrease" and chance * CHANCE_RTOL < FTOL:
            return (
                " (below a loss of 1 that is an absolute amount, here "
                f"{FTOL / chance:.2g} of the loss of the targets' mean, "
                f"{chance:.3g}: scale them)"
            )
        return ""

    def _convergence_cause(self, small_targets):
        """What the solver's own test (L-BFGS's) said when it stopped, and
        the last advice: lowering ``tol`` where its test is ``tol``'s, and
        'nag', which stops by the loss's improvement instead, where the
        targets' scale would not stop it too."""
        tol = self.settings.tol
        stopped_by = getattr(self.state.solver, "stopped_by", None)
        if stopped_by == "gradient":
            cause = (
                f"its gradient's largest entry fell to tol={tol:g} or below, "
                "an amount in the loss's units" + small_targets + ", "
            )
            return cause, "or lower tol."
        if stopped_by == "decrease":
            cause = (
                f"a step decreased the loss by less than {FTOL:.3g} times the "
                "larger of the loss and 1" + small_targets + ", "
            )
        else:
            cause = "no step along the steepest descent decreased the loss, "
        return cause, (
            "or scale the targets." if small_targets else "or try solver='nag'."
        )

    def _warn_kept_at_chance(self, loss, penalty, warn):
        """The warning of :meth:`_converged_at_chance` with early stopping:
        the epoch kept is the best by the validation score, not the one
        where the rule or the solver's test stopped, and its training loss
        may have been falling fast (the messages of the loss rule's ``tol``
        and of L-BFGS's convergence named the wrong cause and point). When
        L-BFGS's own test ended the run, not the validation score, that
        test is named, and raising ``n_iter_no_change`` (which would not
        have changed the run) is not advised."""
        history = self.state.history
        best = history.best_validation_score
        epoch = 1 + next(
            (i for i, score in enumerate(history.validation_scores) if score == best),
            len(history.validation_scores) - 1,
        )
        n_iter = history.n_iter - len(history.validation_scores) + epoch
        solver = self.state.solver
        if solver.tests_convergence and solver.converged:
            cause, last = self._convergence_cause(self._small_targets_clause())
            cause = (
                f"{type(solver).__name__} stopped at iteration {history.n_iter} "
                f"by its own test: {cause}"
            )
        else:
            cause = (
                "training had not yet left the mean's level when the "
                "validation score stopped improving, " + self._small_step_clause()
            )
            last = self._small_step_advice() + "or raise n_iter_no_change."
        warn(
            f"Early stopping kept iteration {n_iter}, the best by the "
            f"validation score, at a training loss of {loss:.6g}"
            f"{self._penalty_left_out()}, no lower than that of predicting "
            "the targets' mean "
            f"({self._chance_loss:.6g}): the model has learned nothing from "
            f"the inputs. Either {cause}"
            f"{penalty}or the inputs do not predict the targets. Scale the "
            "input features (for example with StandardScaler), "
            + ("lower alpha, " if self.settings.alpha else "")
            + last,
            ConvergenceWarning,
        )

    def _converged_at_chance(self):
        """The datafit's loss at the point kept (the penalty left out), if
        the solver's own convergence test or the no-improvement rule stopped
        a regressor's run at a loss no lower than that of predicting the
        targets' weighted mean (an R^2 of 0 on its training rows); else
        None.

        The rule's ``tol`` is in the loss's units. On targets of 1e-6 the
        loss of the mean is 1e-12 and the starting weights' outputs (of the
        inputs' scale) put the first loss near 0.2: GD and NAG went down
        to 1e-4, where the loss improves by less than ``tol``, and stopped
        at an R^2 of -5e7 without a word.

        L-BFGS stops when a step's decrease, relative to the loss, is below
        FTOL. On targets of 1e10 the loss is 1e20 and its curvature along
        the steepest descent so high that the first step decreased it by
        1e-11 of itself: the fit "converged" at its start, R^2 = 1e-11,
        without a word (scipy's L-BFGS-B, and MLPRegressor, stop there too).
        The last loss of the curve is that of the start of the last
        iteration: only when it is at the chance level is the point kept
        evaluated, whose loss decides. A classifier's chance level, a
        uniform prediction, is not its best without the inputs (the
        classes' frequencies are): it is not tested.
        """
        solver, history = self.state.solver, self.state.history
        converged = solver.tests_convergence and solver.converged
        if not (converged or self.stopped_by_rule) or not history.loss_curve:
            return None
        datafit = self.data.objective.datafit
        # Constant targets (a chance level of 0) leave nothing to learn.
        chance = self._chance_loss
        if datafit.out_activation not in ("identity", "exp") or not 0.0 < chance:
            return None
        # The last loss tells of the point kept only without early
        # stopping, which keeps the best epoch by the validation score.
        early_stopping = self.data.held_out is not None
        if not early_stopping and history.loss_curve[-1] < chance * (1.0 - CHANCE_RTOL):
            return None
        point = self.kept_point()
        if point is None:
            return None
        # The datafit's loss there, the penalty left out: the penalty is no
        # part of the mean's loss. On targets of 1e-3 at the default alpha
        # it was larger than the datafit, and a fit of training R^2 0.21 was
        # told that it had learned nothing. It is evaluated on its own, not
        # taken from the solver's loss minus the penalty: on Poisson rates
        # of 1e-24 the datafit is below the penalty's rounding (5e-7 at the
        # default alpha), and the difference, 0, gave no warning of a fit at
        # R^2 -0.51. The evaluation is at the end of the run, before rows on
        # a Dask cluster are released (after, it raised a ClusterError at
        # random).
        if self.batches:
            self.data.objective.set_rows(*self.data.rows)
        loss = float(self.data.objective.datafit_value(point))
        if loss < chance * (1.0 - CHANCE_RTOL) or self._an_output_learned(point):
            return None
        return loss

    def _an_output_learned(self, point):
        """Whether one of several outputs, whose targets are not constant,
        is fitted below its own chance level, at ``point``, on the rows in
        memory (rows on a Dask cluster are judged by the total alone).

        The total averages the outputs' losses: an output of a large scale
        that the inputs cannot predict hid one predicted exactly (R^2 0 and
        1, told that it had learned nothing); and a Poisson output of zeros
        counts 0 in the chance level, which no finite intercept reaches
        (its start, log(1 / 2n), costs 1 / 2n a row), so that it hid a
        smaller gain on the others. Outputs of constant targets have
        nothing to learn and are left out.
        """
        if self.data.rows is None:  # on a Dask cluster
            return False
        X, y, weight = self.data.rows
        if y.ndim != 2 or y.shape[1] < 2:
            return False
        datafit = self.data.objective.datafit
        coefs, intercepts = self.layout.unpack(point)
        try:
            outputs = forward_log_proba(
                coefs,
                intercepts,
                X,
                datafit=datafit,
                executor=self.data.objective.executor,
            )
        except OutputOverflow:
            return False
        weight_sum = float(np.sum(weight))
        for k in range(y.shape[1]):
            chance = datafit.chance_loss(1, y[:, [k]], weight)
            if chance > 0:
                loss = datafit.held_out_loss(outputs[:, [k]], y[:, [k]], weight)
                if loss / weight_sum < chance * (1.0 - CHANCE_RTOL):
                    return True
        return False

    def check_final_point(self):
        """Check the point to keep by the divergence rule.

        The loss of a step is that of the point where its gradient was
        taken, so without this the point that ends a call would never be
        looked at. With the adaptive step's safeguard (and no early
        stopping, whose kept point the validation score chose) the solver's
        ``look_ahead`` first takes the next step's evaluation, whose
        safeguard may take the last step again, and keeps it for that step.
        Then a bound on the point's loss below half the threshold proves
        that it passes, and only if none does is its loss computed, by a
        forward pass over the rows, which costs about half an evaluation of
        the gradient.
        """
        if self.final_point_checked:
            return
        objective = self.data.objective
        if self.batches:
            objective.set_rows(*self.data.rows)
        point = self.kept_point()
        if point is None:
            # Early stopping with no epoch better than -inf: the held-out
            # predictions overflowed at every epoch.
            raise ValueError(
                "Early stopping found no epoch with a finite validation score "
                f"(the scores of the {self.kept.history.n_new_epochs} epochs "
                "are -inf or NaN): the predictions of the validation rows "
                "overflow. If fit was given X_val, are its features on the "
                "scale of X's (in a Pipeline, transform_input=['X_val'])?"
            )
        self._look_ahead()
        with np.errstate(over="ignore", invalid="ignore"):
            if not self._passes_by_its_bound(point):
                self._check(objective.value(point))
        self.final_point_checked = True

    def _look_ahead(self):
        """With the adaptive step's safeguard on the full batch (and no
        early stopping, whose kept point the validation score chose), the
        kept epoch's solver takes the next step's evaluation and safeguard
        (``look_ahead``), which may take the last step again: the model of
        the epoch is then the one ``fit`` with ``max_iter`` set to it gives.

        Once per kept epoch (a Ctrl-C during the final check must not take
        it twice: the second would build its look-ahead point from the
        retaken state). It is the next step's first part, so the run goes
        on from the state it leaves, and that step takes its evaluation:
        asked for by a callback after every epoch, it costs nothing, and
        the steps are those of a run without callbacks.
        """
        kept = self.kept
        if self._looked_ahead is kept:
            return
        solver = kept.solver
        if (
            self.data.held_out is None
            and not self.batches
            and getattr(solver, "guards_last_step", False)
        ):
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    solver.look_ahead(kept.theta, self.data.objective)
            except NoStepFound as error:
                # As in a step (_step).
                advice = _target_advice(self.data.objective.datafit)
                raise NoStepFound(
                    f"{error} {advice}The estimator was left as it was before "
                    "this call."
                ) from None
            self.state.theta[...] = kept.theta
            self.state.solver = solver.snapshot()
        self._looked_ahead = kept

    def _passes_by_its_bound(self, theta):
        """Whether the objective's ``loss_bound`` (an upper bound on the
        loss, from the ranges of the features: ``Objective.loss_bound``)
        proves that ``theta`` passes the divergence rule.

        Half the threshold leaves room for the rounding of the bound; a
        ``theta`` that is not finite gives a NaN or infinite bound, which
        proves nothing. An objective without the method always computes
        the loss.
        """
        start_loss = self.state.history.start_loss
        loss_bound = getattr(self.data.objective, "loss_bound", None)
        if start_loss is None or loss_bound is None:
            return False
        threshold = divergence_threshold(start_loss, self._chance_loss)
        return loss_bound(theta) <= threshold / 2

    def kept_point(self):
        """The point of the kept epoch: with early stopping, the best one."""
        if self.data.held_out is None:
            return self.kept.theta
        return self.kept.history.best_theta

    def result(self):
        """The :class:`Result` of the kept epoch: the model of ``fit`` (or
        ``partial_fit``) stopped there, whole.

        Builds new objects, the generator included (a copy set to the kept
        epoch's state), and changes nothing of the run's steps: calling it
        twice gives two equal, independent results, and it can be called
        after any epoch, for the callbacks, while the run goes on. (It
        takes the next step's evaluation first, :meth:`_look_ahead`, which
        that step then takes instead of computing it.)
        """
        self._look_ahead()
        kept = self.kept
        solver = kept.solver.snapshot()
        if self.data.held_out is not None:
            # The momentum belongs to the last iterate, not to the best one.
            solver.reset_momentum()
        # A copy, not the run's own generator: the model of an epoch must
        # not change as the next epochs draw their mini-batch orders.
        rng = copy.deepcopy(self.state.rng)
        if kept.rng_state is not None:
            rng.set_state(kept.rng_state)
        point = self.kept_point()
        if point is None:
            # Early stopping before any epoch scored a finite validation
            # score: no best epoch yet, and the epoch's own weights are the
            # model so far (a callback's model of the epoch was an
            # AttributeError). A run that ends so raises (check_final_point).
            point = kept.theta
        return Result(
            point.copy(),
            self.layout,
            solver,
            rng,
            self.state.history.state(kept.history),
        )

    def _checkpoint(self):
        state = self.state
        # As History.record, without the named tuple's __new__.
        return tuple.__new__(
            Checkpoint,
            (
                state.theta.copy(),
                state.solver.snapshot(),
                state.rng.get_state() if self._shuffling else None,
                state.history.record(),
            ),
        )

    def _check(self, loss):
        """The divergence rule; the first loss checked is the run's start."""
        history = self.state.history
        if self._threshold is None:
            if history.start_loss is None:
                history.start_loss = loss
            self._threshold = divergence_threshold(
                history.start_loss, self._chance_loss
            )
        # Two tests for the losses that pass, check_loss for the message of
        # the others. (The threshold is infinite when the first loss is.)
        if not (math.isfinite(loss) and loss <= self._threshold):
            check_loss(loss, history.start_loss, self._chance_loss, self._advice())

    def _advice(self):
        """The advice of a divergence now: the usual, after what
        :func:`penalty_advice` says of the step just taken and, for the
        squared error, of the targets' scale."""
        objective = self.data.objective
        if self.settings.solver == "lbfgs":
            # Its line search chooses the step: learning_rate_init, which it
            # does not use, is no remedy (nor is the step it took).
            return _target_advice(objective.datafit) + _lbfgs_advice(
                self.settings.alpha
            )
        advice = _target_advice(objective.datafit) + _ADVICE
        penalty = getattr(objective, "penalty", None)
        if penalty is None:
            return advice
        step = self.state.solver.learning_rate
        return penalty_advice(penalty.alpha, objective.weight_sum, step) + advice

    def _held_out(self, theta):
        """The validation score and loss of ``theta``, the point the epoch
        ended at.

        The step's loss was that of the point before it, so ``theta`` has
        not met the divergence rule yet: weights that grew past the range of
        floating point show first here, as outputs that overflow on the
        held-out rows. Rows held out of the training data are training data,
        so it is the training that diverged, not the input that is out of
        range. ``fit``'s ``X_val`` is the user's, but it is meant to be drawn
        as the training rows are: its outputs overflow on weights that have
        run away, and the advice is that of a divergence too.
        """
        try:
            return self.data.held_out(theta)
        except OutputOverflow:
            raise DivergenceError(
                "Training diverged: the network's outputs overflowed (are not "
                "finite) on the validation rows (the rows held out for early "
                "stopping, or fit's X_val). "
                f"{self._advice()}"
            ) from None

    def _step(self):
        """One full-batch step; returns its loss."""
        try:
            loss = self.state.solver.step(self.state.theta, self.data.objective)
        except GradientOverflow as error:
            advice = _target_advice(self.data.objective.datafit) + _lbfgs_advice(
                self.settings.alpha
            )
            raise DivergenceError(f"Training diverged: {error} {advice}") from None
        except NoStepFound as error:
            # A curvature beyond every step tried: with the squared error,
            # targets of a huge scale give it as unscaled inputs do. Its
            # model is undone, as a divergence's: it says so too.
            advice = _target_advice(self.data.objective.datafit)
            raise NoStepFound(
                f"{error} {advice}The estimator was left as it was before this call."
            ) from None
        self._check(loss)
        return loss

    def _minibatch_epoch(self):
        """One step per mini-batch; returns the epoch's loss, the batches'
        losses averaged by weight."""
        X, y, sample_weight = self.data.rows
        objective = self.data.objective
        n_samples = X.shape[0]
        if self.settings.shuffle:
            order = self.state.rng.permutation(n_samples)
        else:
            order = np.arange(n_samples)
        total_weight = float(sample_weight.sum())
        epoch_loss = 0.0
        for batch in self.batches:
            rows = order[batch]
            weight = sample_weight[rows]
            if not weight.any():
                # The objective of rows that all weigh zero is 0/0: they
                # carry no information, so they take no step.
                continue
            objective.set_rows(X[rows], y[rows], weight)
            loss = self._step()
            epoch_loss += loss * objective.weight_sum / total_weight
        return epoch_loss

    def _restart_if_carried_uphill(self):
        """Restart NAG's momentum when the no-improvement rule would stop a
        run that the momentum carried uphill (:meth:`_carried_uphill`):
        not a convergence, the momentum's ripple. Restarted, the run gets
        ``n_iter_no_change`` epochs again. Returns whether it restarted."""
        history = self.state.history
        if not history.should_stop(self.settings.n_iter_no_change):
            return False
        if not self._carried_uphill():
            return False
        solver = self.state.solver
        # The gradient restart may have dropped the momentum in this very
        # epoch, at the top of the rise it carried the loss up: the run
        # goes on all the same (it stopped there 96 times the optimum's
        # loss above it, on a ridge problem at n_iter_no_change=1).
        if solver.carries_momentum:
            solver.restart_momentum()
        history.no_improvement_count = 0
        return True

    def _carried_uphill(self):
        """Whether, on the full batch without early stopping, NAG's momentum
        has carried the loss more than ``tol`` above its best when the
        no-improvement rule fires.

        FISTA's loss is not monotone: in a valley whose curvatures differ
        by 1e3, its momentum (``beta_k`` near 1 after a hundred steps)
        carries the iterate past the bottom and up the far side for a score
        of steps before the gradient restart sees it. A rule that stopped
        there kept a model above the best it had passed: on a convex ridge
        problem, 5% of the loss above the optimum at ``tol=1e-10``, worse
        than at ``tol=1e-4``, where the rule fired before the ripple. A
        loss that rises is moving, not converging: the momentum is dropped
        instead, as a function restart would have dropped it at the first
        rise. On mini-batches the loss of an epoch is noisy and the rule is
        MLPClassifier's, unchanged, and so it is on a stream of chunks.
        """
        history, solver = self.state.history, self.state.solver
        # A rise is more than tol and more than the loss's rounding: at
        # tol=0 a converged fit's losses differ by a few ulps (8.7e-19 on
        # a loss of 0.005), which restarted it every n_iter_no_change
        # epochs up to max_iter. sqrt(eps) of the loss (1.5e-8 of it in
        # float64, 3.5e-4 in float32) is far below a ripple's (0.7%). Near
        # a loss of 0 the rounding is absolute: noiseless targets fitted
        # exactly jitter at 1e-31, their own size, which restarted every 27
        # epochs up to max_iter at tol=0. A rise below eps times the loss of
        # chance (that of the mean, or log K) is rounding too.
        eps = float(np.finfo(self.state.theta.dtype).eps)
        rise = max(
            history.tol,
            math.sqrt(eps) * abs(history.best_loss),
            eps * self._chance_loss,
        )
        return (
            self.batches is None
            and not history.early_stopping
            # Nor on a stream of chunks, whose losses are other rows'.
            and not solver.streaming
            # A momentum that carried the loss up: NAG's, which the gradient
            # restart may have dropped since (carries_momentum is then
            # False).
            and getattr(solver, "has_momentum", False)
            and history.loss_curve[-1] > history.best_loss + rise
        )

    def _stopping_message(self):
        """Why the run stops after this epoch, or None to go on.

        It stops when the solver's own convergence test passed (L-BFGS), or
        after ``n_iter_no_change`` epochs without an improvement by ``tol``
        of the validation score (with early stopping) or of the loss (for a
        solver without a test of its own).
        """
        solver, history = self.state.solver, self.state.history
        if solver.converged:
            return f"{type(solver).__name__} converged (tol={history.tol:g}). Stopping."
        if solver.tests_convergence and not history.early_stopping:
            return None
        if not history.should_stop(self.settings.n_iter_no_change):
            return None
        self.stopped_by_rule = True
        what = "Validation score" if history.early_stopping else "Training loss"
        return (
            f"{what} did not improve more than tol={history.tol:f} for "
            f"{self.settings.n_iter_no_change} consecutive epochs. Stopping."
        )


def _rows_fingerprint(objective):
    """The sampled fingerprint of the objective's rows alone (not of
    ``alpha`` or the network): what tells a ``partial_fit`` call whether
    its rows are the last call's. '' for an objective without one."""
    fingerprint = getattr(objective, "rows_fingerprint", None)
    return (fingerprint() if fingerprint is not None else None) or ""


def _is_chunk(continued, rows):
    """Whether a ``partial_fit`` call that goes on from the solver
    ``continued`` brings other rows than the last call's (sampled
    fingerprints ``rows``), or goes on from a call that was a chunk: a
    chunk of a stream, on which ``learning_rate_init='auto'`` and
    ``momentum='auto'`` resolve as on ``fit``'s mini-batches, to
    backtracking whose step never grows after its first search and a
    constant momentum of 0.9.

    The full-batch rules took each chunk for a whole data set: the adaptive
    step measured each chunk's curvature alone, which a chunk of one to a
    few rows puts far below that of the next, and on streams of such chunks
    it grew until the loss diverged (docs/solver_measurements.md, "Streams
    of chunks"). The first call cannot tell, and is a full batch; calls on
    the rows of the one before, with no chunk before them, go on as ``fit``
    does, to the bit. Rows on a Dask cluster have no fingerprint: their
    calls are full batches.
    """
    if getattr(continued, "streaming", False):
        # Once a stream, a stream: a chunk passed again (two calls on one
        # chunk) is still one of many. Taken for a full batch, it went back
        # to the adaptive step, and each next chunk to a first search that
        # grows, which ratcheted the step up until the loss diverged.
        return True
    last = getattr(continued, "rows_fingerprint", None)
    return bool(last) and bool(rows) and last != rows


def build_run(settings, start, train, validation, datafit, callbacks, executor):
    """The training run of one call of ``fit`` or ``partial_fit`` on rows
    in memory.

    Parameters
    ----------
    settings : Settings
        The estimator's parameters that the run uses.
    start : Start
        Where the run starts.
    train : tuple
        The validated training rows ``(X, y, sample_weight)``, ``y`` as the
        datafit takes it.
    validation : tuple or None
        The validation rows of early stopping, as ``train`` (held out of the
        training data, or ``fit``'s ``X_val``); None without.
    datafit : Datafit
        The loss of the outputs against the targets.
    callbacks : EpochCallbacks
        The callback hooks of the call.
    executor : ThreadedExecutor
        Runs the parts of every evaluation of the call (the objective's, and
        the validation score's), on threads that it keeps between them.

    Returns
    -------
    run : TrainingRun
    """
    held_out = None
    if validation is not None:
        held_out = held_out_evaluation(start.layout, *validation, executor, datafit)
    objective = Objective(
        start.layout, *train, settings.alpha, datafit=datafit, executor=executor
    )
    data = TrainingData(objective, train[0].shape[0], train, held_out)
    return TrainingRun(settings, start, data, callbacks)
