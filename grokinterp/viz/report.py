"""Write figures as an offline HTML report, and export single figures as images.

:func:`write_report` writes one page per figure (``<name>.html``) and an ``index.html``
with every figure on one page, next to a single copy of plotly.js (``plotly.min.js``,
taken from the installed plotly package). No page embeds plotly.js or refers to a CDN,
so the folder works offline and each page is small. Every page starts with a tiny script
that records JavaScript errors (and failed script loads) into ``<pre id="js-errors">``,
so a broken page says so instead of staying blank.

:func:`export_static` writes PNG, SVG, PDF, JPEG or WebP through kaleido, which drives a
Chromium-based browser; :func:`static_export_available` says whether both are present.
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import plotly.io as pio
import plotly.offline
from plotly.basedatatypes import BaseFigure

from grokinterp.runs.io import atomic_write_bytes, atomic_write_text

__all__ = [
    "PLOTLY_JS",
    "export_static",
    "static_export_available",
    "write_figure_set",
    "write_report",
]

PLOTLY_JS = "plotly.min.js"
STATIC_FORMATS = {
    ".png": "png",
    ".svg": "svg",
    ".pdf": "pdf",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
}
INSTALL_HINT = (
    "static image export needs kaleido and a Chromium-based browser: "
    "`pip install kaleido` and `apt-get install chromium` "
    "(or `plotly_get_chrome`, which downloads one)"
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Runs before plotly.js: records errors (script errors, failed resource loads, rejected
# promises) into <pre id="js-errors">, shown only when there is one.
_ERROR_SCRIPT = """<script>
(function () {
  var errors = [];
  function show() {
    var el = document.getElementById("js-errors");
    if (!el) return;
    el.textContent = errors.join("\\n");
    el.hidden = errors.length === 0;
  }
  function record(msg) { errors.push(String(msg)); show(); }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) {
      record("failed to load " + (t.src || t.href));
    } else {
      record((e.message || "error") + (e.filename ? " (" + e.filename + ":" + e.lineno + ")" : ""));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    record("unhandled rejection: " + ((r && r.message) || r));
  });
  document.addEventListener("DOMContentLoaded", show);
})();
</script>"""

_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1100px;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; }
h2 { font-size: 1.1rem; margin: 2rem 0 0.4rem; }
h2 a.alone { font-size: 0.8rem; font-weight: normal; margin-left: 0.6rem; }
nav ul { columns: 2; }
section.note p { color: #666; font-style: italic; }
p.caption { color: #333; margin: 0.2rem 0 0.6rem; max-width: 60rem; }
section.headline { border: 1px solid #ccc; border-radius: 6px; padding: 0.6rem 1rem;
                   background: #fafafa; }
section.headline h2 { margin-top: 0.2rem; }
section.headline table { border-collapse: collapse; }
section.headline th { text-align: left; vertical-align: top; padding: 0.25rem 1rem 0.25rem 0;
                      white-space: nowrap; font-weight: 600; }
section.headline td { padding: 0.25rem 0; }
section.definitions dt { font-weight: 600; margin-top: 0.6rem; }
section.definitions dd { margin-left: 1rem; }
#js-errors { color: #b00; white-space: pre-wrap; border: 1px solid #b00; padding: 0.5rem; }
</style>"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n{_STYLE}\n{_ERROR_SCRIPT}\n"
        f'<script charset="utf-8" src="{PLOTLY_JS}"></script>\n</head>\n<body>\n'
        '<pre id="js-errors" hidden></pre>\n'
        f"{body}\n</body>\n</html>\n"
    )


def _check_names(figures: Mapping[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, value in figures.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"figure name {name!r}: use letters, digits, '_', '.', '-' (it becomes a file name)"
            )
        if name.lower() == "index":
            raise ValueError("figure name 'index' is reserved for the report's index.html")
        if name.lower() in seen:
            raise ValueError(
                f"figure names {seen[name.lower()]!r} and {name!r} differ only in case"
            )
        seen[name.lower()] = name
        if not isinstance(value, (BaseFigure, str)):
            raise TypeError(
                f"figure {name!r}: expected a plotly Figure or a note string, got "
                f"{type(value).__name__}"
            )


def _figure_div(fig: BaseFigure, name: str) -> str:
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            div_id=f"fig-{name}",
            config={"responsive": True, "displaylogo": False},
        )
    )


def _write_plotlyjs(out_dir: Path) -> None:
    source = plotly.offline.get_plotlyjs()
    target = out_dir / PLOTLY_JS
    try:
        if target.read_text(encoding="utf-8") == source:
            return
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    atomic_write_text(target, source)


def write_report(
    figures: Mapping[str, BaseFigure | str],
    out_dir: str | Path,
    title: str = "grokinterp report",
    headline: str | None = None,
    captions: Mapping[str, str] | None = None,
    footer: str | None = None,
) -> Path:
    """Write ``<name>.html`` per figure, ``index.html`` with all of them, and plotly.min.js.

    Args:
        figures: name -> plotly Figure, or name -> note string (for instance
            ``"skipped: the table has no column 'restricted_loss'"``), in display order.
            Names become file names: letters, digits, ``_``, ``.``, ``-``; not ``index``.
        out_dir: the folder to write (created if needed). Existing files of the same
            names are replaced atomically; a ``<name>.html`` left by an earlier report is
            removed when ``name`` is now a note; other files are left alone.
        title: the index page's title and heading.
        headline: HTML shown at the top of ``index.html``, before the figures (the caller
            escapes what it puts in it).
        captions: name -> plain text shown under the figure's heading (what to look for),
            on ``index.html`` and on the figure's own page.
        footer: HTML shown at the end of ``index.html`` (for instance definitions that the
            headline and captions link to).

    Returns:
        The path of ``index.html``.
    """
    _check_names(figures)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_plotlyjs(out)

    toc: list[str] = []
    sections: list[str] = []
    captions = captions or {}
    for name, value in figures.items():
        esc = html.escape(name)
        caption = (
            f'<p class="caption">{html.escape(captions[name])}</p>\n' if name in captions else ""
        )
        if isinstance(value, str):
            (out / f"{name}.html").unlink(missing_ok=True)  # no stale page from an older run
            toc.append(f'<li><a href="#sec-{esc}">{esc}</a> (note)</li>')
            sections.append(
                f'<section class="note" id="sec-{esc}">\n<h2>{esc}</h2>\n'
                f"<p>{html.escape(value)}</p>\n</section>"
            )
            continue
        div = _figure_div(value, name)
        atomic_write_text(out / f"{name}.html", _page(f"{title}: {name}", caption + div))
        toc.append(f'<li><a href="#sec-{esc}">{esc}</a></li>')
        sections.append(
            f'<section class="figure" id="sec-{esc}">\n'
            f'<h2>{esc}<a class="alone" href="{esc}.html">open alone</a></h2>\n'
            f"{caption}{div}\n</section>"
        )

    body = (
        f"<h1>{html.escape(title)}</h1>\n"
        + (f"{headline}\n" if headline else "")
        + "<nav><ul>\n"
        + "\n".join(toc)
        + "\n</ul></nav>\n"
        + "\n".join(sections)
        + (f"\n{footer}" if footer else "")
    )
    index = out / "index.html"
    atomic_write_text(index, _page(title, body))
    return index


# --------------------------------------------------------------------------- static export


def _kaleido_installed() -> bool:
    return importlib.util.find_spec("kaleido") is not None


def _find_browser() -> str | None:
    """The path of a Chromium-based browser kaleido can drive, or None."""
    try:
        # choreographer comes with the optional kaleido extra
        from choreographer.browsers.chromium import Chromium

        path = Chromium.find_browser(skip_local=False)
        if path:
            return str(path)
    except Exception:  # choreographer missing or its API changed: fall back to PATH
        pass
    for name in _BROWSER_NAMES:
        if path := shutil.which(name):
            return path
    return None


def static_export_available() -> bool:
    """True when kaleido is installed and a Chromium-based browser was found."""
    return _kaleido_installed() and _find_browser() is not None


def export_static(
    fig: BaseFigure,
    path: str | Path,
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
) -> Path:
    """Write ``fig`` as an image; the format comes from the suffix (.png .svg .pdf .jpg .webp).

    Raises:
        ValueError: an unknown suffix.
        RuntimeError: kaleido or a Chromium-based browser is missing, or the export failed;
            the message says what to install.
    """
    path = Path(path)
    fmt = STATIC_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"{path}: unknown image suffix {path.suffix!r}; use one of "
            + ", ".join(sorted(STATIC_FORMATS))
        )
    if not _kaleido_installed():
        raise RuntimeError(f"cannot write {path}: kaleido is not installed; {INSTALL_HINT}")
    if _find_browser() is None:
        raise RuntimeError(f"cannot write {path}: no Chromium-based browser found; {INSTALL_HINT}")
    try:
        data = pio.to_image(fig, format=fmt, width=width, height=height, scale=scale)
    except (ValueError, TypeError):
        raise
    except Exception as e:
        raise RuntimeError(f"cannot write {path}: {type(e).__name__}: {e}; {INSTALL_HINT}") from e
    atomic_write_bytes(path, data)
    return path


def attempt(build: Callable[[], Any]) -> Any:
    """``build()``, or a ``"skipped: ..."`` note when the figure does not apply (it raises
    ValueError saying why); :func:`write_report` shows the note in the figure's place."""
    try:
        return build()
    except ValueError as e:
        return f"skipped: {e}"


def write_figure_set(
    figures: Mapping[str, BaseFigure | str],
    out_dir: str | Path,
    title: str,
    static: bool | None = None,
    **page: Any,
) -> Path:
    """:func:`write_report` (``page``: its ``headline``, ``captions``, ``footer``), plus
    ``<name>.png`` per figure when ``static`` (default: when kaleido and a Chromium are
    installed, see :func:`static_export_available`); returns ``index.html``."""
    index = write_report(figures, out_dir, title=title, **page)
    if static is None:
        static = static_export_available()
    if static:
        for name, fig in figures.items():
            if not isinstance(fig, str):
                export_static(fig, Path(out_dir) / f"{name}.png")
    return index
