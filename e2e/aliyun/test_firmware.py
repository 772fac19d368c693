"""Packages and modules: upload credentials and the PostObject upload, CreateOTAFirmware,
ModifyOTAFirmware, DeleteOTAFirmware, QueryOTAFirmware, ListOTAFirmware,
GenerateDeviceNameListURL, the OTA module operations and ListOTAModuleVersionsByDevice."""

import base64
import hashlib
import json
from pathlib import Path

from alibabacloud_iot20180120 import models as iot

from conftest import new_firmware, unique, upload, wait_for
from device import Device
from test_registry import fails


def test_upload_url_and_post_object_rules(api, server):
    creds = api.GenerateOTAUploadURL(file_suffix="tar.gz").data
    assert creds.key.endswith(".tar.gz") and creds.object_storage == "OSS"
    policy = json.loads(base64.b64decode(creds.policy))
    assert ["eq", "$key", creds.key] in policy["conditions"]
    fails(api.GenerateOTAUploadURL(file_suffix="exe"), "iot.common.InvalidParameter", "FileSuffix")
    # A signature that does not cover the policy, and a key the policy does not allow.
    other = api.GenerateOTAUploadURL().data
    assert upload(server, other, b"x", key=creds.key).status_code == 403
    creds.signature = "AAAA" + creds.signature[4:]
    assert upload(server, creds, b"x").status_code == 403
    # Expired credentials (valid for one minute).
    late = api.GenerateOTAUploadURL().data
    server.advance(2 * 60_000)
    r = upload(server, late, b"late")
    assert r.status_code == 403 and "expired" in r.text


def test_upload_size_range_is_enforced(api, server):
    creds = api.GenerateDeviceNameListURL().data
    policy = json.loads(base64.b64decode(creds.policy))
    assert ["content-length-range", 0, 5 * 1024 * 1024] in policy["conditions"]
    r = upload(server, creds, b"d" * (5 * 1024 * 1024 + 1))
    assert r.status_code == 400 and "EntityTooLarge" in r.text
    assert upload(server, creds, b"dev1\n", status="201").status_code == 201


def test_create_query_list_modify_delete(api, v1, server, product):
    pk, _ = product
    data = b"firmware-image-" * 100
    creds = api.GenerateOTAUploadURL(file_suffix="bin").data
    assert upload(server, creds, data).status_code == 200
    fails(api.CreateOTAFirmware(product_key=pk, firmware_name="fw", dest_version="1 0",
                                firmware_url=creds.firmware_url), "iot.common.InvalidParameter", "DestVersion")
    fails(api.CreateOTAFirmware(product_key=pk, firmware_name="fw", dest_version="2.0", type=1,
                                firmware_url=creds.firmware_url), "iot.common.InvalidParameter", "SrcVersion")
    fails(api.CreateOTAFirmware(product_key=pk, firmware_name="fw", dest_version="2.0",
                                firmware_url=creds.firmware_url, firmware_sign="0" * 32),
          "iot.common.InvalidParameter", "FirmwareSign")
    name = unique("pkg")
    created = api.CreateOTAFirmware(
        product_key=pk, firmware_name=name, dest_version="2.0.0", firmware_url=creds.firmware_url,
        sign_method="SHA256", firmware_sign=hashlib.sha256(data).hexdigest(), udi='{"notice":"x"}')
    assert created.success, created.error_message
    fid = created.data.firmware_id
    fails(api.CreateOTAFirmware(product_key=pk, firmware_name=name, dest_version="2.0.1",
                                firmware_url=creds.firmware_url), "iot.ota.FirmwareNameExists", "FirmwareName")
    info = api.QueryOTAFirmware(firmware_id=fid).firmware_info
    assert (info.status, info.sign_method, info.firmware_size) == (0, "SHA256", len(data))
    assert info.firmware_sign == hashlib.sha256(data).hexdigest() and info.udi == '{"notice":"x"}'
    assert info.utc_create.endswith("Z") and len(info.utc_create) == 24
    fails(api.QueryOTAFirmware(firmware_id="nope"), "iot.ota.FirmwareNotExist", "FirmwareId")
    listed = v1.call("ListOTAFirmware", ProductKey=pk, CurrentPage=1, PageSize=100)
    assert fid in [f["FirmwareId"] for f in listed["FirmwareInfo"]["SimpleFirmwareInfo"]]
    assert listed["Total"] >= 1 and listed["PageCount"] >= 1
    fails(api.ListOTAFirmware(current_page=1, page_size=101), "iot.common.InvalidPageParams", "PageSize")
    fails(api.ListOTAFirmware(page_size=10), "iot.common.InvalidPageParams", "CurrentPage")
    assert api.ModifyOTAFirmware(firmware_id=fid, product_key=pk, firmware_name=name + "b",
                                 firmware_desc="d", firmware_udi="u").success
    assert api.QueryOTAFirmware(firmware_id=fid).firmware_info.firmware_name == name + "b"
    fails(api.ModifyOTAFirmware(firmware_id=fid, product_key=pk, firmware_desc="x" * 101),
          "iot.common.InvalidParameter", "FirmwareDesc")
    assert api.DeleteOTAFirmware(firmware_id=fid).success
    fails(api.DeleteOTAFirmware(firmware_id=fid), "iot.ota.FirmwareNotExist", "FirmwareId")


