"""``python -m skmlp``: the GD vs NAG study on the embedded Iris data.

Trains each solver with the study's settings (16 softplus units, learning
rate 0.01, 350 iterations, no penalty) on a stratified hold-out split of the
standardised Iris data, prints a table, writes each fitted pipeline with
joblib into the output folder and, next to them, the study's figure: training
loss and test accuracy per iteration of every solver.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._mlp import SoftplusMLPClassifier
from ._plot import plot_study, score_curve


def build_parser():
    """The command-line options of ``python -m skmlp``."""
    parser = argparse.ArgumentParser(
        prog="python -m skmlp",
        description=(
            "Train SoftplusMLPClassifier with gradient descent and Nesterov's "
            "accelerated gradient on Iris (4 features, 3 classes), print a "
            "comparison table, export the models with joblib and plot the "
            "training loss and test accuracy per iteration (PNG)."
        ),
    )
    parser.add_argument(
        "--hidden", type=int, default=16, help="hidden units (default: 16)"
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=0.01,
        help="learning_rate_init (default: 0.01)",
    )
    parser.add_argument(
        "--max-iter", type=int, default=350, help="iterations (default: 350)"
    )
    parser.add_argument(
        "--alpha", type=float, default=0.0, help="L2 penalty (default: 0)"
    )
    parser.add_argument(
        "--solvers",
        nargs="+",
        choices=["gd", "nag", "lbfgs"],
        default=["gd", "nag"],
        help="solvers to train (default: gd nag)",
    )
    parser.add_argument(
        "--test-size",
        type=float,
        default=0.2,
        help="fraction held out for testing, stratified (default: 0.2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("skmlp-output"),
        help="output folder for the models and the figure (default: skmlp-output)",
    )
    return parser


def n_parameters(estimator):
    """Number of learnable parameters of a fitted network."""
    return sum(c.size for c in estimator.coefs_) + sum(
        b.size for b in estimator.intercepts_
    )


def run_study(args):
    """Train one pipeline per solver; return a list of result rows."""
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, stratify=y, random_state=args.seed
    )
    rows = []
    for solver in args.solvers:
        model = make_pipeline(
            StandardScaler(),
            SoftplusMLPClassifier(
                hidden_layer_sizes=(args.hidden,),
                solver=solver,
                alpha=args.alpha,
                learning_rate_init=args.learning_rate,
                max_iter=args.max_iter,
                tol=0.0,
                n_iter_no_change=args.max_iter,
                random_state=args.seed,
            ),
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            # A fixed iteration budget is the point of the study.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        # The figure needs the test accuracy of every iteration: score_curve
        # trains a clone again, one partial_fit per iteration (ending at the
        # model fit gave), and scores it after each. Kept out of the timing.
        trained, test_accuracy_curve = score_curve(
            model, X_train, y_train, X_test, y_test, max_iter=args.max_iter
        )
        clf = model[-1]
        rows.append(
            {
                "solver": solver,
                "model": model,
                "iterations": clf.n_iter_,
                "parameters": n_parameters(clf),
                "loss": clf.loss_,
                "train_accuracy": model.score(X_train, y_train),
                "test_accuracy": model.score(X_test, y_test),
                "seconds": seconds,
                "loss_curve": trained[-1].loss_curve_,
                "test_accuracy_curve": test_accuracy_curve,
            }
        )
    return rows


def format_table(rows):
    """The result rows as a fixed-width text table."""
    header = (
        f"{'solver':<7}{'iterations':>11}{'parameters':>11}{'train loss':>12}"
        f"{'train acc':>10}{'test acc':>10}{'seconds':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['solver']:<7}{row['iterations']:>11d}{row['parameters']:>11d}"
            f"{row['loss']:>12.6f}{row['train_accuracy']:>10.3f}"
            f"{row['test_accuracy']:>10.3f}{row['seconds']:>9.3f}"
        )
    return "\n".join(lines)


def main(argv=None):
    """Run the study; return the process exit code."""
    args = build_parser().parse_args(argv)
    rows = run_study(args)
    print(format_table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        path = args.out / f"skmlp-{row['solver']}.joblib"
        joblib.dump(row["model"], path)
        print(f"Wrote {path}")
    path = args.out / "skmlp-study.png"
    plot_study(
        {
            row["solver"].upper(): (row["loss_curve"], row["test_accuracy_curve"])
            for row in rows
        },
        path,
        title=(
            f"Iris, 4 -> {args.hidden} -> 3, learning rate {args.learning_rate}, "
            f"{args.max_iter} iterations"
        ),
    )
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
