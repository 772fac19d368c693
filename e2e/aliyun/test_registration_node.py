"""HTTPS dynamic registration with the official Node.js device SDK (`aliyun-iot-device-sdk`,
installed by scripts/test into e2e/node/node_modules): `register({…, registerURL})` against
the platform obtains the DeviceSecret; a second registration and a replayed `random` are
refused with the code the SDK hands to its callback. Skipped without node or the SDK."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import unique
from test_registration import registering_product

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules/aliyun-iot-device-sdk").is_dir(),
    reason="node or the Node.js device SDK is not installed (scripts/test installs it)")


def node_register(server, pk, product_secret, dn, random=None):
    args = ["node", str(NODE_DIR / "register.js"), server.base + "/auth/register/device", pk,
            product_secret, dn] + ([random] if random else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_node_sdk_registers_over_https(api, server):
    pk, product_secret = registering_product(api, server)
    d = api.RegisterDevice(product_key=pk, device_name=unique("node")).data
    random = unique("r")
    answer = node_register(server, pk, product_secret, d.device_name, random)
    assert answer["code"] == 200, answer
    assert answer["data"]["deviceSecret"] == d.device_secret
    assert answer["data"]["productKey"] == pk and answer["data"]["deviceName"] == d.device_name

    again = node_register(server, pk, product_secret, d.device_name)
    assert again["code"] == 403 and "ResetThing" in again["message"], again
    other = api.RegisterDevice(product_key=pk, device_name=unique("node")).data
    replay = node_register(server, pk, product_secret, other.device_name, random)
    assert replay["code"] == 403 and "random" in replay["message"], replay
    wrong = node_register(server, pk, "not-the-secret", other.device_name)
    assert wrong["code"] == 401, wrong
