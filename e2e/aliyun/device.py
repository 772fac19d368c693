"""A linkkit (aliyun-iot-linkkit) device that follows OTA pushes with a scripted behaviour."""

import json
import os
import queue
import tempfile
import threading
import time

from linkkit.linkkit import LinkKit


class Device:
    """Connects with the device SDK, subscribes to its upgrade topic and reports `version`.
    On a push it acts per `behaviour`: "ok" downloads, checks the digest with the SDK,
    reports progress and the new version; "fail" reports step -2 (download failed);
    "hold" only records the push."""

    def __init__(self, server, pk, dn, secret, version="1.0.0", behaviour="ok", **auth):
        """`auth` (username, client_id, password) replaces the secret for a device that
        registered without pre-registration."""
        self.pk, self.dn, self.version, self.behaviour = pk, dn, version, behaviour
        self.pushes = queue.Queue()
        self.done = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.lk = LinkKit(host_name="cn-shanghai", product_key=pk, device_name=dn,
                          device_secret=secret, **auth)
        self.lk.config_mqtt(port=server.mqtt_port, secure="", endpoint="127.0.0.1")
        self.lk.on_connect = lambda flags, rc, userdata: self.connected.set()
        self.lk.on_subscribe_topic = lambda mid, qos, userdata: self.subscribed.set()
        self.lk.on_ota_message_arrived = self._on_ota
        self.lk.connect_async()
        if not self.connected.wait(20):
            raise AssertionError("device %s did not connect" % dn)
        self.lk.subscribe_topic("/ota/device/upgrade/%s/%s" % (pk, dn), 1)
        self.subscribed.wait(10)
        self.report(version)

    def report(self, version, module=None):
        self.version = version
        self.lk.ota_report_version(module, version)

    def progress(self, step, module=None):
        params = {"step": str(step), "desc": "e2e"}
        if module and module != "default":
            params["module"] = module
        self.lk.publish_topic("/ota/device/progress/%s/%s" % (self.pk, self.dn),
                              json.dumps({"id": "1", "params": params}), 0)

    def _on_ota(self, notice_type, version, size, url, sign_method, sign, module, extra):
        push = dict(type=notice_type, version=version, size=size, url=url,
                    sign_method=sign_method, sign=sign, module=module, extra=extra)
        self.pushes.put(push)
        threading.Thread(target=self._follow, args=(push,), daemon=True).start()

    def _follow(self, push):
        module = push["module"] if push["module"] != "default" else None
        if self.behaviour == "hold":
            return
        if self.behaviour == "fail":
            self.progress(-2, module)
            self.done.put(("failed", push["version"]))
            return
        path = os.path.join(tempfile.mkdtemp(prefix="linkkit-"), "fw.bin")
        rc = self.lk.download_ota_firmware(push["url"], path, push["sign_method"], push["sign"])
        if rc != LinkKit.ErrorCode.SUCCESS:
            self.progress(-3, module)
            self.done.put(("digest", push["version"]))
            return
        self.progress(50, module)
        time.sleep(0.1)
        self.progress(100, module)
        self.report(push["version"], module)
        self.done.put(("ok", push["version"]))

    def next_push(self, timeout=20):
        return self.pushes.get(timeout=timeout)

    def close(self):
        try:
            self.lk.disconnect()
            self.lk.destroy()
        except Exception:
            pass