def test_multi_file_package(api, server, product):
    pk, _ = product
    files = []
    for i in range(2):
        creds = api.GenerateOTAUploadURL().data
        assert upload(server, creds, b"part%d" % i).status_code == 200
        files.append(iot.CreateOTAFirmwareRequestMultiFiles(name="part%d" % i, url=creds.firmware_url))
    fid = api.CreateOTAFirmware(product_key=pk, firmware_name=unique("multi"), dest_version="3.0",
                                multi_files=files, need_to_verify=False).data.firmware_id
    info = api.QueryOTAFirmware(firmware_id=fid).firmware_info
    assert [f.name for f in info.multi_files] == ["part0", "part1"] and info.status == -1
    dup = [iot.CreateOTAFirmwareRequestMultiFiles(name="a", url=files[0].url),
           iot.CreateOTAFirmwareRequestMultiFiles(name="a", url=files[1].url)]
    fails(api.CreateOTAFirmware(product_key=pk, firmware_name=unique("m"), dest_version="3.1",
                                multi_files=dup), "iot.common.InvalidParameter", "MultiFiles.2.Name")


def test_unreferenced_upload_expires(api, server, product):
    pk, _ = product
    creds = api.GenerateOTAUploadURL().data
    assert upload(server, creds, b"orphan").status_code == 200
    server.advance(61 * 60_000)
    body = api.CreateOTAFirmware(product_key=pk, firmware_name=unique("late"), dest_version="9.9",
                                 firmware_url=creds.firmware_url)
    fails(body, "iot.ota.FileNotExist", "FirmwareUrl")
    # The collector (every minute of wall time) deletes the file itself.
    stored = Path(server.dir) / "packages" / creds.key
    wait_for(lambda: not stored.exists(), timeout=90, interval=2,
             what="the expired upload to be collected")


def test_modules_and_reported_versions(api, v1, server, product):
    pk, devices = product
    assert api.CreateOTAModule(product_key=pk, module_name="mcu", alias_name="MCU", desc="d").success
    fails(api.CreateOTAModule(product_key=pk, module_name="MCU"), "iot.common.AlreadyExists", "")
    fails(api.CreateOTAModule(product_key=pk, module_name="bad module"), "iot.common.InvalidParameter", "ModuleName")
    assert api.UpdateOTAModule(product_key=pk, module_name="mcu", alias_name="Main-MCU").success
    fails(api.UpdateOTAModule(product_key=pk, module_name="mcu", desc="x" * 101), "iot.common.InvalidParameter", "Desc")
    mods = v1.call("ListOTAModuleByProduct", ProductKey=pk)["Data"]
    assert {m["ModuleName"]: m["AliasName"] for m in mods}["mcu"] == "Main-MCU"
    fails(api.ListOTAModuleByProduct(product_key="nope"), "iot.prod.NotExistedProduct", "ProductKey")
    assert api.CreateOTAModule(product_key=pk, module_name="tmp").success
    assert api.DeleteOTAModule(product_key=pk, module_name="tmp").success
    fails(api.DeleteOTAModule(product_key=pk, module_name="default"), "iot.ota.InvalidState", "ModuleName")
    dn = sorted(devices)[3]
    dev = Device(server, pk, dn, devices[dn], version="1.2.3")
    try:
        dev.report("0.9", module="mcu")
        def versions():
            r = api.ListOTAModuleVersionsByDevice(product_key=pk, device_name=dn, current_page=1, page_size=10)
            return r.total == 2 and r
        r = wait_for(versions, what="module versions")
        got = {m.module_name: m.module_version for m in r.data.simple_otamodule_info}
        assert got == {"default": "1.2.3", "mcu": "0.9"}
        assert api.QueryDeviceDetail(product_key=pk, device_name=dn).data.firmware_version == "1.2.3"
        assert api.GetDeviceStatus(product_key=pk, device_name=dn).data.status == "ONLINE"
        fails(api.ListOTAModuleVersionsByDevice(product_key=pk, device_name=dn, current_page=1, page_size=201),
              "iot.common.InvalidPageParams", "PageSize")
    finally:
        dev.close()
    wait_for(lambda: api.GetDeviceStatus(product_key=pk, device_name=dn).data.status == "OFFLINE",
             what="device offline")
