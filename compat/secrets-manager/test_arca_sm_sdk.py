"""Arca's own Secrets Manager v2 suite: drives IBM's official Python SDK (ibm-secrets-manager-sdk)
against an Arca server over every operation Arca supports, and checks the results, not just the
status codes. Run it with ./run (see README.md beside this file), or by hand:

    ARCA_DEV_JSON=arca-dev/dev.json python -m pytest -p no:cacheprovider test_arca_sm_sdk.py

Secret types covered here: arbitrary, kv, username_password. Certificates are in
test_arca_sm_certs.py.
"""

import json
import string
import uuid

import pytest
import requests
from ibm_cloud_sdk_core import ApiException
from ibm_secrets_manager_sdk.secrets_manager_v2 import (
    ConfigurationsPager,
    SecretLocksPager,
    SecretsLocksPager,
    SecretsPager,
    SecretVersionLocksPager,
)

from smcompat import (
    UUID_RE,
    Env,
    assert_common_secret,
    bearer_client,
    cleanup,
    drain,
    expect_error,
    noauth_client,
    ok,
    ts,
)

SUPPORTED = ("arbitrary", "kv", "username_password")


@pytest.fixture(scope="module")
def env():
    return Env()


@pytest.fixture(scope="module")
def sm(env):
    return env.sm


@pytest.fixture(scope="module")
def other(env):
    """A second secrets-manager instance of the same account: (instance id, SDK client)."""
    iid, url = env.create_instance(env.name("sm-compat-other"))
    return iid, env.client(url)


def arbitrary(env, what, payload="secret-data", **extra):
    proto = {"secret_type": "arbitrary", "name": env.name(what), "payload": payload}
    proto.update(extra)
    return proto


def new_secret(sm, proto):
    return ok(sm.create_secret(secret_prototype=proto), 201)


# ------------------------------------------------------------------------------------ secret groups


def test_secret_group_crud(env, sm):
    name = env.name("group")
    g = ok(sm.create_secret_group(name=name, description="first description"), 201)
    assert UUID_RE.match(g["id"]), g
    assert g["name"] == name
    assert g["description"] == "first description"
    assert g.get("created_by")
    created = ts(g["created_at"])
    ts(g["updated_at"])

    got = ok(sm.get_secret_group(id=g["id"]), 200)
    assert (got["id"], got["name"], got["description"]) == (g["id"], name, "first description")

    listed = ok(sm.list_secret_groups(), 200)
    assert listed["total_count"] == len(listed["secret_groups"])
    by_id = {x["id"]: x for x in listed["secret_groups"]}
    assert g["id"] in by_id and by_id[g["id"]]["name"] == name
    assert "default" in by_id, f"the default group is not listed: {sorted(by_id)}"
    assert by_id["default"]["name"] == "default"
    assert "description" in by_id["default"]  # required by the SDK model

    # merge patch: only the description changes
    upd = ok(sm.update_secret_group(id=g["id"], secret_group_patch={"description": "second"}), 200)
    assert (upd["name"], upd["description"]) == (name, "second")
    assert ts(upd["updated_at"]) >= created
    # renaming, and an empty patch (the SDK examples send {})
    upd = ok(sm.update_secret_group(id=g["id"], secret_group_patch={"name": name + "-r"}), 200)
    assert (upd["name"], upd["description"]) == (name + "-r", "second")
    upd = ok(sm.update_secret_group(id=g["id"], secret_group_patch={}), 200)
    assert (upd["name"], upd["description"]) == (name + "-r", "second")
    # the same values again (IBM's suite does this) is no conflict with itself
    ok(sm.update_secret_group(id=g["id"], secret_group_patch={"name": name + "-r", "description": "second"}), 200)

    assert ok(sm.delete_secret_group(id=g["id"]), 204) is None
    expect_error(404, sm.get_secret_group, id=g["id"])
    expect_error(404, sm.delete_secret_group, id=g["id"])
    listed = ok(sm.list_secret_groups(), 200)
    assert g["id"] not in {x["id"] for x in listed["secret_groups"]}


def test_secret_group_without_description(env, sm):
    g = ok(sm.create_secret_group(name=env.name("group-nodesc")), 201)
    try:
        assert g["description"] == ""  # the SDK model marks description required
    finally:
        ok(sm.delete_secret_group(id=g["id"]), 204)


def test_secret_group_duplicate_name(env, sm):
    name = env.name("group-dup")
    g = ok(sm.create_secret_group(name=name), 201)
    try:
        e = expect_error(409, sm.create_secret_group, name=name)
        assert "already exists" in e.message, e.message
    finally:
        ok(sm.delete_secret_group(id=g["id"]), 204)


def test_secret_group_in_use_cannot_be_deleted(env, sm):
    g = ok(sm.create_secret_group(name=env.name("group-busy")), 201)
    s = new_secret(sm, arbitrary(env, "in-busy-group", secret_group_id=g["id"]))
    assert s["secret_group_id"] == g["id"]
    try:
        # IBM documents the refusal but not its status: 409 (conflict) or 412 (precondition)
        try:
            sm.delete_secret_group(id=g["id"])
            raise AssertionError("a secret group holding a secret was deleted")
        except ApiException as e:
            assert e.status_code in (409, 412), (e.status_code, e.message)
            assert e.message
        ok(sm.get_secret_group(id=g["id"]), 200)
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)
    ok(sm.delete_secret_group(id=g["id"]), 204)


def test_secret_group_unknown(sm):
    expect_error(404, sm.get_secret_group, id=str(uuid.uuid4()))
    expect_error(404, sm.update_secret_group, id=str(uuid.uuid4()), secret_group_patch={"description": "x"})


# ------------------------------------------------------------------------------------ arbitrary


