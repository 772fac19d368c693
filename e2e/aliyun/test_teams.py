"""Users and RAM policies seen through the official SDKs: a read-only key lists and
queries but CreateOTAFirmware gets Forbidden.RAM; a product-scoped key creates a batch for
its product and not for another; a disabled key gets InvalidAccessKeyId.Inactive; a
read-only key never sees device secrets; every one of these calls is in the audit log with
its key and result. Users, keys and policies are made through the native API."""

import json

import pytest
import requests
from aliyunsdkcore.acs_exception.exceptions import ServerException
from Tea.exceptions import TeaException

from conftest import V1, Tea, new_firmware, tea_client, unique, upload
from ota_server import NativeAuth


@pytest.fixture(scope="module")
def native(server):
    """A signed `requests` session for the native API, as the admin."""
    s = requests.Session()
    s.auth = NativeAuth(server.key_id, server.key_secret)
    return s


def call(native, server, method, path, body=None):
    r = native.request(method, server.base + "/api/v1" + path,
                       data=json.dumps(body).encode() if body is not None else None,
                       headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code < 300, r.text
    return r.json() if r.text else None


def user_with_key(native, server, name, policies):
    call(native, server, "POST", "/users", {"user_name": name, "policies": policies})
    key = call(native, server, "POST", "/users/%s/access-keys" % name)
    return key["access_key_id"], key["access_key_secret"]


def audit(native, server, **filters):
    r = native.get(server.base + "/api/v1/audit-events", params=filters, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def scoped_policy(native, server, name, pk):
    document = {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["iot:*"], "Resource": ["acs:iot:*:*:product/" + pk]}]}
    call(native, server, "POST", "/policies", {"policy_name": name, "document": document})


def test_a_read_only_key_queries_but_cannot_create_a_package(server, api, native, product):
    pk, devices = product
    key_id, secret = user_with_key(native, server, unique("viewer"), ["ReadOnlyAccess"])
    reader = Tea(tea_client(server, key_id, secret))
    assert reader.QueryProductList(current_page=1, page_size=10).success
    assert reader.ListOTAFirmware(current_page=1, page_size=10).success
    name = next(iter(devices))
    detail = reader.QueryDeviceDetail(product_key=pk, device_name=name)
    assert detail.success
    assert not detail.data.device_secret, "a read-only key never sees device secrets"
    assert api.QueryDeviceDetail(product_key=pk, device_name=name).data.device_secret

    with pytest.raises(TeaException) as e:
        reader.CreateOTAFirmware(product_key=pk, firmware_name="x", dest_version="9.9",
                                 firmware_url="http://127.0.0.1/x.bin")
    assert e.value.code == "Forbidden.RAM"
    assert "iot:CreateOTAFirmware" in e.value.message
    with pytest.raises(ServerException) as e:
        V1(server, key_id, secret).call("CreateProduct", ProductName="x", NodeType=0)
    assert e.value.get_error_code() == "Forbidden.RAM"
    assert e.value.get_http_status() == 403

    events = audit(native, server, access_key_id=key_id)
    assert [(ev["event_name"], ev["result"], ev["face"]) for ev in events] == [
        ("CreateProduct", "Forbidden.RAM", "aliyun"),
        ("CreateOTAFirmware", "Forbidden.RAM", "aliyun"),
    ], "reads are not audited; both denials are"
    assert pk in events[1]["resources"]
    assert events[1]["request_parameters"]["DestVersion"] == "9.9"


def test_a_product_scoped_key_creates_batches_for_its_product_only(server, api, native):
    mine = api.CreateProduct(product_name=unique("line-a"), node_type=0).product_key
    other = api.CreateProduct(product_name=unique("line-b"), node_type=0).product_key
    names = {}
    for pk in (mine, other):
        names[pk] = api.RegisterDevice(product_key=pk, device_name=unique("dev")).data.device_name
    fw_mine = new_firmware(api, server, mine, b"A" * 512, "2.0")
    fw_other = new_firmware(api, server, other, b"B" * 512, "2.0")
    policy = unique("line-a-")
    scoped_policy(native, server, policy, mine)
    key_id, secret = user_with_key(native, server, unique("ops"), [policy])
    ops = Tea(tea_client(server, key_id, secret))

    created = ops.CreateOTAStaticUpgradeJob(
        firmware_id=fw_mine, product_key=mine, target_selection="SPECIFIC",
        target_device_name=[names[mine]])
    assert created.success, created.error_message
    with pytest.raises(TeaException) as e:
        ops.CreateOTAStaticUpgradeJob(
            firmware_id=fw_other, product_key=other, target_selection="SPECIFIC",
            target_device_name=[names[other]])
    assert e.value.code == "Forbidden.RAM"
    assert "product/" + other in e.value.message
    with pytest.raises(TeaException) as e:
        ops.QueryProductList(current_page=1, page_size=10)
    assert e.value.code == "Forbidden.RAM", "a call naming no product is outside the scope"

    events = audit(native, server, access_key_id=key_id)
    assert [(ev["event_name"], ev["result"]) for ev in events] == [
        ("QueryProductList", "Forbidden.RAM"),
        ("CreateOTAStaticUpgradeJob", "Forbidden.RAM"),
        ("CreateOTAStaticUpgradeJob", "Success"),
    ]
    assert created.data.job_id in events[2]["resources"]


def test_a_disabled_key_is_inactive_until_enabled(server, native):
    key_id, secret = user_with_key(native, server, unique("ci"), ["AdministratorAccess"])
    ci = Tea(tea_client(server, key_id, secret))
    assert ci.QueryProductList(current_page=1, page_size=1).success
    call(native, server, "PATCH", "/access-keys/" + key_id, {"enabled": False})
    with pytest.raises(TeaException) as e:
        ci.QueryProductList(current_page=1, page_size=1)
    assert e.value.code == "InvalidAccessKeyId.Inactive"
    with pytest.raises(ServerException) as e:
        V1(server, key_id, secret).call("QueryProductList", CurrentPage=1, PageSize=1)
    assert e.value.get_error_code() == "InvalidAccessKeyId.Inactive"
    call(native, server, "PATCH", "/access-keys/" + key_id, {"enabled": True})
    assert ci.QueryProductList(current_page=1, page_size=1).success

    events = audit(native, server, resource_id=key_id, event_name="UpdateAccessKey")
    assert [ev["result"] for ev in events] == ["Success", "Success"]
    assert all(ev["user_name"] == "admin" for ev in events)


def test_uploads_are_audited_and_a_disabled_key_no_longer_uploads(server, native):
    name = unique("uploader")
    key_id, secret = user_with_key(native, server, name, ["OTAReleaseManager"])
    uploader = Tea(tea_client(server, key_id, secret))
    first = uploader.GenerateOTAUploadURL(file_suffix="bin").data
    r = upload(server, first, b"y" * 64)
    assert r.status_code == 200, r.text
    events = audit(native, server, user_name=name, event_name="PostObject")
    assert [(ev["result"], ev["access_key_id"]) for ev in events] == [("Success", key_id)]
    assert first.key in events[0]["resources"]

    creds = uploader.GenerateOTAUploadURL(file_suffix="bin").data
    call(native, server, "PATCH", "/access-keys/" + key_id, {"enabled": False})
    r = upload(server, creds, b"x" * 64)
    assert r.status_code == 403, r.text
