"""The repository stands alone: a user's clone has no sibling folders, so nothing in it may read one."""

import re
import subprocess

from tests.conftest import PROJECT_ROOT

#: A path into a sibling of the project: ``../something`` or ``<root>.parent / "something"``.
SIBLING = re.compile(r"""\.\./(shared|\.library)(?![\w.-])|\.parent\s*/\s*["'](shared|\.library)["']""")


def test_no_file_reads_a_sibling_folder():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in tracked:
        path = PROJECT_ROOT / name
        if not path.is_file() or path.suffix in {".png", ".npy", ".parquet", ".gz", ".bz2"}:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if SIBLING.search(line) and name != "tests/test_stands_alone.py":
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "files that read outside the repository:\n" + "\n".join(offenders)