def test_arbitrary_lifecycle(env, sm):
    g = ok(sm.create_secret_group(name=env.name("group-arb")), 201)
    name = env.name("arbitrary")
    proto = {
        "secret_type": "arbitrary",
        "name": name,
        "description": "an arbitrary secret",
        "secret_group_id": g["id"],
        "labels": ["dev", "us-south", env.run],
        "custom_metadata": {"owner": "compat", "n": 1},
        "version_custom_metadata": {"build": "v1"},
        "expiration_date": "2030-10-05T11:49:42Z",
        "payload": "secret-data \u00e9\u00e8 \U0001F511",
    }
    try:
        s = new_secret(sm, proto)
        assert_common_secret(s, secret_type="arbitrary", name=name, group=g["id"], instance_id=env.instance_id)
        assert s["payload"] == proto["payload"]
        assert s["description"] == "an arbitrary secret"
        assert s["labels"] == ["dev", "us-south", env.run]
        assert s["custom_metadata"] == {"owner": "compat", "n": 1}
        assert ts(s["expiration_date"]) == ts("2030-10-05T11:49:42Z")
        assert s["versions_total"] == 1
        assert s.get("locks_total", 0) == 0

        # reading the data marks the secret downloaded and sets retrieved_at (epoch until then)
        before = ok(sm.get_secret_metadata(id=s["id"]), 200)
        assert before["downloaded"] is False, before
        assert ts(before["retrieved_at"]).year == 1970, before["retrieved_at"]
        got = ok(sm.get_secret(id=s["id"]), 200)
        assert got["payload"] == proto["payload"]
        assert got["id"] == s["id"] and got["crn"] == s["crn"]
        after = ok(sm.get_secret_metadata(id=s["id"]), 200)
        assert after["downloaded"] is True and ts(after["retrieved_at"]) >= ts(s["created_at"]), after
        assert ok(sm.get_secret_version_metadata(secret_id=s["id"], id="current"), 200)["downloaded"] is True

        meta = ok(sm.get_secret_metadata(id=s["id"]), 200)
        assert "payload" not in meta
        assert_common_secret(meta, secret_type="arbitrary", name=name, group=g["id"])
        assert meta["labels"] == proto["labels"]

        # merge patch: fields left out keep their values
        m2 = ok(sm.update_secret_metadata(id=s["id"], secret_metadata_patch={"description": "changed"}), 200)
        assert "payload" not in m2
        assert m2["description"] == "changed"
        assert m2["name"] == name and m2["labels"] == proto["labels"]
        assert m2["custom_metadata"] == {"owner": "compat", "n": 1}
        assert ts(m2["expiration_date"]) == ts("2030-10-05T11:49:42Z")
        assert ts(m2["updated_at"]) >= ts(s["updated_at"])

        new_name = env.name("arbitrary-renamed")
        m3 = ok(sm.update_secret_metadata(id=s["id"], secret_metadata_patch={
            "name": new_name,
            "labels": ["prod"],
            "custom_metadata": {"owner": "other"},
            "expiration_date": "2033-04-12T23:20:50.520Z",
        }), 200)
        assert m3["name"] == new_name and m3["labels"] == ["prod"] and m3["description"] == "changed"
        assert m3["custom_metadata"] == {"owner": "other"}
        assert ts(m3["expiration_date"]) == ts("2033-04-12T23:20:50.520Z")
        assert ok(sm.update_secret_metadata(id=s["id"], secret_metadata_patch={}), 200)["name"] == new_name
        assert ok(sm.get_secret_metadata(id=s["id"]), 200)["name"] == new_name
        # the payload is untouched by metadata changes, and no new version was made
        got = ok(sm.get_secret(id=s["id"]), 200)
        assert got["payload"] == proto["payload"] and got["versions_total"] == 1

        # by name and type, in the group (by its name), only under the new name
        by_name = ok(sm.get_secret_by_name_type(secret_type="arbitrary", name=new_name,
                                                secret_group_name=g["name"]), 200)
        assert by_name["id"] == s["id"] and by_name["payload"] == proto["payload"]
        expect_error(404, sm.get_secret_by_name_type, secret_type="arbitrary", name=name,
                     secret_group_name=g["name"])
        expect_error(404, sm.get_secret_by_name_type, secret_type="kv", name=new_name,
                     secret_group_name=g["name"])
        expect_error(404, sm.get_secret_by_name_type, secret_type="arbitrary", name=new_name,
                     secret_group_name="default")

        assert ok(sm.delete_secret(id=s["id"]), 204) is None
        expect_error(404, sm.get_secret, id=s["id"])
        expect_error(404, sm.get_secret_metadata, id=s["id"])
        expect_error(404, sm.delete_secret, id=s["id"])
    finally:
        ok(sm.delete_secret_group(id=g["id"]), 204)


def test_arbitrary_defaults_and_by_name_in_default_group(env, sm):
    name = f"My_Secret.v1-{env.run}"  # dots, underscores and upper case are allowed in names
    s = new_secret(sm, {"secret_type": "arbitrary", "name": name, "payload": "x"})
    try:
        assert_common_secret(s, secret_type="arbitrary", name=name)
        assert s.get("description", "") == "" and s.get("labels", []) == []
        got = ok(sm.get_secret_by_name_type(secret_type="arbitrary", name=name, secret_group_name="default"), 200)
        assert got["id"] == s["id"] and got["payload"] == "x"
    finally:
        ok(sm.delete_secret(id=s["id"], force_delete=False), 204)


def test_secret_name_unique_per_type(env, sm):
    s = new_secret(sm, arbitrary(env, "dup-name"))
    try:
        e = expect_error(409, sm.create_secret, secret_prototype=arbitrary(env, "dup-name", payload="other"))
        assert "already exists" in e.message, e.message
        # the same name for another type is a different secret
        k = new_secret(sm, {"secret_type": "kv", "name": env.name("dup-name"), "data": {"a": 1}})
        ok(sm.delete_secret(id=k["id"]), 204)
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


def test_rename_conflicts(env, sm):
    g1 = ok(sm.create_secret_group(name=env.name("group-ren-1")), 201)
    g2 = ok(sm.create_secret_group(name=env.name("group-ren-2")), 201)
    a = new_secret(sm, arbitrary(env, "ren-a"))
    b = new_secret(sm, arbitrary(env, "ren-b"))
    try:
        e = expect_error(409, sm.update_secret_group, id=g2["id"], secret_group_patch={"name": g1["name"]})
        assert "already exists" in e.message, e.message
        assert ok(sm.get_secret_group(id=g2["id"]), 200)["name"] == g2["name"]
        e = expect_error(409, sm.update_secret_metadata, id=b["id"], secret_metadata_patch={"name": a["name"]})
        assert "already exists" in e.message, e.message
        assert ok(sm.get_secret_metadata(id=b["id"]), 200)["name"] == b["name"]
    finally:
        for x in (a, b):
            ok(sm.delete_secret(id=x["id"]), 204)
        for g in (g1, g2):
            ok(sm.delete_secret_group(id=g["id"]), 204)


def test_field_limits(env, sm):
    """Limits of IBM's CLI reference: labels 0-30 of 2-64 characters, description up to 1024."""
    ok_proto = arbitrary(env, "limits", labels=["ab"] * 30, description="d" * 1024)
    s = new_secret(sm, ok_proto)
    try:
        for patch in ({"labels": ["ab"] * 31}, {"labels": ["a"]}, {"labels": ["x" * 65]},
                      {"description": "d" * 1025}, {"name": "n" * 257}):
            expect_error(400, sm.update_secret_metadata, id=s["id"], secret_metadata_patch=patch)
        for extra in ({"labels": ["ab"] * 31}, {"labels": ["a"]}, {"description": "d" * 1025}):
            expect_error(400, sm.create_secret, secret_prototype=arbitrary(env, "limits-bad", **extra))
        meta = ok(sm.get_secret_metadata(id=s["id"]), 200)
        assert meta["labels"] == ["ab"] * 30 and len(meta["description"]) == 1024
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)
    u = new_secret(sm, {"secret_type": "username_password", "name": env.name("limits-up"), "username": "user"})
    try:
        for rotation in ({"auto_rotate": True, "interval": 1, "unit": "fortnight"},
                         {"auto_rotate": True, "interval": 0, "unit": "day"},
                         {"auto_rotate": True, "interval": 25, "unit": "month"}):
            expect_error(400, sm.update_secret_metadata, id=u["id"], secret_metadata_patch={"rotation": rotation})
        assert ok(sm.get_secret_metadata(id=u["id"]), 200)["rotation"]["auto_rotate"] is False
    finally:
        ok(sm.delete_secret(id=u["id"]), 204)


# ------------------------------------------------------------------------------------ kv


def test_kv_lifecycle(env, sm):
    name = env.name("kv")
    data = {"user": "alice", "port": 5432, "nested": {"a": [1, 2, {"b": None}]}, "flag": True}
    s = new_secret(sm, {"secret_type": "kv", "name": name, "data": data, "labels": ["kv-label"],
                        "version_custom_metadata": {"v": 1}})
    try:
        assert_common_secret(s, secret_type="kv", name=name)
        assert s["data"] == data
        got = ok(sm.get_secret(id=s["id"]), 200)
        assert got["data"] == data
        meta = ok(sm.get_secret_metadata(id=s["id"]), 200)
        assert "data" not in meta and meta["labels"] == ["kv-label"]
        m2 = ok(sm.update_secret_metadata(id=s["id"], secret_metadata_patch={"description": "kv desc"}), 200)
        assert m2["description"] == "kv desc" and "data" not in m2

        v2 = ok(sm.create_secret_version(secret_id=s["id"], secret_version_prototype={"data": {"user": "bob"}}), 201)
        assert v2["data"] == {"user": "bob"}
        assert v2["secret_id"] == s["id"] and v2["secret_type"] == "kv"
        assert ok(sm.get_secret(id=s["id"]), 200)["data"] == {"user": "bob"}
        assert ok(sm.get_secret_version(secret_id=s["id"], id="previous"), 200)["data"] == data
        assert ok(sm.get_secret_by_name_type(secret_type="kv", name=name, secret_group_name="default"),
                  200)["data"] == {"user": "bob"}
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


# ------------------------------------------------------------------------------------ username_password


