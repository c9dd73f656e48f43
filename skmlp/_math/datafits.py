"""Datafits: the loss of the network's outputs against the targets.

A datafit is the part of the objective that sees the targets. It works on
one block of rows laid out output-major (class-major for a classifier), as
the objective computes them (``z`` of shape ``(n_outputs, n_rows)``, one
column per row, see :func:`~skmlp._evaluation.blocks.block_sum`), and
declares these methods:

``block_targets(y, n_outputs, dtype)``
    The targets of one block of rows, in the form that ``loss`` reads
    fastest, in the objective's ``dtype``; made once per block when the
    objective's rows are set.
``loss(z, targets, weight, error=None, work=None)``
    ``sum_i weight_i l(z_i, y_i)`` over the block, ``z`` overwritten; with
    ``error``, also writes ``dl_i / dz_i`` (unweighted) into it.
``log_proba(z, work)``
    The outputs as ``predict`` reads them, in place: the log-probabilities
    of a classifier's outputs; a regressor's predicted targets (the output
    activation applied).
``overflowed(log_proba)``
    Whether outputs made by ``log_proba`` overflowed: a NaN for a
    classifier, whose log-probabilities may be ``-inf`` by right (a
    probability that underflowed to 0); any value that is not finite for
    a regressor, whose predictions are finite numbers or nothing.
``predict(log_proba, classes)``
    The predicted targets of rows of ``log_proba``, in ``classes`` (which a
    regressor has none of).
``held_out_loss(log_proba, y, weight)``
    ``sum_i weight_i l_i`` of rows whose predictions are already made
    (``log_proba``, one row per row of ``y``, as ``predict`` reads them):
    the loss of held-out rows, which the training loop scores with the same
    forward pass as their score.
``held_out_score(log_proba, y, weight)``
    The score of those rows, as the estimator's ``score`` gives it: the
    accuracy of a classifier, the R² of a regressor.
``chance_loss(n_outputs, y, weight)``
    The weighted mean loss of the rows ``y`` (as ``block_targets`` takes
    them) predicted without looking at the inputs: at chance level for
    classes, which needs ``n_outputs`` only (rows on a Dask cluster give
    ``y`` and ``weight`` as None); by the targets' weighted mean for a
    regressor. The floor of the training loop's divergence rule.
``intercept_only(y, weight, n_rows=None)``
    The output intercepts that predict the rows ``y`` best without looking
    at the inputs (scikit-learn's ``fit_intercept_only`` of its losses), for
    a regressor's initial output layer: the training starts at the weighted
    mean, not at a distance of the targets' scale from it; None for a
    classifier, whose drawn intercepts are kept. ``n_rows`` is the number
    of rows that ``y`` stands for (rows on a Dask cluster give one row,
    their mean), by default :func:`rows_weighed` of ``weight``.
``loss_bound(low, high)``
    The largest loss of a row whose outputs lie between ``low`` and
    ``high`` (vectors of ``n_outputs``), whatever its target: with the
    range of the outputs over the rows, a bound on the loss that spares a
    forward pass (``Objective.loss_bound``); ``inf`` where targets are not
    bounded (a regressor's), and the pass is then made.

and ``out_activation``, the output layer's name in ``MLPClassifier``'s or
``MLPRegressor``'s ``out_activation_``.

``work`` is a pair of scratch arrays of the shapes of ``z`` and of one
row (the first may be ``error`` itself). :class:`SoftmaxCrossEntropy` is
the datafit of one label per row; :class:`MultilabelLogistic`, of indicator
targets; :class:`SquaredError` and :class:`PoissonDeviance`, of real
targets (one column per output); all declare the same methods.
"""

import math

import numpy as np
from scipy.special import xlogy
from sklearn.metrics import r2_score

from .activations import log_softmax_inplace, softplus_inplace


