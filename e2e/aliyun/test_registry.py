"""Registry operations an OTA user needs: products, devices, batch registration, status,
groups. Each: the success path and a broken rule (Success:false, a Code, the parameter named)."""

from alibabacloud_iot20180120 import models as iot

from conftest import unique


def fails(body, code, field):
    assert body.success is False, body
    assert body.code == code, (body.code, body.error_message)
    assert field in body.error_message, body.error_message


def test_product_lifecycle(api, v1):
    created = api.CreateProduct(product_name=unique("prod"), node_type=0, description="lamp")
    assert created.success and created.data.product_secret
    pk = created.product_key
    fails(api.CreateProduct(product_name="ab", node_type=0), "iot.common.InvalidParameter", "ProductName")
    assert api.UpdateProduct(product_key=pk, product_name="renamed_" + pk).success
    fails(api.UpdateProduct(product_key=pk, product_name="x y z w"), "iot.common.InvalidParameter", "ProductName")
    q = v1.call("QueryProduct", ProductKey=pk)
    assert q["Data"]["ProductName"] == "renamed_" + pk and q["Data"]["DeviceCount"] == 0
    fails(api.QueryProduct(product_key="nope"), "iot.prod.NotExistedProduct", "ProductKey")
    listed = api.QueryProductList(current_page=1, page_size=200)
    assert pk in [p.product_key for p in listed.data.list.product_info]
    fails(api.QueryProductList(current_page=1, page_size=201), "iot.common.InvalidPageParams", "PageSize")
    assert api.DeleteProduct(product_key=pk).success
    fails(api.DeleteProduct(product_key=pk), "iot.prod.NotExistedProduct", "ProductKey")


def test_devices(api, v1, product):
    pk, _ = product
    d = api.RegisterDevice(product_key=pk, device_name=unique("reg")).data
    assert d.iot_id and d.device_secret
    fails(api.RegisterDevice(product_key=pk, device_name="a b"), "iot.common.InvalidParameter", "DeviceName")
    detail = api.QueryDeviceDetail(iot_id=d.iot_id).data
    assert detail.device_name == d.device_name and detail.status == "UNACTIVE"
    assert detail.firmware_version is None
    fails(api.QueryDeviceDetail(product_key=pk), "iot.common.InvalidParameter", "DeviceName")
    page = api.QueryDevice(product_key=pk, current_page=1, page_size=50)
    assert page.success and d.device_name in [x.device_name for x in page.data.device_info]
    fails(api.QueryDevice(product_key=pk, current_page=0, page_size=10), "iot.common.InvalidPageParams", "CurrentPage")
    status = v1.call("GetDeviceStatus", ProductKey=pk, DeviceName=d.device_name)
    assert status["Data"]["Status"] == "UNACTIVE"
    fails(api.GetDeviceStatus(iot_id="missing"), "iot.device.NotExistedDevice", "IotId")
    state = api.BatchGetDeviceState(product_key=pk, device_name=[d.device_name])
    assert state.device_status_list.device_status[0].status == "UNACTIVE"
    fails(api.BatchGetDeviceState(product_key=pk, device_name=[d.device_name, d.device_name]),
          "iot.common.InvalidParameter", "DeviceName.2")
    assert api.DeleteDevice(iot_id=d.iot_id).success
    fails(api.DeleteDevice(iot_id=d.iot_id), "iot.device.NotExistedDevice", "IotId")


def test_batch_registration(api, v1, product):
    pk, _ = product
    names = [unique("bat") for _ in range(3)]
    check = api.BatchCheckDeviceNames(product_key=pk, device_name=names)
    assert check.success
    apply_id = check.data.apply_id
    fails(api.BatchCheckDeviceNames(product_key=pk, device_name=["ok_name1", "bad name"]),
          "iot.common.InvalidParameter", "DeviceName.2")
    status = api.QueryBatchRegisterDeviceStatus(product_key=pk, apply_id=apply_id).data
    assert status.status == "CHECK_SUCCESS"
    fails(api.QueryBatchRegisterDeviceStatus(product_key=pk, apply_id=1), "iot.device.ApplyIdNotExist", "ApplyId")
    assert api.BatchRegisterDeviceWithApplyId(product_key=pk, apply_id=apply_id).data.apply_id == apply_id
    fails(api.BatchRegisterDeviceWithApplyId(product_key=pk, apply_id=apply_id), "iot.ota.InvalidState", "ApplyId")
    status = v1.call("QueryBatchRegisterDeviceStatus", ProductKey=pk, ApplyId=apply_id)
    assert status["Data"]["Status"] == "CREATE_SUCCESS" and status["Data"]["ValidList"]["Name"] == names
    page = api.QueryPageByApplyId(apply_id=apply_id, current_page=1, page_size=50)
    assert [d.device_name for d in page.apply_device_list.apply_device_info] == names
    assert all(d.device_secret for d in page.apply_device_list.apply_device_info)
    fails(api.QueryPageByApplyId(apply_id=apply_id, current_page=1, page_size=51),
          "iot.common.InvalidPageParams", "PageSize")
    generated = api.BatchRegisterDevice(product_key=pk, count=2)
    assert api.QueryPageByApplyId(apply_id=generated.data.apply_id, current_page=1, page_size=10).total == 2
    fails(api.BatchRegisterDevice(product_key=pk, count=0), "iot.common.InvalidParameter", "Count")


def test_groups(api, product):
    pk, devices = product
    g = api.CreateDeviceGroup(group_name=unique("grp"), group_desc="canary").data
    fails(api.CreateDeviceGroup(group_name="bad name!"), "iot.common.InvalidParameter", "GroupName")
    members = [iot.BatchAddDeviceGroupRelationsRequestDevice(product_key=pk, device_name=n)
               for n in list(devices)[:2]]
    added = api.BatchAddDeviceGroupRelations(group_id=g.group_id, device=members)
    assert added.success and added.success_added_device_count == 2
    fails(api.BatchAddDeviceGroupRelations(group_id=g.group_id,
                                           device=[iot.BatchAddDeviceGroupRelationsRequestDevice(product_key=pk)]),
          "iot.common.InvalidParameter", "Device.1.DeviceName")
    listed = api.QueryDeviceGroupList(current_page=1, page_size=50, group_name=g.group_name)
    assert [x.group_id for x in listed.data.group_info] == [g.group_id]
    fails(api.QueryDeviceGroupList(super_group_id="x", current_page=1, page_size=10),
          "iot.common.InvalidParameter", "SuperGroupId")
    inside = api.QueryDeviceListByDeviceGroup(group_id=g.group_id, current_page=1, page_size=10)
    assert sorted(d.device_name for d in inside.data.simple_device_info) == sorted(list(devices)[:2])
    fails(api.QueryDeviceListByDeviceGroup(group_id="nope", current_page=1, page_size=10),
          "iot.group.NotExistedGroup", "GroupId")
    assert api.DeleteDeviceGroup(group_id=g.group_id).success
    fails(api.DeleteDeviceGroup(group_id=g.group_id), "iot.group.NotExistedGroup", "GroupId")
