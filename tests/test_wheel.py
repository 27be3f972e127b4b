"""The installable wheel: built without writing into the source tree, it carries what serving needs,
and `kechuang serve --db FILE` runs from it in an empty folder, with no checkout in sight.

The wheel goes into a fresh virtualenv outside the checkout; its dependencies come from the test
run's own environment through a `.pth` line (a plain path: the editable install's own `.pth` there
is not processed), so the test needs no download beyond the build backend and stays quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port, wait_until_up

pytestmark = pytest.mark.slow

# What serving reads besides Python code, at its place in the wheel.
ASSETS = [
    "kechuang/_assets/site/templates/base.html",
    "kechuang/_assets/site/templates/portal/home.html",
    "kechuang/_assets/site/static/site.css",
    "kechuang/_assets/site/i18n/zh.yaml",
    "kechuang/_assets/site/i18n/en.yaml",
    "kechuang/_assets/site/pages/about.en.md",
    "kechuang/_assets/plugins/site.py",
    "kechuang/_assets/plugins/security.py",
    "kechuang/_assets/deploy/nginx.conf.template",
]


def tree_files(folder: Path) -> set[str]:
    """Every file under `folder`, ignored ones included, less bytecode (other processes import from it)."""
    return {str(p.relative_to(ROOT)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def top_level() -> set[str]:
    return {p.name for p in ROOT.iterdir()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel .` into a temporary folder; the checkout must look exactly as before."""
    out = tmp_path_factory.mktemp("wheelhouse")
    before = (tree_files(ROOT / "build"), top_level())
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = (tree_files(ROOT / "build"), top_level())
    assert after[0] - before[0] == set(), "building the wheel wrote into build/"
    assert after[1] - before[1] == set(), "building the wheel wrote into the checkout"
    (built,) = out.glob("kechuang-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed, the test environment's packages for its dependencies."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet", wheel],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def clean_env() -> dict[str, str]:
    """The environment of a machine with only the wheel: no project root, dist folder or import path."""
    return {k: v for k, v in os.environ.items() if k not in ("KECHUANG_ROOT", "KECHUANG_DIST", "PYTHONPATH")}


def test_wheel_carries_the_assets_and_nothing_else(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in ASSETS if name not in names]
    assert not missing, missing
    assert "kechuang/assets.py" in names and "kechuang/cli.py" in names
    stray = [n for n in names if not n.startswith(("kechuang/", "kechuang-"))]
    assert not stray, stray
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".gitkeep", ".keep"))]


def test_installed_package_is_the_wheel_and_finds_its_own_assets(venv: Path, tmp_path: Path):
    probe = (
        "import kechuang, kechuang.assets as a; "
        "print(kechuang.__file__); print(a.ROOT); print(a.packaged()); "
        "print(all(p.exists() for p in (a.TEMPLATES, a.STATIC, a.I18N, a.PAGES, a.PLUGINS, a.NGINX_TEMPLATE)))"
    )
    done = subprocess.run(
        [venv / "bin" / "python", "-c", probe], cwd=tmp_path, env=clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    module, root, packaged, present = done.stdout.split("\n")[:4]
    assert Path(module).is_relative_to(venv), module
    assert Path(root).is_relative_to(venv) and packaged == "True" and present == "True"


def test_serve_runs_from_an_empty_folder_with_only_the_wheel(venv: Path, built_db: Path, tmp_path: Path):
    here = tmp_path / "empty"
    here.mkdir()
    shutil.copy(built_db, here / "kechuang.db")  # Datasette names the database after the file
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [venv / "bin" / "kechuang", "serve", "--db", "kechuang.db", "--port", str(port)],
            cwd=here,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/-/versions.json", process, log=log)
        for path, expected in [
            ("/", "<html"),
            ("/?lang=en", "Targets"),
            ("/api/v1/targets", '"items"'),
            ("/-/search?q=人才", "<html"),
            ("/kechuang/targets", "<html"),
            ("/static/site.css", "{"),
            ("/about", "<html"),
            ("/data-dictionary", "targets"),
        ]:
            response = httpx.get(base + path, timeout=30)
            assert response.status_code == 200, (path, response.status_code, log.read_text()[-2000:])
            assert expected in response.text, path
    finally:
        process.terminate()
        process.wait(10)
    assert sorted(p.name for p in here.iterdir()) == ["kechuang.db"], "serving wrote into the folder"
    assert "Building" not in log.read_text()
