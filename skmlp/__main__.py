"""``python -m skmlp``: the GD vs NAG study on the embedded Iris data.

Trains each solver with the study's settings (16 softplus units, learning
rate 0.01, 350 iterations, no penalty) on a stratified hold-out split of the
standardised Iris data, prints a table, writes each fitted pipeline with
joblib into the output folder and, next to them, the study's figure: training
loss and test accuracy per iteration of every solver.

Each solver is trained once, one ``partial_fit`` call (one epoch) at a time,
which lets the test accuracy be scored after every epoch, outside the
timing, and runs every one of the ``--max-iter`` iterations: ``fit``'s
stopping rules are not applied, so that the solvers are compared over the
same iterations. The saved models have ``max_iter=--max-iter`` and
``n_iter_no_change=np.inf`` (no stopping rule): for 'gd' and 'nag', ``fit``
with them gives the model trained here, while ``fit`` with the default
``n_iter_no_change`` stops earlier (NAG at 331 iterations, on the
defaults). 'lbfgs' goes on past the iteration where its own convergence
test, which ``n_iter_no_change`` does not turn off, ends ``fit`` (66, on the
defaults). A first Ctrl-C ends training
at the end of the current epoch, and the results of the epochs done are
written; a second one ends the epoch at once (the estimator keeps the last
finished one) or, while the results are written, stops writing.
"""

import argparse
import errno
import math
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import DivergenceError, SoftplusMLPClassifier
from ._plot import plot_study

SOLVERS = ("gd", "nag", "lbfgs")

PROG = "python -m skmlp"

# The exit status of a command ended by Ctrl-C, as a shell reports it.
INTERRUPTED = 128 + 2


def _checked(convert, is_valid, requirement):
    """An argparse ``type``: ``convert``, then reject values not ``is_valid``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid {convert.__name__} value: {text!r}"
            ) from None
        if not is_valid(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value

    return parse


_positive_int = _checked(int, lambda value: value > 0, "a positive integer")
_positive_float = _checked(
    float, lambda value: 0 < value < math.inf, "a positive finite number"
)
_non_negative_float = _checked(
    float, lambda value: 0 <= value < math.inf, "a non-negative finite number"
)
_seed = _checked(int, lambda value: 0 <= value < 2**32, "from 0 to 2**32 - 1")
_fraction = _checked(
    float, lambda value: 0 < value < 1, "a fraction strictly between 0 and 1"
)


def build_parser():
    """The command-line options of ``python -m skmlp``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Train SoftplusMLPClassifier with gradient descent and Nesterov's "
            "accelerated gradient (or L-BFGS, see --solvers) on Iris (4 "
            "features, 3 classes), print a "
            "comparison table, export the models with joblib and plot the "
            "training loss and test accuracy per iteration (PNG). Every "
            "solver runs all --max-iter iterations: fit's stopping rules "
            "(tol, and L-BFGS's convergence test) are not applied."
        ),
        epilog=(
            "Ctrl-C ends training after the current epoch and writes the "
            "results of the epochs done (exit status 130)."
        ),
    )
    parser.add_argument(
        "--hidden", type=_positive_int, default=16, help="hidden units (default: 16)"
    )
    parser.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=0.01,
        help="learning_rate_init (default: 0.01)",
    )
    parser.add_argument(
        "--max-iter",
        type=_positive_int,
        default=350,
        help="iterations, all of them run (default: 350)",
    )
    parser.add_argument(
        "--alpha",
        type=_non_negative_float,
        default=0.0,
        help="L2 penalty (default: 0)",
    )
    parser.add_argument(
        "--solvers",
        nargs="+",
        choices=SOLVERS,
        default=["gd", "nag"],
        help="solvers to train (default: gd nag)",
    )
    parser.add_argument(
        "--test-size",
        type=_fraction,
        default=0.2,
        help="fraction held out for testing, stratified (default: 0.2)",
    )
    parser.add_argument(
        "--seed", type=_seed, default=0, help="random seed (default: 0)"
    )
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


def split_iris(args):
    """``X_train, X_test, y_train, y_test``: the stratified hold-out split."""
    X, y = load_iris(return_X_y=True)
    return train_test_split(
        X, y, test_size=args.test_size, stratify=y, random_state=args.seed
    )