def test_username_password_given(env, sm):
    name = env.name("userpass")
    s = new_secret(sm, {"secret_type": "username_password", "name": name, "username": "svc-user",
                        "password": "S3cret-given-password", "expiration_date": "2031-01-01T00:00:00Z"})
    try:
        assert_common_secret(s, secret_type="username_password", name=name)
        assert s["username"] == "svc-user" and s["password"] == "S3cret-given-password"
        assert "rotation" in s and s["rotation"]["auto_rotate"] is False  # required by the SDK model
        assert ts(s["expiration_date"]) == ts("2031-01-01T00:00:00Z")
        got = ok(sm.get_secret(id=s["id"]), 200)
        assert (got["username"], got["password"]) == ("svc-user", "S3cret-given-password")
        meta = ok(sm.get_secret_metadata(id=s["id"]), 200)
        assert "password" not in meta
        assert "rotation" in meta

        # a new version with a password given: that password, same username
        v2 = ok(sm.create_secret_version(secret_id=s["id"], secret_version_prototype={"password": "An0ther-one!"}),
                201)
        assert (v2["username"], v2["password"]) == ("svc-user", "An0ther-one!")
        prev = ok(sm.get_secret_version(secret_id=s["id"], id="previous"), 200)
        assert (prev["username"], prev["password"]) == ("svc-user", "S3cret-given-password")

        # metadata patch: rotation policy and a password policy
        m = ok(sm.update_secret_metadata(id=s["id"], secret_metadata_patch={
            "rotation": {"auto_rotate": True, "interval": 30, "unit": "day"},
            "password_generation_policy": {"length": 40, "include_digits": True, "include_symbols": False,
                                           "include_uppercase": True},
        }), 200)
        assert m["rotation"]["auto_rotate"] is True
        assert (m["rotation"]["interval"], m["rotation"]["unit"]) == (30, "day")
        assert m["password_generation_policy"]["length"] == 40
        assert m.get("next_rotation_date"), "auto_rotate on but no next_rotation_date"
        assert ts(m["next_rotation_date"]) > ts(m["created_at"])
        # rotation with the password omitted follows the updated policy
        v3 = ok(sm.create_secret_version(secret_id=s["id"], secret_version_prototype={}), 201)
        assert v3["username"] == "svc-user"
        assert len(v3["password"]) == 40 and v3["password"].isalnum(), v3["password"]
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


def test_username_password_generated(env, sm):
    name = env.name("userpass-gen")
    policy = {"length": 24, "include_digits": False, "include_symbols": False, "include_uppercase": False}
    s = new_secret(sm, {"secret_type": "username_password", "name": name, "username": "gen-user",
                        "password_generation_policy": policy})
    try:
        pw = s["password"]
        assert len(pw) == 24 and all(c in string.ascii_lowercase for c in pw), pw
        meta = ok(sm.get_secret_metadata(id=s["id"]), 200)
        assert meta["password_generation_policy"] == policy
        assert ok(sm.get_secret(id=s["id"]), 200)["password"] == pw

        # a new version without password: a new generated one, the username is kept
        v2 = ok(sm.create_secret_version(secret_id=s["id"], secret_version_prototype={}), 201)
        assert v2["username"] == "gen-user"
        assert v2["password"] != pw and len(v2["password"]) == 24
        assert all(c in string.ascii_lowercase for c in v2["password"])
        cur = ok(sm.get_secret(id=s["id"]), 200)
        assert (cur["username"], cur["password"]) == ("gen-user", v2["password"])
        prev = ok(sm.get_secret_version(secret_id=s["id"], id="previous"), 200)
        assert prev["password"] == pw
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


def test_username_password_default_generation(env, sm):
    s = new_secret(sm, {"secret_type": "username_password", "name": env.name("userpass-default"),
                        "username": "default-user"})
    try:
        pw = s["password"]
        assert isinstance(pw, str) and len(pw) >= 12, pw
        # IBM's default policy: 32 characters with digits, symbols and upper case allowed
        assert len(pw) == 32, pw
        other = new_secret(sm, {"secret_type": "username_password", "name": env.name("userpass-default2"),
                                "username": "default-user"})
        assert other["password"] != pw
        ok(sm.delete_secret(id=other["id"]), 204)
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


# ------------------------------------------------------------------------------------ versions


def test_versions(env, sm):
    s = new_secret(sm, arbitrary(env, "versions", payload="one", version_custom_metadata={"n": "1"}))
    sid = s["id"]
    try:
        first = ok(sm.list_secret_versions(secret_id=sid), 200)
        assert first["total_count"] == 1 and len(first["versions"]) == 1
        v1 = first["versions"][0]
        assert v1["secret_id"] == sid and v1["alias"] == "current" and v1["payload_available"] is True
        assert v1["version_custom_metadata"] == {"n": "1"}
        assert "payload" not in v1

        v2 = ok(sm.create_secret_version(secret_id=sid, secret_version_prototype={
            "payload": "two", "version_custom_metadata": {"n": "2"}, "custom_metadata": {"secret": "level"}}), 201)
        assert v2["payload"] == "two" and v2["id"] != v1["id"] and v2["secret_id"] == sid
        assert v2.get("alias", "current") == "current"
        assert v2["version_custom_metadata"] == {"n": "2"}
        ts(v2["created_at"])
        meta = ok(sm.get_secret_metadata(id=sid), 200)
        assert meta["versions_total"] == 2
        assert meta["custom_metadata"] == {"secret": "level"}  # custom_metadata of a version prototype
        v3 = ok(sm.create_secret_version(secret_id=sid, secret_version_prototype={"payload": "three"}), 201)

        listed = ok(sm.list_secret_versions(secret_id=sid), 200)
        assert listed["total_count"] == 3
        ids = [v["id"] for v in listed["versions"]]
        assert ids == [v3["id"], v2["id"], v1["id"]], "versions must be listed newest first"
        aliases = [v.get("alias") for v in listed["versions"]]
        assert aliases[:2] == ["current", "previous"] and aliases[2] not in ("current", "previous"), aliases
        assert [v["payload_available"] for v in listed["versions"]] == [True, True, False]
        assert all("payload" not in v for v in listed["versions"])
        meta = ok(sm.get_secret_metadata(id=sid), 200)
        assert meta["versions_total"] == 3
        assert meta["custom_metadata"] == {"secret": "level"}  # untouched by a version without it

        # data of current and previous, by alias and by id
        assert ok(sm.get_secret(id=sid), 200)["payload"] == "three"
        assert ok(sm.get_secret_version(secret_id=sid, id="current"), 200)["payload"] == "three"
        prev = ok(sm.get_secret_version(secret_id=sid, id="previous"), 200)
        assert prev["payload"] == "two" and prev["id"] == v2["id"] and prev["alias"] == "previous"
        assert ok(sm.get_secret_version(secret_id=sid, id=v2["id"]), 200)["payload"] == "two"
        assert ok(sm.get_secret_version(secret_id=sid, id=v3["id"]), 200)["payload"] == "three"
        # the oldest version keeps its metadata only
        old = ok(sm.get_secret_version_metadata(secret_id=sid, id=v1["id"]), 200)
        assert old["payload_available"] is False and old["id"] == v1["id"]
        assert old["version_custom_metadata"] == {"n": "1"}
        try:
            got = sm.get_secret_version(secret_id=sid, id=v1["id"]).get_result()
        except ApiException as e:  # an error is an acceptable answer too, but not a 5xx
            assert 400 <= e.status_code < 500, e
        else:
            assert got.get("payload") in (None, ""), "data of a version older than previous is still served"
        expect_error(404, sm.get_secret_version, secret_id=sid, id=str(uuid.uuid4()))
        expect_error(404, sm.get_secret_version_metadata, secret_id=sid, id=str(uuid.uuid4()))
    finally:
        ok(sm.delete_secret(id=sid), 204)


