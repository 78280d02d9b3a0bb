"""Running the examples of the docs as a reader would: ```python blocks as one script, and
```console sessions command by command, comparing what each prints with what the doc shows.

Shared by the tests of README.md and docs/*.md, so that every doc is run the same way.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

#: the ``artifacts`` command of this interpreter's environment (put first on PATH below)
SCRIPT = str(Path(sys.executable).with_name("artifacts"))


def python_blocks(text: str) -> list[str]:
    """The code of every ```python block of a Markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run_blocks(blocks: list[str], folder: Path, name: str, marker: str, timeout: float) -> Path:
    """Write ``blocks`` as one script ``folder/name`` that ends by printing ``marker``, run it
    once in a fresh interpreter (warnings are errors) in ``folder`` and check it got to the
    end; the script, for running again."""
    script = folder / name
    script.write_text("\n".join(blocks) + f"\nprint({marker!r})\n", encoding="utf-8")
    run_script(script, marker, timeout)
    return script


def run_script(script: Path, marker: str, timeout: float) -> None:
    """Run ``script`` in a fresh interpreter (warnings are errors) in its folder: it must
    exit 0 and end by printing ``marker``."""
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(marker)


def console_session(doc: Path, heading: str) -> list[tuple[str, list[str]]]:
    """The commands of the ```console block of ``doc``'s section whose title starts with
    ``heading`` (``## heading...``) and the lines each is shown to print."""
    section = doc.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.S).group(1)
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return [(cmd, "\n".join(out).rstrip("\n").splitlines()) for cmd, out in steps]


def run_console_session(
    steps: list[tuple[str, list[str]]], cwd: Path, env: dict[str, str], subst: dict[str, str]
) -> None:
    """Run each command of a session with bash in ``cwd``, one after the other, with this
    environment's ``artifacts`` first on PATH; the doc's addresses are replaced by the real
    ones (``subst``: doc -> real) in commands and output alike.  What each prints (stdout and
    stderr, then ``[exit N]`` when it fails) must be the lines the doc shows.  ``export``
    lines set the variable for the commands after them (each command runs in a shell of its
    own) and must show nothing."""
    env = dict(env)
    env["PATH"] = os.path.dirname(SCRIPT) + os.pathsep + env["PATH"]
    for command, expected in steps:
        for doc, real in subst.items():
            command = command.replace(doc, real)
            expected = [line.replace(doc, real) for line in expected]
        if command.startswith("export "):
            name, _, value = command[len("export ") :].partition("=")
            env[name] = shlex.split(value)[0]
            assert expected == [], command
            continue
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=180,
        )
        got = done.stdout.rstrip("\n").splitlines()
        if done.returncode:
            got.append(f"[exit {done.returncode}]")
        assert got == expected, command
