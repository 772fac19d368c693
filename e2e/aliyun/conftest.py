"""Fixtures of the Aliyun compatibility suite: one real `ota serve` (with an adjustable
clock) per session, driven only by the official SDKs: `alibabacloud-iot20180120` (ACS3),
`aliyun-python-sdk-core` + `aliyun-python-sdk-iot` (signature v1) and `aliyun-iot-linkkit`
devices. Nothing is built here: the binary comes from OTA_BIN (default target/debug/ota)."""

import hashlib
import hmac
import importlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from alibabacloud_iot20180120 import models as iot
from alibabacloud_iot20180120.client import Client as IotClient
from alibabacloud_tea_openapi import models as open_api_models
from aliyunsdkcore.client import AcsClient

ROOT = Path(__file__).resolve().parents[2]
KEY_ID = "LTAI5tOtaE2eCompat01"
KEY_SECRET = "e2eSecretForTheAliyunCompatSuite01"


class Server:
    """A running `ota serve` on free ports with a temporary data directory."""

    def __init__(self):
        binary = os.environ.get("OTA_BIN", str(ROOT / "target/debug/ota"))
        if not Path(binary).is_absolute():
            binary = str(ROOT / binary)
        self.dir = tempfile.mkdtemp(prefix="ota-aliyun-e2e-")
        self.log_path = Path(self.dir) / "server.log"
        env = dict(os.environ, OTA_ACCESS_KEY_ID=KEY_ID, OTA_ACCESS_KEY_SECRET=KEY_SECRET)
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
        ts = str(int(time.time()))
        nonce = uuid.uuid4().hex
        digest = hashlib.sha256(body).hexdigest()
        text = "\n".join(["POST", "/api/v1/debug/clock", "", ts, nonce, digest])
        sig = hmac.new(KEY_SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
        r = requests.post(self.base + "/api/v1/debug/clock", data=body, headers={
            "content-type": "application/json", "x-ota-key-id": KEY_ID, "x-ota-timestamp": ts,
            "x-ota-nonce": nonce, "x-ota-content-sha256": digest,
            "authorization": "OTA-HMAC-SHA256 Signature=" + sig}, timeout=10)
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


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


def tea_client(server, key_id=KEY_ID, secret=KEY_SECRET):
    config = open_api_models.Config(
        access_key_id=key_id, access_key_secret=secret, endpoint=server.http,
        protocol="http", read_timeout=30000, connect_timeout=5000)
    return IotClient(config)


class Tea:
    """Calls operations through the management SDK by name: `api.CreateOTAFirmware(...)`
    builds `CreateOTAFirmwareRequest(...)` and calls `create_otafirmware`."""

    def __init__(self, client):
        self.client = client
        self.methods = {n.replace("_", ""): n for n in dir(client)
                        if not n.startswith("_") and not n.endswith(("_with_options", "_async"))}

    def __getattr__(self, op):
        request_class = getattr(iot, op + "Request")
        method = getattr(self.client, self.methods[op.lower()])

        def call(**kw):
            return method(request_class(**kw)).body
        return call


@pytest.fixture(scope="session")
def api(server):
    return Tea(tea_client(server))


class V1:
    """Calls operations through `aliyun-python-sdk-core` + `aliyun-python-sdk-iot`
    (signature v1): `v1.call("QueryProduct", ProductKey=pk)` uses the SDK request class and
    its setters; returns the decoded JSON."""

    def __init__(self, server, key_id=KEY_ID, secret=KEY_SECRET):
        self.server = server
        self.client = AcsClient(key_id, secret, "cn-shanghai")

    def request(self, op, **params):
        module = importlib.import_module("aliyunsdkiot.request.v20180120.%sRequest" % op)
        req = getattr(module, op + "Request")()
        req.set_endpoint(self.server.http)
        req.set_protocol_type("http")
        for k, v in params.items():
            getattr(req, "set_" + k)(v)
        return req

    def call(self, op, **params):
        return json.loads(self.client.do_action_with_exception(self.request(op, **params)))


@pytest.fixture(scope="session")
def v1(server):
    return V1(server)


def upload(server, creds, data, *, key_id=None, status="200", key=None):
    """Posts `data` with the PostObject form of GenerateOTAUploadURL /
    GenerateDeviceNameListURL credentials (as the platform's upload samples do)."""
    form = {
        "key": key or creds.key,
        "policy": creds.policy,
        "OSSAccessKeyId": key_id or getattr(creds, "ossaccess_key_id", None) or creds.access_key_id,
        "Signature": creds.signature,
        "success_action_status": status,
    }
    return requests.post(creds.host, data=form, files={"file": ("firmware.bin", data)}, timeout=30)


def unique(prefix):
    return prefix + uuid.uuid4().hex[:8]


def wait_for(predicate, timeout=20, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def new_firmware(api, server, pk, data, version, *, verify=False, module=None, **extra):
    """Uploads `data` through GenerateOTAUploadURL and creates a package of it."""
    creds = api.GenerateOTAUploadURL(file_suffix="bin").data
    r = upload(server, creds, data)
    assert r.status_code == 200, r.text
    body = api.CreateOTAFirmware(
        product_key=pk, firmware_name=unique("fw"), dest_version=version,
        firmware_url=creds.firmware_url, need_to_verify=verify, module_name=module, **extra)
    assert body.success, body.error_message
    return body.data.firmware_id


@pytest.fixture(scope="module")
def product(api):
    """A product with four registered devices."""
    body = api.CreateProduct(product_name=unique("prod"), node_type=0)
    assert body.success, body.error_message
    pk = body.product_key
    devices = {}
    for _ in range(4):
        d = api.RegisterDevice(product_key=pk, device_name=unique("dev")).data
        devices[d.device_name] = d.device_secret
    return pk, devices