def test_version_metadata(env, sm):
    s = new_secret(sm, arbitrary(env, "version-meta", version_custom_metadata={"a": "1"}))
    sid = s["id"]
    try:
        vm = ok(sm.get_secret_version_metadata(secret_id=sid, id="current"), 200)
        assert vm["secret_id"] == sid and vm["alias"] == "current" and vm["payload_available"] is True
        assert vm["secret_type"] == "arbitrary" and vm["secret_group_id"] == "default"
        assert vm.get("created_by")
        ts(vm["created_at"])
        assert vm["version_custom_metadata"] == {"a": "1"}
        assert "payload" not in vm
        by_id = ok(sm.get_secret_version_metadata(secret_id=sid, id=vm["id"]), 200)
        assert by_id["id"] == vm["id"]

        upd = ok(sm.update_secret_version_metadata(secret_id=sid, id=vm["id"],
                                                   secret_version_metadata_patch={"version_custom_metadata":
                                                                                  {"b": "2"}}), 200)
        assert upd["version_custom_metadata"] == {"b": "2"} and "payload" not in upd
        assert ok(sm.get_secret_version_metadata(secret_id=sid, id="current"), 200)["version_custom_metadata"] == \
            {"b": "2"}
        ok(sm.update_secret_version_metadata(secret_id=sid, id="current", secret_version_metadata_patch={}), 200)
        # metadata of the previous version after a rotation, by alias
        ok(sm.create_secret_version(secret_id=sid, secret_version_prototype={"payload": "p2"}), 201)
        pm = ok(sm.get_secret_version_metadata(secret_id=sid, id="previous"), 200)
        assert pm["id"] == vm["id"] and pm["alias"] == "previous" and pm["version_custom_metadata"] == {"b": "2"}
        ok(sm.update_secret_version_metadata(secret_id=sid, id="previous",
                                             secret_version_metadata_patch={"version_custom_metadata": {"c": 3}}),
           200)
        assert ok(sm.get_secret_version_metadata(secret_id=sid, id=vm["id"]), 200)["version_custom_metadata"] == \
            {"c": 3}
    finally:
        ok(sm.delete_secret(id=sid), 204)


def test_previous_alias_without_previous_version(env, sm):
    s = new_secret(sm, arbitrary(env, "no-previous"))
    try:
        expect_error(404, sm.get_secret_version, secret_id=s["id"], id="previous")
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


# ------------------------------------------------------------------------------------ locks


def test_locks(env, sm):
    s = new_secret(sm, arbitrary(env, "locked", payload="v1"))
    sid = s["id"]
    v1 = ok(sm.get_secret_version_metadata(secret_id=sid, id="current"), 200)["id"]
    l1, l2 = env.name("lock-a"), env.name("lock-b")
    try:
        created = ok(sm.create_secret_locks_bulk(id=sid, locks=[
            {"name": l1, "description": "consumer 1", "attributes": {"key": "value"}},
            {"name": l2},
        ], mode="remove_previous"), 201)
        assert created["secret_id"] == sid and created["secret_type"] == "arbitrary"
        assert created["secret_group_id"] == "default"
        assert created["versions"][0]["version_id"] == v1
        assert created["versions"][0]["version_alias"] == "current"
        assert sorted(created["versions"][0]["locks"]) == sorted([l1, l2])
        assert ok(sm.get_secret_metadata(id=sid), 200)["locks_total"] == 2

        listed = ok(sm.list_secret_locks(id=sid, sort="name"), 200)
        assert listed["total_count"] == 2
        assert [x["name"] for x in listed["locks"]] == [l1, l2]
        first = listed["locks"][0]
        assert first["description"] == "consumer 1" and first["attributes"] == {"key": "value"}
        assert first["secret_id"] == sid and first["secret_version_id"] == v1
        assert first["secret_version_alias"] == "current" and first["secret_group_id"] == "default"
        assert first.get("created_by")
        ts(first["created_at"])
        ts(first["updated_at"])
        assert [x["name"] for x in ok(sm.list_secret_locks(id=sid, sort="-name"), 200)["locks"]] == [l2, l1]
        only = ok(sm.list_secret_locks(id=sid, search="lock-b"), 200)
        assert [x["name"] for x in only["locks"]] == [l2] and only["total_count"] == 1
        page = ok(sm.list_secret_locks(id=sid, sort="name", limit=1, offset=1), 200)
        assert [x["name"] for x in page["locks"]] == [l2] and "next" not in page
        items, pages = drain(SecretLocksPager(client=sm, id=sid, limit=1, sort="name"))
        assert [x["name"] for x in items] == [l1, l2] and pages == 2
        assert len(SecretLocksPager(client=sm, id=sid, limit=1).get_all()) == 2

        # a locked secret cannot be deleted
        e = expect_error(412, sm.delete_secret, id=sid)
        assert "locked" in e.message.lower(), e.message
        ok(sm.get_secret(id=sid), 200)

        # rotation while only the current version is locked is allowed; its locks stay with it
        v2 = ok(sm.create_secret_version(secret_id=sid, secret_version_prototype={"payload": "v2"}), 201)["id"]
        prev_locks = ok(sm.list_secret_version_locks(secret_id=sid, id="previous", sort="name"), 200)
        assert [x["name"] for x in prev_locks["locks"]] == [l1, l2]
        assert all(x["secret_version_id"] == v1 and x["secret_version_alias"] == "previous"
                   for x in prev_locks["locks"])
        assert ok(sm.list_secret_version_locks(secret_id=sid, id=v1), 200)["total_count"] == 2
        cur_locks = ok(sm.list_secret_version_locks(secret_id=sid, id="current"), 200)
        assert cur_locks["total_count"] == 0 and cur_locks["locks"] == []
        assert ok(sm.list_secret_locks(id=sid), 200)["total_count"] == 2  # all locks of the secret
        vitems, _ = drain(SecretVersionLocksPager(client=sm, secret_id=sid, id="previous", limit=1))
        assert sorted(x["name"] for x in vitems) == sorted([l1, l2])

        # rotation when the previous version is locked would destroy its data: refused
        e = expect_error(412, sm.create_secret_version, secret_id=sid, secret_version_prototype={"payload": "v3"})
        assert "locked" in e.message.lower(), e.message
        assert ok(sm.get_secret(id=sid), 200)["payload"] == "v2"
        assert ok(sm.get_secret_version(secret_id=sid, id="previous"), 200)["payload"] == "v1"

        # remove_previous: locking l1 on current takes l1 off previous
        moved = ok(sm.create_secret_locks_bulk(id=sid, locks=[{"name": l1}], mode="remove_previous"), 201)
        by_alias = {v["version_alias"]: v for v in moved["versions"]}
        assert moved["versions"][0]["version_id"] == v2
        assert by_alias["current"]["locks"] == [l1]
        assert by_alias.get("previous", {"locks": []})["locks"] == [l2]
        prev_names = [x["name"] for x in ok(sm.list_secret_version_locks(secret_id=sid, id=v1), 200)["locks"]]
        assert prev_names == [l2]

        # every lock of the account's secrets, filtered by lock name (this run's locks only)
        all_locks = ok(sm.list_secrets_locks(search=env.run), 200)
        mine = [x for x in all_locks["secrets_locks"] if x["secret_id"] == sid]
        assert len(mine) == 1, all_locks
        assert mine[0]["secret_type"] == "arbitrary" and mine[0]["secret_name"] == s["name"]
        vers = {v["version_id"]: sorted(v["locks"]) for v in mine[0]["versions"]}
        assert vers == {v2: [l1], v1: [l2]}, vers
        items, _ = drain(SecretsLocksPager(client=sm, limit=1, search=env.run))
        assert sid in {x["secret_id"] for x in items}
        assert len(items) == all_locks["total_count"]

        # the version locks_bulk delete, then the secret one (current version, all names)
        d = ok(sm.delete_secret_version_locks_bulk(secret_id=sid, id="previous", name=[l2]), 200)
        assert d["secret_id"] == sid
        assert ok(sm.list_secret_version_locks(secret_id=sid, id=v1), 200)["total_count"] == 0
        expect_error(412, sm.delete_secret, id=sid)
        d = ok(sm.delete_secret_locks_bulk(id=sid), 200)
        assert d["secret_id"] == sid
        assert all(not v["locks"] for v in d["versions"]), d
        assert ok(sm.list_secret_locks(id=sid), 200)["total_count"] == 0
        assert ok(sm.get_secret_metadata(id=sid), 200)["locks_total"] == 0
        ok(sm.delete_secret(id=sid), 204)
    finally:
        cleanup(sm.delete_secret_version_locks_bulk, secret_id=sid, id="previous")
        cleanup(sm.delete_secret_locks_bulk, id=sid)
        cleanup(sm.delete_secret, id=sid)


