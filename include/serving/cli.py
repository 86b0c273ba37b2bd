"""Command line over published models: ``python -m include.cli [OPTIONS] COMMAND ...`` from the project root.

  models                       the data root's models, each with its aliases
  versions                     the model's versions: aliases, data time, corpus, vocabulary, epochs,
                               evaluation scores with their coverage, gate decision; * marks the champion
  aliases                      the model's aliases and every move (--json: alias -> version)
  history                      the model's alias moves, oldest first (--json: who, when, alias, from, to, why)
  promote VERSION --alias NAME --reason TEXT [--actor NAME]
                               point an alias at a version: an explicit, recorded move (roll back, pin,
                               accept a version the gate held); may go backward in data time
  vector WORD                  print a word's vector
  neighbours WORD [-k K]       nearest words with cosines
  similarity WORD WORD         cosine similarity
  tokens TEXT                  TEXT as the model's tokens (simple_preprocess, then the version's phrases)
  verify [--all]               check every file of the version (--all: of every version of the model)
                               against its manifest (size and sha256): one line per damaged file
Options (before the command): --model NAME (default: default), --alias NAME (default: champion) or
--version NAME, --json for machine-readable output.
Exit codes: 0 ok, 1 unknown word, a damaged version (verify: damaged files), 2 no such model, alias
or version, or bad arguments.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable

from include.errors import PipelineInputError
from include.quality.coverage import format_score
from include.registry.names import CHAMPION, DEFAULT_MODEL
from include.registry.registry import AliasMove
from include.serving.model_store import DamagedVersionError, ModelStore, UnknownWordError, VersionCheck
from include.serving.version_summary import VersionSummary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m include.cli", description="Query published word2vec models.")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model name (default: %(default)s)")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--alias", default=None, help="read the version this alias names (default: champion)")
    chosen.add_argument("--version", default=None, help="read this version (as 'versions' lists them)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models")
    commands.add_parser("versions")
    commands.add_parser("aliases")
    commands.add_parser("history")
    promote = commands.add_parser("promote")
    promote.add_argument("target", metavar="VERSION")
    promote.add_argument("--alias", dest="promote_alias", required=True, help="the alias to move, e.g. champion")
    promote.add_argument("--reason", required=True, help="why (recorded in the model's alias history)")
    promote.add_argument("--actor", default=None, help="who moves it (default: $USER)")
    vector = commands.add_parser("vector")
    vector.add_argument("word")
    neighbours = commands.add_parser("neighbours")
    neighbours.add_argument("word")
    neighbours.add_argument("-k", type=int, default=10)
    similarity = commands.add_parser("similarity")
    similarity.add_argument("first")
    similarity.add_argument("second")
    tokens = commands.add_parser("tokens")
    tokens.add_argument("text", nargs="+", help="raw text (several arguments are joined by spaces)")
    verify = commands.add_parser("verify", help="check a version's files against its manifest")
    verify.add_argument("--all", action="store_true", help="every version of the model, oldest first")
    return parser


def _score(name: str) -> Callable[[VersionSummary], str | None]:
    """The column of benchmark ``name``: its value with its coverage, ``None`` when neither is recorded."""

    def cell(v: VersionSummary) -> str | None:
        value, coverage = getattr(v, name), v.coverage.get(name)
        return None if value is None and coverage is None else format_score(value, coverage)

    return cell


def _failed(check: dict) -> str:
    """``vocabulary 133 (>= 0.5 x champion)``: a failed gate check, its value and threshold."""
    value = check.get("value")
    shown = format_score(value, check.get("coverage")) if isinstance(value, float) else f"{value}"
    return f"{check.get('name')} {shown} ({check.get('threshold')})"


def _epochs(v: VersionSummary) -> str | None:
    return None if v.epochs is None else f"{v.epochs}{' (auto)' if v.epochs_requested == 'auto' else ''}"


VERSION_COLUMNS: tuple[tuple[str, Callable[[VersionSummary], object]], ...] = (
    ("", lambda v: "*" if CHAMPION in v.aliases else " "),
    ("version", lambda v: v.version),
    ("aliases", lambda v: ",".join(v.aliases) or None),
    ("data time", lambda v: v.data_time and v.data_time[:19]),
    ("corpus", lambda v: v.corpus_id),
    ("vocab", lambda v: v.vocab_size),
    ("epochs", _epochs),
    ("wordsim353", _score("wordsim353")),
    ("simlex999", _score("simlex999")),
    ("analogies", _score("analogies")),
    ("gate", lambda v: v.decision),
    ("failed checks", lambda v: "; ".join(_failed(c) for c in v.checks if c.get("status") == "failed") or None),
)


def versions_table(summaries: list[VersionSummary], model: str = DEFAULT_MODEL) -> str:
    """``summaries`` (of ``model``) as an aligned text table, one version per line, ``*`` marking the
    champion, each score with its coverage; a missing value shows as ``-``."""
    rows = [[name.upper() for name, _ in VERSION_COLUMNS]]
    rows += [["-" if cell(v) is None else str(cell(v)) for _, cell in VERSION_COLUMNS] for v in summaries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(VERSION_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    if not summaries:
        lines.append(f"(no published versions of model {model!r})")
    elif any(CHAMPION in v.aliases for v in summaries):
        lines.append(
            f"* = {model}@{CHAMPION} (what ModelStore(model={model!r}).load() and the CLI's other commands use)"
        )
    else:
        lines.append(f"model {model!r} has no champion yet (no version was promoted)")
    return "\n".join(lines)


def _aliases_text(aliases: dict[str, str], history: list[AliasMove]) -> str:
    lines = [f"{alias}\t{version}" for alias, version in aliases.items()] or ["(no aliases)"]
    lines.append("")
    lines.append("history (oldest first):")
    for move in history:
        lines.append(
            f"{move['at'][:19]}  {move['alias']}: {move['from_version'] or '-'} -> {move['to_version']}"
            f"  by {move['actor']}: {move['reason']}"
        )
    if not history:
        lines.append("(no recorded moves)")
    return "\n".join(lines)


def _verify(args, store: ModelStore) -> tuple[list[VersionCheck], str]:
    """``verify``: the checks (the chosen version, or with ``--all`` every version of the model) and
    their text: one line per damaged file, else one ``ok`` line per version."""
    if args.all:
        store.registry.check_model(store.model)
        checks = [store.verify(version=name) for name in store.versions()]
    else:
        checks = [store.verify()]
    lines = []
    for check in checks:
        if check.damaged:
            lines += [f"DAMAGED {store.model} {check.version} {d.describe()}" for d in check.damaged]
        elif check.files:
            lines.append(
                f"ok {store.model} {check.version}: {check.files} files ({check.bytes} bytes) match its manifest"
            )
        else:
            lines.append(f"ok {store.model} {check.version}: its manifest lists no files, nothing to check")
    return checks, "\n".join(lines) or f"(no published versions of model {store.model!r})"


def _run(args, store: ModelStore) -> tuple[object, str]:
    """The command's result (for --json) and its text."""
    if args.command == "models":
        models = {name: ModelStore(store=store.store, model=name).aliases() for name in store.model_names()}
        text = "\n".join(f"{name}\t{' '.join(f'{a}={v}' for a, v in al.items())}" for name, al in models.items())
        return models, text or "(no models yet)"
    if args.command == "versions":
        store.registry.check_model(store.model)
        summaries = store.version_summaries()
        return [s.as_cli_dict() for s in summaries], versions_table(summaries, store.model)
    if args.command == "aliases":
        aliases, history = store.aliases(), store.history()
        return aliases, _aliases_text(aliases, history)
    if args.command == "history":
        history = store.history()
        return history, _aliases_text(store.aliases(), history)
    if args.command == "promote":
        actor = args.actor or os.environ.get("USER") or getpass.getuser()
        move = store.promote(args.target, alias=args.promote_alias, reason=args.reason, actor=actor)
        text = f"{store.model}@{move['alias']}: {move['from_version'] or '-'} -> {move['to_version']}"
        return move, text
    if args.command == "verify":
        checks, text = _verify(args, store)
        return [check.as_dict() for check in checks], text
    model = store.load()
    if args.command == "vector":
        vector = model.vector(args.word).tolist()
        return {"version": model.version, "word": args.word, "vector": vector}, " ".join(f"{x:.6g}" for x in vector)
    if args.command == "tokens":
        words = model.tokens(" ".join(args.text))
        return {"version": model.version, "tokens": words, "in_vocab": [word in model for word in words]}, " ".join(
            words
        )
    if args.command == "neighbours":
        pairs = model.neighbours(args.word, args.k)
        found = {"version": model.version, "word": args.word, "neighbours": pairs}
        return found, "\n".join(f"{word}\t{cosine:.4f}" for word, cosine in pairs)
    value = model.similarity(args.first, args.second)
    return {"version": model.version, "first": args.first, "second": args.second, "similarity": value}, f"{value:.6f}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        store = ModelStore(model=args.model, alias=args.alias, version=args.version)
        result, text = _run(args, store)
    except UnknownWordError as error:
        print(error.args[0], file=sys.stderr)
        return 1
    except DamagedVersionError as error:
        print(error, file=sys.stderr)
        return 1
    except PipelineInputError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False) if args.json else text)
    damaged = args.command == "verify" and isinstance(result, list) and any(c["damaged"] for c in result)
    return 1 if damaged else 0


if __name__ == "__main__":
    sys.exit(main())
