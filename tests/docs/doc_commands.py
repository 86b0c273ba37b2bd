"""The commands README.md and docs/*.md show, as the docs test reads them.

Where a command is found:

- fenced ``bash``/``sh``/``shell`` blocks: every line that is not blank or a comment is a command
  (a line ending in ``\\`` goes on on the next); a trailing ``  # ...`` is a note, except
  ``# prints: TEXT``, which is TEXT shown as the command's output. A comment line directly under a
  command (no blank line between) is the command's shown output; a comment after a blank line or
  at the top of a block is a note.
- fenced ``console`` blocks, and plain fences holding ``$ `` lines: a line starting with ``$ `` is a
  command, the lines under it up to the next ``$ `` its shown output (lines of a plain fence before
  its first ``$ `` are text).
- inline code spans in prose that start with a command word (:data:`INLINE_COMMAND`, optionally after
  ``VAR=value`` assignments): ``make run``, ``scripts/run '{…}'``, ``.venv/bin/python …``,
  ``python -m include.cli``, ``airflow backfill create …``, ``docker compose …``, ``include.cli …``
  (a script's path alone, ``scripts/run_dag.py``, names a file, not a command).

Shown output may use placeholders: ``<anything in angle brackets>``, ``…`` and ``...`` match any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import PROJECT_ROOT

SHELL_LANGUAGES = {"bash", "sh", "shell"}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w-]*)")

#: Optional leading ``VAR=value`` assignments, then a command word.
ASSIGNMENTS = r"(?:[A-Z_][A-Z0-9_]*=\S+\s+)*"
INLINE_COMMAND = re.compile(
    ASSIGNMENTS
    + r"(?:make\s+[a-z-]|scripts/|\.venv/bin/|python3?\s|airflow\s|docker(?:-compose)?\s|pip\s|psql\s|curl\s|"
    r"cp\s|rsync\s|aws\s|export\s|pytest\s|git\s|apt-get\s|include\.cli\s|benchmarks/\S+\.py\s)"
)

#: A script named without arguments (``scripts/run_dag.py``) is a file the prose points at, not a command.
FILE_MENTION = re.compile(r"(?:scripts|benchmarks)/[\w.-]+\.py")


@dataclass(frozen=True)
class DocCommand:
    """One command of the docs: where it is, the command (continuation lines joined) and the lines
    the docs show as its output."""

    doc: str  #: path relative to the project root, e.g. ``docs/operations.md``
    line: int  #: 1-based line of the command's first line
    command: str
    output: tuple[str, ...] = field(default=())
    inline: bool = False

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.command[:60]}"


def doc_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


def split_comment(line: str) -> tuple[str, str | None]:
    """``command  # note`` -> (``command``, ``note``): a ``#`` outside quotes after whitespace."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), None


def _shown(note: str | None) -> list[str]:
    if note and note.startswith("prints:"):
        return [note[len("prints:") :].strip()]
    return []


def _shell_block(doc: str, lines: list[tuple[int, str]]) -> list[DocCommand]:
    commands: list[DocCommand] = []
    current: dict | None = None  # the last command, while comment lines under it are its output
    pending: tuple[int, str] | None = None  # a command continued with a backslash
    for number, raw in lines:
        text = raw.strip()
        if pending:
            start, head = pending
            text, note = split_comment(text)
            if text.endswith("\\"):
                pending = (start, head + " " + text[:-1].strip())
                continue
            pending = None
            current = {"line": start, "command": head + " " + text, "output": _shown(note)}
            commands.append(current)  # type: ignore[arg-type]
            continue
        if not text:
            current = None
            continue
        if text.startswith("#"):
            if current is not None:
                current["output"].append(text.lstrip("#").strip())
            continue
        command, note = split_comment(text)
        if command.endswith("\\"):
            pending = (number, command[:-1].strip())
            current = None
            continue
        current = {"line": number, "command": command, "output": _shown(note)}
        commands.append(current)  # type: ignore[arg-type]
    return [DocCommand(doc, c["line"], c["command"], tuple(c["output"])) for c in commands]  # type: ignore[index]


def _prompt_block(doc: str, lines: list[tuple[int, str]]) -> list[DocCommand]:
    commands: list[dict] = []
    for number, raw in lines:
        if raw.startswith("$ "):
            command, note = split_comment(raw[2:].strip())
            commands.append({"line": number, "command": command, "output": _shown(note)})
        elif commands and raw.strip():
            commands[-1]["output"].append(raw.strip())
    return [DocCommand(doc, c["line"], c["command"], tuple(c["output"])) for c in commands]


def _inline(doc: str, prose: str) -> list[DocCommand]:
    found = []
    for match in re.finditer(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)", prose):
        span = " ".join(match.group(1).split())
        if INLINE_COMMAND.match(span + " ") and not FILE_MENTION.fullmatch(span):
            found.append(DocCommand(doc, prose.count("\n", 0, match.start()) + 1, span, (), inline=True))
    return found


def commands_of(path: Path) -> list[DocCommand]:
    """Every command of one Markdown file, in the order they appear."""
    doc = path.relative_to(PROJECT_ROOT).as_posix() if path.is_relative_to(PROJECT_ROOT) else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    prose: list[str] = []  # the file with every fenced block blanked, for the inline spans
    found: list[DocCommand] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            prose.append(lines[index])
            index += 1
            continue
        marker, language = opening.group(2), opening.group(3).lower()
        body: list[tuple[int, str]] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(marker):
            body.append((index + 1, lines[index]))
            index += 1
        index += 1  # the closing fence
        prose.extend([""] * (len(body) + 2))
        if language in SHELL_LANGUAGES:
            found.extend(_shell_block(doc, body))
        elif language == "console" or (not language and any(raw.startswith("$ ") for _, raw in body)):
            found.extend(_prompt_block(doc, body))
    found.extend(_inline(doc, "\n".join(prose)))
    return sorted(found, key=lambda c: c.line)


def all_commands() -> list[DocCommand]:
    return [command for path in doc_files() for command in commands_of(path)]


def output_pattern(shown: str) -> re.Pattern:
    """A shown output line as a regex: placeholders (``<...>``, ``…``, ``...``) match any text."""
    parts = re.split(r"(<[^<>]+>|…|\.\.\.)", shown)
    return re.compile("".join(".*?" if i % 2 else re.escape(part) for i, part in enumerate(parts)))
