"""The secret and the key behind each certificate, through SecretClient and KeyClient:
versions, lists, and the public key as a JWK."""

import base64

from azure.keyvault.certificates import CertificatePolicy, KeyType, WellKnownIssuerNames
from azure.keyvault.keys import KeyClient
from cryptography import x509

import x509util
from conftest import make_client
from test_certificates import create_self


def test_secret_by_version_and_secret_lists(client, secret_client, name):
    first = create_self(client, name)
    second = create_self(client, name)
    old = secret_client.get_secret(name, first.properties.version)
    assert old.id == first.secret_id
    _, leaf, _ = x509util.load_pkcs12(base64.b64decode(old.value))
    assert x509util.der(leaf) == first.cer
    latest = secret_client.get_secret(name)
    assert latest.id == second.secret_id
    versions = {p.version for p in secret_client.list_properties_of_secret_versions(name)}
    assert versions == {first.properties.version, second.properties.version}
    listed = {p.name: p for p in secret_client.list_properties_of_secrets()}
    assert listed[name].managed is True
    assert listed[name].content_type == "application/x-pkcs12"


def test_get_key_of_a_certificate_is_its_public_key(server, client, name):
    cert = create_self(client, name)
    with make_client(server, KeyClient) as keys:
        key = keys.get_key(name)
        assert key.id == cert.key_id
        assert key.properties.managed is True
        assert key.key_type == "EC"
        assert key.key.crv == "P-256"
        public = x509.load_der_x509_certificate(cert.cer).public_key().public_numbers()
        assert int.from_bytes(key.key.x, "big") == public.x
        assert int.from_bytes(key.key.y, "big") == public.y
        assert key.key.d is None
        assert cert.properties.version in {p.version for p in keys.list_properties_of_key_versions(name)}


def test_list_with_include_pending_shows_a_request_without_a_certificate(client, name):
    policy = CertificatePolicy(
        issuer_name=WellKnownIssuerNames.unknown, subject=f"CN={name}.example.com", key_type=KeyType.ec
    )
    client.begin_create_certificate(name, policy).result()
    assert name not in {p.name for p in client.list_properties_of_certificates()}
    assert name in {p.name for p in client.list_properties_of_certificates(include_pending=True)}
