"""Docs that cannot drift: the README's generated sections match the code and schemas."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_readme_generated_sections_are_current():
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "README.md"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, "README.md is stale: run `cog -r README.md`\n" + done.stdout + done.stderr
