"""Arca's instances driven through IBM's Resource Controller SDK (`ibm-platform-services`,
`ResourceControllerV2`): create, list, get, update, delete, reclamations, restore and reclaim,
with the data plane (Key Protect and Secrets Manager REST APIs) checked around each step.

Where the server is comes from the environment (./run sets all of it):

  ARCA_URL            base URL of the server (also the IAM token URL)
  ARCA_API_KEY        an API key of the dev admin
  REQUESTS_CA_BUNDLE  the dev CA (PEM): TLS is always verified

The tests run in file order and share the instances they make (module-scoped state). Names
carry a per-run suffix, so the suite can run again against the same server.
"""

import base64
import os
import uuid

import pytest
import requests
from dateutil import parser as dateparser
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
from ibm_platform_services.resource_controller_v2 import (
    ResourceControllerV2,
    ResourceInstancesPager,
)

KMS_PLAN = "arca-kms-standard"
SM_PLAN = "arca-secrets-manager-standard"
KEY_MEDIA = "application/vnd.ibm.kms.key+json"


class Env:
    def __init__(self):
        self.url = os.environ.get("ARCA_URL", "").rstrip("/")
        self.api_key = os.environ.get("ARCA_API_KEY", "")
        if not self.url or not self.api_key:
            pytest.fail("set ARCA_URL and ARCA_API_KEY; see compat/resource-controller/README.md", pytrace=False)
        self.auth = IAMAuthenticator(self.api_key, url=self.url)
        self.rc = ResourceControllerV2(authenticator=self.auth)
        self.rc.set_service_url(self.url)
        self.run = uuid.uuid4().hex[:10]
        self.state = {}

    def name(self, what):
        return f"{what}-{self.run}"

    def token(self):
        return self.auth.token_manager.get_token()

    def http(self, method, path, *, instance=None, json=None, headers=None):
        h = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
        if instance:
            h["Bluemix-Instance"] = instance
        h.update(headers or {})
        return requests.request(method, f"{self.url}{path}", json=json, headers=h, timeout=30)

    # Key Protect REST API.
    def create_root_key(self, instance, name):
        body = {"metadata": {"collectionType": KEY_MEDIA, "collectionTotal": 1},
                "resources": [{"type": KEY_MEDIA, "name": name, "extractable": False}]}
        r = self.http("POST", "/api/v2/keys", instance=instance, json=body)
        assert r.status_code == 201, r.text
        return r.json()["resources"][0]

    def wrap(self, instance, key_id):
        r = self.http("POST", f"/api/v2/keys/{key_id}/actions/wrap", instance=instance, json={},
                      headers={"Content-Type": "application/vnd.ibm.kms.key_action_wrap+json"})
        assert r.status_code == 200, r.text
        return r.json()

    def unwrap(self, instance, key_id, ciphertext):
        return self.http("POST", f"/api/v2/keys/{key_id}/actions/unwrap", instance=instance,
                         json={"ciphertext": ciphertext},
                         headers={"Content-Type": "application/vnd.ibm.kms.key_action_unwrap+json"})

    def delete_key(self, instance, key_id):
        r = self.http("DELETE", f"/api/v2/keys/{key_id}", instance=instance)
        assert r.status_code in (200, 204), r.text

    def restore_key(self, instance, key_id):
        r = self.http("POST", f"/api/v2/keys/{key_id}/restore", instance=instance)
        assert r.status_code in (200, 201), r.text

    # Secrets Manager REST API.
    def create_secret(self, instance, name, payload):
        r = self.http("POST", f"/sm/{instance}/api/v2/secrets",
                      json={"secret_type": "arbitrary", "name": name, "payload": payload})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def get_secret(self, instance, secret_id):
        return self.http("GET", f"/sm/{instance}/api/v2/secrets/{secret_id}")


@pytest.fixture(scope="module")
def env():
    return Env()


