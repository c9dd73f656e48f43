"""The automatic step against fixed steps: docs/solver_measurements.md, last section.

Drives the iterations itself over
``skmlp._evaluation.objective.Objective`` (full batch), with reference
implementations of gradient descent and FISTA that are first checked
against skmlp's own fixed-step solvers, step for step and bit for bit.
Counts the objective's evaluations and times the iterations of each run.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/auto_step_study.py --alpha 0 1e-4 \\
        --sets iris wine breast_cancer digits
    PYTHONPATH=$PWD python benchmarks/auto_step_study.py --alpha 0 --sets synthetic
    PYTHONPATH=$PWD python benchmarks/auto_step_study.py --sets --longer 350
    PYTHONPATH=$PWD python benchmarks/auto_step_study.py --sets \\
        --timing iris wine breast_cancer digits synthetic

The small sets take about two minutes; the synthetic set (60000 rows, 100
iterations, each evaluation 0.1 to 0.3 s) 5 to 15 minutes, and so does the
longer check, depending on the load of the machine.
"""

import argparse
import functools
import math
import platform
import time
import warnings

import numpy as np
import sklearn
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout
from skmlp._solvers.adaptive_step import AdaptiveStep
from skmlp._solvers.first_order import GradientDescent, NesterovAcceleratedGradient

GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


class Counted:
    """An objective that counts its evaluations."""

    def __init__(self, objective):
        self.objective = objective
        self.values = self.gradients = 0

    def value(self, theta):
        self.values += 1
        return self.objective.value(theta)

    def value_and_gradient(self, theta):
        self.gradients += 1
        return self.objective.value_and_gradient(theta)


class FixedStep:
    def __init__(self, step):
        self.step = step

    def next_step(self, point, gradient):
        return self.step


class BarzilaiBorwein:
    """The short Barzilai-Borwein step ``<dx, dg> / ||dg||^2``, at most doubling.

    Kept when ``<dx, dg> <= 0`` (negative curvature). The first step is the
    same short move as :class:`AdaptiveStep`'s.
    """

    def __init__(self):
        self.rule = AdaptiveStep()
        self.point = self.gradient = None

    def next_step(self, point, gradient):
        if self.point is None:
            step = self.rule.next_step(point, gradient)
        else:
            dx, dg = point - self.point, gradient - self.gradient
            curvature = float(dx @ dg)
            step = self.step
            if curvature > 0:
                step = min(curvature / float(dg @ dg), 2.0 * self.step)
        self.point, self.gradient, self.step = point.copy(), gradient.copy(), step
        return step


def gradient_descent(objective, theta, n_iter, rule):
    """``x <- x - s_k grad L(x)``; returns the loss where each gradient was taken."""
    x = theta.copy()
    losses = []
    for _ in range(n_iter):
        loss, gradient = objective.value_and_gradient(x)
        x -= rule.next_step(x, gradient) * gradient
        losses.append(loss)
    return np.array(losses)


def fista(objective, theta, n_iter, rule, restart):
    """FISTA with the gradient at the look-ahead point ``y_k``.

    The step ``s_k`` of ``x_k = y_k - s_k g(y_k)`` is known only once
    ``g(y_k)`` is, after ``y_k`` was built with ``t_k``: so ``t_k`` follows
    Scheinberg, Goldfarb and Bai's ``t_k (t_k - 1) = (s_{k-1} / s_k)
    t_{k-1}^2`` one step late, with the last two steps known,
    ``s_{k-2} / s_{k-1}`` (1 with a fixed step: plain FISTA).
    """
    x, previous, t = theta.copy(), None, 0.0
    steps = [None, None]
    losses = []
    for _ in range(n_iter):
        if previous is None:
            t_next, y = 1.0, x.copy()
        else:
            ratio = steps[0] / steps[1] if steps[0] else 1.0
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * ratio * t * t)) / 2.0
            y = x + ((t - 1.0) / t_next) * (x - previous)
        loss, gradient = objective.value_and_gradient(y)
        step = rule.next_step(y, gradient)
        steps = [steps[1], step]
        new = y - step * gradient
        restarted = restart == "gradient" and float(gradient @ (new - x)) > 0.0
        previous, x = x, new
        t = 1.0 if restarted else t_next
        losses.append(loss)
    return np.array(losses)


def skmlp_solver(objective, theta, n_iter, solver):
    x = theta.copy()
    return np.array([solver.step(x, objective) for _ in range(n_iter)]), x


def check_references(objective, theta):
    """The reference loops are skmlp's fixed-step solvers, to the bit."""
    for lr in (0.1, 3.0):
        ours = gradient_descent(objective, theta, 30, FixedStep(lr))
        theirs, _ = skmlp_solver(objective, theta, 30, GradientDescent(lr))
        np.testing.assert_array_equal(ours, theirs)
        for restart in (None, "gradient"):
            ours = fista(objective, theta, 30, FixedStep(lr), restart)
            solver = NesterovAcceleratedGradient(lr, restart)
            theirs, _ = skmlp_solver(objective, theta, 30, solver)
            np.testing.assert_array_equal(ours, theirs)


