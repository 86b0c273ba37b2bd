"""Server-rendered HTML of the versions browser (Jinja2, every value escaped): the versions
table, one version with its downloads, neighbour/similarity search, a DAG run's version, errors.

Each ``render_*`` function takes ``prefix`` (the URL path the app is served under, e.g.
``/word2vec``; links are built from it) and plain data from :mod:`include.serving.catalog`, and
returns an HTML string. Nothing here knows about Airflow.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from include.serving.catalog import MAX_K, MAX_WORD_CHARS, VersionSummary

TEMPLATES = Path(__file__).with_name("templates")

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
    environment.globals.update(fmt=format_score, max_k=MAX_K, max_word=MAX_WORD_CHARS)
    return environment


def format_score(value: float | None) -> str:
    """A score for a table cell: 3 decimals, or an en dash when unknown."""
    return "\u2013" if value is None else f"{value:.3f}"


def _render(template: str, prefix: str, **values) -> str:
    defaults = {"word": None, "k": None, "a": None, "b": None, "version": None}
    return _environment().get_template(template).render(prefix=prefix, **{**defaults, **values})


def render_versions(prefix: str, listing: dict) -> str:
    """The versions page; ``listing`` is :meth:`Catalog.page`'s result."""
    return _render("versions.html.j2", prefix, **listing)


def render_version(prefix: str, row: VersionSummary) -> str:
    """One version: its facts, a link to its report, a download link per file."""
    return _render("version.html.j2", prefix, row=row)


def render_search(
    prefix: str,
    query: dict,
    neighbours: dict | None = None,
    similarity: dict | None = None,
    error: str | None = None,
) -> str:
    """The search page: the forms filled with ``query`` (``word``, ``k``, ``a``, ``b``, ``version``),
    and a neighbour table, a cosine, or an error message (e.g. an unknown word)."""
    return _render("search.html.j2", prefix, neighbours=neighbours, similarity=similarity, error=error, **query)


def render_run(prefix: str, run_id: str, summary: dict) -> str:
    """A DAG run's outcome and version (:func:`include.serving.catalog.run_summary`), or a polite
    note that the run made none."""
    return _render("run.html.j2", prefix, run_id=run_id, summary=summary)


def render_error(prefix: str, status: int, title: str, message: str) -> str:
    """An error page saying what was wrong (no stack trace)."""
    return _render("error.html.j2", prefix, status=status, title=title, message=message)
