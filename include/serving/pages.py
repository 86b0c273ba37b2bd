"""Server-rendered HTML of the models browser (Jinja2, every value escaped): the versions page (one
section per model, its aliases as badges on the versions they name, the gate decision, every
score with its coverage), one model (its aliases, versions and alias history), one version (its
facts, gate checks, downloads and, for a user who may edit the DAG, a form that moves an alias
to it), neighbour/similarity search at ``model@alias`` or a version, a DAG run's version, errors.

Each ``render_*`` function takes ``prefix`` (the URL path the app is served under, e.g.
``/word2vec``; links are built from it) and plain data from :mod:`include.serving.catalog` (a
version's row is a :class:`~include.serving.version_summary.VersionSummary`), and returns an HTML
string. Nothing here knows about Airflow.

The look follows Airflow 3's UI (Chakra UI: its system font stack, its gray and blue scales,
4-8-12 px spacing, rounded tables on a subtle background) in light and dark. The pages carry no
script (:data:`PAGE_CSP`), so they follow the ``prefers-color-scheme`` media feature: a browser
opens them in Airflow's iframe with the colour scheme of the embedding page (Airflow sets
``color-scheme`` on its root element when a user picks light or dark), and a page opened on its
own follows the system setting. ``?theme=light`` / ``?theme=dark`` forces one (kept on the
page's own links).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from include.quality.coverage import format_score
from include.registry.registry import AliasMove
from include.serving.request_checks import MAX_K, MAX_REASON_CHARS, MAX_WORD_CHARS
from include.serving.version_summary import VersionSummary, check_shown

TEMPLATES = Path(__file__).with_name("templates")
THEMES = ("light", "dark")

#: The report is a file written from corpus text and Params: shown with no script, no plugin, no
#: network, in a sandbox of its own (a unique origin, so it cannot read Airflow's cookies or API).
REPORT_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
#: The app's own pages: no script at all, forms and links to itself only.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'"


@cache
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    environment.globals.update(
        fmt=format_score,
        check_shown=check_shown,
        max_k=MAX_K,
        max_word=MAX_WORD_CHARS,
        max_reason=MAX_REASON_CHARS,
    )
    return environment


def theme_of(value: object) -> str | None:
    """``light`` or ``dark`` when ``value`` names one, else ``None`` (follow the browser)."""
    return value if value in THEMES else None


def _render(template: str, prefix: str, **values) -> str:
    defaults: dict[str, object] = {
        "word": None,
        "k": None,
        "a": None,
        "b": None,
        "version": None,
        "model": None,
        "at": None,
        "theme": None,
        "models": [],
    }
    return _environment().get_template(template).render(prefix=prefix, **{**defaults, **values})


def render_versions(prefix: str, sections: list[dict], latest: str | None = None, theme: str | None = None) -> str:
    """The versions page: one section per model (:meth:`Catalog.overview`'s result), ``latest``
    the version ``default@champion`` names."""
    return _render(
        "versions.html.j2",
        prefix,
        sections=sections,
        latest=latest,
        theme=theme_of(theme),
        models=[s["model"] for s in sections],
    )


def render_model(
    prefix: str, model: str, aliases: dict[str, str], listing: dict, history: list[AliasMove], theme: str | None = None
) -> str:
    """One model: its aliases, a page of its versions (:meth:`Catalog.page`), its alias history (newest first)."""
    listing = {key: value for key, value in listing.items() if key != "model"}
    return _render(
        "model.html.j2", prefix, model=model, aliases=aliases, history=history, theme=theme_of(theme), **listing
    )


def render_version(
    prefix: str,
    row: VersionSummary,
    *,
    aliases: dict[str, str] | None = None,
    can_move: bool = False,
    csrf_token: str | None = None,
    theme: str | None = None,
) -> str:
    """One version: its facts, scores with coverage, gate checks, report link, a download link per
    file; with ``can_move``, a form that points an alias of its model at it (``aliases``: the
    model's current ones, offered as choices)."""
    return _render(
        "version.html.j2",
        prefix,
        row=row,
        model_aliases=aliases or {},
        can_move=can_move,
        csrf_token=csrf_token,
        theme=theme_of(theme),
    )


def render_search(
    prefix: str,
    query: dict,
    neighbours: dict | None = None,
    similarity: dict | None = None,
    error: str | None = None,
    models: list[str] | None = None,
    theme: str | None = None,
) -> str:
    """The search page: the forms filled with ``query`` (``word``, ``k``, ``a``, ``b``, ``model``,
    ``at``: an alias or a version; or the previous routes' ``version``), and a neighbour table, a
    cosine, or an error message (e.g. an unknown word)."""
    values = {**query, "theme": theme_of(theme), "models": models or []}
    return _render("search.html.j2", prefix, neighbours=neighbours, similarity=similarity, error=error, **values)


def render_run(prefix: str, run_id: str, summary: dict, theme: str | None = None) -> str:
    """A DAG run's outcome and version (:func:`include.serving.catalog.run_summary`), or a polite
    note that the run made none."""
    return _render("run.html.j2", prefix, run_id=run_id, summary=summary, theme=theme_of(theme))


def render_error(prefix: str, status: int, title: str, message: str, theme: str | None = None) -> str:
    """An error page saying what was wrong (no stack trace)."""
    return _render("error.html.j2", prefix, status=status, title=title, message=message, theme=theme_of(theme))
