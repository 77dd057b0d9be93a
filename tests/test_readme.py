"""The README, followed from top to bottom on a fresh service, says what it shows.

The quick start's ``make run`` is played by a real ``gencredits serve`` on a free port in an
empty folder (the README's ``sh`` blocks, set-up only, are not run).  Then every ``console``
block runs in order in one bash, as a person would type it: ``$ `` starts a command, the lines
up to the next command are what the README shows it printing.  Two things a person copies by
hand are filled in: the service's address (``http://127.0.0.1:8000``, the port differs) and
the key it printed (``gck_...``).  Then every ``python`` block runs in order in one namespace;
an expression whose comment starts with a Python value (``# 500``, ``# (300, 800, 2400)``,
``# 178: how many...``) must equal it.

Shown output is compared without whitespace and table borders (terminal widths differ);
``...`` stands for anything.  A command may exit non-zero only where the README shows it
printing an ``error (...)`` line.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import LiveService

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
DOCUMENTED_URL = "http://127.0.0.1:8000"
KEY_PLACEHOLDER = "gck_..."
MARK = "@@readme-step@@"
#: Whitespace and box-drawing characters: what differs between terminals.
LAYOUT = re.compile(r"[\s\u2500-\u257f]+")

pytestmark = pytest.mark.slow


@dataclass
class Step:
    command: str
    shown: list[str] = field(default_factory=list)


def blocks(lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(README.read_text()) if kind == lang]


def steps(block: str) -> list[Step]:
    """The commands of a console block, each with the output the README shows for it."""
    out: list[Step] = []
    continued = False
    for line in block.splitlines():
        if continued:
            out[-1].command += "\n" + line
        elif line.startswith("$ "):
            out.append(Step(line[2:]))
        elif out and line.strip():
            out[-1].shown.append(line)
        continued = line.endswith("\\")
    return out


def squash(text: str) -> str:
    return LAYOUT.sub("", text)


def assert_shows(step: Step, printed: str) -> None:
    """What the README shows for ``step`` is in ``printed``, in order (``...``: anything)."""
    actual, at = squash(printed), 0
    for fragment in squash("\n".join(step.shown)).split("..."):
        found = actual.find(fragment, at)
        assert found >= 0, f"$ {step.command}\nREADME shows: {fragment!r}\nprinted:\n{printed}"
        at = found + len(fragment)


def bash_script(all_steps: list[Step], service: LiveService) -> str:
    lines = ["set +e"]
    for i, step in enumerate(all_steps):
        command = step.command.replace(DOCUMENTED_URL, service.url)
        command = command.replace(KEY_PLACEHOLDER, service.admin_key)
        lines += [f"echo '{MARK} {i}'", "{", command, "} 2>&1", f"echo '{MARK} rc' $?"]
    return "\n".join(lines) + "\n"


def outputs(printed: str) -> list[tuple[str, int]]:
    """(output, exit status) of each step, from the bash transcript."""
    found: list[tuple[str, int]] = []
    body = ""
    for chunk in printed.split(f"{MARK} ")[1:]:
        head, _, rest = chunk.partition("\n")
        if head.startswith("rc "):
            found.append((body, int(head.split()[1])))
        else:
            body = rest
    return found


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty folder that looks like the checkout where a new user runs ``make run``."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("the README's steps need the project's virtual environment")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    for name in ("examples", "src"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def run_console_blocks(workdir: Path, service: LiveService) -> None:
    all_steps = [s for block in blocks("console") for s in steps(block)]
    assert any(KEY_PLACEHOLDER in s.command for s in all_steps), "the README exports no key"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENCREDITS_")}
    done = subprocess.run(
        ["bash", "-c", bash_script(all_steps, service)],
        cwd=workdir,
        env={**env, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results = outputs(done.stdout)
    assert len(results) == len(all_steps), done.stdout + done.stderr
    for step, (printed, code) in zip(all_steps, results, strict=True):
        may_fail = any(line.startswith("error (") for line in step.shown)
        assert code == 0 or may_fail, f"$ {step.command}\nexited {code}:\n{printed}"
        assert_shows(step, printed)


def expected_values(source: str) -> dict[int, Any]:
    """Line number -> the value its comment promises (only comments that start with one)."""
    found: dict[int, Any] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        text = token.string.lstrip("#").strip()
        for candidate in (text.split(":", 1)[0], text):
            try:
                found[token.start[0]] = ast.literal_eval(candidate)
                break
            except (ValueError, SyntaxError):
                continue
    return found


class CheckExpressions(ast.NodeTransformer):
    """Wraps each expression statement that has a promised value in ``__check__(line, expr)``."""

    def __init__(self, promised: dict[int, Any]) -> None:
        self.promised = promised

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        line = node.end_lineno or node.lineno
        if line not in self.promised:
            return node
        call = ast.Call(
            func=ast.Name("__check__", ast.Load()),
            args=[ast.Constant(line), node.value],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(call), node)


def run_python_block(source: str, namespace: dict[str, Any]) -> int:
    promised = expected_values(source)
    checked: list[int] = []

    def check(line: int, value: Any) -> None:
        assert value == promised[line], f"README line {source.splitlines()[line - 1]!r}: {value!r}"
        checked.append(line)

    tree = ast.fix_missing_locations(CheckExpressions(promised).visit(ast.parse(source)))
    namespace["__check__"] = check
    exec(compile(tree, "README.md", "exec"), namespace)
    return len(checked)


def test_the_readme_from_top_to_bottom(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text()
    assert text.rindex("```console") < text.index("```python"), "blocks run console first"
    service = LiveService("sqlite:///./var/gencredits.db", workdir)  # as `make run` has it
    service.start()
    try:
        assert service.admin_key.startswith("gck_")
        run_console_blocks(workdir, service)
        monkeypatch.chdir(workdir)
        monkeypatch.setenv("GENCREDITS_URL", service.url)  # as the quick start exports them
        monkeypatch.setenv("GENCREDITS_API_KEY", service.admin_key)
        namespace: dict[str, Any] = {"__name__": "readme"}
        checked = sum(run_python_block(block, namespace) for block in blocks("python"))
        assert checked >= 8  # every `# value` the README promises was compared
    finally:
        service.stop()