class SoftmaxCrossEntropy:
    """Softmax outputs and the cross-entropy of one label per row.

    With ``p = softmax(z)``, row ``i`` of label ``y_i`` costs
    ``l_i = -log p_{y_i}``, and ``dl_i / dz = p - onehot(y_i)``: the
    collapse of the softmax's Jacobian derived in the user guide ("The
    gradient, step by step", step 1).
    """

    out_activation = "softmax"

    def block_targets(self, y, n_outputs, dtype):
        """Where each row's own class lies in the block's flattened
        ``(n_outputs, n_rows)`` array, so that one fancy index picks the
        log-probabilities of all the rows' classes; and the one-hot labels
        in that layout, which the error takes off in one pass, cheaper than
        a fancy index that writes (docs/performance.md, "Costs behind the
        code's choices")."""
        n_rows = len(y)
        index = np.asarray(y) * n_rows + np.arange(n_rows)
        onehot = np.zeros((n_outputs, n_rows), dtype)
        onehot.reshape(-1)[index] = 1
        return index, onehot

    def loss(self, z, targets, weight, error=None, work=None):
        # The softmax, a by-product of the log-softmax, goes straight into
        # ``error``, which then only needs the one-hot labels taken off.
        index, onehot = targets
        proba, column = work
        log_proba = log_softmax_inplace(z, proba if error is None else error, column)
        loss = -float(np.dot(weight, log_proba.reshape(-1)[index]))
        if error is not None:
            np.subtract(error, onehot, out=error)
        return loss

    def log_proba(self, z, work):
        return log_softmax_inplace(z, *work)

    def overflowed(self, log_proba):
        """A NaN: the log-softmax of finite logits is finite or -inf."""
        return _has_nan(log_proba)

    def intercept_only(self, y, weight, n_rows=None):
        """None: a classifier starts from its drawn intercepts."""
        return None

    def chance_loss(self, n_outputs, y, weight):
        """The loss of a row predicted as uniform over its ``n_outputs``
        classes, ``log(n_outputs)``: the divergence rule's floor.

        With one class the loss is 0 whatever the weights, and only the
        penalty trains: the floor is then two classes' ``log 2``. At 0, a
        warm start's penalty of 1e-55 (weights already shrunk to nothing)
        rising to 4e-22 in the first trial of the automatic step was called
        a divergence.
        """
        return math.log(max(n_outputs, 2))

    def loss_bound(self, low, high):
        """``-log p_y = logsumexp(z) - z_y``: the sum at every output's
        highest, less the lowest of all the outputs. (``logaddexp.reduce``
        computes scipy's ``logsumexp`` of one short vector without its
        per-call overhead, which showed on tiny fits: this runs once per
        call of ``fit``; docs/performance.md, "Costs behind the code's
        choices".)"""
        return float(np.logaddexp.reduce(high) - np.min(low))

    def predict(self, log_proba, classes):
        """The most probable class of each row."""
        return classes[np.argmax(log_proba, axis=1)]

    def held_out_loss(self, log_proba, y, weight):
        """``-sum_i weight_i log p_{y_i}``, ``y`` the rows' class indices."""
        return -float(np.dot(weight, log_proba[np.arange(len(y)), y]))

    def held_out_score(self, log_proba, y, weight):
        """The weighted accuracy, as ``accuracy_score`` gives it."""
        return _accuracy(
            self.predict(log_proba, np.arange(log_proba.shape[1])), y, weight
        )


