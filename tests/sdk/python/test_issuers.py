"""CertificateClient issuer operations: create, get, update, list, delete; and a create that
names an issuer object backed by the server's own CA."""

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.certificates import (
    CertificateIssuer,
    CertificateOperation,
    CertificatePolicy,
    KeyType,
)
from cryptography import x509

import x509util

PROVIDER = "local-ca"  # configured in config/default.toml
RESTRICTED = "restricted"  # configured by conftest's server environment


def test_create_get_update_list_and_delete_an_issuer(client, name):
    created = client.create_issuer(name, PROVIDER, enabled=True)
    assert isinstance(created, CertificateIssuer)
    assert created.name == name
    assert created.provider == PROVIDER
    assert created.enabled is True
    assert created.id == f"{client.vault_url}/certificates/issuers/{name}"
    assert created.created_on is not None

    got = client.get_issuer(name)
    assert got.id == created.id
    assert got.provider == PROVIDER

    updated = client.update_issuer(name, enabled=False)
    assert updated.enabled is False
    assert updated.provider == PROVIDER
    assert client.get_issuer(name).enabled is False

    listed = {i.name: i for i in client.list_properties_of_issuers()}
    assert listed[name].provider == PROVIDER

    deleted = client.delete_issuer(name)
    assert deleted.name == name
    with pytest.raises(ResourceNotFoundError):
        client.get_issuer(name)
    assert name not in {i.name for i in client.list_properties_of_issuers()}


def test_list_issuers_follows_next_links(client, name):
    names = [f"{name}-{i}" for i in range(3)]
    for n in names:
        client.create_issuer(n, PROVIDER)
    pages = list(client.list_properties_of_issuers(max_page_size=1).by_page())
    assert len(pages) >= 3
    seen = [i.name for page in pages for i in page]
    assert set(names) <= set(seen)
    assert len(seen) == len(set(seen))


def test_create_with_an_issuer_object_is_issued_by_the_local_ca(client, name):
    client.create_issuer(name, PROVIDER)
    policy = CertificatePolicy(issuer_name=name, subject=f"CN={name}.example.com", key_type=KeyType.ec)
    cert = client.begin_create_certificate(name, policy, _polling_interval=0.2).result()
    assert cert.name == name
    parsed = x509.load_der_x509_certificate(cert.cer)
    assert x509util.cn_of(parsed) == f"{name}.example.com"
    assert parsed.issuer != parsed.subject
    assert client.get_certificate_operation(name).status == "completed"



def test_a_refused_issuance_ends_the_poller_with_a_failed_operation(client, name):
    # `restricted` (conftest's server environment) certifies only names under example.com.
    client.create_issuer(name, RESTRICTED)
    policy = CertificatePolicy(issuer_name=name, subject=f"CN={name}.other.org", key_type=KeyType.ec)
    op = client.begin_create_certificate(name, policy, _polling_interval=0.2).result()
    assert isinstance(op, CertificateOperation)
    assert op.status == "failed"
    assert op.error.code
    assert f"{name}.other.org" in op.error.message
    # The certificate answers as Key Vault does before any version exists.
    refused = client.get_certificate(name)
    assert refused.properties.enabled is False
    assert refused.cer is None


def test_a_disabled_issuer_refuses_the_create_with_400(client, name):
    client.create_issuer(name, PROVIDER, enabled=False)
    policy = CertificatePolicy(issuer_name=name, subject=f"CN={name}.example.com", key_type=KeyType.ec)
    with pytest.raises(HttpResponseError) as e:
        client.begin_create_certificate(name, policy, _polling_interval=0.2)
    assert e.value.status_code == 400
