"""Full flows: linkkit devices are updated by batches created through the management SDK.
Upload through GenerateOTAUploadURL, CreateOTAFirmware, a verify batch, static and dynamic
batches, failures with retries, cancel, re-upgrade, confirm, and the queries after each."""

import pytest

from conftest import new_firmware, unique, upload, wait_for
from device import Device
from test_registry import fails


@pytest.fixture
def devices(api, server):
    """A fresh product with five connected linkkit devices at version 1.0.0."""
    pk = api.CreateProduct(product_name=unique("flow"), node_type=0).product_key
    fleet = {}
    for i, behaviour in enumerate(["ok", "ok", "fail", "hold", "ok"]):
        d = api.RegisterDevice(product_key=pk, device_name="flowdev%d%s" % (i, unique(""))).data
        fleet[i] = Device(server, pk, d.device_name, d.device_secret, "1.0.0", behaviour)
    wait_for(lambda: all(api.GetDeviceStatus(product_key=pk, device_name=d.dn).data.status == "ONLINE"
                         for d in fleet.values()), what="devices online")
    yield pk, fleet
    for d in fleet.values():
        d.close()


def statuses(api, job_id):
    tasks = api.ListOTATaskByJob(job_id=job_id, current_page=1, page_size=100).data.simple_otatask_info
    return {t.device_name: t.task_status for t in tasks}, {t.device_name: t.task_id for t in tasks}


def test_verify_static_retry_reupgrade_confirm_cancel(api, server, devices):
    pk, fleet = devices
    ok, ok2, failing, holding, spare = (fleet[i] for i in range(5))
    fid = new_firmware(api, server, pk, b"\x7fELF-new-image" * 64, "2.0.0", verify=True)

    # Verify on one device: it downloads, checks the digest, reports 2.0.0.
    verify = api.CreateOTAVerifyJob(firmware_id=fid, product_key=pk, target_device_name=[ok.dn])
    assert verify.success, verify.error_message
    push = ok.next_push()
    assert push["version"] == "2.0.0" and push["sign_method"] == "Md5"
    wait_for(lambda: api.QueryOTAFirmware(firmware_id=fid).firmware_info.status == 1, what="verified")
    assert api.QueryOTAFirmware(firmware_id=fid).firmware_info.verify_progress == 100
    assert api.QueryOTAJob(job_id=verify.data.job_id).data.job_status == "COMPLETED"

    # Static batch with retries: one device succeeds, one fails twice, one holds.
    job = api.CreateOTAStaticUpgradeJob(
        firmware_id=fid, product_key=pk, target_selection="SPECIFIC",
        target_device_name=[ok2.dn, failing.dn, holding.dn], retry_interval=10, retry_count=1)
    assert job.success, job.error_message
    jid = job.data.job_id
    wait_for(lambda: statuses(api, jid)[0][ok2.dn] == "SUCCEEDED", what="ok2 succeeded")
    wait_for(lambda: statuses(api, jid)[0][holding.dn] == "NOTIFIED", what="holding notified")
    assert failing.next_push()["version"] == "2.0.0"
    wait_for(lambda: statuses(api, jid)[0][failing.dn] == "QUEUED", what="retry scheduled")
    server.advance(11 * 60_000)
    assert failing.next_push(timeout=30)["version"] == "2.0.0"
    wait_for(lambda: statuses(api, jid)[0][failing.dn] == "FAILED", what="failed after the retry")
    tasks = api.ListOTATaskByJob(job_id=jid, device_names=[failing.dn]).data.simple_otatask_info
    assert "DOWNLOAD_FAILED" in tasks[0].task_desc

    # The holding device: cancel its NOTIFIED task through the batch.
    assert api.CancelOTATaskByJob(job_id=jid, cancel_notified_task=True).success
    wait_for(lambda: statuses(api, jid)[0][holding.dn] == "CANCELED", what="cancelled")
    assert api.QueryOTAJob(job_id=jid).data.job_status == "CANCELED"

    # Re-upgrade the failed device once it behaves: a new batch is needed since this one
    # is cancelled; a re-upgrade within a cancelled batch is refused.
    _, ids = statuses(api, jid)
    fails(api.ReupgradeOTATask(job_id=jid, task_id=[ids[failing.dn]]), "iot.ota.InvalidState", "TaskId")
    failing.behaviour = "ok"
    again = api.CreateOTAStaticUpgradeJob(
        firmware_id=fid, product_key=pk, target_selection="SPECIFIC", target_device_name=[failing.dn],
        need_confirm=True)
    jid2 = again.data.job_id
    assert statuses(api, jid2)[0] == {failing.dn: "CONFIRM"}
    unfinished = api.ListOTAUnfinishedTaskByDevice(product_key=pk, device_name=failing.dn)
    assert [t.task_status for t in unfinished.data.simple_otatask_info] == ["CONFIRM"]
    assert api.ConfirmOTATask(task_id=list(statuses(api, jid2)[1].values())).success
    wait_for(lambda: statuses(api, jid2)[0][failing.dn] == "SUCCEEDED", what="confirmed device updated")
    assert api.QueryDeviceDetail(product_key=pk, device_name=failing.dn).data.firmware_version == "2.0.0"
    by_dev = api.ListOTAJobByDevice(firmware_id=fid, product_key=pk, device_name=failing.dn,
                                    current_page=1, page_size=10)
    assert {j.job_id for j in by_dev.data.simple_otajob_info} == {jid, jid2}