def data_sets(names):
    for name, loader in [
        ("iris", load_iris),
        ("wine", load_wine),
        ("breast_cancer", load_breast_cancer),
        ("digits", load_digits),
    ]:
        if name in names:
            X, y = loader(return_X_y=True)
            yield name, StandardScaler().fit_transform(X), y, (16,), 350
    if "synthetic" in names:
        X, y = make_classification(
            60000, 50, n_informative=30, n_redundant=10, n_classes=5, random_state=0
        )
        yield "synthetic", StandardScaler().fit_transform(X), y, (100,), 100


def measure(objective, theta, n_iter, run, rule):
    """Final loss, evaluations per iteration (loss, gradient), and the rises
    of the loss from one iteration to the next (how many, the largest)."""
    counted = Counted(objective)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow of large steps
        losses = run(counted, theta, n_iter, rule)
    loss = losses[-1] if np.isfinite(losses[-1]) else math.inf
    rises = np.diff(losses)
    rises = rises[rises > 0]
    return (
        loss,
        counted.values / n_iter,
        counted.gradients / n_iter,
        (len(rises), rises.max() if len(rises) else 0.0),
    )


def seconds_per_iteration(objective, theta, n_iter, run, make_rule, repeats):
    """The least over ``repeats`` runs: the machine is shared, noise only adds."""
    best = math.inf
    for _ in range(repeats):
        rule = make_rule()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            run(objective, theta, n_iter, rule)
        best = min(best, time.perf_counter() - start)
    return best / n_iter