def test_lock_delete_by_name_and_version_lock_create(env, sm):
    s = new_secret(sm, arbitrary(env, "locked-2", payload="a"))
    sid = s["id"]
    la, lb = env.name("vlock-a"), env.name("vlock-b")
    try:
        r = ok(sm.create_secret_version_locks_bulk(secret_id=sid, id="current", locks=[{"name": la}, {"name": lb}]),
               201)
        assert r["versions"][0]["version_alias"] == "current"
        assert sorted(r["versions"][0]["locks"]) == sorted([la, lb])
        # re-creating a lock with the same name replaces it (no duplicate)
        ok(sm.create_secret_locks_bulk(id=sid, locks=[{"name": la, "description": "replaced"}]), 201)
        locks = ok(sm.list_secret_locks(id=sid, sort="name"), 200)["locks"]
        assert [x["name"] for x in locks] == [la, lb] and locks[0]["description"] == "replaced"
        d = ok(sm.delete_secret_locks_bulk(id=sid, name=[la]), 200)
        assert d["versions"][0]["locks"] == [lb]
        assert [x["name"] for x in ok(sm.list_secret_locks(id=sid), 200)["locks"]] == [lb]
        d = ok(sm.delete_secret_version_locks_bulk(secret_id=sid, id="current"), 200)
        assert d["versions"][0]["locks"] == []
        ok(sm.delete_secret(id=sid), 204)
    finally:
        cleanup(sm.delete_secret_locks_bulk, id=sid)
        cleanup(sm.delete_secret, id=sid)


def test_lock_remove_previous_and_delete(env, sm):
    s = new_secret(sm, arbitrary(env, "locked-3", payload="old"))
    sid = s["id"]
    lk = env.name("rpd-lock")
    try:
        ok(sm.create_secret_locks_bulk(id=sid, locks=[{"name": lk}]), 201)
        ok(sm.create_secret_version(secret_id=sid, secret_version_prototype={"payload": "new"}), 201)
        assert ok(sm.get_secret_version(secret_id=sid, id="previous"), 200)["payload"] == "old"
        # the lock moves to the new current version and the previous version's data is deleted
        ok(sm.create_secret_locks_bulk(id=sid, locks=[{"name": lk}], mode="remove_previous_and_delete"), 201)
        prev = ok(sm.get_secret_version_metadata(secret_id=sid, id="previous"), 200)
        assert prev["payload_available"] is False
        assert ok(sm.list_secret_version_locks(secret_id=sid, id="previous"), 200)["total_count"] == 0
        assert ok(sm.get_secret(id=sid), 200)["payload"] == "new"
        ok(sm.delete_secret_locks_bulk(id=sid), 200)
        ok(sm.delete_secret(id=sid), 204)
    finally:
        cleanup(sm.delete_secret_locks_bulk, id=sid)
        cleanup(sm.delete_secret, id=sid)


def test_lock_bad_requests(env, sm):
    s = new_secret(sm, arbitrary(env, "locked-bad"))
    try:
        expect_error(400, sm.create_secret_locks_bulk, id=s["id"], locks=[{"name": "1-starts-with-digit"}])
        expect_error(400, sm.create_secret_locks_bulk, id=s["id"], locks=[])
        expect_error(400, sm.create_secret_locks_bulk, id=s["id"], locks=[{"name": "ok-name"}], mode="bogus")
        expect_error(404, sm.create_secret_locks_bulk, id=str(uuid.uuid4()), locks=[{"name": "ok-name"}])
        expect_error(404, sm.list_secret_locks, id=str(uuid.uuid4()))
        assert ok(sm.list_secret_locks(id=s["id"]), 200)["total_count"] == 0
        # a lock needs a version whose data is still there
        ok(sm.create_secret_version(secret_id=s["id"], secret_version_prototype={"payload": "2"}), 201)
        ok(sm.create_secret_version(secret_id=s["id"], secret_version_prototype={"payload": "3"}), 201)
        oldest = ok(sm.list_secret_versions(secret_id=s["id"]), 200)["versions"][-1]
        assert oldest["payload_available"] is False
        try:
            sm.create_secret_version_locks_bulk(secret_id=s["id"], id=oldest["id"], locks=[{"name": "on-no-data"}])
            raise AssertionError("a lock was placed on a version without data")
        except ApiException as e:
            assert e.status_code in (400, 409, 412), e
        assert ok(sm.list_secret_locks(id=s["id"]), 200)["total_count"] == 0
    finally:
        cleanup(sm.delete_secret_locks_bulk, id=s["id"])
        ok(sm.delete_secret(id=s["id"]), 204)


# ------------------------------------------------------------------------------------ list_secrets


@pytest.fixture(scope="module")
def listing(env, sm):
    """Five secrets of this run (names `list-<n>-<run>`, label <run>) and a group holding one."""
    g = ok(sm.create_secret_group(name=env.name("group-list")), 201)
    tag = env.run
    protos = [
        arbitrary(env, "list-1", labels=[tag, "blue", "red"]),
        arbitrary(env, "list-2", labels=[tag, "blue"]),
        arbitrary(env, "list-3", labels=[tag, "red"], secret_group_id=g["id"]),
        {"secret_type": "kv", "name": env.name("list-4"), "data": {"k": "v"}, "labels": [tag, "blue", "red"]},
        {"secret_type": "username_password", "name": env.name("list-5"), "username": "u1", "password": "p4ssword!",
         "labels": [tag]},
    ]
    secrets = [new_secret(sm, p) for p in protos]
    yield {"group": g, "secrets": secrets, "tag": tag}
    for s in secrets:
        cleanup(sm.delete_secret, id=s["id"])
    cleanup(sm.delete_secret_group, id=g["id"])


def names(result):
    return [x["name"] for x in result["secrets"]]


def test_list_secrets_filters(env, sm, listing):
    tag = listing["tag"]
    n = env.name
    everything = ok(sm.list_secrets(search=tag, sort="name"), 200)
    assert everything["total_count"] == 5, everything
    assert names(everything) == [n(f"list-{i}") for i in range(1, 6)]
    for item in everything["secrets"]:
        assert not {"payload", "data", "password", "username"} & set(item), item
    assert "next" not in everything and "first" in everything and "last" in everything
    assert (everything["limit"], everything["offset"]) == (200, 0)

    assert names(ok(sm.list_secrets(search=tag, sort="-name"), 200)) == [n(f"list-{i}") for i in range(5, 0, -1)]
    by_created = ok(sm.list_secrets(search=tag, sort="created_at"), 200)["secrets"]
    assert [x["name"] for x in by_created] == [n(f"list-{i}") for i in range(1, 6)]
    assert names(ok(sm.list_secrets(search=tag, sort="-created_at"), 200)) == [n(f"list-{i}") for i in range(5, 0, -1)]

    kv = ok(sm.list_secrets(search=tag, secret_types=["kv"]), 200)
    assert names(kv) == [n("list-4")] and kv["total_count"] == 1
    two = ok(sm.list_secrets(search=tag, secret_types=["kv", "username_password"], sort="name"), 200)
    assert names(two) == [n("list-4"), n("list-5")]

    grp = ok(sm.list_secrets(groups=[listing["group"]["id"]]), 200)
    assert names(grp) == [n("list-3")]
    dflt = ok(sm.list_secrets(search=tag, sort="name", groups=["default", "cac40995-c37a-4dcb-9506-472869077634"]),
              200)
    assert names(dflt) == [n("list-1"), n("list-2"), n("list-4"), n("list-5")]

    both = ok(sm.list_secrets(match_all_labels=[tag, "blue", "red"], sort="name"), 200)
    assert names(both) == [n("list-1"), n("list-4")]
    blue = ok(sm.list_secrets(match_all_labels=[tag, "blue"], sort="name", secret_types=["arbitrary"]), 200)
    assert names(blue) == [n("list-1"), n("list-2")]
    assert ok(sm.list_secrets(match_all_labels=[tag, "green"]), 200)["total_count"] == 0

    # search matches the name and the id too
    one = listing["secrets"][2]
    assert names(ok(sm.list_secrets(search=one["id"]), 200)) == [one["name"]]
    assert names(ok(sm.list_secrets(search=n("list-3")), 200)) == [n("list-3")]
    assert ok(sm.list_secrets(search="no-such-secret-" + tag), 200)["total_count"] == 0