class MultilabelLogistic:
    """Logistic outputs and the binary cross-entropy summed over labels.

    For indicator targets (one column per label, 0 or 1), with
    ``p = sigmoid(z)``, row ``i`` costs
    ``l_i = -sum_k y_ik log p_ik + (1 - y_ik) log(1 - p_ik)``, which is
    ``sum_k softplus(z_ik) - y_ik z_ik`` without overflow, and
    ``dl_i / dz = p_i - y_i``: ``MLPClassifier``'s loss for multilabel
    targets.
    """

    out_activation = "logistic"

    def block_targets(self, y, n_outputs, dtype):
        """The indicator matrix of the block, class-major as ``z``."""
        return np.ascontiguousarray(np.asarray(y).T, dtype=dtype)

    def loss(self, z, targets, weight, error=None, work=None):
        # sum_k y_k z_k of every row, before z is overwritten.
        label_terms = np.einsum("kn,kn->n", targets, z)
        softplus_inplace(z, np.empty_like(z), error)
        loss = float(np.dot(weight, np.sum(z, axis=0) - label_terms))
        if error is not None:
            # softplus_inplace wrote sigmoid(z) into it.
            error -= targets
        return loss

    def log_proba(self, z, work):
        # log(sigmoid(z)) = -softplus(-z), in place.
        np.negative(z, out=z)
        softplus_inplace(z, work[0])
        return np.negative(z, out=z)

    def overflowed(self, log_proba):
        """A NaN: ``-softplus(-z)`` of finite logits is finite or -inf."""
        return _has_nan(log_proba)

    def intercept_only(self, y, weight, n_rows=None):
        """None: a classifier starts from its drawn intercepts."""
        return None

    def chance_loss(self, n_outputs, y, weight):
        """The loss of a row whose ``n_outputs`` labels are each predicted
        with probability 1/2, ``n_outputs * log(2)``: the divergence rule's
        floor."""
        return n_outputs * math.log(2.0)

    def loss_bound(self, low, high):
        """Each label costs ``softplus(z)`` if absent and ``softplus(-z)``
        if present: at most the larger of the two at the ends of its
        range."""
        return float(np.sum(np.maximum(np.logaddexp(0, high), np.logaddexp(0, -low))))

    def predict(self, log_proba, classes):
        """The indicator matrix of the labels of probability above 0.5, as
        ``MLPClassifier`` (through ``LabelBinarizer``) predicts them: ints,
        one column per label of ``classes``."""
        return np.array(np.exp(log_proba) > 0.5, dtype=int)

    def held_out_loss(self, log_proba, y, weight):
        """The binary cross-entropy from ``log p``: ``log(1 - p)`` is
        ``log(-expm1(log p))``, which keeps its digits when ``p`` is near 1,
        where ``log(1 - exp(log p))`` would cancel. Only a logit so large
        (above about 745 in float64) that ``log p = -softplus(-z)``
        rounds to 0 makes an absent label cost ``inf``; the training loss,
        computed from the logits, has no such limit."""
        log_absent = np.log(-np.expm1(log_proba))
        row_losses = -np.sum(y * log_proba + (1 - y) * log_absent, axis=1)
        return float(np.dot(weight, row_losses))

    def held_out_score(self, log_proba, y, weight):
        """The weighted subset accuracy: a row counts if all its labels are
        right."""
        return _accuracy(
            self.predict(log_proba, np.arange(log_proba.shape[1])), y, weight
        )


def _accuracy(predicted, y, weight):
    correct = predicted == y
    if correct.ndim == 2:
        correct = correct.all(axis=1)
    return float(np.average(correct, weights=weight))


class SquaredError:
    """Identity outputs and half the squared error, averaged over outputs.

    For real targets (one column per output, ``n_outputs = K``), row ``i``
    costs ``l_i = ||z_i - y_i||^2 / (2 K)`` and ``dl_i / dz = (z_i - y_i) /
    K``: with the weighted mean over the rows, half the mean squared error
    over rows and outputs, ``MLPRegressor``'s ``'squared_error'`` as its
    ``loss_`` reports it (scikit-learn's ``squared_loss`` averages over the
    outputs too; its gradient, though, is that of the sum, ``K`` times
    this one's).
    """

    out_activation = "identity"

    def block_targets(self, y, n_outputs, dtype):
        """The targets of the block, output-major as ``z``."""
        return _output_major(y, n_outputs, dtype)

    def loss(self, z, targets, weight, error=None, work=None):
        residual = np.subtract(z, targets, out=z if error is None else error)
        n_outputs = len(residual)
        row_sums = np.einsum("kn,kn->n", residual, residual)
        if error is not None and n_outputs > 1:
            residual /= n_outputs
        return float(np.dot(weight, row_sums)) / (2 * n_outputs)

    def log_proba(self, z, work):
        # The identity: the outputs are the predictions.
        return z

    def overflowed(self, log_proba):
        """Any prediction that is not finite (an output of ``inf`` as well
        as a NaN): it predicts no target."""
        return _has_non_finite(log_proba)

    def intercept_only(self, y, weight, n_rows=None):
        """The targets' weighted mean, output by output."""
        y = np.reshape(np.asarray(y, np.float64), (len(y), -1))
        return np.average(y, axis=0, weights=weight)

    def chance_loss(self, n_outputs, y, weight):
        """The loss of predicting every row's targets by their weighted
        mean over the rows: the weighted variance of the targets, averaged
        over outputs, halved."""
        y = np.reshape(np.asarray(y, np.float64), (len(y), -1))
        # Targets beyond about 1e154 overflow the square: the chance level
        # is then inf, and the divergence rule reports the fit's first
        # non-finite loss, with its advice to scale the targets, rather
        # than NumPy warning of an overflow here.
        with np.errstate(over="ignore", invalid="ignore"):
            residual = y - np.average(y, axis=0, weights=weight)
            squares = np.sum(residual**2, axis=1)
            # (A row of weight 0 whose square is inf would make it NaN.)
            chance = float(np.average(squares, weights=weight)) / (2 * y.shape[1])
        return chance if math.isfinite(chance) else math.inf

    def loss_bound(self, low, high):
        """Unbounded: a target can be anywhere."""
        return math.inf

    def predict(self, log_proba, classes):
        """The outputs themselves, one column per target."""
        return log_proba

    def held_out_loss(self, log_proba, y, weight):
        """``sum_i weight_i ||p_i - y_i||^2 / (2 K)``, ``p`` the
        predictions."""
        residual = log_proba - np.reshape(y, log_proba.shape)
        row_sums = np.sum(residual**2, axis=1)
        return float(np.dot(weight, row_sums)) / (2 * log_proba.shape[1])

    def held_out_score(self, log_proba, y, weight):
        """The weighted R², averaged over outputs, as ``r2_score`` gives
        it."""
        return _r2(log_proba, y, weight)


