"""`make student`: the student copies are valid notebooks with no solution left and every
exercise check kept; and every exercise of every notebook calls its check."""

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from vgan_utils import exercises

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
make_student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_student)

CHECK_CALL = re.compile(r"exercises\.(check_\w+)\(")
FENCED = re.compile(r"```python\n(.*?)```", re.S)


def solution_blocks(nb):
    return [m.group(0) for c in nb.cells if c.cell_type == "markdown"
            for m in make_student.SOLUTION_BLOCK.finditer(c.source)]


def check_calls(nb):
    return [name for c in nb.cells if c.cell_type == "code"
            for name in CHECK_CALL.findall(c.source)]


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return {nb.name: make_student.make_student_copy(nb, out) for nb in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_has_no_solution_and_keeps_the_checks(copies, path):
    original = nbformat.read(path, as_version=4)
    copy = nbformat.read(copies[path.name], as_version=4)
    nbformat.validate(copy)
    text = "\n".join(c.source for c in copy.cells)
    assert not re.search(r"<summary>\s*Solution", text, re.I)
    assert not make_student.FOLDED_NOTE.search(text)
    assert not any("solution" in c.metadata.get("tags", []) for c in copy.cells)
    lecture = "\n".join(make_student.SOLUTION_BLOCK.sub("", c.source) for c in original.cells
                        if "solution" not in c.metadata.get("tags", []))
    for block in solution_blocks(original):
        for code in FENCED.findall(block):
            # a solution line may repeat a lecture line; every other line must be gone
            for line in filter(str.strip, code.splitlines()):
                assert line in lecture or line not in text, line
    assert check_calls(copy) == check_calls(original)
    assert len(copy.cells) == len(original.cells) - sum(
        "solution" in c.metadata.get("tags", []) for c in original.cells)


def test_strip_solutions_removes_blocks_and_tagged_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("**1.** Q?\n\n<details><summary>Solution</summary>\n\n"
                                      "```python\nx = 42\n```\n</details>\n\n**2.** R?"),
        nbformat.v4.new_code_cell("x = 42", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("exercises.check_batch_mib(None, None)"),
    ])
    assert make_student.strip_solutions(nb) == 2
    assert len(nb.cells) == 2 and "x = 42" not in nb.cells[0].source
    assert "**2.** R?" in nb.cells[0].source and "instructor" in nb.cells[0].source


def test_refuses_to_overwrite_the_course_notebook(tmp_path):
    nb = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), nb)
    with pytest.raises(ValueError, match="overwrite"):
        make_student.make_student_copy(nb, tmp_path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_calls_its_check(path):
    nb = nbformat.read(path, as_version=4)
    wanted = sorted(f.__name__ for i, f in exercises.CHECKS.items() if i.startswith(path.name[:2]))
    assert sorted(check_calls(nb)) == wanted
    has_exercises = any("## Exercises" in c.source for c in nb.cells if c.cell_type == "markdown")
    assert wanted or not has_exercises, f"{path.name}: exercises without checks"
    for block in solution_blocks(nb):  # the folded solution code is at least valid Python
        for code in FENCED.findall(block):
            ast.parse(code)
