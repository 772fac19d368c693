"""A real `ota serve` for the Python suites: started on free ports with a temporary data
directory and an adjustable clock, signed native-API calls, stopped at the end. Nothing is
built here: the binary comes from OTA_BIN (default target/debug/ota)."""

import hashlib
import hmac
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def sign_native(key_id, secret, method, url, body):
    """The native API's signature headers for one request (`crates/ota-api/src/sign.rs`)."""
    parts = urllib.parse.urlsplit(url)
    body = body or b""
    if isinstance(body, str):
        body = body.encode()
    ts = str(int(time.time()))
    nonce = uuid.uuid4().hex
    digest = hashlib.sha256(body).hexdigest()
    query = "&".join(sorted(p for p in parts.query.split("&") if p))
    text = "\n".join([method.upper(), parts.path, query, ts, nonce, digest])
    sig = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return {"x-ota-key-id": key_id, "x-ota-timestamp": ts, "x-ota-nonce": nonce,
            "x-ota-content-sha256": digest, "authorization": "OTA-HMAC-SHA256 Signature=" + sig}


class NativeAuth(requests.auth.AuthBase):
    """Signs every request of a `requests` session for the native API."""

    def __init__(self, key_id, secret):
        self.key_id, self.secret = key_id, secret

    def __call__(self, r):
        r.headers.update(sign_native(self.key_id, self.secret, r.method, r.url, r.body))
        return r


class Server:
    """A running `ota serve` on free ports with a temporary data directory."""

    def __init__(self, key_id, key_secret):
        self.key_id, self.key_secret = key_id, key_secret
        binary = os.environ.get("OTA_BIN", str(ROOT / "target/debug/ota"))
        if not Path(binary).is_absolute():
            binary = str(ROOT / binary)
        self.dir = tempfile.mkdtemp(prefix="ota-aliyun-e2e-")
        self.log_path = Path(self.dir) / "server.log"
        env = dict(os.environ, OTA_ACCESS_KEY_ID=key_id, OTA_ACCESS_KEY_SECRET=key_secret)
        env.setdefault("RUST_LOG", "warn")
        self.proc = subprocess.Popen(
            [binary, "serve", "--adjustable-clock", "--data-dir", self.dir,
             "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=open(self.log_path, "w"), env=env, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout], daemon=True).start()
        deadline = time.time() + 30
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                self.stop()
                raise RuntimeError("ota serve did not become ready: " + self.log_path.read_text()[-2000:])
            try:
                ready = json.loads(line)
            except ValueError:
                continue
            if ready.get("event") == "ready":
                break
        self.http = ready["http"]
        self.base = "http://" + self.http
        self.mqtt_port = int(ready["mqtt"].rsplit(":", 1)[1])
        self.offset_ms = 0

    def advance(self, ms):
        """Moves the platform clock forward through the native API. Requests are signed
        with the wall clock; `offset_ms` tracks how far platform time runs ahead."""
        body = json.dumps({"advance_ms": ms}).encode()
        url = self.base + "/api/v1/debug/clock"
        headers = sign_native(self.key_id, self.key_secret, "POST", url, body)
        headers["content-type"] = "application/json"
        r = requests.post(url, data=body, headers=headers, timeout=10)
        r.raise_for_status()
        self.offset_ms = r.json()["now"] - int(time.time() * 1000)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