def test_list_secrets_paging(env, sm, listing):
    tag = listing["tag"]
    n = env.name
    p = ok(sm.list_secrets(search=tag, sort="name", limit=2, offset=2), 200)
    assert names(p) == [n("list-3"), n("list-4")]
    assert (p["total_count"], p["limit"], p["offset"]) == (5, 2, 2)
    assert "next" in p and "previous" in p
    assert "offset=4" in p["next"]["href"]
    last = ok(sm.list_secrets(search=tag, sort="name", limit=2, offset=4), 200)
    assert names(last) == [n("list-5")] and "next" not in last
    beyond = ok(sm.list_secrets(search=tag, limit=2, offset=10), 200)
    assert beyond["secrets"] == [] and beyond["total_count"] == 5 and "next" not in beyond

    for limit in (1, 2):
        items, pages = drain(SecretsPager(client=sm, limit=limit, sort="name", search=tag))
        assert [x["name"] for x in items] == [n(f"list-{i}") for i in range(1, 6)]
        assert pages == (5 + limit - 1) // limit
        all_items = SecretsPager(client=sm, limit=limit, sort="name", search=tag).get_all()
        assert len(all_items) == 5
    items, _ = drain(SecretsPager(client=sm, limit=1, search=tag, match_all_labels=[tag, "red"],
                                  secret_types=["arbitrary", "kv"]))
    assert sorted(x["name"] for x in items) == [n("list-1"), n("list-3"), n("list-4")]
    # the whole instance, every page: get_all equals total_count
    total = ok(sm.list_secrets(), 200)["total_count"]
    assert len(SecretsPager(client=sm, limit=2).get_all()) == total


def test_list_secrets_bad_parameters(sm):
    expect_error(400, sm.list_secrets, limit=0)
    expect_error(400, sm.list_secrets, limit=1001)
    expect_error(400, sm.list_secrets, offset=-1)
    expect_error(400, sm.list_secrets, sort="payload")
    expect_error(400, sm.list_secrets, secret_types=["not_a_type"])


# ------------------------------------------------------------------------------------ configurations

CIS_TYPE = "public_cert_configuration_dns_cloud_internet_services"
CIS_CRN = "crn:v1:bluemix:public:internet-svcs:global:a/128e84fcca45c1224aae525d31ef2b52:009a0357-1460-42b4-b903-10580aba7dd8::"
CIS_CRN2 = "crn:v1:bluemix:public:internet-svcs:global:a/128e84fcca45c1224aae525d31ef2b52:11111111-1460-42b4-b903-10580aba7dd8::"


def test_configuration_cis_crud(env, sm):
    name = env.name("cis-config")
    c = ok(sm.create_configuration(configuration_prototype={
        "config_type": CIS_TYPE, "name": name,
        "cloud_internet_services_apikey": "5ipu_ykv0PMp2MhxQnDMn7VzrkSlBwi3BOI8uthi_EXZ",
        "cloud_internet_services_crn": CIS_CRN,
    }), 201)
    try:
        assert (c["config_type"], c["name"], c["secret_type"]) == (CIS_TYPE, name, "public_cert")
        assert c["cloud_internet_services_crn"] == CIS_CRN
        assert c.get("created_by")
        ts(c["created_at"])
        ts(c["updated_at"])

        got = ok(sm.get_configuration(name=name, x_sm_accept_configuration_type=CIS_TYPE), 200)
        assert got["cloud_internet_services_crn"] == CIS_CRN
        assert got["cloud_internet_services_apikey"] == "5ipu_ykv0PMp2MhxQnDMn7VzrkSlBwi3BOI8uthi_EXZ"
        assert ok(sm.get_configuration(name=name), 200)["name"] == name  # the header is optional

        upd = ok(sm.update_configuration(name=name, x_sm_accept_configuration_type=CIS_TYPE, configuration_patch={
            "cloud_internet_services_apikey": "another-api-key", "cloud_internet_services_crn": CIS_CRN2}), 200)
        assert upd["cloud_internet_services_crn"] == CIS_CRN2 and upd["config_type"] == CIS_TYPE
        got = ok(sm.get_configuration(name=name), 200)
        assert got["cloud_internet_services_crn"] == CIS_CRN2
        assert got["cloud_internet_services_apikey"] == "another-api-key"

        e = expect_error(409, sm.create_configuration, configuration_prototype={
            "config_type": CIS_TYPE, "name": name, "cloud_internet_services_crn": CIS_CRN})
        assert "already exists" in e.message, e.message  # IBM's manual suite relies on these words

        listed = ok(sm.list_configurations(search=name), 200)
        assert listed["total_count"] == 1 and listed["configurations"][0]["name"] == name
        item = listed["configurations"][0]
        assert item["config_type"] == CIS_TYPE and item["secret_type"] == "public_cert"
        assert "cloud_internet_services_apikey" not in item, "the list must not carry the API key"
    finally:
        ok(sm.delete_configuration(name=name, x_sm_accept_configuration_type=CIS_TYPE), 204)
    expect_error(404, sm.get_configuration, name=name)
    expect_error(404, sm.delete_configuration, name=name)


def test_configurations_stored_types_and_pager(env, sm):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    le_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    protos = [
        {"config_type": CIS_TYPE, "name": env.name("cfg-a-cis"), "cloud_internet_services_crn": CIS_CRN,
         "cloud_internet_services_apikey": "k"},
        {"config_type": "public_cert_configuration_dns_classic_infrastructure", "name": env.name("cfg-b-classic"),
         "classic_infrastructure_username": "user", "classic_infrastructure_password": "password"},
        {"config_type": "public_cert_configuration_ca_lets_encrypt", "name": env.name("cfg-c-le"),
         "lets_encrypt_environment": "staging", "lets_encrypt_private_key": le_key},
        {"config_type": "custom_credentials_configuration", "name": env.name("cfg-d-custom"),
         "code_engine": {"job_name": "job", "project_id": str(uuid.uuid4()), "region": "us-south"},
         "task_timeout": "10m"},
    ]
    made = []
    try:
        for p in protos:
            c = ok(sm.create_configuration(configuration_prototype=p), 201)
            assert (c["config_type"], c["name"]) == (p["config_type"], p["name"])
            made.append(c)
        le = ok(sm.get_configuration(name=protos[2]["name"]), 200)
        assert le["lets_encrypt_environment"] == "staging" and le["secret_type"] == "public_cert"
        classic = ok(sm.get_configuration(name=protos[1]["name"]), 200)
        assert classic["classic_infrastructure_username"] == "user"
        custom = ok(sm.get_configuration(name=protos[3]["name"]), 200)
        assert custom["code_engine"]["job_name"] == "job" and custom["secret_type"] == "custom_credentials"

        listed = ok(sm.list_configurations(search=env.run, sort="name"), 200)
        assert listed["total_count"] == 4
        assert [x["name"] for x in listed["configurations"]] == [p["name"] for p in protos]
        pc = ok(sm.list_configurations(search=env.run, secret_types=["public_cert"]), 200)
        assert pc["total_count"] == 3
        items, pages = drain(ConfigurationsPager(client=sm, limit=1, search=env.run, sort="name"))
        assert [x["name"] for x in items] == [p["name"] for p in protos] and pages == 4
        assert len(ConfigurationsPager(client=sm, limit=3, search=env.run).get_all()) == 4
        by_type = ok(sm.list_configurations(search=env.run, sort="-config_type"), 200)
        types = [x["config_type"] for x in by_type["configurations"]]
        assert types == sorted(types, reverse=True)
    finally:
        for c in made:
            ok(sm.delete_configuration(name=c["name"], x_sm_accept_configuration_type=c["config_type"]), 204)