def ok(resp, status):
    assert resp.get_status_code() == status, f"want {status}, got {resp.get_status_code()}: {resp.get_result()}"
    return resp.get_result()


def expect_error(status, fn, *args, **kwargs):
    try:
        resp = fn(*args, **kwargs)
    except ApiException as e:
        assert e.status_code == status, f"{fn.__name__}: want {status}, got {e.status_code}: {e.message}"
        assert e.message and e.message != "Unknown error", "the SDK found no message in the error body"
        return e
    raise AssertionError(f"{fn.__name__}: want {status}, got {resp.get_status_code()}: {resp.get_result()}")


def assert_instance(i, *, name, plan, resource_id, state="active"):
    assert i["id"] == i["crn"]
    assert i["crn"].startswith("crn:v1:") and f":{i['guid']}:" in i["crn"], i["crn"]
    uuid.UUID(i["guid"])
    assert i["name"] == name
    assert i["resource_plan_id"] == plan
    assert i["resource_id"] == resource_id
    assert i["state"] == state
    assert i["type"] == "service_instance"
    assert i["url"] == f"/v2/resource_instances/{i['guid']}"
    dateparser.isoparse(i["created_at"])
    dateparser.isoparse(i["updated_at"])
    assert i["last_operation"]["state"] == "succeeded"


def test_create_instances(env):
    kms = ok(env.rc.create_resource_instance(
        name=env.name("rc-kms"), target="local", resource_group="default", resource_plan_id=KMS_PLAN,
        tags=["compat"]), 201)
    assert_instance(kms, name=env.name("rc-kms"), plan=KMS_PLAN, resource_id="kms")
    sm = ok(env.rc.create_resource_instance(
        name=env.name("rc-sm"), target="local", resource_group="default", resource_plan_id="secrets-manager"), 201)
    assert_instance(sm, name=env.name("rc-sm"), plan=SM_PLAN, resource_id="secrets-manager")
    assert sm["parameters"] == {}
    env.state.update(kms=kms, sm=sm)


def test_create_refuses_bad_input(env):
    expect_error(400, env.rc.create_resource_instance, name=env.name("x"), target="local",
                 resource_group="default", resource_plan_id="no-such-plan")
    expect_error(400, env.rc.create_resource_instance, name=env.name("x"), target="local",
                 resource_group="default", resource_plan_id=KMS_PLAN, parameters={"colour": "blue"})
    e = expect_error(400, env.rc.create_resource_instance, name=env.name("x"), target="local",
                     resource_group="default", resource_plan_id=SM_PLAN,
                     parameters={"root_key_crn": "crn:v1:arca:private:kms:local:a/x:y:key:z"})
    assert "authoriz" in e.message
    names = [i["name"] for i in env.rc.list_resource_instances(name=env.name("x")).get_result()["resources"]]
    assert names == []


def test_list_filters_and_pager(env):
    kms, sm = env.state["kms"], env.state["sm"]
    everything = ok(env.rc.list_resource_instances(), 200)
    assert everything["rows_count"] == len(everything["resources"])
    guids = [i["guid"] for i in everything["resources"]]
    assert kms["guid"] in guids and sm["guid"] in guids
    only_kms = ok(env.rc.list_resource_instances(resource_id="kms"), 200)["resources"]
    assert only_kms and all(i["resource_id"] == "kms" for i in only_kms)
    assert kms["guid"] in [i["guid"] for i in only_kms]
    by_plan = ok(env.rc.list_resource_instances(resource_plan_id=SM_PLAN), 200)["resources"]
    assert sm["guid"] in [i["guid"] for i in by_plan] and all(i["resource_plan_id"] == SM_PLAN for i in by_plan)
    by_guid = ok(env.rc.list_resource_instances(guid=sm["guid"]), 200)["resources"]
    assert [i["guid"] for i in by_guid] == [sm["guid"]]
    first = ok(env.rc.list_resource_instances(limit=1), 200)
    assert first["rows_count"] == 1 and "start=" in first["next_url"]
    paged = ResourceInstancesPager(client=env.rc, limit=1).get_all()
    assert [i["guid"] for i in paged] == guids


