"""README.md tells the truth: its Python example runs and its numbers hold."""

import re
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import ConvergenceWarning

README = Path(__file__).resolve().parents[1] / "README.md"
pytestmark = [
    pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests"),
    # Any warning a test does not expect fails it.
    pytest.mark.filterwarnings("error"),
]


def test_readme_python_example_runs_clean_and_finds_a_good_learning_rate(capsys):
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(example, str(README), "exec"), {})
    # The first example a user copies converges in every fit of the search:
    # no ConvergenceWarning, nor any other warning.
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert [str(w.message) for w in caught] == []
    best_params, loss = capsys.readouterr().out.strip().splitlines()
    assert "softplusmlpclassifier__learning_rate_init" in best_params
    assert float(best_params.rsplit(" ", 1)[1]) > 0.9  # best_score_
    assert 0 < float(loss) < 0.2


def test_readme_set_up_commands_are_marked_for_ci():
    # .ci/run finds the commands by these markers and runs them verbatim.
    text = README.read_text()
    commands = re.findall(r"<!-- (\w+-command) -->\n```sh\n(.*)\n```", text)
    assert dict(commands) == {
        "main-command": "python3 -m venv .venv && . .venv/bin/activate && "
        "pip install . && python -m skmlp",
        "test-command": "python3 -m venv .venv && . .venv/bin/activate && "
        'pip install ".[test]" && python -m pytest',
    }