def rule_seconds(n_params, curvature_factor, repeats=5, calls=200):
    """The rule's own time per call on vectors of ``n_params``: what it adds
    to an iteration, measured apart from the noise of the evaluations."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((calls, n_params))
    gradients = rng.standard_normal((calls, n_params))
    best = math.inf
    for _ in range(repeats):
        rule = AdaptiveStep(curvature_factor)
        start = time.perf_counter()
        for point, gradient in zip(points, gradients):
            rule.next_step(point, gradient)
        best = min(best, time.perf_counter() - start)
    return best / calls


def fmt(loss):
    return "diverged" if not math.isfinite(loss) else f"{loss:.3g}"


def ratio(loss, best):
    """``loss / best``; both at rounding level (below 1e-12) counts as 1."""
    if not math.isfinite(loss):
        return math.inf
    if loss <= 1e-12 and best <= 1e-12:
        return 1.0
    return loss / best if best > 0 else math.inf


SOLVERS = [
    ("gd", None, "c=2"),
    ("nag", "gradient", "c=1"),
    ("nag", None, "c=2"),
]


def study(alpha, names):
    print(f"\n### alpha = {alpha}\n")
    print(
        "| data | solver | restart | iterations | best fixed step (loss) | "
        "AdGD c=2 | AdGD c=1 | BB short | backtracking | "
        "chosen / best | evaluations per iteration: fixed, chosen, backtracking "
        "(loss + gradient) | time per iteration, chosen / fixed | "
        "the rule's own time per iteration | loss rises, best fixed step and "
        "chosen rule: how many (largest) |"
    )
    print("|---" * 14 + "|")
    for name, X, y, hidden, n_iter in data_sets(names):
        repeats = 1 if name == "synthetic" else 5
        layout = ParameterLayout((X.shape[1], *hidden, len(np.unique(y))))
        objective = Objective(layout, X, y, np.ones(len(y)), alpha)
        theta = layout.initialize(check_random_state(0), np.float64)
        if name == "iris":
            check_references(objective, theta)
        for solver, restart, chosen in SOLVERS:
            if solver == "gd":

                def run(objective, theta, n_iter, rule):
                    return gradient_descent(objective, theta, n_iter, rule)

                def today():
                    return GradientDescent("auto")
            else:

                def run(objective, theta, n_iter, rule, restart=restart):
                    return fista(objective, theta, n_iter, rule, restart)

                def today(restart=restart):
                    return NesterovAcceleratedGradient("auto", restart)

            grid = {
                lr: measure(objective, theta, n_iter, run, FixedStep(lr)) for lr in GRID
            }
            best = min(GRID, key=lambda lr: grid[lr][0])
            rules = {
                "c=2": measure(objective, theta, n_iter, run, AdaptiveStep(2.0)),
                "c=1": measure(objective, theta, n_iter, run, AdaptiveStep(1.0)),
                "bb": measure(objective, theta, n_iter, run, BarzilaiBorwein()),
            }
            counted = Counted(objective)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                losses, _ = skmlp_solver(counted, theta, n_iter, today())
            backtracking = (
                losses[-1],
                counted.values / n_iter,
                counted.gradients / n_iter,
            )
            mine, fixed = rules[chosen], grid[best]
            factor = {"c=2": 2.0, "c=1": 1.0}[chosen]
            seconds = [
                seconds_per_iteration(objective, theta, n_iter, run, make, repeats)
                for make in (
                    functools.partial(FixedStep, best),
                    functools.partial(AdaptiveStep, factor),
                )
            ]
            print(
                f"| {name} | {solver} | {restart} | {n_iter} | "
                f"{best} ({fmt(fixed[0])}) | {fmt(rules['c=2'][0])} | "
                f"{fmt(rules['c=1'][0])} | {fmt(rules['bb'][0])} | "
                f"{fmt(backtracking[0])} | {chosen}: "
                f"{ratio(mine[0], fixed[0]):.3g} | "
                f"{fixed[1]:.2f} + {fixed[2]:.2f}, {mine[1]:.2f} + {mine[2]:.2f}, "
                f"{backtracking[1]:.2f} + {backtracking[2]:.2f} | "
                f"{seconds[1] / seconds[0]:.2f} ({1e3 * seconds[0]:.3g} ms) | "
                f"{1e6 * rule_seconds(layout.n_params, factor):.3g} us | "
                f"{fixed[3][0]} ({fixed[3][1]:.2g}), {mine[3][0]} ({mine[3][1]:.2g}) |",
                flush=True,
            )


def longer_synthetic(n_iter):
    """The chosen rules against the best fixed steps of the 100-iteration
    grid, over more iterations (the whole grid would take hours)."""
    print(f"\n### Synthetic set, {n_iter} iterations, alpha = 0\n")
    print(
        "| solver | fixed step | iteration | fixed step's loss | rule's loss | ratio |"
    )
    print("|---|---|---|---|---|---|")
    ((_, X, y, hidden, _),) = data_sets(["synthetic"])
    layout = ParameterLayout((X.shape[1], *hidden, len(np.unique(y))))
    objective = Objective(layout, X, y, np.ones(len(y)), 0.0)
    theta = layout.initialize(check_random_state(0), np.float64)
    for solver, step, factor in [("gd", 3.0, 2.0), ("nag", 1.0, 1.0)]:
        if solver == "gd":
            fixed = gradient_descent(objective, theta, n_iter, FixedStep(step))
            rule = gradient_descent(objective, theta, n_iter, AdaptiveStep(factor))
        else:
            fixed = fista(objective, theta, n_iter, FixedStep(step), "gradient")
            rule = fista(objective, theta, n_iter, AdaptiveStep(factor), "gradient")
        for k in sorted({100, n_iter // 2, n_iter}):
            print(
                f"| {solver} | {step} | {k} | {fixed[k - 1]:.3g} | {rule[k - 1]:.3g} "
                f"| {rule[k - 1] / fixed[k - 1]:.3g} |",
                flush=True,
            )


def timing(names, n_iter=20, repeats=7):
    """Time per iteration, rule against fixed step, interleaved runs.

    Short runs taken in turns, the least of ``repeats`` each: a load that
    comes and goes on the shared machine then hits both alike.
    """
    print(f"\n### Time per iteration ({n_iter} iterations, least of {repeats})\n")
    print("| data | solver | fixed step | rule | ratio |")
    print("|---|---|---|---|---|")
    for name, X, y, hidden, _ in data_sets(names):
        layout = ParameterLayout((X.shape[1], *hidden, len(np.unique(y))))
        objective = Objective(layout, X, y, np.ones(len(y)), 0.0)
        theta = layout.initialize(check_random_state(0), np.float64)
        for solver, factor in [("gd", 2.0), ("nag", 1.0)]:
            if solver == "gd":
                run = gradient_descent
            else:
                run = _fista_gradient_restart
            best = [math.inf, math.inf]
            for _ in range(repeats):
                for i, make in enumerate(
                    (
                        functools.partial(FixedStep, 0.1),
                        functools.partial(AdaptiveStep, factor),
                    )
                ):
                    seconds = seconds_per_iteration(
                        objective, theta, n_iter, run, make, 1
                    )
                    best[i] = min(best[i], seconds)
            print(
                f"| {name} | {solver} | {1e3 * best[0]:.3g} ms | "
                f"{1e3 * best[1]:.3g} ms | {best[1] / best[0]:.3f} |",
                flush=True,
            )


def _fista_gradient_restart(objective, theta, n_iter, rule):
    return fista(objective, theta, n_iter, rule, "gradient")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.0])
    parser.add_argument(
        "--sets",
        nargs="*",
        default=["iris", "wine", "breast_cancer", "digits", "synthetic"],
    )
    parser.add_argument(
        "--longer",
        type=int,
        default=0,
        help="then the chosen rules on the synthetic set over this many iterations",
    )
    parser.add_argument(
        "--timing", nargs="*", default=[], help="then time these sets, interleaved"
    )
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, Python "
        f"{platform.python_version()}, NumPy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, {platform.machine()}"
    )
    for alpha in args.alpha if args.sets else ():
        study(alpha, args.sets)
    if args.longer:
        longer_synthetic(args.longer)
    if args.timing:
        timing(args.timing)


if __name__ == "__main__":
    main()
