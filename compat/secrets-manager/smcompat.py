"""Shared helpers of Arca's Secrets Manager SDK suites (test_arca_sm_sdk.py, test_arca_sm_certs.py).

Where the server is comes from the environment (./run sets all of it):

  ARCA_URL          base URL of the server, e.g. https://127.0.0.1:8200 (also the IAM token URL)
  ARCA_API_KEY      an API key of the dev admin
  ARCA_SM_URL       service URL of a secrets-manager instance, {ARCA_URL}/sm/<instance id>
  REQUESTS_CA_BUNDLE  the dev CA (PEM): TLS is always verified
  ARCA_DEV_JSON     optional: a dev.json to read the three ARCA_* values from (the variables win)

Every test uses names with a per-run suffix, so the suites can run again against the same server.
"""

import json
import os
import re
import uuid

import pytest
import requests
from dateutil import parser as dateparser
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import (
    BearerTokenAuthenticator,
    IAMAuthenticator,
    NoAuthAuthenticator,
)
from ibm_secrets_manager_sdk.secrets_manager_v2 import SecretsManagerV2

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A pager that has not ended after this many pages is taken to loop forever.
MAX_PAGES = 200


def _settings():
    dev = {}
    path = os.environ.get("ARCA_DEV_JSON")
    if path:
        with open(path) as f:
            dev = json.load(f)
    url = os.environ.get("ARCA_URL") or dev.get("url")
    api_key = os.environ.get("ARCA_API_KEY") or dev.get("api_key")
    sm_url = os.environ.get("ARCA_SM_URL") or dev.get("secrets_manager_url")
    missing = [n for n, v in (("ARCA_URL", url), ("ARCA_API_KEY", api_key), ("ARCA_SM_URL", sm_url)) if not v]
    if missing:
        pytest.fail("set " + ", ".join(missing) + " (or ARCA_DEV_JSON); see compat/secrets-manager/README.md",
                    pytrace=False)
    if not os.environ.get("REQUESTS_CA_BUNDLE") and dev.get("ca_cert"):
        os.environ["REQUESTS_CA_BUNDLE"] = dev["ca_cert"]
    return url.rstrip("/"), api_key, sm_url.rstrip("/")


class Env:
    """The server under test and the clients for it."""

    def __init__(self):
        self.url, self.api_key, self.sm_url = _settings()
        self.instance_id = self.sm_url.rsplit("/", 1)[-1]
        self.authenticator = IAMAuthenticator(self.api_key, url=self.url)
        self.sm = self.client(self.sm_url)
        self.run = uuid.uuid4().hex[:10]

    def client(self, service_url, authenticator=None):
        """An SDK client for a service URL (no retries: a 5xx must show, not be retried)."""
        svc = SecretsManagerV2(authenticator=authenticator or self.authenticator)
        svc.set_service_url(service_url)
        return svc

    def token(self):
        return self.authenticator.token_manager.get_token()

    def name(self, what):
        """A name unique to this run: `<what>-<run id>`."""
        return f"{what}-{self.run}"

    def create_instance(self, name):
        """A new secrets-manager instance through the Arca REST API; returns its service URL."""
        r = requests.post(
            f"{self.url}/v1/instances",
            headers={"Authorization": f"Bearer {self.api_key}"},
            json={"name": name, "service": "secrets-manager"},
            timeout=30,
        )
        assert r.status_code == 201, f"POST /v1/instances: {r.status_code} {r.text}"
        iid = r.json()["id"]
        return iid, f"{self.url}/sm/{iid}"

    def raw(self, method, path, *, data=None, headers=None, auth=True, service_url=None):
        """A request the SDK cannot make (malformed bodies, missing auth) to {service_url}/api/v2{path}."""
        h = dict(headers or {})
        if auth:
            h["Authorization"] = f"Bearer {self.token()}"
        return requests.request(method, f"{service_url or self.sm_url}/api/v2{path}", data=data, headers=h,
                                timeout=30)


def noauth_client(env):
    return env.client(env.sm_url, NoAuthAuthenticator())


def bearer_client(env, token):
    return env.client(env.sm_url, BearerTokenAuthenticator(token))


def expect_error(status, fn, *args, **kwargs):
    """Calls an SDK method that must fail with `status`; returns the ApiException."""
    try:
        resp = fn(*args, **kwargs)
    except ApiException as e:
        body = e.http_response.text if e.http_response is not None else ""
        assert e.status_code == status, (
            f"{fn.__name__}: want HTTP {status}, got {e.status_code}: {e.message} (body: {body[:500]})")
        return e
    raise AssertionError(
        f"{fn.__name__}: want HTTP {status}, got {resp.get_status_code()}: {str(resp.get_result())[:500]}")


def ok(resp, status):
    """Asserts the status of a DetailedResponse and returns its result."""
    assert resp.get_status_code() == status, f"want {status}, got {resp.get_status_code()}: {resp.get_result()}"
    return resp.get_result()


def ts(value):
    """Parses an RFC 3339 timestamp (fails the test when it is not one)."""
    assert isinstance(value, str) and value, f"not a timestamp: {value!r}"
    return dateparser.isoparse(value)


def drain(pager):
    """All items of a pager through get_next(), failing if it does not end."""
    items = []
    pages = 0
    while pager.has_next():
        pages += 1
        assert pages <= MAX_PAGES, "pager did not stop: is `next` sent on the last page?"
        page = pager.get_next()
        assert page is not None
        items.extend(page)
    return items, pages


def assert_common_secret(meta, *, secret_type, name, group="default", instance_id=None):
    """Fields every Secret / SecretMetadata carries (the SDK models mark them required)."""
    assert meta["secret_type"] == secret_type
    assert meta["name"] == name
    assert UUID_RE.match(meta["id"]), meta["id"]
    assert meta["secret_group_id"] == group
    assert meta.get("created_by")
    ts(meta["created_at"])
    ts(meta["updated_at"])
    assert isinstance(meta["versions_total"], int) and meta["versions_total"] >= 1
    crn = meta["crn"]
    assert crn.startswith("crn:v1:") and crn.endswith(f":secret:{meta['id']}"), crn
    if instance_id:
        assert f":{instance_id}:" in crn, crn
    assert meta.get("state") == 1 and meta.get("state_description") == "active", (
        meta.get("state"), meta.get("state_description"))


def cleanup(fn, *args, **kwargs):
    """Best-effort delete (404 is fine: already gone)."""
    try:
        fn(*args, **kwargs)
    except ApiException:
        pass
