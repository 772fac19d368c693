"""Authentication of the RPC face with both signature versions: success, unknown key, bad
signature, replayed nonce, expired timestamp; unknown action and version."""

import pytest
import requests
from Tea.exceptions import TeaException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.composer import rpc_signature_composer
from aliyunsdkcore.utils import parameter_helper

from conftest import KEY_ID, KEY_SECRET, V1, Tea, tea_client


def test_acs3_and_v1_succeed(api, v1):
    assert api.QueryProductList(current_page=1, page_size=10).success
    assert v1.call("QueryProductList", CurrentPage=1, PageSize=10)["Success"] is True


def test_unknown_key_is_refused_by_both(server):
    with pytest.raises(TeaException) as e:
        Tea(tea_client(server, key_id="LTAINoSuchKey")).QueryProductList(current_page=1, page_size=1)
    assert e.value.code == "InvalidAccessKeyId.NotFound"
    with pytest.raises(ServerException) as e:
        V1(server, key_id="LTAINoSuchKey").call("QueryProductList", CurrentPage=1, PageSize=1)
    assert e.value.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert e.value.get_http_status() == 404


def test_wrong_secret_is_a_signature_mismatch(server):
    with pytest.raises(TeaException) as e:
        Tea(tea_client(server, secret="wrong")).QueryProductList(current_page=1, page_size=1)
    assert e.value.code == "SignatureDoesNotMatch"
    with pytest.raises(ServerException) as e:
        V1(server, secret="wrong").call("QueryProductList", CurrentPage=1, PageSize=1)
    # The server returns SignatureDoesNotMatch with its string to sign; the SDK recognizes
    # its own and reports the wrong secret, exactly as against the platform.
    assert e.value.get_error_code() == "InvalidAccessKeySecret"
    assert e.value.get_http_status() == 400


def test_replayed_nonce_is_refused(server):
    v1 = V1(server)
    req = v1.request("QueryProductList", CurrentPage=1, PageSize=1)
    url, _ = rpc_signature_composer.get_signed_url(
        dict(req.get_query_params(), Action="QueryProductList", Version="2018-01-20"),
        KEY_ID, KEY_SECRET, "JSON", "GET", {})
    first = requests.get(server.base + url, timeout=10)
    assert first.status_code == 200 and first.json()["Success"] is True
    again = requests.get(server.base + url, timeout=10)
    assert again.status_code == 400
    assert again.json()["Code"] == "SignatureNonceUsed"


def test_expired_timestamp_is_refused(server, monkeypatch):
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: "2020-01-01T00:00:00Z")
    with pytest.raises(ServerException) as e:
        V1(server).call("QueryProductList", CurrentPage=1, PageSize=1)
    assert e.value.get_error_code() == "InvalidTimeStamp.Expired"
    assert 400 <= e.value.get_http_status() < 500


def test_unknown_action_and_version(server):
    v1 = V1(server)
    req = v1.request("QueryProductList", CurrentPage=1, PageSize=1)
    for action, version, code in [("NoSuchAction", "2018-01-20", "InvalidAction.NotFound"),
                                  ("QueryProductList", "2017-01-01", "InvalidVersion")]:
        url, _ = rpc_signature_composer.get_signed_url(
            dict(req.get_query_params(), Action=action, Version=version),
            KEY_ID, KEY_SECRET, "JSON", "POST", {})
        r = requests.post(server.base + url, timeout=10)
        assert 400 <= r.status_code < 500 and r.json()["Code"] == code


def test_form_body_parameters_are_signed_and_read(server):
    """Parameters may come in a form body (v1 signs query and body together)."""
    v1 = V1(server)
    req = v1.request("QueryProductList")
    body = {"CurrentPage": "1", "PageSize": "5"}
    url, _ = rpc_signature_composer.get_signed_url(
        dict(req.get_query_params(), Action="QueryProductList", Version="2018-01-20"),
        KEY_ID, KEY_SECRET, "JSON", "POST", body)
    r = requests.post(server.base + url, data=body, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["Data"]["PageSize"] == 5
