"""The Dockerfile cannot drift from the code: what it copies exists in a clone, its commands parse.

Quick, and needing no container tools: tests/test_image.py builds and runs the image where buildah is.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from kechuang.cli import cli

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def shell_commands() -> list[str]:
    """Every command the image runs: RUN lines split on &&, and the CMD's shell string."""
    commands = []
    for word, rest in instructions():
        if word == "RUN":
            commands += [c.strip() for c in rest.split("&&")]
        elif word == "CMD":
            argv = json.loads(rest)
            commands.append(argv[-1] if argv[:2] == ["sh", "-c"] else shlex.join(argv))
    return commands


def tracked(path: str) -> bool:
    done = subprocess.run(["git", "ls-files", "--", path], cwd=ROOT, capture_output=True, text=True, check=True)
    return bool(done.stdout.strip())


def test_every_copied_path_is_in_a_fresh_clone():
    copied = [rest.split()[:-1] for word, rest in instructions() if word == "COPY" and "--from=" not in rest]
    sources = [source for group in copied for source in group]
    assert "datasets" in sources and "schemas" in sources and "plugins" in sources
    for source in sources:
        assert tracked(source), f"COPY {source}: not in the repository"


def test_kechuang_commands_in_the_image_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dist").mkdir()
    for name in ("kechuang.db", "inspect.json"):  # made by earlier steps of the image
        (tmp_path / "dist" / name).touch()
    commands = [c for c in shell_commands() if c.removeprefix("exec ").startswith("kechuang ")]
    assert {shlex.split(c.removeprefix("exec "))[1] for c in commands} == {"release", "serve"}
    for command in commands:
        command = command.replace('${RELEASE_VERSION:+--version "$RELEASE_VERSION"}', "--version 2026.12.0")
        argv = shlex.split(command.removeprefix("exec ").replace('"$PORT"', "8080"))[1:]
        subcommand = cli.commands[argv[0]]
        context = subcommand.make_context(argv[0], argv[1:])  # raises on an unknown or malformed option
        assert context.params


def test_server_listens_on_the_platform_port_as_an_unprivileged_user():
    words = dict(instructions())
    assert "$PORT" in words["CMD"] and "0.0.0.0" in words["CMD"]
    assert words["USER"] != "root"
    env = words["ENV"]
    assert "KECHUANG_ROOT=/app" in env and words["WORKDIR"] == "/app"


def test_build_context_leaves_out_local_state():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "dist", ".git"} <= set(ignored)
