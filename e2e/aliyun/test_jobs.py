"""Batch and task operations, each with its success path and a broken rule. Devices stay
offline here, so tasks wait in CONFIRM/QUEUED; test_flows.py runs real devices."""

import time

import pytest
from alibabacloud_iot20180120 import models as iot

from conftest import new_firmware, unique
from test_registry import fails


@pytest.fixture(scope="module")
def fleet(api, server, product):
    pk, devices = product
    names = sorted(devices)
    fid = new_firmware(api, server, pk, b"job-image", "5.0.0")
    return pk, names, fid


def tag(k, v):
    return iot.CreateOTAStaticUpgradeJobRequestTag(key=k, value=v)


def test_verify_job(api, server, product):
    pk, devices = product
    fid = new_firmware(api, server, pk, b"verify-me", "6.0.0", verify=True)
    name = sorted(devices)[0]
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="ALL"),
          "iot.ota.FirmwareNotVerified", "FirmwareId")
    fails(api.CreateOTAVerifyJob(firmware_id=fid, product_key=pk, target_device_name=[name] * 2),
          "iot.common.InvalidParameter", "TargetDeviceName.2")
    fails(api.CreateOTAVerifyJob(firmware_id=fid, product_key=pk, target_device_name=["x%d" % i for i in range(11)]),
          "iot.common.InvalidParameter", "TargetDeviceName")
    job = api.CreateOTAVerifyJob(firmware_id=fid, product_key=pk, target_device_name=[name], timeout_in_minutes=5)
    assert job.success, job.error_message
    assert api.QueryOTAFirmware(firmware_id=fid).firmware_info.status == 2
    q = api.QueryOTAJob(job_id=job.data.job_id).data
    assert (q.job_type, q.selection_type, q.target_selection) == ("VERIFY_FIRMWARE", "STATIC", "SPECIFIC")
    fails(api.CreateOTAVerifyJob(firmware_id=fid, product_key=pk, target_device_name=[name]),
          "iot.ota.InvalidState", "FirmwareId")


def test_static_job_rules_and_query(api, v1, server, fleet):
    pk, names, fid = fleet
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="SPECIFIC",
                                        target_device_name=names[1:2], src_version=["1.0"]),
          "iot.common.InvalidParameter", "SrcVersion.1")
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="ALL",
                                        retry_interval=60, retry_count=1, timeout_in_minutes=60),
          "iot.common.InvalidParameter", "RetryInterval")
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="GRAY",
                                        gray_percent="33.3333"), "iot.common.InvalidParameter", "GrayPercent")
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="ALL",
                                        maximum_per_minute=5), "iot.common.InvalidParameter", "MaximumPerMinute")
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="ALL",
                                        tag=[tag("bad_key", "v")]), "iot.common.InvalidParameter", "Tag.1.Key")
    now = int(time.time() * 1000) + server.offset_ms
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="ALL",
                                        schedule_time=now + 60_000), "iot.common.InvalidParameter", "ScheduleTime")
    planned = api.CreateOTAStaticUpgradeJob(
        firmware_id=fid, product_key=pk, target_selection="SPECIFIC", target_device_name=names[1:3],
        schedule_time=now + 3_600_000, schedule_finish_time=now + 3 * 3_600_000,
        need_confirm=True, retry_interval=10, retry_count=2, tag=[tag("env", "canary")])
    assert planned.success, planned.error_message
    job = api.QueryOTAJob(job_id=planned.data.job_id).data
    assert job.job_status == "PLANNED" and job.need_confirm is True and job.retry_count == 2
    assert job.tags.ota_tag_dto[0].key == "env" and job.utc_schedule_time.endswith("Z")
    raw = v1.call("QueryOTAJob", JobId=planned.data.job_id)["Data"]
    assert raw["Tags"]["OtaTagDTO"] == [{"Key": "env", "Value": "canary"}]
    fails(api.QueryOTAJob(job_id="nope"), "iot.ota.JobNotExist", "JobId")
    jobs = api.ListOTAJobByFirmware(firmware_id=fid, current_page=1, page_size=200)
    assert planned.data.job_id in [j.job_id for j in jobs.data.simple_otajob_info]
    fails(api.ListOTAJobByFirmware(firmware_id=fid, current_page=1, page_size=201),
          "iot.common.InvalidPageParams", "PageSize")
    by_dev = api.ListOTAJobByDevice(firmware_id=fid, product_key=pk, device_name=names[1],
                                    current_page=1, page_size=10)
    assert [j.job_id for j in by_dev.data.simple_otajob_info] == [planned.data.job_id]
    fails(api.ListOTAJobByDevice(firmware_id=fid, product_key=pk, current_page=1, page_size=10),
          "iot.common.InvalidParameter", "DeviceName")
    tasks = api.ListOTATaskByJob(job_id=planned.data.job_id, current_page=1, page_size=10)
    assert {t.task_status for t in tasks.data.simple_otatask_info} == {"CONFIRM"}
    assert tasks.total == 2 and tasks.data.simple_otatask_info[0].iot_id
    fails(api.ListOTATaskByJob(job_id=planned.data.job_id, current_page=1001, page_size=100),
          "iot.common.InvalidPageParams", "CurrentPage")
    fails(api.ListOTATaskByJob(job_id=planned.data.job_id, task_status="DONE", current_page=1, page_size=10),
          "iot.common.InvalidParameter", "TaskStatus")
    unfinished = api.ListOTAUnfinishedTaskByDevice(product_key=pk, device_name=names[1], task_status="CONFIRM")
    assert [t.job_id for t in unfinished.data.simple_otatask_info] == [planned.data.job_id]
    fails(api.ListOTAUnfinishedTaskByDevice(product_key=pk, device_name=names[1], task_status="CONFIRM",
                                            task_status_list=["QUEUED"]), "iot.common.InvalidParameter", "TaskStatusList")
    ids = [t.task_id for t in tasks.data.simple_otatask_info]
    first = [t.task_id for t in tasks.data.simple_otatask_info if t.device_name == names[1]]
    fails(api.ConfirmOTATask(task_id=[ids[0]] * 11), "iot.common.InvalidParameter", "TaskId")
    assert api.ConfirmOTATask(task_id=first).success
    held = api.ListOTATaskByJob(job_id=planned.data.job_id, device_names=[names[1]])
    assert held.data.simple_otatask_info[0].task_status == "QUEUED"
    fails(api.ReupgradeOTATask(job_id=planned.data.job_id, task_id=first), "iot.ota.DeviceInTask", "TaskId")
    fails(api.CancelOTATaskByDevice(product_key=pk, firmware_id=fid, device_name=[names[1]] * 2),
          "iot.common.InvalidParameter", "DeviceName.2")
    assert api.CancelOTATaskByDevice(product_key=pk, firmware_id=fid, device_name=[names[1]],
                                     job_id=planned.data.job_id).success
    assert api.ReupgradeOTATask(job_id=planned.data.job_id, task_id=first).success
    fails(api.CancelOTATaskByJob(job_id=planned.data.job_id), "iot.common.InvalidParameter", "CancelQueuedTask")
    assert api.CancelOTATaskByJob(job_id=planned.data.job_id, cancel_queued_task=True,
                                  cancel_scheduled_task=True).success
    left = api.ListOTAUnfinishedTaskByDevice(product_key=pk, device_name=names[2])
    assert left.data.simple_otatask_info == []
    assert api.QueryOTAJob(job_id=planned.data.job_id).data.job_status == "CANCELED"