class _FirstCtrlC:
    """Context manager: a first Ctrl-C sets ``requested`` instead of raising,
    so that training ends between two epochs, never inside an estimator's
    call, which could catch the interrupt itself; a second one raises
    ``KeyboardInterrupt`` as usual.

    Only where Python's own handler is in place (in the main thread, and not
    where SIGINT is ignored, as in a shell's background job).
    """

    def __enter__(self):
        self.requested = False
        self._installed = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        if self._installed:
            signal.signal(signal.SIGINT, self._first)
        return self

    def _first(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc_info):
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def run_study(args, data=None):
    """Train one pipeline per solver.

    Returns the result rows, one per solver with at least one finished
    epoch, and whether the user interrupted training (the solvers after the
    interrupted one are then not trained).
    """
    X_train, X_test, y_train, y_test = split_iris(args) if data is None else data
    classes = np.unique(y_train)
    rows = []
    for solver in args.solvers:
        model = make_pipeline(
            StandardScaler(),
            SoftplusMLPClassifier(
                hidden_layer_sizes=(args.hidden,),
                solver=solver,
                alpha=args.alpha,
                learning_rate_init=args.learning_rate,
                random_state=args.seed,
                # What the study does, said in the saved model's parameters:
                # for gd and nag, fit with them gives the model trained here.
                max_iter=args.max_iter,
                n_iter_no_change=math.inf,
            ),
        )
        scaler, clf = model[0], model[-1]
        start = time.perf_counter()
        X_epoch = scaler.fit_transform(X_train)
        seconds = time.perf_counter() - start
        X_scored = scaler.transform(X_test)
        test_accuracy = []
        interrupted = False
        try:
            with _FirstCtrlC() as ctrl_c:
                for _ in range(args.max_iter):
                    # One epoch a call, the solver's state carried over: for
                    # gd and nag this is fit with the parameters above,
                    # epoch by epoch; partial_fit applies no stopping rule.
                    # An interrupted call leaves the estimator as it was.
                    start = time.perf_counter()
                    clf.partial_fit(X_epoch, y_train, classes=classes)
                    seconds += time.perf_counter() - start
                    test_accuracy.append(clf.score(X_scored, y_test))
                    if ctrl_c.requested:
                        interrupted = True
                        break
        except KeyboardInterrupt:
            interrupted = True
        except DivergenceError as error:
            raise DivergenceError(f"{solver}: {error}") from None
        if hasattr(clf, "coefs_"):
            # Ctrl-C between an epoch and its score leaves one to make up.
            test_accuracy.extend(
                clf.score(X_scored, y_test)
                for _ in range(clf.n_iter_ - len(test_accuracy))
            )
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
                    "loss_curve": clf.loss_curve_,
                    "test_accuracy_curve": test_accuracy,
                }
            )
        if interrupted:
            return rows, True
    return rows, False


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


def output_paths(folder, solvers):
    """The files a run writes into ``folder``: a model per solver, then the
    figure."""
    return [
        *(folder / f"skmlp-{solver}.joblib" for solver in solvers),
        folder / "skmlp-study.png",
    ]


