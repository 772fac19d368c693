"""Fixtures of the native API contract suite: one real `ota serve` per session and a
`requests` session that signs every call (HMAC, `crates/ota-api/src/sign.rs`)."""

import copy
import sys
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
import schemathesis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "e2e"))
from ota_server import NativeAuth, Server  # noqa: E402

KEY_ID = "LTAI5tOtaNativeContract1"
KEY_SECRET = "nativeContractSuiteSecret0123456"


@pytest.fixture(scope="session")
def server():
    s = Server(KEY_ID, KEY_SECRET)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def signed(server):
    session = requests.Session()
    session.auth = NativeAuth(KEY_ID, KEY_SECRET)
    # One retry when a kept-alive connection was closed under a request (a race of any
    # HTTP client with connection reuse). A request that really breaks the server fails
    # its retry the same way, and is reported.
    retry = Retry(total=1, connect=1, read=1, status=0, allowed_methods=None, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


@pytest.fixture(scope="session")
def document(server):
    r = requests.get(server.base + "/api/v1/openapi.json", timeout=10)
    r.raise_for_status()
    return r.json()


@pytest.fixture(scope="session")
def api_schema(document):
    """The same document the validator checks, fetched once (requests go to `server.base`)."""
    return schemathesis.openapi.from_dict(copy.deepcopy(document))
