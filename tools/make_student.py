"""Student copies of the notebooks: solutions removed, exercise checks kept.

    python tools/make_student.py OUT_DIR notebooks/*.ipynb     (or: make student)

A notebook keeps its solutions in markdown ``<details><summary>Solution...</summary> ...
</details>`` blocks (folded, so a learner opens them on purpose); code cells tagged
``solution`` hold runnable solution code. A student copy drops both and keeps everything
else, including each exercise cell's ``exercises.check_...`` call and the lecture's outputs
(what a student sees before running anything). The copies are written to OUT_DIR, which is
not committed (see .gitignore).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

SOLUTION_BLOCK = re.compile(
    r"\n*<details>\s*<summary>\s*Solutions?\b.*?</summary>.*?</details>[ \t]*", re.S | re.I)
SOLUTION_TAG = "solution"
FOLDED_NOTE = re.compile(r"\s*Solutions are folded below each one\.")  # not in a student copy
PLACEHOLDER = "\n\n*(The solution is in the instructor's copy.)*\n\n"


def strip_solutions(nb: nbformat.NotebookNode) -> int:
    """Remove solution blocks and solution cells from ``nb`` in place; return how many."""
    removed, kept = 0, []
    for cell in nb.cells:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            removed += 1
            continue
        if cell.cell_type == "markdown":
            source, n = SOLUTION_BLOCK.subn(PLACEHOLDER, cell.source)
            cell.source = FOLDED_NOTE.sub("", source).strip()
            removed += n
        kept.append(cell)
    nb.cells = kept
    return removed


def make_student_copy(source: Path, out_dir: Path) -> Path:
    """Write the student copy of notebook ``source`` into ``out_dir``; return its path."""
    nb = nbformat.read(source, as_version=4)
    strip_solutions(nb)
    nbformat.validate(nb)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    if target.resolve() == source.resolve():
        raise ValueError(f"refusing to overwrite the course notebook {source} with its copy")
    nbformat.write(nb, target)
    return target


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    for name in argv[1:]:
        print("student copy:", make_student_copy(Path(name), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
