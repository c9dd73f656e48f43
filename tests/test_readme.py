"""README.md tells the truth: its Python example runs and its numbers hold."""

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import ConvergenceWarning

README = Path(__file__).resolve().parents[1] / "README.md"
README_COMMANDS = re.compile(r"<!-- (\w+-command) -->\n```sh\n(.*)\n```")
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
    commands = README_COMMANDS.findall(text)
    assert dict(commands) == {
        "main-command": "python3 -m venv .venv && . .venv/bin/activate && "
        "pip install . && python -m skmlp",
        "test-command": "python3 -m venv .venv && . .venv/bin/activate && "
        'pip install ".[test]" && python -m pytest',
    }


# Stand-ins for python3 and for the tools of the environments it makes: each
# records the folder it runs in, NO_COLOR and its arguments, so that .ci/run
# can be run without installing anything.
FAKE_PYTHON3 = """#!/bin/sh
echo "python3|$PWD|$*" >> "$CI_LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    for tool in python pip ruff sphinx-build; do
        cp "$FAKE_TOOL" "$3/bin/$tool"
    done
    printf 'PATH="%s/bin:$PATH"\\ndeactivate() { :; }\\n' "$PWD/$3" > "$3/bin/activate"
fi
"""
FAKE_TOOL = """#!/bin/sh
echo "$(basename "$0")|$PWD|NO_COLOR=${NO_COLOR-unset}|$*" >> "$CI_LOG"
case "$*" in
    "-m skmlp")
        mkdir -p skmlp-output
        for name in skmlp-gd.joblib skmlp-nag.joblib skmlp-study.png; do
            echo fake > "skmlp-output/$name"
        done ;;
    "-m pip list") echo "numpy 1.23.5" ;;
esac
"""


def test_ci_runs_the_readme_commands_in_a_fresh_clone_and_leaves_the_folder_alone(
    tmp_path,
):
    root = README.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git clone")
    user = tmp_path / "user"
    subprocess.run(["git", "clone", "--quiet", str(root), str(user)], check=True)
    # The script of this tree, committed or not.
    shutil.copy(root / ".ci" / "run", user / ".ci" / "run")
    # A user's environment and results, which CI must not touch.
    for sentinel in (user / ".venv" / "mine", user / "skmlp-output" / "mine.png"):
        sentinel.parent.mkdir()
        sentinel.write_text("the user's")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name, text in [("python3", FAKE_PYTHON3), ("fake-tool", FAKE_TOOL)]:
        (fake_bin / name).write_text(text)
        (fake_bin / name).chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    log = tmp_path / "ci.log"
    environment = {
        **os.environ,
        "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
        "CI": "true",
        "CI_LOG": str(log),
        "FAKE_TOOL": str(fake_bin / "fake-tool"),
        "TMPDIR": str(scratch),
    }
    environment.pop("NO_COLOR", None)
    result = subprocess.run(
        ["bash", str(user / ".ci" / "run")],
        env=environment,
        capture_output=True,
        text=True,
        cwd=user,
    )
    assert result.returncode == 0, result.stderr
    calls = [line.split("|") for line in log.read_text().splitlines()]
    folders = {call[1] for call in calls}
    assert len(folders) == 1
    (clone,) = folders
    assert clone.startswith(str(scratch)) and Path(clone).name == "skmlp"
    # The README commands ran there, word for word, the first one first.
    main_command, test_command = [
        command for _, command in README_COMMANDS.findall(README.read_text())
    ]
    assert f"+ {main_command}\n" in result.stdout
    assert f"+ {test_command}\n" in result.stdout
    assert calls[1][0] == "python3" and calls[1][2] == "-m venv .venv"
    assert ["python", clone, "NO_COLOR=1", "-m skmlp"] in calls
    assert ["python", clone, "NO_COLOR=1", "-m pytest"] in calls
    # Sphinx was told not to colour the log, though CI=true.
    (sphinx,) = [call for call in calls if call[0] == "sphinx-build"]
    assert sphinx[2] == "NO_COLOR=1"
    # The user's folder is as it was, and the clone is gone.
    assert (user / ".venv" / "mine").read_text() == "the user's"
    assert sorted(p.name for p in (user / "skmlp-output").iterdir()) == ["mine.png"]
    assert not (user / ".ci-oldest").exists()
    assert list(scratch.iterdir()) == []
