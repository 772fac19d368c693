"""Fixtures of the Aliyun compatibility suite: one real `ota serve` (with an adjustable
clock) per session, driven only by the official SDKs: `alibabacloud-iot20180120` (ACS3),
`aliyun-python-sdk-core` + `aliyun-python-sdk-iot` (signature v1) and `aliyun-iot-linkkit`
devices. Nothing is built here: the binary comes from OTA_BIN (default target/debug/ota)."""

import importlib
import json
import sys
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
sys.path.insert(0, str(ROOT / "e2e"))
from ota_server import Server  # noqa: E402

KEY_ID = "LTAI5tOtaE2eCompat01"
KEY_SECRET = "e2eSecretForTheAliyunCompatSuite01"


@pytest.fixture(scope="session")
def server():
    s = Server(KEY_ID, KEY_SECRET)
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
