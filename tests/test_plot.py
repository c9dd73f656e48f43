"""score_curve, LossCurveDisplay and plot_study: the data drawn, not the pixels."""

import warnings

import joblib
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmlp.__main__
from skmlp import LossCurveDisplay, SoftplusMLPClassifier, score_curve
from skmlp._plot import plot_study

# Any warning a test does not expect fails it (pytest.warns or a filter names
# the expected ones).
pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(autouse=True)
def agg_backend():
    """Draw off-screen and close every figure a test made."""
    plt.switch_backend("Agg")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)


def study_classifier(solver, max_iter=30):
    # tol=0 with n_iter_no_change=max_iter: fit never stops early, so it runs
    # exactly max_iter epochs like max_iter partial_fit calls.
    return SoftplusMLPClassifier(
        hidden_layer_sizes=(16,),
        solver=solver,
        learning_rate_init=0.1,
        alpha=0.0,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=max_iter,
        random_state=0,
    )


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def scored_pipeline(iris_split, solver, max_iter, scoring=None):
    """A scaled study pipeline trained by score_curve, and its test scores."""
    X_train, X_test, y_train, y_test = iris_split
    return score_curve(
        make_pipeline(StandardScaler(), study_classifier(solver, max_iter)),
        X_train,
        y_train,
        X_test,
        y_test,
        max_iter=max_iter,
        scoring=scoring,
    )


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_score_curve_trains_the_model_fit_gives(iris_split, solver):
    X_train, X_test, y_train, y_test = iris_split
    model = make_pipeline(StandardScaler(), study_classifier(solver))
    trained, scores = score_curve(model, X_train, y_train, X_test, y_test, max_iter=30)
    fitted = fit_quietly(
        make_pipeline(StandardScaler(), study_classifier(solver)), X_train, y_train
    )
    assert trained[-1].n_iter_ == 30
    assert_allclose(trained[-1].loss_curve_, fitted[-1].loss_curve_, rtol=1e-12)
    for got, expected in zip(trained[-1].coefs_, fitted[-1].coefs_):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert scores.shape == (30,)
    assert scores[-1] == fitted.score(X_test, y_test)
    # The user's estimator is cloned, not trained.
    assert not hasattr(model[-1], "coefs_")


def test_score_curve_fits_the_transformers_as_pipeline_fit_does(iris_split):
    # Pipeline.fit transforms the training rows by fit_transform, which a
    # TargetEncoder computes by cross-fitting: score_curve's
    # fit(...).transform(...) trained the last step on other values (with a
    # TargetEncoder, weights 0.02 apart after 20 epochs). A pipeline of the
    # estimator alone failed: "The pipeline is empty".
    from sklearn.base import BaseEstimator, TransformerMixin

    class CrossFitted(TransformerMixin, BaseEstimator):
        """Centres new rows; its training rows by another shift, as a
        cross-fitting transformer gives them other values."""

        def fit(self, X, y=None):
            self.mean_ = np.mean(X, axis=0)
            return self

        def transform(self, X):
            return X - self.mean_

        def fit_transform(self, X, y=None):
            return self.fit(X).transform(X) + 0.5

    X_train, X_test, y_train, y_test = iris_split
    for make in (
        lambda: make_pipeline(CrossFitted(), study_classifier("gd", 20)),
        lambda: make_pipeline(study_classifier("gd", 20)),
    ):
        trained, scores = score_curve(
            make(), X_train, y_train, X_test, y_test, max_iter=20
        )
        fitted = fit_quietly(make(), X_train, y_train)
        assert trained[-1].n_iter_ == 20
        for got, expected in zip(trained[-1].coefs_, fitted[-1].coefs_):
            assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
        assert scores[-1] == fitted.score(X_test, y_test)


