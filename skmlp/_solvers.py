"""First-order solvers over a flat parameter vector.

A solver owns its update rule and its state (nothing else): ``step`` takes the
current iterate ``theta`` (updated in place) and an objective with
``value_and_gradient(theta)``, and returns the objective at the point where
the gradient was taken. The estimator only builds a solver and loops.
"""

import math


class GradientDescent:
    """Steepest descent with a fixed step: ``theta <- theta - lr * grad L(theta)``.

    Parameters
    ----------
    learning_rate : float
        The step size ``lr``.
    """

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def step(self, theta, objective):
        """One step from ``theta`` (in place); returns ``L(theta)`` before it."""
        loss, gradient = objective.value_and_gradient(theta)
        gradient *= self.learning_rate
        theta -= gradient
        return loss


class NesterovAcceleratedGradient:
    """Nesterov's accelerated gradient, as FISTA with no proximal term.

    With ``t_1 = 1`` and ``y_1 = x_0``, step ``k`` is::

        x_k     = y_k - lr * grad L(y_k)
        t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2
        y_{k+1} = x_k + ((t_k - 1) / t_{k+1}) * (x_k - x_{k-1})

    The gradient is always taken at the look-ahead point ``y_k``; the iterate
    kept (and returned to the user as the model) is ``x_k``. Since ``t_1 = 1``
    the first two steps carry no momentum.

    Parameters
    ----------
    learning_rate : float
        The step size ``lr``; at most ``1 / Lipschitz(grad L)`` for the
        convergence guarantee.

    Attributes
    ----------
    t : float
        ``t_k`` of the last step taken (0 before the first step).
    previous : ndarray or None
        ``x_{k-1}``, the iterate before the last step (None before the first).

    References
    ----------
    .. [1] Y. Nesterov, "A method for solving the convex programming problem
       with convergence rate O(1/k^2)", Soviet Math. Dokl. 27 (1983).
    .. [2] A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding
       algorithm for linear inverse problems", SIAM J. Imaging Sci. 2(1)
       (2009), 183-202.
    """

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.t = 0.0
        self.previous = None

    def step(self, theta, objective):
        """One step from ``x_{k-1} = theta`` to ``x_k`` (in place).

        Returns ``L(y_k)``, the objective where the gradient was taken.
        """
        if self.previous is None:
            t_next = 1.0
            lookahead = theta.copy()
        else:
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * self.t * self.t)) / 2.0
            lookahead = theta - self.previous
            lookahead *= (self.t - 1.0) / t_next
            lookahead += theta
        loss, gradient = objective.value_and_gradient(lookahead)
        gradient *= self.learning_rate
        lookahead -= gradient
        self.previous = theta.copy()
        theta[...] = lookahead
        self.t = t_next
        return loss
