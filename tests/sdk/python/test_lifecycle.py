"""CertificateClient beyond create/merge: lists and paging, versions, properties, policy,
soft delete / recover / purge, import (PKCS#12 and PEM), contacts, backup/restore; and
SecretClient.get_secret for certificate-backed secrets."""

import base64

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.certificates import (
    CertificateContact,
    CertificateContentType,
    CertificatePolicy,
    DeletedCertificate,
    KeyType,
    WellKnownIssuerNames,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import x509util
from test_certificates import POLL, create_self, self_policy

PKCS12 = CertificateContentType.pkcs12
PEM = CertificateContentType.pem


def test_list_properties_of_certificates_follows_next_links(client, name):
    names = [f"{name}-{i}" for i in range(3)]
    for n in names:
        create_self(client, n)
    pages = list(client.list_properties_of_certificates(max_page_size=2).by_page())
    assert len(pages) >= 2
    seen = [p for page in pages for p in page]
    by_name = {p.name: p for p in seen}
    assert len(by_name) == len(seen)
    assert set(names) <= set(by_name)
    item = by_name[names[0]]
    assert item.id == f"{client.vault_url}/certificates/{names[0]}"
    assert item.x509_thumbprint == client.get_certificate(names[0]).properties.x509_thumbprint
    assert item.enabled is True


def test_list_versions_and_get_an_older_version(client, name):
    first = create_self(client, name)
    second = create_self(client, name)
    assert first.properties.version != second.properties.version
    versions = {p.version: p for p in client.list_properties_of_certificate_versions(name)}
    assert set(versions) == {first.properties.version, second.properties.version}
    assert versions[first.properties.version].id == first.id
    assert client.get_certificate(name).id == second.id
    assert client.get_certificate_version(name, first.properties.version).cer == first.cer


def test_update_certificate_properties_changes_enabled_and_tags(client, name):
    cert = create_self(client, name)
    updated = client.update_certificate_properties(name, enabled=False, tags={"owner": "ops"})
    assert updated.properties.enabled is False
    assert updated.properties.tags == {"owner": "ops"}
    assert updated.cer == cert.cer
    again = client.get_certificate(name)
    assert again.properties.enabled is False
    assert again.properties.tags == {"owner": "ops"}
    by_version = client.update_certificate_properties(name, cert.properties.version, enabled=True)
    assert by_version.properties.enabled is True
    assert by_version.properties.tags == {"owner": "ops"}


def test_get_and_update_certificate_policy(client, name):
    create_self(client, name)
    policy = client.get_certificate_policy(name)
    assert policy.issuer_name == "Self"
    assert policy.subject == f"CN={name}.example.com"
    assert policy.key_type == KeyType.ec
    assert policy.validity_in_months == 12
    changed = client.update_certificate_policy(
        name, CertificatePolicy(subject=f"CN=new-{name}.example.com", validity_in_months=24)
    )
    assert changed.subject == f"CN=new-{name}.example.com"
    assert changed.validity_in_months == 24
    assert changed.key_type == KeyType.ec  # PATCH: fields not sent are kept
    assert client.get_certificate_policy(name).validity_in_months == 24


def test_delete_recover_delete_and_purge(client, name):
    cert = create_self(client, name)
    poller = client.begin_delete_certificate(name, _polling_interval=POLL)
    deleted = poller.result()
    assert isinstance(deleted, DeletedCertificate)
    assert deleted.name == name
    assert deleted.recovery_id == f"{client.vault_url}/deletedcertificates/{name}"
    assert deleted.deleted_on is not None
    assert deleted.scheduled_purge_date > deleted.deleted_on
    assert deleted.cer == cert.cer
    poller.wait()
    with pytest.raises(ResourceNotFoundError):
        client.get_certificate(name)

    got = client.get_deleted_certificate(name)
    assert got.recovery_id == deleted.recovery_id
    assert got.properties.version == cert.properties.version
    assert name in {d.name for d in client.list_deleted_certificates()}

    recovered = client.begin_recover_deleted_certificate(name, _polling_interval=POLL)
    assert recovered.result().name == name
    recovered.wait()
    assert client.get_certificate(name).cer == cert.cer
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_certificate(name)

    client.begin_delete_certificate(name, _polling_interval=POLL).wait()
    client.purge_deleted_certificate(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_certificate(name)
    assert name not in {d.name for d in client.list_deleted_certificates()}


@pytest.mark.parametrize("password", [None, "import-pass"])
def test_import_pkcs12_with_and_without_password(client, secret_client, name, password):
    key, cert = x509util.self_signed(f"{name}.example.com")
    blob = x509util.to_pkcs12(key, cert, password)
    imported = client.import_certificate(name, blob, password=password, tags={"src": "pfx"})
    assert imported.name == name
    assert imported.cer == x509util.der(cert)
    assert imported.properties.tags == {"src": "pfx"}
    assert imported.policy.key_type == KeyType.rsa
    secret = secret_client.get_secret(name)
    assert secret.properties.content_type == PKCS12
    got_key, got_cert, _ = x509util.load_pkcs12(base64.b64decode(secret.value))
    assert x509util.der(got_cert) == x509util.der(cert)
    assert x509util.public_der(got_key.public_key()) == x509util.public_der(key.public_key())


def test_import_pem_and_read_it_back_as_pem(client, secret_client, name):
    key, cert = x509util.self_signed(f"{name}.example.com")
    policy = CertificatePolicy(issuer_name=WellKnownIssuerNames.unknown, content_type=PEM)
    imported = client.import_certificate(name, x509util.to_pem(key, cert), policy=policy)
    assert imported.cer == x509util.der(cert)
    secret = secret_client.get_secret(name)
    assert secret.properties.content_type == PEM
    assert "-----BEGIN CERTIFICATE-----" in secret.value
    got_key = serialization.load_pem_private_key(secret.value.encode(), None)
    assert x509util.public_der(got_key.public_key()) == x509util.public_der(key.public_key())


def test_import_with_a_wrong_password_is_400_and_writes_nothing(client, name):
    key, cert = x509util.self_signed(f"{name}.example.com")
    with pytest.raises(HttpResponseError) as e:
        client.import_certificate(name, x509util.to_pkcs12(key, cert, "right"), password="wrong")
    assert e.value.status_code == 400
    with pytest.raises(ResourceNotFoundError):
        client.get_certificate(name)


def test_set_get_and_delete_contacts(client):
    contacts = [
        CertificateContact(email="ops@example.com", name="Ops", phone="555-0100"),
        CertificateContact(email="sec@example.com", name="Security"),
    ]
    set_ = client.set_contacts(contacts)
    assert [(c.email, c.name, c.phone) for c in set_] == [
        ("ops@example.com", "Ops", "555-0100"),
        ("sec@example.com", "Security", None),
    ]
    got = client.get_contacts()
    assert [c.email for c in got] == ["ops@example.com", "sec@example.com"]
    deleted = client.delete_contacts()
    assert [c.email for c in deleted] == ["ops@example.com", "sec@example.com"]
    with pytest.raises(ResourceNotFoundError):
        client.get_contacts()


def test_backup_purge_and_restore(client, name):
    cert = create_self(client, name)
    blob = client.backup_certificate(name)
    assert isinstance(blob, bytes) and len(blob) > 0
    with pytest.raises(ResourceExistsError):
        client.restore_certificate_backup(blob)
    client.begin_delete_certificate(name, _polling_interval=POLL).wait()
    client.purge_deleted_certificate(name)
    restored = client.restore_certificate_backup(blob)
    assert restored.name == name
    assert restored.cer == cert.cer
    assert restored.id == cert.id
    assert client.get_certificate(name).cer == cert.cer


def test_restore_of_a_tampered_blob_is_400(client, name):
    create_self(client, name)
    blob = bytearray(client.backup_certificate(name))
    blob[len(blob) // 2] ^= 0x01
    with pytest.raises(HttpResponseError) as e:
        client.restore_certificate_backup(bytes(blob))
    assert e.value.status_code == 400


@pytest.mark.parametrize("content_type", [PKCS12, PEM])
def test_get_secret_of_a_created_certificate(client, secret_client, name, content_type):
    poller = client.begin_create_certificate(
        name, self_policy(f"{name}.example.com", content_type=content_type), _polling_interval=POLL
    )
    cert = poller.result()
    secret = secret_client.get_secret(name)
    assert secret.name == name
    assert secret.properties.version == cert.properties.version
    assert secret.id == cert.secret_id
    assert secret.properties.content_type == content_type
    assert secret.properties.managed is True
    assert secret.properties.key_id == cert.key_id
    if content_type == PKCS12:
        key, leaf, _ = x509util.load_pkcs12(base64.b64decode(secret.value))
    else:
        key = serialization.load_pem_private_key(secret.value.encode(), None)
        leaf = x509.load_pem_x509_certificate(secret.value.encode())
    assert x509util.der(leaf) == cert.cer
    leaf_pub = x509.load_der_x509_certificate(cert.cer).public_key()
    assert x509util.public_der(key.public_key()) == x509util.public_der(leaf_pub)


def test_refusals_in_the_wrong_state_raise_the_sdk_exceptions(client, name):
    create_self(client, name)
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_certificate(name)
    with pytest.raises(ResourceNotFoundError):
        client.begin_recover_deleted_certificate(name)
    with pytest.raises(ResourceNotFoundError):
        client.purge_deleted_certificate(name)
    client.begin_delete_certificate(name, _polling_interval=POLL).wait()
    with pytest.raises(ResourceExistsError):
        client.begin_create_certificate(name, self_policy(f"{name}.example.com"))
    client.purge_deleted_certificate(name)
    assert create_self(client, name).name == name


def test_import_of_a_key_that_does_not_match_the_certificate_is_400(client, name):
    key, _ = x509util.self_signed(f"{name}.example.com")
    _, cert = x509util.self_signed(f"{name}.example.com")
    policy = CertificatePolicy(issuer_name=WellKnownIssuerNames.unknown, content_type=PEM)
    with pytest.raises(HttpResponseError) as e:
        client.import_certificate(name, x509util.to_pem(key, cert), policy=policy)
    assert e.value.status_code == 400
    with pytest.raises(ResourceNotFoundError):
        client.get_certificate(name)
