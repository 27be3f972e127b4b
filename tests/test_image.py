"""The container image, built from the Dockerfile and served, with Debian's buildah (no Docker engine).

The base is a minimal Debian bookworm with python3 made by mmdebstrap, kept in buildah's image store
(and its tarball under dist/image/), so only the first run on a machine makes it; buildah's layer cache
keeps the dependencies' layer while pyproject.toml's list is unchanged. The image is run with host
networking and checked over HTTP as a platform would: the pages, the API, search, Datasette, the health
endpoint, the security headers; it runs as a non-root user, has a HEALTHCHECK and serves the release it
was built with. Its size is printed (pytest -s, or the captured output of a failure).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port, wait_until_up

pytestmark = [
    pytest.mark.image,
    pytest.mark.slow,
    pytest.mark.timeout(1800),  # the first run on a machine makes the base and installs every dependency
    pytest.mark.skipif(
        not (shutil.which("buildah") and shutil.which("mmdebstrap")), reason="needs Debian's buildah and mmdebstrap"
    ),
]

BASE = "localhost/kechuang-base:bookworm"
IMAGE = "localhost/kechuang:test"
DEPENDENCIES = "localhost/kechuang-dependencies:test"
BASE_TARBALL = ROOT / "dist" / "image" / "base-bookworm.tar"
# python3 with venv (pip for the image's own virtualenv), useradd, TLS roots for pip, and the C++ runtime
# that OpenCC's and rjieba's compiled modules link against; no documentation, manuals or translations, nor
# glibc's iconv converters (Python has its own codecs).
BASE_PACKAGES = "passwd,python3-venv,ca-certificates,libstdc++6"
TRIM = [
    *(f"--dpkgopt=path-exclude=/usr/share/{folder}/*" for folder in ("doc", "man", "info", "locale")),
    "--dpkgopt=path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*",
]
# The machine's pip configuration (index, certificate), so the build reaches PyPI the way the host does.
PIP_FILES = [Path("/etc/pip.conf"), Path(os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"))]


def buildah(*args: str, timeout: float = 1200) -> str:
    done = subprocess.run(["buildah", *args], capture_output=True, text=True, check=False, timeout=timeout)
    assert done.returncode == 0, f"buildah {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout.strip()


def has_image(name: str) -> bool:
    done = subprocess.run(["buildah", "images", "--quiet", name], capture_output=True, text=True, check=False)
    return done.returncode == 0 and bool(done.stdout.strip())


def make_base() -> None:
    """The base image, from the tarball under dist/image/ (made by mmdebstrap when missing)."""
    if not BASE_TARBALL.exists():
        BASE_TARBALL.parent.mkdir(parents=True, exist_ok=True)
        partial = BASE_TARBALL.with_suffix(".partial.tar")
        subprocess.run(
            ["mmdebstrap", "--variant=essential", f"--include={BASE_PACKAGES}", "--aptopt=APT::Install-Recommends false",
             "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",  # /usr merged without usrmerge (and its Perl)
             *TRIM, "--dpkgopt=path-include=/usr/share/doc/*/copyright", "bookworm", str(partial)],
            capture_output=True,
            check=True,
            timeout=900,
        )  # fmt: skip
        partial.rename(BASE_TARBALL)
    container = buildah("from", "scratch")
    try:
        buildah("add", container, str(BASE_TARBALL), "/")
        buildah("commit", "--quiet", container, BASE)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


@pytest.fixture(scope="module")
def image() -> str:
    if not has_image(BASE):
        make_base()
    mounts = [f"--volume={path}:{path}:ro" for path in PIP_FILES if path.is_file()]
    build = ["bud", "--isolation", "chroot", "--network", "host", "--layers", "--format", "docker", "--quiet",
             "--build-arg", f"BASE={BASE}", "--build-arg", "RELEASE_VERSION=2026.12.0", *mounts]  # fmt: skip
    # The dependencies' stage under a name of its own, so that pruning the untagged images earlier runs left
    # (each new wheel leaves one chain) keeps its layers for the next run.
    buildah(*build, "--target", "dependencies", "--tag", DEPENDENCIES, str(ROOT))
    buildah(*build, "--tag", IMAGE, str(ROOT))
    subprocess.run(["buildah", "rmi", "--prune"], capture_output=True, check=False)
    return IMAGE


@pytest.fixture(scope="module")
def config(image: str) -> dict:
    return json.loads(buildah("inspect", "--type", "image", image))["Docker"]["config"]


@pytest.fixture(scope="module")
def served(image: str, config: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """The image's own command, run in a container on the host's network, on a free port."""
    container = buildah("from", "--quiet", image)
    port = free_port()
    log = tmp_path_factory.mktemp("image") / "container.log"
    process = subprocess.Popen(
        ["buildah", "run", "--isolation", "chroot", "--network", "host", "--env", f"PORT={port}", container,
         "--", *config["Cmd"]],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/-/release.json", process, timeout=120, log=log)
        yield url, container, port
    finally:
        with_group = os.getpgid(process.pid)
        os.killpg(with_group, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(with_group, signal.SIGKILL)
            process.wait()
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


def test_image_runs_unprivileged_from_the_wheel_with_a_healthcheck(image: str, config: dict):
    listed = buildah("images", "--format", "{{.Size}}", image)
    print(f"\nimage {image}: {listed}")
    assert config["User"] == "kechuang"
    assert "kechuang serve" in " ".join(config["Cmd"]) and "PORT=8080" in config["Env"]
    assert "/-/release.json" in " ".join(config["Healthcheck"]["Test"])
    container = buildah("from", "--quiet", image)
    try:
        assert buildah("run", "--isolation", "chroot", container, "--", "id", "-u") == "10001"
        # The package is installed from the wheel, not a checkout: no source tree in the image.
        where = buildah("run", "--isolation", "chroot", container, "--", "python3", "-c",
                        "import kechuang, kechuang.assets as a; print(kechuang.__file__, a.packaged())")  # fmt: skip
        assert where.startswith("/opt/kechuang/lib/") and where.endswith("True")
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


def test_served_image_answers_like_the_portal(served: tuple[str, str, int], config: dict):
    url, container, port = served
    with httpx.Client(base_url=url, timeout=30) as client:
        release = client.get("/-/release.json")
        assert release.status_code == 200 and release.json()["version"] == "2026.12.0"  # baked in at build time
        home = client.get("/")
        assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in home.headers["content-security-policy"]
        assert home.headers["x-content-type-options"] == "nosniff"
        targets = client.get("/api/v1/targets?limit=2")
        assert targets.status_code == 200 and targets.headers["x-data-release"] == "2026.12.0"
        assert len(targets.json()["items"]) == 2
        assert client.get("/-/search", params={"q": "人才"}).status_code == 200
        table = client.get("/kechuang/policies")
        assert table.status_code == 200 and "policies" in table.text
        assert client.get("/kechuang/policies.json").headers["content-security-policy"]
    # The image's HEALTHCHECK, run in the serving container, passes.
    kind, *command = config["Healthcheck"]["Test"]
    assert kind == "CMD"
    buildah("run", "--isolation", "chroot", "--network", "host", "--env", f"PORT={port}", container, "--", *command)
