"""The history of a training run: its loss curve, validation scores and
stopping counters, and the record of any epoch of it."""

import operator
from collections import namedtuple

import numpy as np


class History:
    """Loss curve, stopping counters and validation scores of a training run.

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
        self.start_loss = None
        self.best_loss = np.inf
        self.best_validation_score = -np.inf
        self.best_theta = None
        self.no_improvement_count = 0
        self.n_iter = 0
        self.t = 0
        self.n_new_epochs = 0

    @classmethod
    def continuing(cls, estimator):
        """The history of a fitted ``estimator``, to go on with ``partial_fit``."""
        history = cls(estimator.early_stopping, estimator.tol)
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

    def record(self):
        """The scalars now, from which :meth:`attributes` rebuilds this epoch."""
        # tuple.__new__ skips the named tuple's own __new__, a Python call
        # paid at every epoch (docs/performance.md, "Costs behind the
        # code's choices").
        return tuple.__new__(History.Record, History._get_scalars(self))

    def attributes(self, record):
        """The fitted attributes of the epoch of ``record``."""
        loss_curve = self.loss_curve[: record.n_iter]
        attributes = {
            "loss_curve_": loss_curve,
            "loss_": loss_curve[-1],
            "n_iter_": record.n_iter,
            "t_": record.t,
            "_no_improvement_count": record.no_improvement_count,
            "best_loss_": None,
            "validation_scores_": None,
            "best_validation_score_": None,
        }
        if self.early_stopping:
            attributes["validation_scores_"] = self.validation_scores[
                : record.n_new_epochs
            ]
            attributes["best_validation_score_"] = record.best_validation_score
        else:
            attributes["best_loss_"] = record.best_loss
        return attributes
