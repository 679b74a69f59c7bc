"""Arca's Secrets Manager certificate suite, through IBM's official Python SDK: imported_cert
secrets, and private_cert secrets issued by Arca's private CA (root CA -> intermediate CA signed
with the sign_intermediate action -> certificate template -> certificates; revoke and rotate_crl
actions). ./run includes it when ARCA_SM_CERTS=1. Settings as in smcompat.py.
"""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ibm_cloud_sdk_core import ApiException

from smcompat import Env, assert_common_secret, cleanup, expect_error, ok, ts

ROOT = "private_cert_configuration_root_ca"
INTER = "private_cert_configuration_intermediate_ca"
TEMPLATE = "private_cert_configuration_template"
NOW = datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture(scope="module")
def env():
    return Env()


@pytest.fixture(scope="module")
def sm(env):
    return env.sm


# ------------------------------------------------------------------------------------ helpers


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def load(text):
    return x509.load_pem_x509_certificate(text.encode())


def hexserial(value):
    """A serial number as bare lower-case hex (accepts `0a:1b:...`, `0A1B...` and ints)."""
    if isinstance(value, int):
        return format(value, "x")
    return value.replace(":", "").replace("-", "").lower().lstrip("0") or "0"


def cn(cert):
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def make_cert(subject_cn, *, issuer=None, issuer_key=None, key=None, ca=False, sans=(), days=90):
    """A certificate: self-signed unless issuer/issuer_key are given. Returns (cert, key)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Arca compat")])
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer.subject if issuer else subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(NOW - datetime.timedelta(minutes=5))
         .not_valid_after(NOW + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    cert = b.sign(issuer_key or key, hashes.SHA256())
    return cert, key


@pytest.fixture(scope="module")
def chain(env):
    """A throwaway CA and two leaf certificates it issued (RSA and EC)."""
    ca, ca_key = make_cert(f"compat-ca-{env.run}", ca=True, days=365)
    leaf, leaf_key = make_cert(f"app-{env.run}.example.com", issuer=ca, issuer_key=ca_key,
                               sans=(f"app-{env.run}.example.com", f"www-{env.run}.example.com"))
    leaf2, leaf2_key = make_cert(f"app-{env.run}.example.com", issuer=ca, issuer_key=ca_key,
                                 key=ec.generate_private_key(ec.SECP256R1()), days=180)
    return {"ca": ca, "ca_key": ca_key, "leaf": leaf, "leaf_key": leaf_key, "leaf2": leaf2, "leaf2_key": leaf2_key}


# ------------------------------------------------------------------------------------ imported_cert


def test_imported_cert_lifecycle(env, sm, chain):
    leaf, ca = chain["leaf"], chain["ca"]
    name = env.name("imported")
    s = ok(sm.create_secret(secret_prototype={
        "secret_type": "imported_cert", "name": name, "labels": [env.run],
        "certificate": pem(leaf), "intermediate": pem(ca), "private_key": key_pem(chain["leaf_key"]),
    }), 201)
    sid = s["id"]
    try:
        assert_common_secret(s, secret_type="imported_cert", name=name)
        assert load(s["certificate"]) == leaf
        assert load(s["intermediate"]) == ca
        assert s["private_key"].strip() == key_pem(chain["leaf_key"]).strip()
        assert s["common_name"] == cn(leaf)
        assert sorted(s["alt_names"]) == sorted([f"app-{env.run}.example.com", f"www-{env.run}.example.com"])
        assert hexserial(s["serial_number"]) == hexserial(leaf.serial_number)
        assert cn(ca) in s["issuer"], s["issuer"]
        assert s["intermediate_included"] is True and s["private_key_included"] is True
        assert "2048" in s["key_algorithm"] and "RSA" in s["key_algorithm"].upper(), s["key_algorithm"]
        assert "SHA256" in s["signing_algorithm"].upper().replace("-", ""), s["signing_algorithm"]
        assert ts(s["validity"]["not_after"]) == leaf.not_valid_after_utc
        assert ts(s["validity"]["not_before"]) == leaf.not_valid_before_utc
        assert ts(s["expiration_date"]) == leaf.not_valid_after_utc

        meta = ok(sm.get_secret_metadata(id=sid), 200)
        assert not {"certificate", "private_key", "intermediate"} & set(meta), meta
        assert hexserial(meta["serial_number"]) == hexserial(leaf.serial_number)
        got = ok(sm.get_secret(id=sid), 200)
        assert load(got["certificate"]) == leaf and got["private_key"]

        # a new version: the EC certificate, no intermediate
        v2 = ok(sm.create_secret_version(secret_id=sid, secret_version_prototype={
            "certificate": pem(chain["leaf2"]), "private_key": key_pem(chain["leaf2_key"])}), 201)
        assert load(v2["certificate"]) == chain["leaf2"]
        assert hexserial(v2["serial_number"]) == hexserial(chain["leaf2"].serial_number)
        ts(v2["validity"]["not_after"])
        meta = ok(sm.get_secret_metadata(id=sid), 200)
        assert meta["versions_total"] == 2
        assert hexserial(meta["serial_number"]) == hexserial(chain["leaf2"].serial_number)
        assert meta["intermediate_included"] is False
        assert ts(meta["expiration_date"]) == chain["leaf2"].not_valid_after_utc
        prev = ok(sm.get_secret_version(secret_id=sid, id="previous"), 200)
        assert load(prev["certificate"]) == leaf
        pm = ok(sm.get_secret_version_metadata(secret_id=sid, id="previous"), 200)
        assert hexserial(pm["serial_number"]) == hexserial(leaf.serial_number)  # required in the model
        assert ts(pm["validity"]["not_after"]) == leaf.not_valid_after_utc

        listed = ok(sm.list_secrets(search=env.run, secret_types=["imported_cert"]), 200)
        assert [x["id"] for x in listed["secrets"]] == [sid]
        assert "certificate" not in listed["secrets"][0]
        by_name = ok(sm.get_secret_by_name_type(secret_type="imported_cert", name=name,
                                                secret_group_name="default"), 200)
        assert load(by_name["certificate"]) == chain["leaf2"]

        m = ok(sm.update_secret_metadata(id=sid, secret_metadata_patch={"description": "imported"}), 200)
        assert m["description"] == "imported" and "certificate" not in m
    finally:
        ok(sm.delete_secret(id=sid), 204)


def test_imported_cert_without_key(env, sm, chain):
    s = ok(sm.create_secret(secret_prototype={"secret_type": "imported_cert", "name": env.name("imported-nokey"),
                                              "certificate": pem(chain["ca"])}), 201)
    try:
        assert s["private_key_included"] is False and s["intermediate_included"] is False
        assert not s.get("private_key")
        assert s["common_name"] == cn(chain["ca"])
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


def test_imported_cert_rejects_bad_input(env, sm, chain):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = [
        {"certificate": "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"},
        {"certificate": "hello, this is no PEM certificate at all, just some text"},
        # a key that does not belong to the certificate
        {"certificate": pem(chain["leaf"]), "private_key": key_pem(other_key)},
        {"certificate": pem(chain["leaf"]), "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
        {"certificate": pem(chain["leaf"]), "intermediate": "not a certificate, not a certificate at all"},
    ]
    for i, extra in enumerate(bad):
        proto = {"secret_type": "imported_cert", "name": env.name(f"imported-bad-{i}")}
        proto.update(extra)
        expect_error(400, sm.create_secret, secret_prototype=proto)
    s = ok(sm.create_secret(secret_prototype={"secret_type": "imported_cert", "name": env.name("imported-bad-v"),
                                              "certificate": pem(chain["leaf"]),
                                              "private_key": key_pem(chain["leaf_key"])}), 201)
    try:
        expect_error(400, sm.create_secret_version, secret_id=s["id"], secret_version_prototype={
            "certificate": pem(chain["leaf2"]), "private_key": key_pem(chain["leaf_key"])})
        expect_error(400, sm.create_secret_version, secret_id=s["id"], secret_version_prototype={"payload": "x"})
    finally:
        ok(sm.delete_secret(id=s["id"]), 204)


# ------------------------------------------------------------------------------------ private CA


@pytest.fixture(scope="module")
def pki(env, sm):
    """Root CA -> intermediate CA (signed by the root) -> template, all of this run."""
    root, inter, tmpl = env.name("root-ca"), env.name("inter-ca"), env.name("template")
    made = []
    try:
        r = ok(sm.create_configuration(configuration_prototype={
            "config_type": ROOT, "name": root, "common_name": f"Arca compat root {env.run}",
            "max_ttl": "8760h", "crl_expiry": "72h", "key_type": "rsa", "key_bits": 2048,
            "organization": ["Arca"], "country": ["CH"],
        }), 201)
        made.append((root, ROOT))
        i = ok(sm.create_configuration(configuration_prototype={
            "config_type": INTER, "name": inter, "common_name": f"Arca compat intermediate {env.run}",
            "max_ttl": "4380h", "signing_method": "internal", "issuer": root, "key_type": "ec", "key_bits": 256,
        }), 201)
        made.append((inter, INTER))
        signed = ok(sm.create_configuration_action(name=root, x_sm_accept_configuration_type=ROOT,
                                                   config_action_prototype={
            "action_type": "private_cert_configuration_action_sign_intermediate",
            "intermediate_certificate_authority": inter}), 201)
        t = ok(sm.create_configuration(configuration_prototype={
            "config_type": TEMPLATE, "name": tmpl, "certificate_authority": inter,
            "allowed_domains": ["example.com"], "allow_subdomains": True, "allow_bare_domains": False,
            "max_ttl": "720h", "ttl": "48h", "key_type": "rsa", "key_bits": 2048, "server_flag": True,
        }), 201)
        made.append((tmpl, TEMPLATE))
        yield {"root": root, "inter": inter, "template": tmpl, "root_created": r, "inter_created": i,
               "signed": signed, "template_created": t}
    finally:
        for name, ctype in reversed(made):
            cleanup(sm.delete_configuration, name=name, x_sm_accept_configuration_type=ctype)


def test_root_ca(env, sm, pki):
    r = pki["root_created"]
    assert (r["config_type"], r["secret_type"], r["name"]) == (ROOT, "private_cert", pki["root"])
    got = ok(sm.get_configuration(name=pki["root"], x_sm_accept_configuration_type=ROOT), 200)
    assert got["common_name"] == f"Arca compat root {env.run}"
    assert got["max_ttl_seconds"] == 8760 * 3600
    assert got["crl_expiry_seconds"] == 72 * 3600
    assert got["status"] in ("configured", "certificate_template_required"), got["status"]
    cert = load(got["data"]["certificate"])
    assert cn(cert) == got["common_name"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    cert.verify_directly_issued_by(cert)  # self-signed
    assert "private_key" not in got["data"], "the CA's private key must never leave the server"
    ts(got["expiration_date"])
    assert ts(got["expiration_date"]) == cert.not_valid_after_utc


def test_intermediate_ca_signed_by_root(env, sm, pki):
    created = pki["inter_created"]
    assert created["status"] == "signing_required", created.get("status")
    s = pki["signed"]
    assert s["action_type"] == "private_cert_configuration_action_sign_intermediate"
    assert s["intermediate_certificate_authority"] == pki["inter"]
    got = ok(sm.get_configuration(name=pki["inter"], x_sm_accept_configuration_type=INTER), 200)
    assert got["status"] in ("configured", "certificate_template_required"), got["status"]
    assert (got["signing_method"], got["issuer"]) == ("internal", pki["root"])
    inter = load(got["data"]["certificate"])
    root = load(ok(sm.get_configuration(name=pki["root"]), 200)["data"]["certificate"])
    assert cn(inter) == f"Arca compat intermediate {env.run}"
    assert inter.issuer == root.subject
    inter.verify_directly_issued_by(root)
    assert inter.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert isinstance(inter.public_key(), ec.EllipticCurvePublicKey)
    assert "private_key" not in got["data"]


def test_ca_listing(env, sm, pki):
    listed = ok(sm.list_configurations(search=env.run, secret_types=["private_cert"], sort="name"), 200)
    by_name = {x["name"]: x for x in listed["configurations"]}
    assert set(by_name) == {pki["root"], pki["inter"], pki["template"]}
    assert by_name[pki["root"]]["config_type"] == ROOT and by_name[pki["root"]]["common_name"]
    assert by_name[pki["inter"]]["signing_method"] == "internal"
    assert by_name[pki["template"]]["certificate_authority"] == pki["inter"]
    for item in listed["configurations"]:
        assert "data" not in item


def test_private_cert_issue_rotate(env, sm, pki):
    name = env.name("private-cert")
    cn_ = f"svc-{env.run}.example.com"
    s = ok(sm.create_secret(secret_prototype={
        "secret_type": "private_cert", "name": name, "certificate_template": pki["template"],
        "common_name": cn_, "alt_names": [f"alt-{env.run}.example.com"], "ttl": "24h", "labels": [env.run],
    }), 201)
    sid = s["id"]
    try:
        assert_common_secret(s, secret_type="private_cert", name=name)
        cert = load(s["certificate"])
        inter = load(ok(sm.get_configuration(name=pki["inter"]), 200)["data"]["certificate"])
        assert cn(cert) == cn_ == s["common_name"]
        dns = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
        assert f"alt-{env.run}.example.com" in dns and f"alt-{env.run}.example.com" in s["alt_names"]
        cert.verify_directly_issued_by(inter)
        assert load(s["issuing_ca"]) == inter
        assert [load(c) for c in s["ca_chain"]][0] == inter
        assert hexserial(s["serial_number"]) == hexserial(cert.serial_number)
        assert s["certificate_template"] == pki["template"]
        assert s["certificate_authority"] == pki["inter"]
        assert cn(inter) in s["issuer"]
        lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
        assert abs(lifetime - datetime.timedelta(hours=24)) < datetime.timedelta(minutes=10), lifetime
        assert ts(s["expiration_date"]) == cert.not_valid_after_utc
        assert ts(s["validity"]["not_after"]) == cert.not_valid_after_utc
        key = serialization.load_pem_private_key(s["private_key"].encode(), password=None)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048  # from the template

        meta = ok(sm.get_secret_metadata(id=sid), 200)
        assert not {"certificate", "private_key"} & set(meta)
        assert meta["certificate_template"] == pki["template"] and meta["common_name"] == cn_
        assert "rotation" in meta
        by_name = ok(sm.get_secret_by_name_type(secret_type="private_cert", name=name,
                                                secret_group_name="default"), 200)
        assert load(by_name["certificate"]) == cert

        # rotation: a new certificate for the same names
        v2 = ok(sm.create_secret_version(secret_id=sid, secret_version_prototype={}), 201)
        cert2 = load(v2["certificate"])
        assert cert2.serial_number != cert.serial_number and cn(cert2) == cn_
        cert2.verify_directly_issued_by(inter)
        assert hexserial(ok(sm.get_secret_metadata(id=sid), 200)["serial_number"]) == hexserial(cert2.serial_number)
        assert load(ok(sm.get_secret_version(secret_id=sid, id="previous"), 200)["certificate"]) == cert
        assert ok(sm.get_secret_metadata(id=sid), 200)["versions_total"] == 2

        listed = ok(sm.list_secrets(search=env.run, secret_types=["private_cert"]), 200)
        assert sid in [x["id"] for x in listed["secrets"]]
    finally:
        ok(sm.delete_secret(id=sid), 204)


def test_private_cert_template_rules(env, sm, pki):
    for bad_cn in ("evil.org", "example.com"):  # not a subdomain; bare domain not allowed
        expect_error(400, sm.create_secret, secret_prototype={
            "secret_type": "private_cert", "name": env.name("pc-bad-" + bad_cn.replace(".", "-")),
            "certificate_template": pki["template"], "common_name": bad_cn})
    # a ttl beyond the template's max_ttl (720h): IBM says it "can't exceed" max_ttl; refusing it
    # (400) and cutting it to max_ttl (Vault's PKI, which IBM's service builds on) both keep that
    try:
        r = sm.create_secret(secret_prototype={
            "secret_type": "private_cert", "name": env.name("pc-long-ttl"), "certificate_template": pki["template"],
            "common_name": "x.example.com", "ttl": "100000h"})
    except ApiException as e:
        assert e.status_code == 400, e
    else:
        long_ = r.get_result()
        try:
            assert r.get_status_code() == 201
            cert = load(long_["certificate"])
            life = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
            assert life <= datetime.timedelta(hours=720, minutes=5), f"certificate lifetime {life} > max_ttl 720h"
        finally:
            cleanup(sm.delete_secret, id=long_["id"])
    try:
        sm.create_secret(secret_prototype={
            "secret_type": "private_cert", "name": env.name("pc-no-template"),
            "certificate_template": env.name("no-such-template"), "common_name": "x.example.com"})
        raise AssertionError("a certificate was issued from a template that does not exist")
    except ApiException as e:
        assert e.status_code in (400, 404), e


def test_private_cert_revoke(env, sm, pki):
    ids = []
    try:
        for i in (1, 2):
            ids.append(ok(sm.create_secret(secret_prototype={
                "secret_type": "private_cert", "name": env.name(f"pc-revoke-{i}"),
                "certificate_template": pki["template"], "common_name": f"r{i}-{env.run}.example.com",
                "ttl": "10h"}), 201)["id"])
        a = ok(sm.create_secret_action(id=ids[0], secret_action_prototype={
            "action_type": "private_cert_action_revoke_certificate"}), 201)
        assert a["action_type"] == "private_cert_action_revoke_certificate"
        assert isinstance(a["revocation_time_seconds"], int) and a["revocation_time_seconds"] > 0
        meta = ok(sm.get_secret_metadata(id=ids[0]), 200)
        assert meta["revocation_time_seconds"] == a["revocation_time_seconds"]
        assert ts(meta["revocation_time_rfc3339"]).timestamp() == a["revocation_time_seconds"]

        v = ok(sm.create_secret_version_action(secret_id=ids[1], id="current", secret_version_action_prototype={
            "action_type": "private_cert_action_revoke_certificate"}), 201)
        assert v["action_type"] == "private_cert_action_revoke_certificate" and v["revocation_time_seconds"] > 0
        assert ok(sm.get_secret_metadata(id=ids[1]), 200)["revocation_time_seconds"] == v["revocation_time_seconds"]

        for name, ctype in ((pki["inter"], INTER), (pki["root"], ROOT)):
            r = ok(sm.create_configuration_action(name=name, x_sm_accept_configuration_type=ctype,
                                                  config_action_prototype={
                "action_type": "private_cert_configuration_action_rotate_crl"}), 201)
            assert r["action_type"] == "private_cert_configuration_action_rotate_crl" and r["success"] is True
        expect_error(404, sm.create_configuration_action, name=env.name("no-such-ca"), config_action_prototype={
            "action_type": "private_cert_configuration_action_rotate_crl"})
    finally:
        for sid in ids:
            cleanup(sm.delete_secret, id=sid)


def test_sign_csr(env, sm, pki):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"csr-{env.run}.example.com")]))
           .sign(key, hashes.SHA256()))
    r = ok(sm.create_configuration_action(name=pki["inter"], x_sm_accept_configuration_type=INTER,
                                          config_action_prototype={
        "action_type": "private_cert_configuration_action_sign_csr",
        "csr": csr.public_bytes(serialization.Encoding.PEM).decode(), "ttl": "24h"}), 201)
    assert r["action_type"] == "private_cert_configuration_action_sign_csr"
    cert = load(r["data"]["certificate"])
    inter = load(ok(sm.get_configuration(name=pki["inter"]), 200)["data"]["certificate"])
    cert.verify_directly_issued_by(inter)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cn(cert) == f"csr-{env.run}.example.com"


def test_manual_suite_style_defaults(env, sm):
    """IBM's manual suite: root CN localhost, internal intermediate, a template with nothing but its
    CA, and a certificate for CN localhost with ttl 10h from it (the defaults must allow it)."""
    root, inter, tmpl = env.name("m-root"), env.name("m-inter"), env.name("m-template")
    made, sid = [], None
    try:
        ok(sm.create_configuration(configuration_prototype={
            "config_type": ROOT, "name": root, "max_ttl": "43830h", "common_name": "localhost"}), 201)
        made.append((root, ROOT))
        ok(sm.create_configuration(configuration_prototype={
            "config_type": INTER, "name": inter, "max_ttl": "43830h", "common_name": "localhost",
            "issuer": root, "signing_method": "internal"}), 201)
        made.append((inter, INTER))
        ok(sm.create_configuration_action(name=root, x_sm_accept_configuration_type=ROOT, config_action_prototype={
            "action_type": "private_cert_configuration_action_sign_intermediate",
            "intermediate_certificate_authority": inter}), 201)
        ok(sm.create_configuration(configuration_prototype={
            "config_type": TEMPLATE, "name": tmpl, "certificate_authority": inter}), 201)
        made.append((tmpl, TEMPLATE))
        s = ok(sm.create_secret(secret_prototype={
            "secret_type": "private_cert", "name": env.name("m-cert"), "certificate_template": tmpl,
            "common_name": "localhost", "ttl": "10h"}), 201)
        sid = s["id"]
        assert cn(load(s["certificate"])) == "localhost"
        e = expect_error(409, sm.create_configuration, configuration_prototype={
            "config_type": ROOT, "name": root, "max_ttl": "43830h", "common_name": "localhost"})
        assert "already exists" in e.message, e.message
    finally:
        if sid:
            cleanup(sm.delete_secret, id=sid)
        for name, ctype in reversed(made):
            ok(sm.delete_configuration(name=name, x_sm_accept_configuration_type=ctype), 204)
    expect_error(404, sm.get_configuration, name=root)