def test_score_curve_scores_after_each_epoch(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    _, scores = score_curve(
        study_classifier("nag"), X_train, y_train, X_test, y_test, max_iter=12
    )
    manual = study_classifier("nag")
    expected = []
    for _ in range(12):
        manual.partial_fit(X_train, y_train, classes=[0, 1, 2])
        expected.append(np.mean(manual.predict(X_test) == y_test))
    assert_array_equal(scores, expected)
    # Training from random weights improves the held-out accuracy.
    assert scores[-1] > scores[0]


def test_score_curve_uses_the_scoring_given(iris_split):
    _, X_test, _, y_test = iris_split
    trained, scores = scored_pipeline(iris_split, "gd", 5, scoring="neg_log_loss")
    assert_allclose(scores[-1], -log_loss(y_test, trained.predict_proba(X_test)))


def test_score_curve_rejects_estimators_without_partial_fit(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    with pytest.raises(ValueError, match="partial_fit"):
        score_curve(LogisticRegression(), X_train, y_train, X_test, y_test, max_iter=3)
    with pytest.raises(ValueError, match="last step of the pipeline"):
        score_curve(
            make_pipeline(StandardScaler(), LogisticRegression()),
            X_train,
            y_train,
            X_test,
            y_test,
            max_iter=3,
        )
    with pytest.raises(ValueError, match="max_iter"):
        score_curve(
            study_classifier("gd"), X_train, y_train, X_test, y_test, max_iter=0
        )


def test_from_estimator_draws_the_loss_curve(iris_split):
    X_train, _, y_train, _ = iris_split
    clf = fit_quietly(study_classifier("gd", max_iter=25), X_train, y_train)
    display = LossCurveDisplay.from_estimator(clf)
    assert_array_equal(display.line_.get_xdata(), np.arange(1, 26))
    assert_array_equal(display.line_.get_ydata(), clf.loss_curve_)
    assert display.ax_.get_xlabel() == "Iteration"
    assert display.ax_.get_ylabel() == "Training loss"
    assert display.ax_.get_yscale() == "linear"
    assert legend_texts(display.ax_) == ["SoftplusMLPClassifier: training loss"]
    assert display.score_line_ is None and display.score_ax_ is None
    assert display.figure_.axes == [display.ax_]


def test_from_estimator_draws_scores_on_a_twin_axis(iris_split):
    trained, scores = scored_pipeline(iris_split, "nag", 20)
    display = LossCurveDisplay.from_estimator(
        trained, scores=scores, score_name="test accuracy", name="NAG", log_scale=True
    )
    assert_array_equal(display.line_.get_ydata(), trained[-1].loss_curve_)
    assert_array_equal(display.score_line_.get_xdata(), np.arange(1, 21))
    assert_array_equal(display.score_line_.get_ydata(), scores)
    assert display.ax_.get_yscale() == "log"
    assert display.score_ax_.get_yscale() == "linear"
    assert display.score_ax_.get_ylabel() == "Test accuracy"
    assert display.score_ax_.get_shared_x_axes().joined(display.ax_, display.score_ax_)
    assert display.score_line_.get_color() == display.line_.get_color()
    assert display.score_line_.get_linestyle() == "--"
    # One legend for both axes, on the twin.
    assert display.ax_.get_legend() is None
    assert legend_texts(display.score_ax_) == [
        "NAG: training loss",
        "NAG: test accuracy",
    ]


def test_several_estimators_share_the_axes_and_the_twin(iris_split):
    displays = []
    for solver in ["gd", "nag"]:
        trained, scores = scored_pipeline(iris_split, solver, 15)
        displays.append(
            LossCurveDisplay.from_estimator(
                trained,
                scores=scores,
                score_name="test accuracy",
                name=solver.upper(),
                ax=displays[0].ax_ if displays else None,
            )
        )
    gd, nag = displays
    assert nag.ax_ is gd.ax_ and nag.score_ax_ is gd.score_ax_
    assert len(nag.figure_.axes) == 2
    assert len(nag.ax_.get_lines()) == 2 and len(nag.score_ax_.get_lines()) == 2
    assert gd.line_.get_color() != nag.line_.get_color()
    assert nag.score_line_.get_color() == nag.line_.get_color()
    assert legend_texts(nag.score_ax_) == [
        "GD: training loss",
        "NAG: training loss",
        "GD: test accuracy",
        "NAG: test accuracy",
    ]


def test_from_estimator_uses_validation_scores_with_early_stopping(iris_split):
    X_train, _, y_train, _ = iris_split
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(8,), early_stopping=True, max_iter=40, random_state=0
    )
    clf = fit_quietly(clf, StandardScaler().fit_transform(X_train), y_train)
    display = LossCurveDisplay.from_estimator(clf, name="ES")
    assert_array_equal(display.score_line_.get_ydata(), clf.validation_scores_)
    assert display.score_ax_.get_ylabel() == "Validation accuracy"
    assert legend_texts(display.score_ax_)[-1] == "ES: validation accuracy"
    # The validation loss shares the loss axis, dotted in the loss's colour.
    line = display.validation_line_
    assert_array_equal(line.get_xdata(), np.arange(1, clf.n_iter_ + 1))
    assert_array_equal(line.get_ydata(), clf.validation_loss_curve_)
    assert line.axes is display.ax_
    assert line.get_color() == display.line_.get_color()
    assert line.get_linestyle() == ":"
    assert display.ax_.get_ylabel() == "Loss"
    assert legend_texts(display.score_ax_) == [
        "ES: training loss",
        "ES: validation loss",
        "ES: validation accuracy",
    ]


def test_without_early_stopping_no_validation_loss_is_drawn(iris_split):
    X_train, _, y_train, _ = iris_split
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    clf = fit_quietly(clf, StandardScaler().fit_transform(X_train), y_train)
    display = LossCurveDisplay.from_estimator(clf)
    assert display.validation_line_ is None
    assert display.ax_.get_ylabel() == "Training loss"


def test_validation_loss_style_overrides_and_length_check():
    display = LossCurveDisplay(
        loss_curve=[3.0, 2.0, 1.5], validation_loss_curve=[3.1, 2.4, 2.2]
    ).plot(loss_kw={"c": "red"}, validation_loss_kw={"lw": 4, "linestyle": "-."})
    assert display.validation_line_.get_color() == "red"
    assert display.validation_line_.get_linewidth() == 4
    assert display.validation_line_.get_linestyle() == "-."
    assert legend_texts(display.ax_) == ["training loss", "validation loss"]
    display = LossCurveDisplay(loss_curve=[1.0, 0.5], validation_loss_curve=[0.1])
    with pytest.raises(ValueError, match="one validation loss per iteration"):
        display.plot()


def test_plot_on_separate_score_axes_with_style_overrides():
    _, (loss_ax, score_ax) = plt.subplots(1, 2)
    display = LossCurveDisplay(loss_curve=[3.0, 2.0, 1.5], scores=[0.2, 0.5, 0.7])
    display.plot(
        ax=loss_ax, score_ax=score_ax, loss_kw={"c": "red"}, score_kw={"lw": 3}
    )
    assert display.score_ax_ is score_ax
    assert display.line_.get_color() == "red"
    assert display.score_line_.get_color() == "red"
    assert display.score_line_.get_linestyle() == "-"
    assert display.score_line_.get_linewidth() == 3
    assert legend_texts(loss_ax) == ["training loss"]
    assert legend_texts(score_ax) == ["score"]
    assert score_ax.get_ylabel() == "Score"


def test_plot_rejects_scores_of_another_length():
    display = LossCurveDisplay(loss_curve=[1.0, 0.5], scores=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="one score per iteration"):
        display.plot()


def test_from_estimator_needs_a_fitted_estimator():
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(SoftplusMLPClassifier())
    with pytest.raises(ValueError, match="no loss_curve_"):
        LossCurveDisplay.from_estimator(StandardScaler().fit([[0.0], [1.0]]))


def test_plot_study_writes_the_png(tmp_path):
    histories = {
        "GD": ([1.1, 1.0, 0.9, 0.85], [0.3, 0.5, 0.6, 0.6]),
        "NAG": ([1.1, 0.8, 0.4, 0.2], [0.3, 0.7, 0.9, 1.0]),
    }
    path = tmp_path / "study.png"
    figure = plot_study(histories, path, title="GD vs NAG")
    loss_ax, score_ax = figure.axes
    for ax, column in [(loss_ax, 0), (score_ax, 1)]:
        for line, history in zip(ax.get_lines(), histories.values()):
            assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
            assert_array_equal(line.get_ydata(), history[column])
    assert legend_texts(loss_ax) == ["GD: training loss", "NAG: training loss"]
    assert legend_texts(score_ax) == ["GD: test accuracy", "NAG: test accuracy"]
    assert loss_ax.get_yscale() == "log"
    # NAG's loss spans 1.1 to 0.2: ticks between the powers of ten.
    assert len(labelled_ticks(loss_ax.yaxis)) >= 4
    assert score_ax.get_ylabel() == "Test accuracy"
    assert [text.get_text() for text in figure.texts] == ["GD vs NAG"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 10 x 4 inches at 100 dpi, RGBA.
    assert matplotlib.image.imread(path).shape == (400, 1000, 4)
    # plot_study leaves no pyplot figure open behind it.
    assert plt.get_fignums() == []


def test_python_m_skmlp_writes_the_study_figure(tmp_path, capsys, monkeypatch):
    figures = []

    def recording_plot_study(*args, **kwargs):
        figures.append(plot_study(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(skmlp.__main__, "plot_study", recording_plot_study)
    assert skmlp.__main__.main(["--max-iter", "40", "--out", str(tmp_path)]) == 0
    path = tmp_path / "skmlp-study.png"
    assert f"Wrote {path}" in capsys.readouterr().out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(path).shape == (400, 1000, 4)

    # The figure shows the saved models' loss curves, and test accuracies
    # that end at the saved models' test scores (the command's split).
    X, y = load_iris(return_X_y=True)
    _, X_test, _, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    (figure,) = figures
    loss_ax, score_ax = figure.axes
    assert legend_texts(loss_ax) == ["GD: training loss", "NAG: training loss"]
    assert legend_texts(score_ax) == ["GD: test accuracy", "NAG: test accuracy"]
    for solver, loss_line, score_line in zip(
        ["gd", "nag"], loss_ax.get_lines(), score_ax.get_lines()
    ):
        model = joblib.load(tmp_path / f"skmlp-{solver}.joblib")
        assert_array_equal(loss_line.get_ydata(), model[-1].loss_curve_)
        assert len(score_line.get_ydata()) == 40
        assert score_line.get_ydata()[-1] == model.score(X_test, y_test)


def labelled_ticks(axis):
    """(position, text) of the ticks of ``axis`` labelled in the drawn figure."""
    axis.figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    return [
        (tick, label.get_text())
        for tick, label in zip(
            [*axis.get_majorticklocs(), *axis.get_minorticklocs()],
            [*axis.get_majorticklabels(), *axis.get_minorticklabels()],
        )
        if label.get_text() and low <= tick <= high
    ]


def assert_legend_hides_nothing(display):
    figure = display.figure_
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = (display.score_ax_ or display.ax_).get_legend()
    box = legend.get_window_extent(renderer)
    # Outside the axes (so off every curve, wherever it runs), inside the
    # figure, and off the x axis's tick labels and label.
    assert not box.overlaps(display.ax_.get_window_extent(renderer))
    assert figure.bbox.contains(box.x0, box.y0) and figure.bbox.contains(box.x1, box.y1)
    assert not box.overlaps(display.ax_.xaxis.get_tightbbox(renderer))
    for ax in {display.ax_, display.score_ax_} - {None}:
        for line in ax.get_lines():
            points = line.get_transform().transform(line.get_xydata())
            assert not box.count_contains(points)


def test_legend_hides_no_curve_of_two_models_with_scores(iris_split):
    # The case: the legend covered the end of GD's loss curve.
    displays = []
    for solver in ["gd", "nag"]:
        trained, scores = scored_pipeline(iris_split, solver, 60)
        displays.append(
            LossCurveDisplay.from_estimator(
                trained,
                scores=scores,
                score_name="test accuracy",
                name=solver.upper(),
                ax=displays[0].ax_ if displays else None,
                log_scale=True,
            )
        )
    displays[-1].ax_.set_title("A title keeps its place above the axes")
    assert_legend_hides_nothing(displays[-1])
    renderer = displays[-1].figure_.canvas.get_renderer()
    assert not (
        displays[-1]
        .score_ax_.get_legend()
        .get_window_extent(renderer)
        .overlaps(displays[-1].ax_.title.get_window_extent(renderer))
    )


def test_legend_hides_no_curve_with_early_stopping(iris_split):
    X_train, _, y_train, _ = iris_split
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(8,), early_stopping=True, max_iter=40, random_state=0
    )
    clf = fit_quietly(clf, StandardScaler().fit_transform(X_train), y_train)
    assert_legend_hides_nothing(LossCurveDisplay.from_estimator(clf, name="ES"))
    # And a loss curve alone, on axes of the user's.
    _, ax = plt.subplots(layout="constrained")
    assert_legend_hides_nothing(
        LossCurveDisplay(loss_curve=[3.0, 2.0, 1.5, 1.4]).plot(ax=ax)
    )


def test_log_loss_axis_labels_ticks_between_powers_of_ten():
    # The loss of the study spans about a decade and a half: with
    # matplotlib's default only 0.1 and 1 were labelled.
    display = LossCurveDisplay(loss_curve=np.geomspace(1.1, 0.05, 30)).plot(
        log_scale=True
    )
    ticks = labelled_ticks(display.ax_.yaxis)
    assert len(ticks) >= 5
    for position, text in ticks:
        assert float(text) == pytest.approx(position)
    assert {text for _, text in ticks} >= {"0.05", "0.1", "0.2", "0.5", "1"}
    # Over many decades only the powers of ten are labelled.
    display = LossCurveDisplay(loss_curve=np.geomspace(1.0, 1e-6, 30)).plot(
        log_scale=True
    )
    ticks = labelled_ticks(display.ax_.yaxis)
    assert all(np.log10(position) == pytest.approx(round(np.log10(position)))
               for position, _ in ticks)  # fmt: skip


@pytest.mark.parametrize("names", [["GD", "NAG"], ["NAG"], ["NAG", "GD"], ["GD"]])
def test_each_solver_keeps_its_colour_in_the_study_figure(tmp_path, names):
    histories = {name: ([1.1, 0.8, 0.5], [0.3, 0.6, 0.9]) for name in names}
    figure = plot_study(histories, tmp_path / "study.png")
    expected = {"GD": "tab:blue", "NAG": "tab:orange"}
    for ax in figure.axes:
        for name, line in zip(names, ax.get_lines()):
            assert to_hex(line.get_color()) == to_hex(expected[name])


@pytest.mark.parametrize(
    "kwargs", [dict(loss_kw={"label": "_nolegend_"}), dict(name="_hidden")]
)
def test_lines_all_hidden_from_the_legend_draw_with_no_legend(kwargs):
    # "_nolegend_" is matplotlib's way to leave a line out of the legend;
    # with every line left out, legend(handles=[]) raised a ValueError.
    display = LossCurveDisplay(loss_curve=[1.0, 0.5]).plot(**kwargs)
    assert display.ax_.get_legend() is None
    assert_array_equal(display.line_.get_ydata(), [1.0, 0.5])


def test_the_legend_of_an_early_stopping_classifier_stays_within_the_figure(
    iris_split,
):
    # Its three long labels in two columns ran 17 pixels past each side of
    # the default figure, which constrained layout does not move.
    X_train, _, y_train, _ = iris_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftplusMLPClassifier(
            (5,), early_stopping=True, max_iter=5, random_state=0
        ).fit(X_train, y_train)
    display = LossCurveDisplay.from_estimator(clf)
    figure = display.figure_
    figure.canvas.draw()
    legend = [a for a in figure.axes if a.get_legend() is not None][0].get_legend()
    box = legend.get_window_extent()
    assert len(legend.get_texts()) == 3
    assert 0 <= box.x0 and box.x1 <= figure.bbox.width


def test_a_curve_of_one_iteration_is_drawn_as_a_point():
    display = LossCurveDisplay(
        loss_curve=[0.7], validation_loss_curve=[0.8], scores=[0.5]
    ).plot()
    for line in (display.line_, display.validation_line_, display.score_line_):
        assert line.get_marker() == "o"
    # A longer curve is a line, and the user's marker wins.
    assert LossCurveDisplay(loss_curve=[1.0, 0.5]).plot().line_.get_marker() == "None"
    one = LossCurveDisplay(loss_curve=[0.7]).plot(loss_kw={"marker": "s"})
    assert one.line_.get_marker() == "s"


def test_legends_in_a_grid_of_subplots_stay_within_their_cells(iris_split):
    # One column, then the name on its own line: two columns of three long
    # labels spanned 674 pixels in cells of 300, over their neighbours.
    X_train, _, y_train, _ = iris_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftplusMLPClassifier(
            (3,), max_iter=3, early_stopping=True, random_state=0
        ).fit(X_train, y_train)
    figure, axes = plt.subplots(1, 3, figsize=(9, 3), layout="constrained")
    for ax in axes:
        LossCurveDisplay.from_estimator(clf, ax=ax)
    figure.canvas.draw()
    boxes = [a.get_legend().get_window_extent() for a in figure.axes if a.get_legend()]
    assert len(boxes) == 3
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 <= right.x0
    assert boxes[0].x0 >= 0 and boxes[-1].x1 <= figure.bbox.width
