"""``python -m skmlp``: the study command."""

import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris

from skmlp.__main__ import build_parser, main, run_study


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
        # 4 -> 16 -> 3: 16*4 + 16 + 3*16 + 3 (ERRATA, item 3).
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
    (row,) = run_study(args)
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
