"""``python -m skmlp``: the study command."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

import skmlp.__main__ as cli
from skmlp import SoftplusMLPClassifier
from skmlp.__main__ import build_parser, main, run_study

ROOT = Path(__file__).resolve().parent.parent

# Any warning a test does not expect fails it (pytest.warns or a filter names
# the expected ones).
pytestmark = pytest.mark.filterwarnings("error")


def test_main_prints_table_and_writes_loadable_models(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == [
        "solver",
        "iterations",
        "parameters",
        "train",
        "loss",
        "train",
        "acc",
        "test",
        "acc",
        "seconds",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert set(rows) == {"gd", "nag"}
    for solver, row in rows.items():
        assert row[1] == "350"
        # 4 -> 16 -> 3: 16*4 + 16 + 3*16 + 3 (the user guide, "The number of
        # learnable parameters").
        assert row[2] == "131"
        path = tmp_path / f"skmlp-{solver}.joblib"
        assert f"Wrote {path}" in out
        model = joblib.load(path)
        X, y = load_iris(return_X_y=True)
        assert model[-1].solver == solver
        assert model[-1].n_iter_ == 350
        assert float(row[3]) == pytest.approx(model[-1].loss_, abs=5e-7)
        assert np.mean(model.predict(X) == y) > 0.75
    # The study's conclusion: NAG ends far below GD.
    assert float(rows["nag"][3]) < 0.5 * float(rows["gd"][3])
    assert lines[4] == (
        "Every solver ran all 350 iterations (--max-iter): fit's stopping "
        "rules (tol) are not applied."
    )


def test_the_study_runs_every_iteration_where_fit_would_stop_and_says_so(
    tmp_path, capsys
):
    # With the defaults, NAG's fit stops by its tol before 350 iterations;
    # the study runs them all, which is fit without its stopping rule.
    assert main(["--solvers", "nag", "lbfgs", "--out", str(tmp_path)]) == 0
    assert "fit's stopping rules (tol) are not applied" in capsys.readouterr().out
    X_train, _, y_train, _ = cli.split_iris(build_parser().parse_args([]))
    nag, lbfgs = (joblib.load(tmp_path / f"skmlp-{s}.joblib") for s in ("nag", "lbfgs"))
    assert nag[-1].n_iter_ == lbfgs[-1].n_iter_ == 350
    # The saved parameters say what was run: fit with them gives NAG's model.
    assert nag[-1].max_iter == 350 and nag[-1].n_iter_no_change == np.inf
    with pytest.warns(ConvergenceWarning):
        refit = clone(nag).fit(X_train, y_train)
    for coef, expected in zip(nag[-1].coefs_, refit[-1].coefs_):
        np.testing.assert_array_equal(coef, expected)
    # fit with its default stopping rule stops earlier, as the docs say;
    # L-BFGS stops at its own convergence test whatever n_iter_no_change.
    default = clone(nag).set_params(softplusmlpclassifier__n_iter_no_change=10)
    assert default.fit(X_train, y_train)[-1].n_iter_ < 350
    assert clone(lbfgs).fit(X_train, y_train)[-1].n_iter_ < 350
    help_text = " ".join(build_parser().format_help().split())
    assert "Every solver runs all --max-iter iterations" in help_text
    assert "fit's stopping rules (tol, and L-BFGS's convergence test) are not" in (
        help_text
    )
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "each runs all 350 iterations: `fit`'s stopping rule is not applied" in (
        readme
    )
    assert "`n_iter_no_change=np.inf`" in readme


def test_main_options_reach_the_estimator():
    args = build_parser().parse_args(
        [
            "--hidden",
            "5",
            "--learning-rate",
            "0.05",
            "--max-iter",
            "7",
            "--solvers",
            "gd",
            "--alpha",
            "0.5",
        ]
    )
    (row,), interrupted = run_study(args)
    assert not interrupted
    clf = row["model"][-1]
    assert row["solver"] == "gd"
    assert clf.hidden_layer_sizes == (5,)
    assert clf.learning_rate_init == 0.05
    assert clf.alpha == 0.5
    assert clf.n_iter_ == row["iterations"] == 7
    assert row["parameters"] == 5 * 4 + 5 + 3 * 5 + 3


def test_main_rejects_unknown_solver(capsys):
    with pytest.raises(SystemExit) as excinfo:
        build_parser().parse_args(["--solvers", "adam"])
    assert excinfo.value.code == 2
    assert "invalid choice: 'adam'" in capsys.readouterr().err


def test_a_solver_given_twice_is_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--solvers", "gd", "nag", "gd", "--out", str(tmp_path)])
    assert excinfo.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m skmlp: error: argument --solvers: given more than once: gd"
    )
    assert list(tmp_path.iterdir()) == []


def test_module_runs_as_a_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skmlp", "--max-iter", "3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "nag" in result.stdout
    assert (tmp_path / "skmlp-gd.joblib").stat().st_size > 0
    assert (tmp_path / "skmlp-nag.joblib").stat().st_size > 0


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--learning-rate", "-0.1", "must be a positive finite number, got -0.1"),
        ("--learning-rate", "nan", "must be a positive finite number, got nan"),
        ("--hidden", "0", "must be a positive integer, got 0"),
        ("--max-iter", "0", "must be a positive integer, got 0"),
        ("--alpha", "-1", "must be a non-negative finite number, got -1"),
        ("--test-size", "1.5", "strictly between 0 and 1, got 1.5"),
        ("--seed", "-1", "must be from 0 to 2**32 - 1, got -1"),
        ("--hidden", "two", "invalid int value: 'two'"),
        # In range, but fewer test rows than classes for a stratified split.
        ("--test-size", "0.01", "should be greater or equal to the number of"),
    ],
)
def test_bad_option_values_exit_with_status_2_before_training(
    tmp_path, capsys, option, value, message
):
    with pytest.raises(SystemExit) as excinfo:
        main([option, value, "--out", str(tmp_path)])
    assert excinfo.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    last = err.splitlines()[-1]
    assert last.startswith(f"python -m skmlp: error: argument {option}: ")
    assert message in last
    assert list(tmp_path.iterdir()) == []


def test_diverging_training_prints_its_reason_in_one_line_and_exits_1(tmp_path, capsys):
    code = main(["--learning-rate", "1e6", "--max-iter", "5", "--out", str(tmp_path)])
    assert code == 1
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert line.startswith("python -m skmlp: error: gd: ")
    assert "diverged" in line
    assert list(tmp_path.iterdir()) == []


def test_lbfgs_under_a_huge_penalty_diverges_in_one_line(tmp_path, capsys):
    # The squared norm of its gradient overflowed: a ZeroDivisionError.
    args = ["--alpha", "1e300", "--solvers", "lbfgs", "--out", str(tmp_path)]
    assert main(args) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("python -m skmlp: error: lbfgs: Training diverged: ")
    assert "lower alpha" in line
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder_is_rejected_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as excinfo:
        main(["--out", str(blocker / "out")])
    assert excinfo.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # no table: nothing was trained
    assert err.splitlines()[-1].startswith(
        f"python -m skmlp: error: argument --out: cannot write into {blocker / 'out'}"
    )


@pytest.mark.parametrize("case", ["file", "broken link", "under a file"])
def test_what_is_in_the_way_of_the_output_folder_is_named(tmp_path, capsys, case):
    # mkdir's words, "File exists" and "Not a directory", did not say what
    # was in the way.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    if case == "file":
        path, reason = blocker, "it is a file, not a folder"
    elif case == "broken link":
        path = tmp_path / "link"
        path.symlink_to(tmp_path / "nowhere")
        reason = f"it is a link to {tmp_path / 'nowhere'}, which does not exist"
    else:
        path, reason = blocker / "out", f"{blocker} is a file, not a folder"
    with pytest.raises(SystemExit) as excinfo:
        main(["--out", str(path)])
    assert excinfo.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == (
        f"python -m skmlp: error: argument --out: cannot write into {path}: "
        f"{reason}: choose another --out"
    )


@pytest.mark.parametrize(
    "name", ["skmlp-nag.joblib", "skmlp-study.png", ".skmlp-gd.partial.joblib"]
)
def test_a_folder_in_the_way_of_an_output_is_rejected_before_training(
    tmp_path, capsys, name
):
    # Found after training, it stopped the run with a traceback, and the
    # files after it were not written.
    (tmp_path / name).mkdir()
    with pytest.raises(SystemExit) as excinfo:
        main(["--max-iter", "3", "--out", str(tmp_path)])
    assert excinfo.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # no table: nothing was trained
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"python -m skmlp: error: argument --out: cannot write into {tmp_path}: "
        f"{name}, where the run writes"
        + (" (skmlp-gd.joblib first)" if name.endswith(".partial.joblib") else "")
        + ", is a folder: move it away or choose another --out"
    )
    assert [path.name for path in tmp_path.iterdir()] == [name]


def test_a_folder_where_a_solver_not_run_would_write_is_no_error(tmp_path, capsys):
    (tmp_path / "skmlp-lbfgs.joblib").mkdir()
    assert main(["--max-iter", "2", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "skmlp-nag.joblib").is_file()


def test_a_network_too_large_for_the_memory_is_one_line_before_training(
    tmp_path, capsys
):
    # 5e13 parameters: 400 TB of weights, more than any machine's memory.
    with pytest.raises(SystemExit) as excinfo:
        main(["--hidden", str(10**13), "--out", str(tmp_path)])
    assert excinfo.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "python -m skmlp: error: argument --hidden: a network of "
        f"{8 * 10**13 + 3} parameters needs "
    )
    assert "for its weights alone, more than the" in err.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_running_out_of_memory_in_training_is_one_line(tmp_path, capsys, monkeypatch):
    # Where the bound on the weights passes, the allocation can still fail:
    # past any address space, numpy raises its MemoryError at once.
    monkeypatch.setattr(cli, "check_memory", lambda n_params: None)
    assert main(["--hidden", str(10**13), "--out", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(
        f"python -m skmlp: error: out of memory for a network of {10**13} "
        "hidden units: "
    )
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_after_training_is_one_line_naming_what_was_written(
    tmp_path, capsys, monkeypatch
):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "plot_study", full_disk)
    assert main(["--max-iter", "2", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    written = [tmp_path / "skmlp-gd.joblib", tmp_path / "skmlp-nag.joblib"]
    assert line == (
        f"python -m skmlp: error: cannot write into {tmp_path}: No space left "
        f"on device; written: {', '.join(map(str, written))}"
    )
    assert sorted(tmp_path.iterdir()) == written


@pytest.mark.parametrize(
    "error",
    [BrokenPipeError(32, "Broken pipe"), OSError(28, "No space left on device")],
)
def test_a_standard_output_that_fails_stops_no_file_and_is_named(
    tmp_path, capsys, monkeypatch, error
):
    # A reader gone (| head -1) or a full /dev/full, with unbuffered output:
    # the table's print raised before any file was written, or a "Wrote"
    # line's was blamed on the output folder.
    class FailingOutput:
        def write(self, text):
            raise error

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", FailingOutput())
    assert main(["--max-iter", "2", "--out", str(tmp_path)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    written = [
        tmp_path / name
        for name in ("skmlp-gd.joblib", "skmlp-nag.joblib", "skmlp-study.png")
    ]
    assert line == (
        "python -m skmlp: error: cannot write to the standard output: "
        f"{error.strerror}; written: {', '.join(map(str, written))}"
    )
    assert sorted(tmp_path.iterdir()) == written


def test_a_closed_standard_output_is_no_error(tmp_path, monkeypatch):
    # Started with >&-, sys.stdout is None: print writes nothing, and the
    # flush of each line raised an AttributeError before any file.
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["--max-iter", "2", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.iterdir())) == 3


def test_the_figure_of_lbfgs_alone_names_no_learning_rate(tmp_path, monkeypatch):
    titles = []

    def plot(curves, file, title):
        titles.append(title)
        Path(file).write_bytes(b"")

    monkeypatch.setattr(cli, "plot_study", plot)
    for solvers in (["lbfgs"], ["gd", "lbfgs"]):
        args = ["--solvers", *solvers, "--max-iter", "2", "--out", str(tmp_path)]
        assert main(args) == 0
    assert "learning rate" not in titles[0]
    assert "learning rate 0.01," in titles[1]


def test_files_of_an_earlier_run_that_are_not_replaced_are_named(tmp_path, capsys):
    stale = tmp_path / "skmlp-nag.joblib"
    stale.write_text("an earlier run")
    assert main(["--solvers", "gd", "--max-iter", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        f"Left from an earlier run (not written by this one): {stale}"
    )
    assert stale.read_text() == "an earlier run"
    # Files this run writes replace those of the earlier one silently.
    assert main(["--solvers", "gd", "--max-iter", "4", "--out", str(tmp_path)]) == 0
    assert joblib.load(tmp_path / "skmlp-gd.joblib")[-1].n_iter_ == 4


def test_each_solver_is_trained_once_and_scored_after_every_epoch(monkeypatch):
    epochs = []
    fit, partial_fit = SoftplusMLPClassifier.fit, SoftplusMLPClassifier.partial_fit

    def counted_fit(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        epochs.append(self.n_iter_)
        return self

    def counted_partial_fit(self, *args, **kwargs):
        before = getattr(self, "n_iter_", 0)
        partial_fit(self, *args, **kwargs)
        epochs.append(self.n_iter_ - before)
        return self

    monkeypatch.setattr(SoftplusMLPClassifier, "fit", counted_fit)
    monkeypatch.setattr(SoftplusMLPClassifier, "partial_fit", counted_partial_fit)
    args = build_parser().parse_args(["--max-iter", "12"])
    rows, interrupted = run_study(args)
    assert not interrupted
    assert sum(epochs) == 2 * 12
    monkeypatch.undo()

    X_train, X_test, y_train, y_test = cli.split_iris(args)
    for row in rows:
        curve = row["test_accuracy_curve"]
        assert len(curve) == len(row["loss_curve"]) == 12
        assert curve[-1] == row["test_accuracy"] == row["model"].score(X_test, y_test)
        # The model is the one fit gives with the same settings.
        reference = clone(row["model"]).set_params(
            softplusmlpclassifier__max_iter=12,
            softplusmlpclassifier__tol=0.0,
            softplusmlpclassifier__n_iter_no_change=12,
        )
        with pytest.warns(ConvergenceWarning):
            reference.fit(X_train, y_train)
        for coef, expected in zip(row["model"][-1].coefs_, reference[-1].coefs_):
            np.testing.assert_array_equal(coef, expected)


INTERRUPTED_STUDY = textwrap.dedent(
    """
    import signal, sys
    from skmlp.__main__ import main

    # As at a terminal, whatever the test runner inherited (a shell starts
    # background jobs with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("READY", flush=True)
    sys.exit(main(sys.argv[1:]))
    """
)


def test_ctrl_c_ends_training_and_writes_the_results_of_the_epochs_done(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", INTERRUPTED_STUDY]
        + ["--max-iter", "100000000", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "READY\n"
        time.sleep(1.0)  # some epochs of GD
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupted: training ended at the last finished epoch (gd " in err
    (row,) = [line.split() for line in out.splitlines() if line.startswith("gd ")]
    n_iter = int(row[1])
    assert 0 < n_iter < 100000000
    model = joblib.load(tmp_path / "skmlp-gd.joblib")
    assert model[-1].n_iter_ == len(model[-1].loss_curve_) == n_iter
    assert float(row[3]) == pytest.approx(model[-1].loss_, abs=5e-7)
    assert (tmp_path / "skmlp-study.png").stat().st_size > 0
    # Training ended: NAG, after GD, was not trained.
    assert not (tmp_path / "skmlp-nag.joblib").exists()


def test_ctrl_c_while_writing_stops_cleanly_and_names_what_was_written(
    tmp_path, monkeypatch, capsys
):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "plot_study", interrupted)
    try:
        code = main(["--max-iter", "3", "--out", str(tmp_path)])
    except KeyboardInterrupt:  # would end the whole pytest session
        pytest.fail("the second Ctrl-C escaped main()")
    assert code == 130
    err = capsys.readouterr().err
    models = [tmp_path / f"skmlp-{solver}.joblib" for solver in ("gd", "nag")]
    assert err.splitlines()[-1] == (
        f"Interrupted again: stopped; written: {models[0]}, {models[1]}."
    )
    # No half-written file is left behind.
    assert sorted(tmp_path.iterdir()) == models


def _interrupting_partial_fit(monkeypatch, at_epoch, signals):
    """partial_fit that receives ``signals`` Ctrl-Cs as epoch ``at_epoch``
    starts, as a user's key press would land during an epoch."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's default handler here")
    partial_fit = SoftplusMLPClassifier.partial_fit

    def interrupted(self, *args, **kwargs):
        if getattr(self, "n_iter_", 0) + 1 == at_epoch:
            for _ in range(signals):
                signal.raise_signal(signal.SIGINT)
        return partial_fit(self, *args, **kwargs)

    monkeypatch.setattr(SoftplusMLPClassifier, "partial_fit", interrupted)


def test_first_ctrl_c_during_an_epoch_ends_training_after_it(monkeypatch):
    _interrupting_partial_fit(monkeypatch, at_epoch=5, signals=1)
    rows, interrupted = run_study(build_parser().parse_args(["--max-iter", "50"]))
    assert interrupted
    (row,) = rows  # NAG, after GD, is not trained
    assert row["solver"] == "gd"
    assert row["iterations"] == len(row["test_accuracy_curve"]) == 5
    assert row["model"][-1].n_iter_ == len(row["model"][-1].loss_curve_) == 5
    # Python's handler is back once training ends.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_ctrl_c_ends_the_epoch_at_once_keeping_the_last_finished(
    monkeypatch,
):
    _interrupting_partial_fit(monkeypatch, at_epoch=5, signals=2)
    rows, interrupted = run_study(build_parser().parse_args(["--max-iter", "50"]))
    assert interrupted
    (row,) = rows
    assert row["iterations"] == len(row["test_accuracy_curve"]) == 4
    assert row["model"][-1].n_iter_ == len(row["model"][-1].loss_curve_) == 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
