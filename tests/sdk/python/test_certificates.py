"""CertificateClient: create (poller), get, get_version, pending operation get/cancel/delete,
merge; the challenge handshake and api-versions."""


import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.keyvault.certificates import (
    CertificateContentType,
    CertificateOperation,
    CertificatePolicy,
    KeyType,
    KeyVaultCertificate,
    WellKnownIssuerNames,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import x509util
from conftest import TOKEN, StaticTokenCredential, make_client

POLL = 0.2  # seconds between create-poller GETs (the SDK's default is 5)


def self_policy(cn, **kw):
    return CertificatePolicy(
        issuer_name=WellKnownIssuerNames.self,
        subject=f"CN={cn}",
        san_dns_names=[cn],
        key_type=kw.pop("key_type", KeyType.ec),
        exportable=True,
        content_type=kw.pop("content_type", CertificateContentType.pkcs12),
        validity_in_months=12,
        **kw,
    )


def unknown_policy(cn):
    return CertificatePolicy(
        issuer_name=WellKnownIssuerNames.unknown, subject=f"CN={cn}", key_type=KeyType.ec
    )


def create_self(client, name, **kw):
    poller = client.begin_create_certificate(
        name, self_policy(f"{name}.example.com"), _polling_interval=POLL, **kw
    )
    cert = poller.result()
    assert poller.done()
    return cert


def test_create_with_self_issuer_returns_the_certificate(client, name):
    cert = create_self(client, name, tags={"team": "a"})
    assert isinstance(cert, KeyVaultCertificate)
    assert cert.name == name
    assert cert.id == f"{client.vault_url}/certificates/{name}/{cert.properties.version}"
    assert cert.properties.vault_url == client.vault_url
    assert cert.properties.tags == {"team": "a"}
    assert cert.properties.enabled is True
    parsed = x509.load_der_x509_certificate(cert.cer)
    assert x509util.cn_of(parsed) == f"{name}.example.com"
    assert cert.properties.x509_thumbprint == parsed.fingerprint(hashes.SHA1())
    assert cert.policy.issuer_name == "Self"
    assert cert.policy.key_type == KeyType.ec
    assert cert.secret_id.endswith(f"/secrets/{name}/{cert.properties.version}")
    assert cert.key_id.endswith(f"/keys/{name}/{cert.properties.version}")


def test_create_rsa_self_signed_has_default_key_size(client, name):
    poller = client.begin_create_certificate(
        name, self_policy(f"{name}.example.com", key_type=KeyType.rsa), _polling_interval=POLL
    )
    cert = poller.result()
    key = x509.load_der_x509_certificate(cert.cer).public_key()
    assert key.key_size == 2048


def test_create_with_unknown_issuer_returns_the_operation_in_progress(client, name):
    poller = client.begin_create_certificate(name, unknown_policy(f"{name}.example.com"))
    op = poller.result()
    assert isinstance(op, CertificateOperation)
    assert op.status == "inProgress"
    assert op.name == name
    assert op.issuer_name == "Unknown"
    assert op.cancellation_requested is False
    csr = x509.load_der_x509_csr(op.csr)
    assert csr.is_signature_valid
    assert x509util.cn_of(csr) == f"{name}.example.com"


def test_get_certificate_and_get_certificate_version(client, name):
    created = create_self(client, name)
    got = client.get_certificate(name)
    assert got.id == created.id
    assert got.cer == created.cer
    assert got.properties.created_on is not None
    assert got.policy.subject == f"CN={name}.example.com"
    by_version = client.get_certificate_version(name, created.properties.version)
    assert by_version.id == created.id
    assert by_version.cer == created.cer


def test_get_certificate_of_unknown_name_raises_not_found(client, name):
    with pytest.raises(ResourceNotFoundError) as e:
        client.get_certificate(name)
    assert e.value.status_code == 404
    assert e.value.error.code == "CertificateNotFound"


def test_get_certificate_operation_of_a_completed_create(client, name):
    create_self(client, name)
    op = client.get_certificate_operation(name)
    assert op.status == "completed"
    assert op.target == f"{client.vault_url}/certificates/{name}"


def test_cancel_certificate_operation_marks_cancellation(client, name):
    client.begin_create_certificate(name, unknown_policy(f"{name}.example.com")).result()
    op = client.cancel_certificate_operation(name)
    assert op.cancellation_requested is True
    assert client.get_certificate_operation(name).cancellation_requested is True


def test_delete_certificate_operation_removes_it(client, name):
    client.begin_create_certificate(name, unknown_policy(f"{name}.example.com")).result()
    deleted = client.delete_certificate_operation(name)
    assert deleted.name == name
    with pytest.raises(ResourceNotFoundError):
        client.get_certificate_operation(name)


def test_merge_certificate_signed_elsewhere(client, name):
    op = client.begin_create_certificate(name, unknown_policy(f"{name}.example.com")).result()
    ca_key, ca_cert = x509util.new_ca()
    leaf = x509util.sign_csr(op.csr, ca_key, ca_cert)
    merged = client.merge_certificate(name, [x509util.der(leaf), x509util.der(ca_cert)])
    assert isinstance(merged, KeyVaultCertificate)
    assert merged.name == name
    assert merged.cer == x509util.der(leaf)
    assert client.get_certificate(name).id == merged.id
    assert client.get_certificate_operation(name).status == "completed"


def test_merge_of_a_certificate_for_another_key_is_refused(client, name):
    client.begin_create_certificate(name, unknown_policy(f"{name}.example.com")).result()
    _, other = x509util.self_signed(f"{name}.example.com")
    with pytest.raises(Exception) as e:
        client.merge_certificate(name, [x509util.der(other)])
    assert e.value.status_code == 400
    assert client.get_certificate_operation(name).status == "inProgress"


def test_wrong_token_raises_client_authentication_error(server, name):
    with make_client(server, token="not-the-token") as bad:
        with pytest.raises(ClientAuthenticationError) as e:
            bad.get_certificate(name)
    assert e.value.status_code == 401


def test_challenge_names_a_tenant_and_the_vault_scope(server, name):
    cred = StaticTokenCredential(TOKEN)
    with make_client(server, credential=cred) as c:
        with pytest.raises(ResourceNotFoundError):
            c.get_certificate(name)
    scopes, kwargs = cred.requests[0]
    assert scopes == ("https://vault.azure.net/.default",)
    # The server's tenant, the `tid` of the tokens it mints.
    tenant = (server.data_dir / "identity" / "tenant-id").read_text().strip()
    assert kwargs.get("tenant_id") == tenant


@pytest.mark.parametrize("api_version", ["2026-04-01", "2025-07-01", "7.6", "7.5", "7.4", "7.3", "7.2", "7.1", "7.0", "2016-10-01"])
def test_every_api_version_the_sdk_offers_is_accepted(server, name, api_version):
    with make_client(server, api_version=api_version) as c:
        op = c.begin_create_certificate(name, unknown_policy(f"{name}.example.com")).result()
        assert op.status == "inProgress"
        assert c.get_certificate_operation(name).csr == op.csr


def test_create_with_the_default_policy_disabled(client, name):
    poller = client.begin_create_certificate(
        name, CertificatePolicy.get_default(), enabled=False, _polling_interval=POLL
    )
    cert = poller.result()
    assert cert.properties.enabled is False
    assert cert.policy.subject == "CN=DefaultPolicy"
    assert cert.policy.key_type == KeyType.rsa
    assert cert.policy.key_size == 2048
    assert x509util.cn_of(x509.load_der_x509_certificate(cert.cer)) == "DefaultPolicy"


def test_send_request_goes_through_the_same_authenticated_pipeline(client, name):
    cert = create_self(client, name)
    response = client.send_request(HttpRequest("GET", f"/certificates/{name}/"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == cert.id
    assert "x-ms-request-id" in response.headers
    assert response.headers.get("x-ms-client-request-id") is not None
