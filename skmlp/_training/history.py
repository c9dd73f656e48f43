"""The history of a training run: its loss curve, validation scores and
losses, and stopping counters, and the record of any epoch of it.

It knows nothing of the estimator: a fitted model's history comes in, and
an epoch's goes out, as a :class:`State` of plain values."""

import operator
from collections import namedtuple
from typing import NamedTuple

import numpy as np


class History:
    """Loss curve, stopping counters and validation scores and losses of a
    training run.

    The curves only grow, so a :meth:`record` of the scalars is enough to
    give back the history of any earlier epoch.

    Parameters
    ----------
    early_stopping : bool
        Whether validation scores, not the loss, decide when to stop.
    tol : float
        The improvement that resets the count of epochs without one.
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
    _get_scalars = operator.attrgetter(*_SCALARS)
    Record = namedtuple("Record", _SCALARS)

    def __init__(self, early_stopping, tol):
        self.early_stopping = early_stopping
        self.tol = tol
        self.loss_curve = []
        self.validation_scores = [] if early_stopping else None
        self.validation_loss_curve = [] if early_stopping else None
        self.start_loss = None
        self.best_loss = np.inf
        self.best_validation_score = -np.inf
        self.best_theta = None
        self.no_improvement_count = 0
        self.n_iter = 0
        self.t = 0
        self.n_new_epochs = 0

    @classmethod
    def continuing(cls, state, early_stopping, tol):
        """The history that goes on from ``state``, a :class:`State` (the
        estimator gives the one of its fitted model, for ``partial_fit``)."""
        history = cls(early_stopping, tol)
        history.loss_curve = list(state.loss_curve)
        history.start_loss = state.loss_curve[0]
        # None after a fit with early stopping, which tracked accuracy.
        history.best_loss = (
            min(state.loss_curve) if state.best_loss is None else state.best_loss
        )
        history.no_improvement_count = state.no_improvement_count
        history.n_iter = state.n_iter
        history.t = state.t
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

    def add_validation(self, score, loss, theta):
        """Record the validation ``score`` and ``loss`` of ``theta``, the
        epoch's point; the score alone decides when to stop, and which
        epoch's ``theta`` is the best (as ``MLPClassifier``'s)."""
        self.validation_scores.append(score)
        self.validation_loss_curve.append(loss)
        # A score of -inf or NaN (the R² of predictions that overflow) is
        # no improvement: it does not reset the count (a NaN compares False).
        if not (score > -np.inf and score >= self.best_validation_score + self.tol):
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        if score > self.best_validation_score:
            self.best_validation_score = score
            self.best_theta = theta.copy()

    def should_stop(self, n_iter_no_change):
        return self.no_improvement_count > n_iter_no_change

    def record(self):
        """The scalars now, from which :meth:`state` rebuilds this epoch."""
        # tuple.__new__ skips the named tuple's own __new__, a Python call
        # paid at every epoch (docs/performance.md, "Costs behind the
        # code's choices").
        return tuple.__new__(History.Record, History._get_scalars(self))

    def state(self, record):
        """The :class:`State` of the epoch of ``record``: new lists, which
        later epochs do not change."""
        return State(
            loss_curve=self.loss_curve[: record.n_iter],
            validation_scores=(
                self.validation_scores[: record.n_new_epochs]
                if self.early_stopping
                else None
            ),
            validation_loss_curve=(
                self.validation_loss_curve[: record.n_new_epochs]
                if self.early_stopping
                else None
            ),
            best_loss=None if self.early_stopping else record.best_loss,
            best_validation_score=(
                record.best_validation_score if self.early_stopping else None
            ),
            no_improvement_count=record.no_improvement_count,
            n_iter=record.n_iter,
            t=record.t,
        )


class State(NamedTuple):
    """The history of an epoch in plain values: what a fitted model keeps
    of it, and what a later ``partial_fit`` goes on from
    (:meth:`History.continuing`). The estimator alone names its fitted
    attributes after these.

    ``loss_curve`` has the loss of every epoch since the fit began (over
    ``partial_fit`` calls); ``validation_scores`` those of this call's
    epochs with early stopping (None without it), and
    ``validation_loss_curve`` the validation loss of the same epochs (the
    datafit's weighted mean, without the penalty). ``best_loss`` is None
    with early stopping, ``best_validation_score`` None without.
    ``n_iter`` counts the epochs, ``t`` the training rows the solver saw.
    """

    loss_curve: list
    validation_scores: list | None
    best_loss: float | None
    best_validation_score: float | None
    no_improvement_count: int
    n_iter: int
    t: int
    # Last, with a default: a State made without it (a fitted model saved
    # before it existed, see fitted_history) has none.
    validation_loss_curve: list | None = None
