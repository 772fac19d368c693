"""Device identity through the official SDKs: DisableThing / EnableThing (both signature
versions), a linkkit device kicked when disabled and refused while disabled (CONNACK code 5,
"not authorized", as Alibaba Cloud answers), and the DISABLE status every device query
reports."""

import hashlib
import hmac
import queue
import threading
import time

import paho.mqtt.client as mqtt
from linkkit.linkkit import LinkKit

from conftest import unique, wait_for
from device import Device
from test_registry import fails


def connack_code(server, pk, dn, secret):
    """The CONNACK code a connection with linkkit's own credentials gets (linkkit reports
    only accepted connections to its application, so paho, its transport, asks)."""
    ts = str(int(time.time()))
    client_id = "%s&%s|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,_v=1.2.13,timestamp=%s|" % (
        pk, dn, ts)
    content = "clientId%s&%sdeviceName%sproductKey%stimestamp%s" % (pk, dn, dn, pk, ts)
    password = hmac.new(secret.encode(), content.encode(), hashlib.sha1).hexdigest()
    codes = queue.Queue()
    client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(dn + "&" + pk, password)
    client.on_connect = lambda c, userdata, flags, rc: codes.put(rc)
    client.connect("127.0.0.1", server.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        return codes.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


class Watcher:
    """A linkkit device that records its accepted connections and its disconnects."""

    def __init__(self, server, pk, dn, secret):
        self.codes = queue.Queue()
        self.disconnected = threading.Event()
        self.lk = LinkKit(host_name="cn-shanghai", product_key=pk, device_name=dn,
                          device_secret=secret)
        self.lk.config_mqtt(port=server.mqtt_port, secure="", endpoint="127.0.0.1")
        self.lk.on_connect = lambda flags, rc, userdata: self.codes.put(rc)
        self.lk.on_disconnect = lambda rc, userdata: self.disconnected.set()
        self.lk.connect_async()

    def next_code(self, timeout=20):
        return self.codes.get(timeout=timeout)

    def close(self):
        try:
            self.lk.disconnect()
            self.lk.destroy()
        except Exception:
            pass


def status_everywhere(api, v1, pk, dn, iot_id):
    """The device's status as QueryDeviceDetail, GetDeviceStatus, BatchGetDeviceState and
    QueryDevice report it."""
    detail = api.QueryDeviceDetail(iot_id=iot_id).data.status
    single = api.GetDeviceStatus(product_key=pk, device_name=dn).data.status
    batch = api.BatchGetDeviceState(product_key=pk, device_name=[dn]).device_status_list
    listed = v1.call("QueryDevice", ProductKey=pk, PageSize=50, CurrentPage=1)["Data"]["DeviceInfo"]
    return {detail, single, batch.device_status[0].status,
            next(d["DeviceStatus"] for d in listed if d["DeviceName"] == dn)}


def test_disable_kicks_and_refuses_enable_lets_in(api, v1, server):
    pk = api.CreateProduct(product_name=unique("ident"), node_type=0).product_key
    d = api.RegisterDevice(product_key=pk, device_name=unique("dis")).data
    watcher = Watcher(server, pk, d.device_name, d.device_secret)
    try:
        assert watcher.next_code() == 0
        wait_for(lambda: api.GetDeviceStatus(iot_id=d.iot_id).data.status == "ONLINE", what="online")

        body = api.DisableThing(product_key=pk, device_name=d.device_name)
        assert body.success, body.error_message
        assert watcher.disconnected.wait(10), "the disabled device was not disconnected"
        # Its credentials now get "not authorized" (5).
        assert connack_code(server, pk, d.device_name, d.device_secret) == 5
        assert status_everywhere(api, v1, pk, d.device_name, d.iot_id) == {"DISABLE"}

        # Signature v1 enables it (by IotId); a fresh linkkit connection is accepted.
        assert v1.call("EnableThing", IotId=d.iot_id)["Success"] is True
        assert api.QueryDeviceDetail(iot_id=d.iot_id).data.status != "DISABLE"
    finally:
        watcher.close()
    device = Device(server, pk, d.device_name, d.device_secret)
    try:
        wait_for(lambda: api.GetDeviceStatus(iot_id=d.iot_id).data.status == "ONLINE", what="online")
        assert v1.call("DisableThing", ProductKey=pk, DeviceName=d.device_name)["Success"] is True
        wait_for(lambda: api.GetDeviceStatus(iot_id=d.iot_id).data.status == "DISABLE",
                 what="disabled")
    finally:
        device.close()
    assert api.EnableThing(iot_id=d.iot_id).success


def test_identity_operations_name_the_device(api, product):
    pk, _ = product
    fails(api.DisableThing(product_key=pk, device_name="nobody"),
          "iot.device.NotExistedDevice", "DeviceName")
    fails(api.EnableThing(product_key=pk), "iot.common.InvalidParameter", "DeviceName")
    fails(api.DisableThing(iot_id="no-such-iot-id"), "iot.device.NotExistedDevice", "IotId")