def _temporary(path):
    """Where :func:`_write_atomically` writes ``path`` first."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def check_output_folder(folder, paths=()):
    """Create ``folder`` if needed and make sure files can be written there,
    and that nothing but a file is in the way of ``paths`` (and of their
    temporary names): a folder of that name would stop the run after
    training, with the later files unwritten.

    Raises ``OSError`` otherwise, before any training.
    """
    # mkdir's own words, "File exists" or "Not a directory", did not say
    # what is in the way of the folder: a file, a link that leads nowhere,
    # or a file where a folder above it would be.
    if folder.is_symlink() and not folder.exists():
        raise FileExistsError(
            errno.EEXIST,
            f"it is a link to {os.readlink(folder)}, which does not exist: "
            "choose another --out",
        )
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "it is a file, not a folder: choose another --out"
        )
    for parent in folder.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise NotADirectoryError(
                    errno.ENOTDIR,
                    f"{parent} is a file, not a folder: choose another --out",
                )
            break
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".skmlp-check-"):
        pass
    for path in paths:
        for name, what in ((path, ""), (_temporary(path), f" ({path.name} first)")):
            # A symbolic link to a file is replaced, as a file is; one that
            # leads nowhere is replaced too.
            if name.exists() and not name.is_file():
                kind = "a folder" if name.is_dir() else "not a regular file"
                raise IsADirectoryError(
                    errno.EISDIR,
                    f"{name.name}, where the run writes{what}, is {kind}: "
                    "move it away or choose another --out",
                )


def check_memory(n_params):
    """Raise ``MemoryError`` if ``n_params`` float64 weights alone exceed
    the machine's physical memory.

    Where the system would let the allocation through and kill the process
    when it touches the pages (overcommit), no ``MemoryError`` could be
    caught: this bound says so before. Training needs several vectors of
    that size (weights, gradient, the kept epoch's copy), so a network that
    passes may still fail, with a ``MemoryError`` that :func:`main` reports.
    """
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return  # Not known here (Windows): the allocation will tell.
    needed = 8 * n_params
    if needed > physical:
        raise MemoryError(
            f"a network of {n_params} parameters needs {needed / 2**30:.3g} GiB "
            f"for its weights alone, more than the {physical / 2**30:.3g} GiB "
            "of this machine's memory"
        )


def network_parameters(n_features, hidden, n_classes):
    """The number of learnable parameters of ``n_features -> hidden ->
    n_classes`` (as :func:`n_parameters` counts them once fitted)."""
    return (n_features + 1) * hidden + (hidden + 1) * n_classes


class _Output:
    """The standard output of a run, whose failure (a reader gone, as with
    ``| head -1``, or a full disk) stops nothing: the models and the figure
    are still written, and the run ends with an error that names the
    standard output. Each line is flushed, so that the failure is seen
    where it happens, not at the interpreter's exit (where it was blamed on
    the output folder, or stopped the run before any file was written)."""

    def __init__(self):
        self.error = None

    def say(self, text):
        # None when the process was started with its standard output
        # closed (>&-): print writes nothing then, and raises nothing.
        if self.error is not None or sys.stdout is None:
            return
        try:
            print(text)
            sys.stdout.flush()
        except OSError as error:
            self.error = error
            # Nothing more goes there, not even the interpreter's last flush.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (AttributeError, OSError, ValueError):
                pass


def _write_atomically(path, write):
    """``write(temporary)`` then rename it to ``path``: an interrupt never
    leaves a half-written file under the final name."""
    temporary = _temporary(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_results(rows, args, written, say=print):
    """Write each model and the figure; append each path to ``written``
    and ``say`` it."""
    for row in rows:
        path = args.out / f"skmlp-{row['solver']}.joblib"
        _write_atomically(
            path, lambda file, model=row["model"]: joblib.dump(model, file)
        )
        written.append(path)
        say(f"Wrote {path}")
    iterations = max(row["iterations"] for row in rows)
    path = args.out / "skmlp-study.png"
    _write_atomically(
        path,
        lambda file: plot_study(
            {
                row["solver"].upper(): (row["loss_curve"], row["test_accuracy_curve"])
                for row in rows
            },
            file,
            # L-BFGS takes no learning rate: not named when it ran alone.
            title=(
                f"Iris, 4 -> {args.hidden} -> 3, "
                + (
                    f"learning rate {args.learning_rate}, "
                    if set(args.solvers) != {"lbfgs"}
                    else ""
                )
                + f"{iterations} iterations"
            ),
        ),
    )
    written.append(path)
    say(f"Wrote {path}")


def main(argv=None):
    """Run the study; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    repeated = sorted(
        {solver for solver in args.solvers if args.solvers.count(solver) > 1}
    )
    if repeated:
        # A second run would train the same model again and write over the
        # first's file.
        parser.error(f"argument --solvers: given more than once: {' '.join(repeated)}")
    try:
        data = split_iris(args)
    except ValueError as error:
        parser.error(f"argument --test-size: {error}")
    try:
        check_output_folder(args.out, output_paths(args.out, args.solvers))
    except OSError as error:
        parser.error(
            f"argument --out: cannot write into {args.out}: {error.strerror or error}"
        )
    X_train, _, y_train, _ = data
    try:
        check_memory(
            network_parameters(X_train.shape[1], args.hidden, len(np.unique(y_train)))
        )
    except MemoryError as error:
        parser.error(f"argument --hidden: {error}")
    earlier = {path for path in output_paths(args.out, SOLVERS) if path.exists()}
    written = []
    try:
        return _run(args, data, earlier, written)
    except DivergenceError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    except MemoryError as error:
        # numpy's _ArrayMemoryError says how much it could not allocate.
        print(
            f"{parser.prog}: error: out of memory for a network of "
            f"{args.hidden} hidden units: {error}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        # A second Ctrl-C, while the results of the first are written.
        print(
            "Interrupted again: stopped; written: "
            f"{', '.join(map(str, written)) or 'nothing'}.",
            file=sys.stderr,
        )
        return INTERRUPTED


def _run(args, data, earlier, written):
    rows, interrupted = run_study(args, data)
    if interrupted:
        done = ", ".join(f"{row['solver']} {row['iterations']}" for row in rows)
        print(
            "Interrupted: training ended at the last finished epoch "
            f"({done or 'none finished'}).",
            file=sys.stderr,
        )
    if not rows:
        print("Nothing written.", file=sys.stderr)
        return INTERRUPTED
    output = _Output()
    output.say(format_table(rows))
    if not interrupted:
        output.say(
            f"Every solver ran all {args.max_iter} iterations (--max-iter): "
            "fit's stopping rules (tol) are not applied."
        )
    try:
        write_results(rows, args, written, output.say)
    except OSError as error:
        # Checked before training, the folder can still fail (a full disk,
        # a folder made since): say so, and what was written.
        print(
            f"{PROG}: error: cannot write into {args.out}: "
            f"{error.strerror or error}; written: "
            f"{', '.join(map(str, written)) or 'nothing'}",
            file=sys.stderr,
        )
        return 1
    left = sorted(earlier - set(written))
    if left:
        output.say(
            "Left from an earlier run (not written by this one): "
            + ", ".join(map(str, left))
        )
    if output.error is not None:
        print(
            f"{PROG}: error: cannot write to the standard output: "
            f"{output.error.strerror or output.error}; written: "
            f"{', '.join(map(str, written))}",
            file=sys.stderr,
        )
        return INTERRUPTED if interrupted else 1
    return INTERRUPTED if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