def test_configuration_iam_credentials_stored(env, sm):
    name = env.name("iam-config")
    try:
        c = ok(sm.create_configuration(configuration_prototype={
            "config_type": "iam_credentials_configuration", "name": name, "api_key": "an-api-key"}), 201)
    except ApiException as e:
        if "reached the maximum" in (e.message or ""):
            pytest.fail("another iam_credentials_configuration is left over in the instance: " + e.message)
        raise
    try:
        assert c["config_type"] == "iam_credentials_configuration" and c["secret_type"] == "iam_credentials"
        e = expect_error(400, sm.create_configuration, configuration_prototype={
            "config_type": "iam_credentials_configuration", "name": name + "-2", "api_key": "k"})
        assert "reached the maximum" in e.message, e.message  # IBM's manual suite relies on these words
        upd = ok(sm.update_configuration(name=name, configuration_patch={"disabled": True}), 200)
        assert upd["disabled"] is True
    finally:
        ok(sm.delete_configuration(name=name), 204)


def test_configuration_bad_requests(env, sm):
    expect_error(400, sm.create_configuration, configuration_prototype={
        "config_type": "no_such_config_type", "name": env.name("bad-cfg")})
    expect_error(400, sm.create_configuration, configuration_prototype={
        "config_type": CIS_TYPE, "name": env.name("bad-cfg")})  # cloud_internet_services_crn is required
    expect_error(404, sm.update_configuration, name=env.name("nope"), configuration_patch={"x": 1})
    expect_error(400, sm.list_configurations, limit=0)


# ------------------------------------------------------------------------------------ notifications


def test_notifications_registration(env):
    _, url = env.create_instance(env.name("sm-compat-notif"))
    sm = env.client(url)
    crn = "crn:v1:bluemix:public:event-notifications:us-south:a/22018f3c34ff4ff193698d15ca316946:578ad1a4-2fd8-4e66-95d5-79a842ba91f8::"
    expect_error(404, sm.get_notifications_registration)
    r = ok(sm.create_notifications_registration(event_notifications_instance_crn=crn,
                                                event_notifications_source_name="Arca compat",
                                                event_notifications_source_description="desc"), 201)
    assert r["event_notifications_instance_crn"] == crn
    assert ok(sm.get_notifications_registration(), 200)["event_notifications_instance_crn"] == crn
    resp = sm.get_notifications_registration_test()
    assert resp.get_status_code() == 204
    assert ok(sm.delete_notifications_registration(), 204) is None
    expect_error(404, sm.get_notifications_registration)
    expect_error(404, sm.get_notifications_registration_test)
    expect_error(400, sm.create_notifications_registration, event_notifications_instance_crn="",
                 event_notifications_source_name="x")


# ------------------------------------------------------------------------------------ errors


def test_unknown_secret_is_404(sm):
    sid = str(uuid.uuid4())
    expect_error(404, sm.get_secret, id=sid)
    expect_error(404, sm.get_secret_metadata, id=sid)
    expect_error(404, sm.update_secret_metadata, id=sid, secret_metadata_patch={"description": "x"})
    expect_error(404, sm.delete_secret, id=sid)
    expect_error(404, sm.list_secret_versions, secret_id=sid)
    expect_error(404, sm.create_secret_version, secret_id=sid, secret_version_prototype={"payload": "x"})
    expect_error(404, sm.get_secret_version, secret_id=sid, id="current")
    expect_error(404, sm.get_secret_by_name_type, secret_type="arbitrary", name="no-such-secret-name",
                 secret_group_name="default")
    e = expect_error(404, sm.get_secret, id="not-a-uuid")
    assert e.message


def test_other_instance_is_isolated(env, sm, other):
    other_id, osm = other
    mine = new_secret(sm, arbitrary(env, "isolation-mine"))
    theirs = new_secret(osm, arbitrary(env, "isolation-theirs"))
    try:
        assert f":{other_id}:" in theirs["crn"]
        for client, sid in ((sm, theirs["id"]), (osm, mine["id"])):
            expect_error(404, client.get_secret, id=sid)
            expect_error(404, client.get_secret_metadata, id=sid)
            expect_error(404, client.list_secret_versions, secret_id=sid)
            expect_error(404, client.delete_secret, id=sid)
            expect_error(404, client.create_secret_locks_bulk, id=sid, locks=[{"name": "cross-lock"}])
        assert theirs["id"] not in {x["id"] for x in SecretsPager(client=sm, limit=200).get_all()}
        assert mine["id"] not in {x["id"] for x in SecretsPager(client=osm, limit=200).get_all()}
        expect_error(404, osm.get_secret_by_name_type, secret_type="arbitrary", name=mine["name"],
                     secret_group_name="default")
        # the same name is free in another instance
        twin = new_secret(osm, arbitrary(env, "isolation-mine"))
        ok(osm.delete_secret(id=twin["id"]), 204)
        # groups are per instance too
        g = ok(sm.create_secret_group(name=env.name("iso-group")), 201)
        expect_error(404, osm.get_secret_group, id=g["id"])
        ok(sm.delete_secret_group(id=g["id"]), 204)
    finally:
        ok(sm.delete_secret(id=mine["id"]), 204)
        ok(osm.delete_secret(id=theirs["id"]), 204)


def test_unknown_and_wrong_instances(env):
    missing = env.client(f"{env.url}/sm/{uuid.uuid4()}")
    expect_error(404, missing.list_secrets)
    # a key-service instance is no secrets-manager instance
    r = requests.get(f"{env.url}/v1/instances", headers={"Authorization": f"Bearer {env.api_key}"}, timeout=30)
    assert r.status_code == 200, r.text
    kms = [i["id"] for i in r.json()["instances"] if i["service"] == "kms"]
    assert kms, "the dev server has a kms instance"
    expect_error(404, env.client(f"{env.url}/sm/{kms[0]}").list_secrets)


UNSUPPORTED = [
    {"secret_type": "public_cert", "ca": "le-config", "dns": "dns-config", "common_name": "example.com"},
    {"secret_type": "iam_credentials", "ttl": "1d", "reuse_api_key": True,
     "access_groups": ["AccessGroupId-00000000-0000-0000-0000-000000000000"]},
    {"secret_type": "service_credentials",
     "source_service": {"instance": {"crn": "crn:v1:bluemix:public:cloud-object-storage:global:a/x:y::"},
                        "role": {"crn": "crn:v1:bluemix:public:iam::::serviceRole:Writer"}}},
    {"secret_type": "custom_credentials", "configuration": "custom-config"},
]


@pytest.mark.parametrize("proto", UNSUPPORTED, ids=[p["secret_type"] for p in UNSUPPORTED])
def test_unsupported_secret_type(env, sm, proto):
    p = dict(proto, name=env.name("unsupported-" + proto["secret_type"].replace("_", "-")))
    e = expect_error(400, sm.create_secret, secret_prototype=p)
    for t in SUPPORTED:
        assert t in e.message, f"the message should name the supported types: {e.message}"
    assert ok(sm.list_secrets(search=p["name"]), 200)["total_count"] == 0