class PoissonDeviance:
    """Exponential outputs (a log link) and half the Poisson deviance.

    For non-negative targets, with the predicted mean ``mu = exp(z)``, row
    ``i`` costs ``l_i = sum_k y_ik log(y_ik / mu_ik) - y_ik + mu_ik``,
    which is ``sum_k exp(z_ik) - y_ik z_ik + (y_ik log y_ik - y_ik)`` (with
    ``0 log 0 = 0``), and ``dl_i / dz = exp(z_i) - y_i``: ``MLPRegressor``'s
    ``'poisson'`` (scikit-learn's ``poisson_loss``, summed over outputs,
    the constant term included).
    """

    out_activation = "exp"

    def block_targets(self, y, n_outputs, dtype):
        """The targets of the block, output-major as ``z``, and each row's
        constant term ``sum_k y_k log y_k - y_k``, which does not depend on
        the outputs and is added once per evaluation."""
        targets = _output_major(y, n_outputs, dtype)
        constant = np.sum(xlogy(targets, targets) - targets, axis=0)
        return targets, constant

    def loss(self, z, targets, weight, error=None, work=None):
        targets, constant = targets
        # sum_k y_k z_k of every row, before z is overwritten.
        label_terms = np.einsum("kn,kn->n", targets, z)
        mean = np.exp(z, out=z if error is None else error)
        loss = float(np.dot(weight, np.sum(mean, axis=0) - label_terms + constant))
        if error is not None:
            error -= targets
        return loss

    def log_proba(self, z, work):
        # The inverse of the log link: the predicted means.
        return np.exp(z, out=z)

    def overflowed(self, log_proba):
        """Any predicted mean that is not finite: ``exp`` of an output past
        the dtype's range is ``inf``, not a mean."""
        return _has_non_finite(log_proba)

    def intercept_only(self, y, weight, n_rows=None):
        """The log of the targets' weighted mean, output by output.

        An output whose targets are all 0 has the best intercept ``-inf``.
        It starts where half an event among its ``n`` rows would put it
        (:func:`rows_weighed`), at ``log(1 / (2 n))``: the mean of a Poisson
        rate after ``n`` rows with no event under Jeffreys's prior, which
        is what those rows tell of the rate. It used to start at the log of
        the smallest normal float32 (-87), a mean of 0 to rounding, from
        which a gradient of ``exp(z) - y`` climbs by a step's worth of
        ``y`` at a time: a ``partial_fit`` whose first chunk held no event
        predicted 1e-35 for the rest of the chunks, and a later chunk of
        events could be taken for a divergence.
        """
        y = np.reshape(np.asarray(y, np.float64), (len(y), -1))
        mean = np.average(y, axis=0, weights=weight)
        if n_rows is None:
            n_rows = rows_weighed(weight)
        return np.log(np.where(mean > 0, mean, 0.5 / n_rows))

    def chance_loss(self, n_outputs, y, weight):
        """The loss of predicting every row's targets by their weighted
        mean over the rows.

        Rows of weight 0 are left out: an output whose only positive
        targets weigh 0 has the mean 0, and their ``y log 0 = -inf`` times
        the weight 0 made the floor NaN (with NumPy's warning), which
        switched the divergence rule's threshold off.
        """
        y = np.reshape(np.asarray(y, np.float64), (len(y), -1))
        kept = np.asarray(weight) > 0
        y, weight = y[kept], np.asarray(weight)[kept]
        mean = np.average(y, axis=0, weights=weight)
        row_losses = np.sum(xlogy(y, y) - xlogy(y, mean) - y + mean, axis=1)
        return float(np.average(row_losses, weights=weight))

    def loss_bound(self, low, high):
        """Unbounded: a target can be anywhere above 0."""
        return math.inf

    def predict(self, log_proba, classes):
        """The predicted means, one column per target."""
        return log_proba

    def held_out_loss(self, log_proba, y, weight):
        """``sum_i weight_i l_i`` from the predicted means ``mu``: ``inf``
        where a mean rounds to 0 below a positive target."""
        y = np.reshape(y, log_proba.shape)
        with np.errstate(divide="ignore"):
            row_losses = np.sum(
                xlogy(y, y) - xlogy(y, log_proba) - y + log_proba, axis=1
            )
        return float(np.dot(weight, row_losses))

    def held_out_score(self, log_proba, y, weight):
        """The weighted R², averaged over outputs, as ``r2_score`` gives
        it (``MLPRegressor`` scores early stopping by it whatever its
        loss)."""
        return _r2(log_proba, y, weight)