def test_dynamic_job_update_and_strategy(api, fleet):
    pk, names, fid = fleet
    fails(api.CreateOTADynamicUpgradeJob(firmware_id=fid, product_key=pk), "iot.common.InvalidParameter", "SrcVersion")
    fails(api.CreateOTADynamicUpgradeJob(firmware_id=fid, product_key=pk, src_version=["1.0"], group_id="g",
                                         group_type="LINK_PLATFORM_DYNAMIC"), "iot.common.InvalidParameter", "GroupId")
    job = api.CreateOTADynamicUpgradeJob(firmware_id=fid, product_key=pk, src_version=["0.1"], dynamic_mode=2)
    assert job.success, job.error_message
    jid = job.data.job_id
    fails(api.CreateOTADynamicUpgradeJob(firmware_id=fid, product_key=pk, src_version=["0.2"]),
          "iot.ota.InvalidState", "FirmwareId")
    q = api.QueryOTAJob(job_id=jid).data
    assert (q.selection_type, q.target_selection, q.dynamic_mode) == ("DYNAMIC", "ALL", 2)
    tags = [iot.UpdateOTAJobRequestTags(key="wave", value="2")]
    assert api.UpdateOTAJob(job_id=jid, upgrade_type="DYNAMIC", target_selection="ALL", maximum_per_minute=100,
                            tags=tags, timeout_in_minutes=30, src_version_list=["0.1", "0.2"]).success
    q = api.QueryOTAJob(job_id=jid).data
    assert (q.maximum_per_minute, q.timeout_in_minutes, q.src_versions.src_version) == (100, 30, ["0.1", "0.2"])
    assert [(t.key, t.value) for t in q.tags.ota_tag_dto] == [("wave", "2")]
    fails(api.UpdateOTAJob(job_id=jid, upgrade_type="STATIC", target_selection="ALL", maximum_per_minute=100),
          "iot.common.InvalidParameter", "UpgradeType")
    fails(api.UpdateOTAJob(job_id=jid, upgrade_type="DYNAMIC", target_selection="ALL"),
          "iot.common.InvalidParameter", "MaximumPerMinute")
    # Tags omitted: cleared.
    assert api.UpdateOTAJob(job_id=jid, upgrade_type="DYNAMIC", target_selection="ALL", maximum_per_minute=10).success
    assert api.QueryOTAJob(job_id=jid).data.tags.ota_tag_dto == []
    assert api.CancelOTAStrategyByJob(job_id=jid).success
    fails(api.CancelOTAStrategyByJob(job_id="nope"), "iot.ota.JobNotExist", "JobId")