def test_malformed_bodies(env, sm):
    def status(method, path, data, ctype="application/json"):
        r = env.raw(method, path, data=data, headers={"Content-Type": ctype, "Accept": "application/json"})
        assert r.headers.get("Content-Type", "").startswith("application/json"), (r.status_code, r.headers, r.text)
        body = r.json()
        assert body["errors"][0]["message"], body
        return r.status_code, body

    for data in ("{not json", "", "[]", '"a string"', json.dumps({"secret_type": "arbitrary"})):
        code, body = status("POST", "/secrets", data)
        assert code == 400, (data, code, body)
    code, body = status("POST", "/secret_groups", "{")
    assert code == 400, body
    code, body = status("POST", "/secret_groups", json.dumps({"description": "no name"}))
    assert code == 400, body
    code, body = status("POST", "/configurations", "{")
    assert code == 400, body
    code, body = status("PATCH", f"/secret_groups/{uuid.uuid4()}", "{", "application/merge-patch+json")
    assert code in (400, 404), body

    bad = [
        {"secret_type": "no_such_type", "name": env.name("bad-type")},
        {"secret_type": "arbitrary", "name": env.name("bad-payload"), "payload": 42},
        {"secret_type": "arbitrary", "name": env.name("empty-payload"), "payload": ""},
        {"secret_type": "arbitrary", "name": "bad name with spaces!", "payload": "x"},
        {"secret_type": "arbitrary", "name": "x", "payload": "x"},  # names are 2 to 256 characters
        {"secret_type": "arbitrary", "name": env.name("bad-date"), "payload": "x", "expiration_date": "tomorrow"},
        {"secret_type": "arbitrary", "name": env.name("bad-labels"), "payload": "x", "labels": "not-a-list"},
        {"secret_type": "kv", "name": env.name("bad-kv"), "data": "not an object"},
        {"secret_type": "kv", "name": env.name("empty-kv"), "data": {}},
        {"secret_type": "username_password", "name": env.name("no-username"), "password": "abcdefgh"},
        {"secret_type": "username_password", "name": env.name("short-pw"), "username": "user", "password": "abc"},
    ]
    for p in bad:
        expect_error(400, sm.create_secret, secret_prototype=p)
    s = new_secret(sm, arbitrary(env, "bad-version"))
    try:
        expect_error(400, sm.create_secret_version, secret_id=s["id"], secret_version_prototype={"data": {"a": 1}})
        expect_error(400, sm.create_secret_version, secret_id=s["id"], secret_version_prototype={"payload": 1})
        expect_error(400, sm.update_secret_metadata, id=s["id"], secret_metadata_patch={"name": "bad name!"})
        expect_error(400, sm.create_secret_action, id=s["id"],
                     secret_action_prototype={"action_type": "private_cert_action_revoke_certificate"})
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


def test_unknown_secret_group_on_create(env, sm):
    proto = arbitrary(env, "unknown-group", secret_group_id=str(uuid.uuid4()))
    try:
        resp = sm.create_secret(secret_prototype=proto)
    except ApiException as e:
        assert e.status_code in (400, 404), e
        return
    cleanup(sm.delete_secret, id=resp.get_result()["id"])
    raise AssertionError(f"secret created in a group that does not exist: {resp.get_result()}")


def test_missing_and_bad_auth(env):
    e = expect_error(401, noauth_client(env).list_secrets)
    assert e.message
    expect_error(401, noauth_client(env).create_secret, secret_prototype=arbitrary(env, "noauth"))
    expect_error(401, bearer_client(env, "not-a-token").list_secrets)
    expect_error(401, bearer_client(env, "a.b.c").get_secret_group, id="default")
    r = env.raw("GET", "/secret_groups", auth=False)
    assert r.status_code == 401 and r.headers["Content-Type"].startswith("application/json"), (r.status_code, r.text)
    assert r.json()["errors"][0]["message"]


def test_tasks_and_version_data_deletion_refused_for_supported_types(env, sm):
    """Tasks exist only for custom_credentials, version data deletion only for iam/custom credentials."""
    s = new_secret(sm, arbitrary(env, "no-tasks"))
    try:
        try:
            res = sm.list_secret_tasks(secret_id=s["id"])
        except ApiException as e:
            assert 400 <= e.status_code < 500, e
        else:
            assert res.get_result().get("tasks") == [], res.get_result()
        e = expect_error(400, sm.delete_secret_version_data, secret_id=s["id"], id="current")
        assert e.message
        assert ok(sm.get_secret(id=s["id"]), 200)["payload"] == "secret-data"
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


def _principal_client(env, role):
    """A new user with an API key and, unless role is None, that role on the secrets instance."""
    h = {"Authorization": f"Bearer {env.api_key}"}
    r = requests.post(f"{env.url}/v1/iam/principals", headers=h, timeout=30,
                      json={"kind": "user", "name": env.name(f"sm-compat-{role or 'nobody'}".lower())})
    assert r.status_code == 201, (r.status_code, r.text)
    pid = r.json()["id"]
    r = requests.post(f"{env.url}/v1/iam/api-keys", headers=h, timeout=30,
                      json={"principal_id": pid, "name": "sm-compat"})
    assert r.status_code == 201, (r.status_code, r.text)
    key = r.json()["api_key"]
    if role:
        r = requests.post(f"{env.url}/v1/iam/grants", headers=h, timeout=30,
                          json={"principal_id": pid, "instance_id": env.instance_id, "role": role})
        assert r.status_code == 201, (r.status_code, r.text)
    from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
    return env.client(env.sm_url, IAMAuthenticator(key, url=env.url))


def test_access_roles(env, sm):
    """IBM's service roles: Reader sees metadata only, SecretsReader also the data, Writer creates
    and changes secrets; a user without a role on the instance gets 403."""
    s = new_secret(sm, arbitrary(env, "roles", payload="role-data"))
    created = []
    try:
        nobody = _principal_client(env, None)
        expect_error(403, nobody.list_secrets)
        expect_error(403, nobody.get_secret, id=s["id"])
        expect_error(403, nobody.create_secret, secret_prototype=arbitrary(env, "roles-nobody"))

        reader = _principal_client(env, "Reader")
        assert s["id"] in {x["id"] for x in SecretsPager(client=reader, limit=200).get_all()}
        assert ok(reader.get_secret_metadata(id=s["id"]), 200)["name"] == s["name"]
        expect_error(403, reader.get_secret, id=s["id"])
        expect_error(403, reader.get_secret_version, secret_id=s["id"], id="current")
        expect_error(403, reader.create_secret, secret_prototype=arbitrary(env, "roles-reader"))
        expect_error(403, reader.delete_secret, id=s["id"])

        sreader = _principal_client(env, "SecretsReader")
        assert ok(sreader.get_secret(id=s["id"]), 200)["payload"] == "role-data"
        expect_error(403, sreader.create_secret, secret_prototype=arbitrary(env, "roles-sreader"))
        expect_error(403, sreader.update_secret_metadata, id=s["id"], secret_metadata_patch={"description": "x"})

        writer = _principal_client(env, "Writer")
        w = ok(writer.create_secret(secret_prototype=arbitrary(env, "roles-writer")), 201)
        created.append(w["id"])
        assert ok(writer.get_secret(id=w["id"]), 200)["payload"] == "secret-data"
        ok(writer.create_secret_version(secret_id=w["id"], secret_version_prototype={"payload": "w2"}), 201)
        expect_error(403, writer.create_configuration, configuration_prototype={
            "config_type": CIS_TYPE, "name": env.name("roles-cfg"), "cloud_internet_services_crn": CIS_CRN})
    finally:
        for sid in created:
            cleanup(sm.delete_secret, id=sid)
        ok(sm.delete_secret(id=s["id"]), 204)


def test_gzip_request_body(env):
    """The SDK's gzip option (SECRETS_MANAGER_ENABLE_GZIP=true, or set_enable_gzip_compression)
    sends request bodies gzip-compressed with `Content-Encoding: gzip`."""
    gz = env.client(env.sm_url)
    gz.set_enable_gzip_compression(True)
    s = ok(gz.create_secret(secret_prototype=arbitrary(env, "gzip", payload="compressed")), 201)
    try:
        assert s["payload"] == "compressed"
        m = ok(gz.update_secret_metadata(id=s["id"], secret_metadata_patch={"description": "gz"}), 200)
        assert m["description"] == "gz"
        v = ok(gz.create_secret_version(secret_id=s["id"], secret_version_prototype={"payload": "v2"}), 201)
        assert v["payload"] == "v2"
    finally:
        ok(env.sm.delete_secret(id=s["id"]), 204)
