"""How the docs test reads commands out of Markdown (tests/docs/doc_commands.py), on a page of its own."""

from tests.docs.doc_commands import commands_of, output_pattern

PAGE = """# A page

For people who test the docs test: run `make run CONF='{"epochs": 3}'`, not `scripts/run_dag.py`.

```bash
# a note at the top of a block
make unit        # a note after the command
.venv/bin/python -m include.cli tokens "New York" \\
    --json
# new_york
.venv/bin/python scripts/s3_server.py b   # prints: export X=<url>

# a note after a blank line
make test
```

```
output of something not shown
$ make lint
checked
```

```console
$ make bench
table
```
"""


def test_commands_output_and_notes_are_told_apart(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    found = [(c.line, c.command, c.output, c.inline) for c in commands_of(page)]
    assert found == [
        (3, "make run CONF='{\"epochs\": 3}'", (), True),
        (7, "make unit", (), False),
        (8, '.venv/bin/python -m include.cli tokens "New York" --json', ("new_york",), False),
        (11, ".venv/bin/python scripts/s3_server.py b", ("export X=<url>",), False),
        (14, "make test", (), False),
        (19, "make lint", ("checked",), False),
        (24, "make bench", ("table",), False),
    ]


def test_shown_output_placeholders_match_any_text():
    assert output_pattern('{"version": "<v>", "k": 5, "n": [...]}').search('{"version": "2026", "k": 5, "n": [1, 2]}')
    assert output_pattern("export A=… B=s3://x").search("export A=1 C=2 B=s3://x")
    assert not output_pattern("prime_minister john").search("prime minister john")