def test_get_by_guid_and_crn(env):
    kms = env.state["kms"]
    by_guid = ok(env.rc.get_resource_instance(id=kms["guid"]), 200)
    by_crn = ok(env.rc.get_resource_instance(id=kms["crn"]), 200)
    assert by_guid == by_crn
    assert by_guid["name"] == kms["name"]
    expect_error(404, env.rc.get_resource_instance, id=str(uuid.uuid4()))
    expect_error(404, env.rc.get_resource_instance, id=kms["crn"].replace(kms["account_id"], "other-account"))


def test_update_name_and_root_key(env):
    kms, sm = env.state["kms"], env.state["sm"]
    key = env.create_root_key(kms["guid"], env.name("rc-root"))
    wrapped = env.wrap(kms["guid"], key["id"])
    env.state.update(root=key, wrapped=wrapped)
    # The secrets instance may use the key only once authorized.
    expect_error(403, env.rc.update_resource_instance, id=sm["guid"], parameters={"root_key_crn": key["crn"]})
    r = env.http("POST", "/v1/iam/authorizations", json={
        "source_service_instance_id": sm["guid"], "target_service_instance_id": kms["guid"],
        "target_key_id": key["id"], "role": "Reader"})
    assert r.status_code == 201, r.text
    updated = ok(env.rc.update_resource_instance(
        id=sm["crn"], name=env.name("rc-sm-renamed"), parameters={"root_key_crn": key["crn"]}), 200)
    assert_instance(updated, name=env.name("rc-sm-renamed"), plan=SM_PLAN, resource_id="secrets-manager")
    assert updated["parameters"] == {"root_key_crn": key["crn"]}
    assert updated["last_operation"]["type"] == "update"
    assert ok(env.rc.get_resource_instance(id=sm["guid"]), 200)["name"] == env.name("rc-sm-renamed")
    expect_error(400, env.rc.update_resource_instance, id=sm["guid"], resource_plan_id=KMS_PLAN)
    expect_error(400, env.rc.update_resource_instance, id=kms["guid"], parameters={"root_key_crn": key["crn"]})
    env.state["secret"] = env.create_secret(sm["guid"], env.name("rc-secret"), "rc compat payload")


def test_delete_refuse_restore(env):
    kms, sm = env.state["kms"], env.state["sm"]
    resp = env.rc.delete_resource_instance(id=sm["crn"], recursive=False)
    assert resp.get_status_code() == 202
    deleted = ok(env.rc.get_resource_instance(id=sm["guid"]), 200)
    assert deleted["state"] == "pending_reclamation"
    dateparser.isoparse(deleted["deleted_at"])
    dateparser.isoparse(deleted["scheduled_reclaim_at"])
    # The data plane refuses the deleted instance.
    assert env.get_secret(sm["guid"], env.state["secret"]).status_code == 409
    assert sm["guid"] not in [i["guid"] for i in env.rc.list_resource_instances().get_result()["resources"]]
    pending = ok(env.rc.list_resource_instances(state="pending_reclamation"), 200)["resources"]
    assert sm["guid"] in [i["guid"] for i in pending]
    recl = ok(env.rc.list_reclamations(resource_instance_id=sm["guid"]), 200)["resources"]
    assert len(recl) == 1
    r = recl[0]
    assert r["id"] == sm["guid"] and r["resource_instance_id"] == sm["guid"] and r["entity_crn"] == sm["crn"]
    assert r["state"] == "SCHEDULED" and r["account_id"] == sm["account_id"]
    assert dateparser.isoparse(r["target_time"]) > dateparser.isoparse(r["created_at"])
    assert ok(env.rc.list_reclamations(account_id="someone-else"), 200)["resources"] == []
    expect_error(400, env.rc.run_reclamation_action, id=r["id"], action_name="discard")
    expect_error(404, env.rc.run_reclamation_action, id=kms["guid"], action_name="restore")
    restored = ok(env.rc.run_reclamation_action(id=r["id"], action_name="restore", comment="compat"), 200)
    assert restored["state"] == "RESTORING"
    assert ok(env.rc.get_resource_instance(id=sm["guid"]), 200)["state"] == "active"
    # Every secret reads and every key unwraps as before.
    got = env.get_secret(sm["guid"], env.state["secret"])
    assert got.status_code == 200 and got.json()["payload"] == "rc compat payload"
    u = env.unwrap(kms["guid"], env.state["root"]["id"], env.state["wrapped"]["ciphertext"])
    assert u.status_code == 200 and u.json()["plaintext"] == env.state["wrapped"]["plaintext"]
    assert ok(env.rc.list_reclamations(resource_instance_id=sm["guid"]), 200)["resources"] == []