def rows_weighed(weight, total=None, n_positive=None):
    """The number of rows that rows of weights ``weight`` stand for: the
    weights' sum, as integer weights are repeated rows (scikit-learn's
    convention, which ``check_estimator`` tests), but at least the number
    of rows of positive weight, so that weights of a small scale (summing
    to 1, say) still count each row they weigh. ``total`` and
    ``n_positive`` give the two counts instead (rows on a Dask cluster).

    It counted the rows of positive weight only, so that a Poisson output
    without events started at another intercept with weights of 2 than
    with its rows repeated twice."""
    if total is None:
        weight = np.asarray(weight, np.float64)
        total, n_positive = weight.sum(), np.count_nonzero(weight)
    return max(float(total), float(n_positive))


def _has_nan(values):
    # One reduction: a NaN anywhere makes the sum NaN (and an inf that
    # meets a -inf only comes with outputs that are NaN already).
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isnan(np.sum(values)))


def _has_non_finite(values):
    # The sum is finite unless a value is not, or the sum itself overflows
    # (finite predictions near the dtype's largest): only then are the
    # values looked at one by one.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(values)
    return not np.isfinite(total) and not np.isfinite(values).all()


def _output_major(y, n_outputs, dtype):
    """Targets of shape ``(n_rows,)`` or ``(n_rows, n_outputs)`` as a
    contiguous ``(n_outputs, n_rows)`` array of ``dtype``."""
    y = np.reshape(np.asarray(y), (len(y), n_outputs))
    return np.ascontiguousarray(y.T, dtype=dtype)


def _r2(predicted, y, weight):
    """``r2_score`` of the outputs, averaged, but for outputs whose targets
    are constant on the rows that weigh: their R^2 is that of a constant
    output as ``r2_score`` defines it (1 if predicted exactly, else 0).

    ``r2_score`` tells a constant output only by a sum of squares that is
    exactly 0; where the targets' weighted mean does not round to them
    exactly (twenty 0.3s), the sum is a rounding of 1e-33, and the output's
    R^2 was noise of -1e31 that decided which epoch early stopping kept.
    """
    y = np.reshape(y, predicted.shape)
    scores = r2_score(y, predicted, sample_weight=weight, multioutput="raw_values")
    constant = constant_outputs(y, weight)
    if np.any(constant):
        rows = slice(None) if weight is None else weight > 0
        exact = (predicted == y)[rows].all(axis=0)
        scores = np.where(constant, np.where(exact, 1.0, 0.0), scores)
    return float(np.mean(scores))


def constant_outputs(y, weight):
    """Which outputs (columns of ``y``) are constant on the rows of positive
    ``weight`` (all rows if None): those R^2 does not score by their
    spread (:func:`_r2`), and that early stopping refuses to be scored by
    where the training targets vary."""
    rows = y if weight is None else y[weight > 0]
    return np.all(rows == rows[:1], axis=0)


def scaled_weights(weight):
    """``weight`` divided by the power of 2 that puts its largest in
    [1/2, 1): exactly, so that a weighted mean or a score computed from
    them has the same bits as from ``weight``, but their weighted sums of
    squares do not overflow where ``weight`` is huge (uniform weights of
    1e306 made R^2 NaN)."""
    return np.ldexp(weight, -np.frexp(np.max(weight))[1])


# The datafit of each output layer, by ``out_activation_``.
DATAFITS = {
    datafit.out_activation: datafit
    for datafit in (
        SoftmaxCrossEntropy,
        MultilabelLogistic,
        SquaredError,
        PoissonDeviance,
    )
}
