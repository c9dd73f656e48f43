"""The built documentation opened in a real browser with no network.

The pages are read as a newcomer reads them: ``docs/_build/html/index.html``
opened from disk in headless Chromium, in a network namespace with no
interface up (``unshare -n``, where allowed) and with every host name
unresolvable, so that anything the pages fetch from the web is missing. The
assertions are made on the DOM after the scripts ran (``--dump-dom``): the
formulas must be typeset by MathJax, not left as raw LaTeX, and every page of
the top bar must be there.

Build the documentation first (docs/BUILD.txt). Without Chromium or the build
the tests skip; ``.ci/run`` sets ``SKMLP_DOCS_BROWSER_TEST=required`` after
building, which turns such a skip into a failure.
"""

import functools
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

HTML = Path(__file__).resolve().parent.parent / "docs" / "_build" / "html"
TOP_BAR = [
    "Quick start",
    "User guide",
    "Solvers measured",
    "Export",
    "Scaling out",
    "Performance",
    "API",
    "Examples",
]


def _require(condition, reason):
    if condition:
        return
    if os.environ.get("SKMLP_DOCS_BROWSER_TEST") == "required":
        pytest.fail(f"{reason} (SKMLP_DOCS_BROWSER_TEST=required)")
    pytest.skip(reason)


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@functools.cache
def _offline_prefix():
    """``unshare -n`` where this user may make a network namespace, else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"]).returncode == 0:
        return (unshare, "-n")
    return ()


@functools.cache
def rendered(page):
    """The DOM of a built page after its scripts ran, opened from disk offline."""
    _require(_chromium() is not None, "Chromium is not installed")
    _require((HTML / "index.html").exists(), f"the docs are not built in {HTML}")
    path = HTML / page
    assert path.exists(), f"{page} is not in the built docs"
    with tempfile.TemporaryDirectory() as profile:
        command = [
            *_offline_prefix(),
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # No name resolves and every request goes to a closed port, so
            # the page gets nothing from the web even where unshare is denied.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            # Lets MathJax finish typesetting before the DOM is dumped.
            "--virtual-time-budget=20000",
            "--dump-dom",
            path.as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "</html>" in result.stdout, result.stderr[-2000:]
    return result.stdout


class _Page(HTMLParser):
    """Visible text, MathJax output elements and top-bar links of a DOM."""

    _INVISIBLE = {"script", "style", "noscript", "template", "mjx-assistive-mml"}

    def __init__(self, dom):
        super().__init__()
        self.text = []
        self.mathjax_outputs = 0
        self.navbar_links = []
        self.navbar_dropdowns = 0
        self._hidden = []
        self._navbar_depth = 0
        self._open = []
        self._link = None
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        self._open.append(tag)
        if tag in self._INVISIBLE:
            self._hidden.append(tag)
        if tag == "mjx-container":
            self.mathjax_outputs += 1
        # The header's copy of the top bar (the sidebar repeats it on phones).
        header = "bd-header" in self._classes_above
        if tag == "ul" and "navbar-nav" in classes and header:
            self._navbar_depth = len(self._open)
        if self._navbar_depth:
            if "dropdown" in classes or "dropdown-toggle" in classes:
                self.navbar_dropdowns += 1
            if tag == "a" and "nav-link" in classes:
                self._link = [attrs.get("href"), ""]
        self._class_stack.append(classes)

    @property
    def _classes_above(self):
        return {name for classes in self._class_stack for name in classes}

    def handle_endtag(self, tag):
        if tag not in self._open:
            return
        while self._open:
            opened = self._open.pop()
            self._class_stack.pop()
            if self._hidden and opened == self._hidden[-1]:
                self._hidden.pop()
            if self._navbar_depth > len(self._open):
                self._navbar_depth = 0
            if opened == "a" and self._link is not None:
                self.navbar_links.append((self._link[0], self._link[1].strip()))
                self._link = None
            if opened == tag:
                break

    def handle_data(self, data):
        if self._link is not None:
            self._link[1] += data
        if not self._hidden:
            self.text.append(data)

    def reset(self):
        super().reset()
        self._class_stack = []

    @property
    def visible_text(self):
        return " ".join(self.text)


def _math_in_source(page):
    """Number of formulas Sphinx wrote into the page for MathJax to typeset."""
    source = (HTML / page).read_text(encoding="utf-8")
    return len(re.findall(r'class="math[ "]', source))


def test_user_guide_formulas_are_typeset_offline_not_shown_as_latex():
    page = _Page(rendered("user_guide.html"))
    formulas = _math_in_source("user_guide.html")
    assert formulas > 50
    assert page.mathjax_outputs >= formulas
    raw = [m.start() for m in re.finditer(r"\\[(\[]", page.visible_text)]
    assert raw == [], page.visible_text[raw[0] - 100 : raw[0] + 100] if raw else ""


def test_top_bar_shows_every_section_and_each_page_renders_its_math_offline():
    index = _Page(rendered("index.html"))
    titles = [title for _, title in index.navbar_links]
    assert titles == TOP_BAR
    assert index.navbar_dropdowns == 0, "a section hides under a 'More' menu"
    for href, title in index.navbar_links:
        target = href.split("#")[0]
        page = _Page(rendered(target))
        assert page.visible_text.strip(), f"{title}: {target} renders empty"
        assert page.mathjax_outputs >= _math_in_source(target), title
        assert not re.search(r"\\[(\[]", page.visible_text), title
        source = (HTML / target).read_text(encoding="utf-8")
        if "Section Navigation" in source:
            start = source.index("Section Navigation")
            sidebar = source[start : source.index("</nav>", start)]
            assert "<a " in sidebar, f"{title}: empty Section Navigation box"


def _pages_with_formulas():
    if not HTML.exists():
        return []
    return sorted(
        str(path.relative_to(HTML))
        for path in HTML.rglob("*.html")
        if "_sources" not in path.parts and _math_in_source(path.relative_to(HTML))
    )


def test_every_page_with_formulas_typesets_them_offline():
    pages = _pages_with_formulas()
    _require(pages, f"the docs are not built in {HTML}")
    assert "auto_examples/plot_gradient_check.html" in pages
    for target in pages:
        page = _Page(rendered(target))
        assert page.mathjax_outputs >= _math_in_source(target), target
        assert not re.search(r"\\[(\[]", page.visible_text), target


def test_pages_load_nothing_from_the_web():
    # What a page fetches by itself (scripts, styles, images) must be in the
    # build, or it is missing offline; links the reader follows may go out.
    fetched = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(https?:)?//')
    _require((HTML / "index.html").exists(), f"the docs are not built in {HTML}")
    offenders = [
        f"{path.relative_to(HTML)}: {match.group(0)}"
        for path in HTML.rglob("*.html")
        for match in fetched.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "page, target",
    [
        ("quick_start.html", "sklearn.neural_network.MLPClassifier"),
        ("quick_start.html", "sklearn.model_selection.GridSearchCV"),
        ("user_guide.html", "sklearn.neural_network.MLPClassifier"),
        ("scaling_out.html", "sklearn.pipeline.Pipeline"),
        ("auto_examples/plot_grid_search.html", "sklearn.model_selection.GridSearchCV"),
        ("auto_examples/plot_joblib_persistence.html", "joblib.dump"),
    ],
)
def test_scikit_learn_numpy_and_joblib_names_link_to_their_docs(page, target):
    _require((HTML / "index.html").exists(), f"the docs are not built in {HTML}")
    site = {
        "sklearn": "https://scikit-learn.org/stable/modules/generated/",
        "joblib": "https://joblib.readthedocs.io/en/stable/generated/",
    }[target.split(".")[0]]
    link = f'href="{site}{target}.html#{target}"'
    assert link in (HTML / page).read_text(encoding="utf-8")


def test_quick_start_shows_the_figure_its_loss_curve_code_draws():
    _require((HTML / "index.html").exists(), f"the docs are not built in {HTML}")
    source = (HTML / "quick_start.html").read_text(encoding="utf-8")
    code_at = source.index("from_estimator")
    images = re.findall(r'<img [^>]*src="([^"]+\.png)"', source[code_at:])
    assert images, "no figure after the LossCurveDisplay code"
    png = (HTML / images[0]).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_estimator_page_documents_inherited_methods_and_the_callbacks_version():
    _require((HTML / "index.html").exists(), f"the docs are not built in {HTML}")
    page = (HTML / "generated" / "skmlp.SoftplusMLPClassifier.html").read_text(
        encoding="utf-8"
    )
    for method in ["fit", "score", "get_params", "set_params"]:
        assert f'id="skmlp.SoftplusMLPClassifier.{method}"' in page, method
    if 'id="skmlp.SoftplusMLPClassifier.set_callbacks"' in page:
        assert "scikit-learn 1.9 or later" in page