def test_key_instance_delete_restore_reclaim(env):
    kms2 = ok(env.rc.create_resource_instance(
        name=env.name("rc-kms-2"), target="local", resource_group="default", resource_plan_id="kms"), 201)
    guid = kms2["guid"]
    key = env.create_root_key(guid, env.name("rc-root-2"))
    wrapped = env.wrap(guid, key["id"])
    # Live keys: refused.
    expect_error(409, env.rc.delete_resource_instance, id=guid)
    env.delete_key(guid, key["id"])
    assert env.rc.delete_resource_instance(id=kms2["crn"]).get_status_code() == 202
    assert env.unwrap(guid, key["id"], wrapped["ciphertext"]).status_code == 409
    ok(env.rc.run_reclamation_action(id=guid, action_name="restore"), 200)
    env.restore_key(guid, key["id"])
    u = env.unwrap(guid, key["id"], wrapped["ciphertext"])
    assert u.status_code == 200 and u.json()["plaintext"] == wrapped["plaintext"]
    # Delete and reclaim: the old ciphertext can never be unwrapped again, 404 everywhere.
    env.delete_key(guid, key["id"])
    assert env.rc.delete_resource_instance(id=guid).get_status_code() == 202
    reclaimed = ok(env.rc.run_reclamation_action(id=guid, action_name="reclaim"), 200)
    assert reclaimed["state"] == "RECLAIMING"
    expect_error(404, env.rc.get_resource_instance, id=guid)
    expect_error(404, env.rc.get_resource_instance, id=kms2["crn"])
    assert env.unwrap(guid, key["id"], wrapped["ciphertext"]).status_code == 404
    expect_error(404, env.rc.run_reclamation_action, id=guid, action_name="restore")
    assert ok(env.rc.list_reclamations(resource_instance_id=guid), 200)["resources"] == []
    for state in ("active", "pending_reclamation"):
        listed = env.rc.list_resource_instances(state=state).get_result()["resources"]
        assert guid not in [i["guid"] for i in listed]


def test_secrets_instance_reclaim(env):
    sm = env.state["sm"]
    assert env.rc.delete_resource_instance(id=sm["guid"]).get_status_code() == 202
    ok(env.rc.run_reclamation_action(id=sm["guid"], action_name="reclaim"), 200)
    expect_error(404, env.rc.get_resource_instance, id=sm["guid"])
    assert env.get_secret(sm["guid"], env.state["secret"]).status_code == 404
    assert ok(env.rc.list_reclamations(), 200)["resources"] == [] or all(
        r["id"] != sm["guid"] for r in env.rc.list_reclamations().get_result()["resources"])
    # The key instance is untouched: its key still unwraps.
    kms = env.state["kms"]
    u = env.unwrap(kms["guid"], env.state["root"]["id"], env.state["wrapped"]["ciphertext"])
    assert u.status_code == 200 and base64.b64decode(u.json()["plaintext"]) == base64.b64decode(
        env.state["wrapped"]["plaintext"])