def test_reupgrade_within_a_running_batch(api, server, devices):
    pk, fleet = devices
    failing, holding, spare = fleet[2], fleet[3], fleet[4]
    fid = new_firmware(api, server, pk, b"image-three" * 32, "3.0.0")
    job = api.CreateOTAStaticUpgradeJob(firmware_id=fid, product_key=pk, target_selection="SPECIFIC",
                                        target_device_name=[failing.dn, spare.dn, holding.dn])
    jid = job.data.job_id
    wait_for(lambda: statuses(api, jid)[0] == {failing.dn: "FAILED", spare.dn: "SUCCEEDED",
                                               holding.dn: "NOTIFIED"}, what="failure, success, hold")
    failing.behaviour = "ok"
    _, ids = statuses(api, jid)
    assert api.ReupgradeOTATask(job_id=jid, task_id=[ids[failing.dn]]).success
    wait_for(lambda: statuses(api, jid)[0][failing.dn] == "SUCCEEDED", what="re-upgraded")
    assert api.CancelOTATaskByDevice(product_key=pk, firmware_id=fid, device_name=[holding.dn]).success
    wait_for(lambda: api.QueryOTAJob(job_id=jid).data.job_status == "COMPLETED", what="batch completed")


def test_dynamic_batch_and_device_list_file(api, server, devices):
    pk, fleet = devices
    fid = new_firmware(api, server, pk, b"image-four" * 32, "4.0.0")
    dyn = api.CreateOTADynamicUpgradeJob(firmware_id=fid, product_key=pk, src_version=["1.5.0"], dynamic_mode=2)
    assert dyn.success, dyn.error_message
    late = fleet[4]
    late.report("1.5.0")
    assert late.next_push()["version"] == "4.0.0"
    wait_for(lambda: statuses(api, dyn.data.job_id)[0].get(late.dn) == "SUCCEEDED", what="dynamic update")
    assert api.CancelOTAStrategyByJob(job_id=dyn.data.job_id).success
    fleet[1].report("1.5.0")
    assert statuses(api, dyn.data.job_id)[0].get(fleet[1].dn) is None

    # A static batch from a device-name list uploaded through GenerateDeviceNameListURL.
    fid5 = new_firmware(api, server, pk, b"image-five" * 32, "5.0.0")
    creds = api.GenerateDeviceNameListURL().data
    assert upload(server, creds, ("DeviceName\n%s\n%s\n" % (fleet[0].dn, fleet[1].dn)).encode()).status_code == 200
    job = api.CreateOTAStaticUpgradeJob(firmware_id=fid5, product_key=pk, target_selection="SPECIFIC",
                                        dn_list_file_url=creds.file_url)
    assert job.success, job.error_message
    wait_for(lambda: statuses(api, job.data.job_id)[0] == {fleet[0].dn: "SUCCEEDED", fleet[1].dn: "SUCCEEDED"},
             what="list batch done")
    fails(api.CreateOTAStaticUpgradeJob(firmware_id=fid5, product_key=pk, target_selection="SPECIFIC",
                                        dn_list_file_url=creds.file_url, target_device_name=[fleet[0].dn]),
          "iot.common.InvalidParameter", "DnListFileUrl")
