"""Datafits: the loss of the network's outputs against the targets.

A datafit is the part of the objective that sees the targets. It works on
one block of rows laid out class-major, as the objective computes them
(``z`` of shape ``(n_outputs, n_rows)``, one column per row, see
:func:`~skmlp._evaluation.blocks.block_sum`), and declares these methods:

``block_targets(y, n_outputs, dtype)``
    The targets of one block of rows, in the form that ``loss`` reads
    fastest, in the objective's ``dtype``; made once per block when the
    objective's rows are set.
``loss(z, targets, weight, error=None, work=None)``
    ``sum_i weight_i l(z_i, y_i)`` over the block, ``z`` overwritten; with
    ``error``, also writes ``dl_i / dz_i`` (unweighted) into it.
``log_proba(z, work)``
    The log-probabilities of the outputs, in place, for predictions.
``predict(log_proba, classes)``
    The predicted targets of rows of log-probabilities, in ``classes``.
``held_out_loss(log_proba, y, weight)``
    ``sum_i weight_i l_i`` of rows whose predictions are already made
    (``log_proba``, one row per row of ``y``, as ``predict`` reads them):
    the loss of held-out rows, which the training loop scores with the same
    forward pass as their accuracy.
``chance_loss(n_outputs)``
    The loss of one row predicted at chance level, the floor of the
    training loop's divergence rule.
``loss_bound(low, high)``
    The largest loss of a row whose outputs lie between ``low`` and
    ``high`` (vectors of ``n_outputs``), whatever its target: with the
    range of the outputs over the rows, a bound on the loss that spares a
    forward pass (``Objective.loss_bound``).

and ``out_activation``, the output layer's name in ``MLPClassifier``'s
``out_activation_``.

``work`` is a pair of scratch arrays of the shapes of ``z`` and of one
row (the first may be ``error`` itself). :class:`SoftmaxCrossEntropy` is
the datafit of one label per row; :class:`MultilabelLogistic`, of indicator
targets, declares the same methods.
"""

import math

import numpy as np

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

    def chance_loss(self, n_outputs):
        """The loss of a row predicted as uniform over its ``n_outputs``
        classes, ``log(n_outputs)``: the divergence rule's floor."""
        return math.log(n_outputs)

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

    def chance_loss(self, n_outputs):
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


# The datafit of each output layer, by ``out_activation_``.
DATAFITS = {
    datafit.out_activation: datafit
    for datafit in (SoftmaxCrossEntropy, MultilabelLogistic)
}
