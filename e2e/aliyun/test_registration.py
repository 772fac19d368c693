"""Dynamic registration ("one secret per product") with the official Python Link SDK: over
MQTT for a pre-registered device (`auth_type="register"`, the secret arrives on
`/ext/register`) and without pre-registration (`auth_type="regnwl"`, a client id and token on
`/ext/regnwl`); each device then connects with what it was given and is updated. Refused,
with the codes the SDK reports (-769 / -770): a wrong ProductSecret, a product with
registration off, a second registration, a full regnwl quota. HTTPS
`/auth/register/device` as the Node.js SDK sends it, with a replayed `random` refused."""

import hashlib
import hmac
import json
import queue

import requests
from linkkit.linkkit import LinkKit

from conftest import KEY_ID, KEY_SECRET, new_firmware, unique, wait_for
from device import Device
from ota_server import sign_native

FAILED = LinkKit.ErrorCode.DYNREG_AUTH_FAILED.value  # -769
NWL_FAILED = LinkKit.ErrorCode.DYNREG_AUTH_NWL_FAILED.value  # -770


def native(server, method, path, body=None):
    url = server.base + "/api/v1" + path
    data = json.dumps(body).encode() if body is not None else b""
    headers = sign_native(KEY_ID, KEY_SECRET, method, url, data)
    headers["content-type"] = "application/json"
    r = requests.request(method, url, data=data, headers=headers, timeout=10)
    assert r.status_code < 300, r.text
    return r.json()


def registering_product(api, server, **settings):
    """A product with dynamic registration on; its key and secret."""
    created = api.CreateProduct(product_name=unique("dynreg"), node_type=0)
    pk, secret = created.product_key, created.data.product_secret
    native(server, "PATCH", "/products/" + pk, dict({"dynamic_register": True}, **settings))
    return pk, secret


def register(server, pk, dn, product_secret, auth_type="register"):
    """Runs the Link SDK's MQTT dynamic registration; returns its callback's arguments."""
    answers = queue.Queue()
    lk = LinkKit(host_name="cn-shanghai", product_key=pk, device_name=dn, device_secret="",
                 product_secret=product_secret, auth_type=auth_type)
    lk.config_mqtt(port=server.mqtt_port, secure="", endpoint="127.0.0.1")
    lk.on_device_dynamic_register = lambda rc, value, userdata: answers.put((rc, value))
    lk.on_device_dynamic_register_nwl_reply = \
        lambda rc, client_id, username, password: answers.put((rc, (client_id, username, password)))
    lk.connect_async()
    try:
        return answers.get(timeout=30)
    finally:
        try:
            lk.destroy()
        except Exception:
            pass


def update(api, server, pk, device):
    """A static batch updates `device` to 2.0.0."""
    fid = new_firmware(api, server, pk, b"dynreg-image" * 100, "2.0.0")
    job = api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk,
                                        target_selection="SPECIFIC", target_device_name=[device.dn])
    assert job.success, job.error_message
    assert device.next_push()["version"] == "2.0.0"
    assert device.done.get(timeout=30) == ("ok", "2.0.0")
    wait_for(lambda: api.ListOTATaskByJob(job_id=job.data.job_id, current_page=1, page_size=10)
             .data.simple_otatask_info[0].task_status == "SUCCEEDED", what="task succeeded")


def test_preregistered_device_registers_over_mqtt_connects_and_is_updated(api, server):
    pk, product_secret = registering_product(api, server)
    d = api.RegisterDevice(product_key=pk, device_name=unique("pre")).data
    rc, secret = register(server, pk, d.device_name, product_secret)
    assert (rc, secret) == (0, d.device_secret)
    shown = native(server, "GET", "/products/%s/devices/%s" % (pk, d.device_name))
    assert shown["registration"]["method"] == "register", shown

    # Once: a second registration is refused, until an operator resets the device.
    assert register(server, pk, d.device_name, product_secret)[0] == FAILED
    device = Device(server, pk, d.device_name, secret)
    try:
        update(api, server, pk, device)
    finally:
        device.close()
    # Reset once its going offline is stored (a connection that ends after the reset counts
    # as activation).
    path = "/products/%s/devices/%s" % (pk, d.device_name)
    wait_for(lambda: native(server, "GET", path)["online"] is False, what="stored offline")
    assert api.ResetThing(product_key=pk, device_name=d.device_name).success
    assert api.QueryDeviceDetail(iot_id=d.iot_id).data.status == "UNACTIVE"
    assert register(server, pk, d.device_name, product_secret) == (0, d.device_secret)


