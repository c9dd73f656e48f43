"""The documentation as a reader meets it: install commands that work.

skmlp is installed from a clone of its repository, not from PyPI, so every
install command shown to a user must be the README's ``pip install ".[extra]"``
form; ``pip install skmlp[extra]`` fails with "No matching distribution".
"""

import re
import runpy
import sys
import warnings
import zlib
from pathlib import Path

import pytest

import skmlp

ROOT = Path(__file__).resolve().parent.parent
USER_TEXT = [
    *sorted((ROOT / "docs").glob("*.rst")),
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "examples").glob("*.py")),
    *sorted((ROOT / "skmlp").rglob("*.py")),
    ROOT / "README.md",
]


def test_user_text_installs_extras_from_a_clone_not_from_pypi():
    from_pypi = re.compile(r"pip install\s+['\"]?skmlp\b")
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in USER_TEXT
        for line in path.read_text(encoding="utf-8").splitlines()
        if from_pypi.search(line)
    ]
    assert offenders == []


def test_onnx_converter_without_skl2onnx_says_how_to_install_the_extra(monkeypatch):
    # A None entry in sys.modules makes "import skl2onnx" raise ImportError.
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r'pip install "\.\[onnx\]"'):
        skmlp.register_onnx_converter()


def _inventory_names():
    """Names in the intersphinx inventories kept in docs/inventories."""
    names = set()
    for path in (ROOT / "docs" / "inventories").glob("*.inv"):
        header, _, body = path.read_bytes().partition(b"zlib.\n")
        for line in zlib.decompress(body).decode().splitlines():
            names.add(line.split(" ", 1)[0])
    return names


def test_docs_cite_only_names_their_offline_inventories_can_link():
    # Sphinx silently leaves an unknown external name unlinked; this finds it.
    role = re.compile(r"[:}]`~?((?:sklearn|numpy|scipy|joblib|matplotlib)\.[\w.]+)`")
    known = _inventory_names()
    unknown = sorted(
        {
            f"{path.relative_to(ROOT)}: {name}"
            for path in USER_TEXT
            for name in role.findall(path.read_text(encoding="utf-8"))
            if name not in known
        }
    )
    assert unknown == []


def test_user_pages_carry_no_commit_hashes_test_paths_or_study_history():
    developer_text = re.compile(
        r"commit `?[0-9a-f]{7}|\(\w*[0-9a-f]{7}\)|tests/test_\w+\.py|the tests ask"
        r"|original study|study, corrected|seed study",
        re.I,
    )
    pages = [*sorted((ROOT / "docs").glob("*.rst")), *sorted(ROOT.glob("docs/*.md"))]
    pages += sorted((ROOT / "examples").glob("*.py"))
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in pages
        for match in developer_text.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_out_of_core_example_prints_what_its_text_says(capsys):
    # Its text says that training chunk by chunk is exactly training with
    # mini-batches of the chunk size, and that only a chunk is in memory at
    # a time: its printout must show both.
    plt = pytest.importorskip("matplotlib.pyplot")
    backend = plt.get_backend()
    plt.switch_backend("Agg")
    try:
        with warnings.catch_warnings():
            # plt.show() on Agg says that it cannot show the figure.
            warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive")
            runpy.run_path(str(ROOT / "examples" / "plot_out_of_core.py"))
    finally:
        plt.close("all")
        plt.switch_backend(backend)
    printed = capsys.readouterr().out

    def figure(pattern):
        return float(re.search(pattern, printed).group(1))

    assert figure(r"largest difference from fit\(batch_size=\d+\): (\S+)") <= 1e-12
    peak = figure(r"peak of the memory allocated while training: (\S+) MiB")
    whole = figure(r"the whole data set would take (\S+) MiB")
    assert peak < whole / 2


def test_the_architecture_walk_names_every_module_once_and_the_map_each_module():
    # docs/architecture.rst walks from fit to the end of an epoch naming each
    # file of the package once; a module added (or moved) later must find its
    # place in the walk and in the module map, or this fails.
    page = (ROOT / "docs" / "architecture.rst").read_text()
    walk = page[page.index("From ``fit`` to the end of an epoch") :]
    module_map = page[page.index("The module map") : page.index("From ``fit``")]
    package = ROOT / "skmlp"
    modules = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py"
    )
    named = {module: walk.count(f"``{module}``") for module in modules}
    assert {module: n for module, n in named.items() if n != 1} == {}
    unmapped = [
        module
        for module in modules
        if module != "__main__.py" and f"``{module}``" not in module_map
    ]
    assert unmapped == []
