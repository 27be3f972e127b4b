"""HTTP done once for every path (kechuang.serve.wire): compression without nginx, ETag and 304 on
Datasette's JSON and CSV, CORS preflights everywhere, and downloads a strict client (Node's fetch) accepts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

DATASETTE_DATA = ["/kechuang/targets.json", "/kechuang/targets.csv?_stream=on", "/kechuang.json", "/kechuang/targets/"]
NODE = Path("/usr/bin/node")


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_large_responses_are_compressed_when_asked(sample_portal, encoding):
    for path in ["/api/v1/openapi.json", "/kechuang/targets.json?_size=max", "/kechuang/targets.csv?_stream=on"]:
        plain = sample_portal.get(path, headers={"Accept-Encoding": "identity"})
        packed = sample_portal.get(path, headers={"Accept-Encoding": encoding})
        assert "content-encoding" not in plain.headers, path
        assert packed.headers["content-encoding"] == encoding, path
        assert "accept-encoding" in packed.headers["vary"].lower(), path
        assert len(re.findall("accept-encoding", packed.headers["vary"], re.I)) == 1, packed.headers["vary"]
        # httpx decodes what it was sent: the same bytes as uncompressed, fewer of them on the wire
        if path.endswith("max"):  # Datasette's JSON says how long its query took
            assert packed.json()["rows"] == plain.json()["rows"]
        else:
            assert packed.content == plain.content, path
        assert packed.num_bytes_downloaded < len(plain.content) / 2, path
        etag = packed.headers.get("etag")
        assert etag is None or etag.startswith("W/"), "a compressed body's ETag is weak"


@pytest.mark.parametrize("path", DATASETTE_DATA[:3])
def test_datasette_json_and_csv_answer_304_to_their_etag(sample_portal, path):
    first = sample_portal.get(path, headers={"Accept-Encoding": "identity"})
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert "etag" in first.headers["access-control-expose-headers"].lower()
    again = sample_portal.get(path, headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    weak = sample_portal.get(path, headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    if ".csv" in path:
        download = sample_portal.get(path + "&_dl=1").headers["content-disposition"]
        assert download.startswith("attachment;") and "filename*=UTF-8''targets.csv" in download
    other = sample_portal.get(path + ("&" if "?" in path else "?") + "_size=1", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


@pytest.mark.parametrize(
    "path", ["/kechuang/targets.json", "/kechuang.db", "/api/v1/targets", "/releases/1.0.0/targets.csv", "/-/search"]
)
def test_preflights_allow_what_clients_send(sample_portal, path):
    response = sample_portal.request(
        "OPTIONS",
        path,
        headers={
            "Origin": "https://newsroom.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match, accept, content-type",
        },
    )
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"if-none-match", "accept", "content-type"} <= allowed
    assert "GET" in response.headers["access-control-allow-methods"]


def download_links(portal) -> list[str]:
    page = portal.get("/downloads?lang=en").text
    links = sorted(set(re.findall(r'href="(/(?:kechuang|releases)[^"]*)"', page)))
    return [link.replace("&amp;", "&") for link in links if "." in link.rsplit("/", 1)[-1]]


FETCH_ALL = """
const results = [];
for (const url of process.argv.slice(1)) {
  try {
    const response = await fetch(url, {headers: {"accept-encoding": "br, gzip"}});
    const body = new Uint8Array(await response.arrayBuffer());
    results.push({url, status: response.status, bytes: body.length});
  } catch (error) {
    results.push({url, error: String(error.cause || error)});
  }
}
console.log(JSON.stringify(results));
"""


@pytest.mark.skipif(not NODE.exists(), reason="needs Node at /usr/bin/node")
def test_every_download_is_accepted_by_node_fetch(live_sample_portal):
    links = download_links(live_sample_portal)
    assert "/kechuang.db" in links and any(link.endswith(".csv") or ".csv?" in link for link in links)
    urls = [live_sample_portal.base_url + link for link in links]
    out = subprocess.run(
        [str(NODE), "--input-type=module", "-e", FETCH_ALL, *urls], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    failed = [r for r in results if r.get("error") or r["status"] != 200 or not r["bytes"]]
    assert not failed, failed
    assert len(results) == len(urls)