def test_regnwl_creates_the_device_which_connects_with_its_token(api, server):
    pk, product_secret = registering_product(api, server, regnwl_quota=1)
    dn = unique("nwl")
    rc, (client_id, username, token) = register(server, pk, dn, product_secret, "regnwl")
    assert rc == 0 and username == "%s&%s" % (dn, pk) and token
    assert "authType=connwl" in client_id
    detail = api.QueryDeviceDetail(product_key=pk, device_name=dn).data
    assert detail.status == "UNACTIVE"
    device = Device(server, pk, dn, None, username=username, client_id=client_id, password=token)
    try:
        wait_for(lambda: api.GetDeviceStatus(iot_id=detail.iot_id).data.status == "ONLINE",
                 what="online with its token")
        update(api, server, pk, device)
    finally:
        device.close()
    # The quota (1) is full: another new device is refused.
    assert register(server, pk, unique("nwl"), product_secret, "regnwl")[0] == NWL_FAILED


def test_refusals_report_the_sdk_code(api, server):
    pk, product_secret = registering_product(api, server)
    d = api.RegisterDevice(product_key=pk, device_name=unique("ref")).data
    assert register(server, pk, d.device_name, "not-the-product-secret")[0] == FAILED
    assert register(server, pk, "nosuchdevice", product_secret)[0] == FAILED
    assert api.DisableThing(product_key=pk, device_name=d.device_name).success
    assert register(server, pk, d.device_name, product_secret)[0] == FAILED
    assert api.EnableThing(product_key=pk, device_name=d.device_name).success

    off = api.CreateProduct(product_name=unique("off"), node_type=0)
    other = api.RegisterDevice(product_key=off.product_key, device_name=unique("off")).data
    assert register(server, off.product_key, other.device_name,
                    off.data.product_secret)[0] == FAILED
    # The device that was refused for others' reasons still registers.
    assert register(server, pk, d.device_name, product_secret) == (0, d.device_secret)


def https_register(server, pk, dn, product_secret, random, method="hmacsha1"):
    """`POST /auth/register/device` exactly as the Node.js SDK's `register()` posts it."""
    content = "deviceName%sproductKey%srandom%s" % (dn, pk, random)
    sign = hmac.new(product_secret.encode(), content.encode(), hashlib.sha1).hexdigest()
    r = requests.post(server.base + "/auth/register/device", timeout=10, data={
        "productKey": pk, "deviceName": dn, "random": random, "sign": sign, "signMethod": method})
    assert r.status_code == 200, r.text
    return r.json()


def test_https_registration_and_a_replayed_random(api, server):
    pk, product_secret = registering_product(api, server)
    d = api.RegisterDevice(product_key=pk, device_name=unique("web")).data
    random = unique("r")
    answer = https_register(server, pk, d.device_name, product_secret, random)
    assert answer["code"] == 200, answer
    assert answer["data"] == {"productKey": pk, "deviceName": d.device_name,
                              "deviceSecret": d.device_secret}
    assert native(server, "GET", "/products/%s/devices/%s" % (pk, d.device_name))[
        "registration"]["method"] == "https"

    other = api.RegisterDevice(product_key=pk, device_name=unique("web")).data
    replay = https_register(server, pk, other.device_name, product_secret, random)
    assert replay["code"] == 403 and "random" in replay["message"], replay
    again = https_register(server, pk, d.device_name, product_secret, unique("r"))
    assert again["code"] == 403 and "ResetThing" in again["message"], again
    wrong = https_register(server, pk, other.device_name, "wrong", unique("r"))
    assert wrong["code"] == 401 and "sign" in wrong["message"], wrong
    bad = https_register(server, pk, other.device_name, product_secret, unique("r"), "rsa")
    assert bad["code"] == 460 and "rsa" in bad["message"], bad
    assert https_register(server, pk, other.device_name, product_secret, unique("r"))["code"] == 200
