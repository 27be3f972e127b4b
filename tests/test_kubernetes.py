"""The Kubernetes manifests in deploy/kubernetes/: valid against the Kubernetes schemas (kubernetes-validate,
strict: an unknown field is an error), consistent with one another and with the image, and nginx's
ConfigMap generated from the template single-machine mode renders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from conftest import ROOT
from kechuang.operations.nginx import KUBERNETES_PORT, KUBERNETES_SERVICE, kubernetes_config

MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"  # the oldest release still widely run; the manifests use nothing newer


def documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def resource(kind: str, name: str) -> dict:
    return next(doc for _path, doc in documents() if doc["kind"] == kind and doc["metadata"]["name"] == name)


@pytest.mark.parametrize(
    ("path", "doc"), documents(), ids=lambda v: v.name if isinstance(v, Path) else f"{v['kind']}/{v['metadata']['name']}"
)
def test_manifest_is_valid_against_the_kubernetes_schemas(path: Path, doc: dict):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_kind_the_deployment_needs_is_there():
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _path, doc in documents()}
    assert {
        ("Deployment", "kechuang-portal"),
        ("Service", "kechuang-portal"),
        ("HorizontalPodAutoscaler", "kechuang-portal"),
        ("PodDisruptionBudget", "kechuang-portal"),
        ("Deployment", "kechuang-nginx"),
        ("ConfigMap", "kechuang-nginx"),
    } <= kinds


def test_nginx_configmap_is_generated_from_the_template():
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "deploy/kubernetes/nginx-configmap.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, "stale: run `cog -r deploy/kubernetes/nginx-configmap.yaml`\n" + done.stderr
    config = resource("ConfigMap", "kechuang-nginx")["data"]["nginx.conf"]
    assert config == kubernetes_config()
    assert f"server {KUBERNETES_SERVICE}:{KUBERNETES_PORT} max_fails=0;" in config


def test_pieces_agree_with_one_another_and_with_the_image():
    service = resource("Service", KUBERNETES_SERVICE)
    assert service["spec"]["ports"][0]["port"] == KUBERNETES_PORT  # where nginx sends requests
    pod = resource("Deployment", "kechuang-portal")["spec"]["template"]["spec"]
    portal = pod["containers"][0]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert portal["ports"][0]["containerPort"] == KUBERNETES_PORT and f"PORT={KUBERNETES_PORT}" in dockerfile
    assert pod["securityContext"]["runAsUser"] == 10001 and "--uid 10001" in dockerfile
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert portal[probe]["httpGet"]["path"] == "/-/release.json"  # the image's HEALTHCHECK too
    assert "/-/release.json" in dockerfile
    assert all("limits" in c["resources"] and "requests" in c["resources"] for c in pod["containers"])
    nginx = resource("Deployment", "kechuang-nginx")["spec"]["template"]["spec"]
    assert any(v.get("configMap", {}).get("name") == "kechuang-nginx" for v in nginx["volumes"])
