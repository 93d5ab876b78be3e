"""Key Vault behaviours the Python SDK relies on: a certificate readable while its first
version is pending (and recoverable without a version), merge of the PEM body as Microsoft's
live test sends it, preserve_order, and issuers naming Key Vault's providers."""

from azure.keyvault.certificates import (
    AdministratorContact,
    CertificatePolicy,
    KeyType,
    KeyVaultCertificate,
    WellKnownIssuerNames,
)
from cryptography.hazmat.primitives import serialization

import x509util

POLL = 0.2


def unknown_policy(cn):
    return CertificatePolicy(
        issuer_name=WellKnownIssuerNames.unknown, subject=f"CN={cn}", key_type=KeyType.ec
    )


def test_get_certificate_while_its_first_version_is_pending(client, name):
    client.begin_create_certificate(name, unknown_policy(f"{name}.example.com")).result()
    got = client.get_certificate(name)
    assert isinstance(got, KeyVaultCertificate)
    assert got.name == name
    assert got.properties.enabled is False
    assert got.cer is None
    assert got.policy.subject == f"CN={name}.example.com"
    assert got.policy.issuer_name == "Unknown"
    # The CSR is readable as the JavaScript SDK reads it: the certificate, then its operation.
    assert client.get_certificate_operation(name).csr
    pending = [c.name for c in client.list_properties_of_certificates(include_pending=True)]
    assert name in pending
    assert name not in [c.name for c in client.list_properties_of_certificates()]
    client.delete_certificate_operation(name)
    again = client.get_certificate(name)
    assert again.properties.enabled is False
    assert again.cer is None


def test_merge_of_the_pem_body_as_microsofts_live_test_sends_it(client, name):
    for armored in (False, True):
        cert_name = f"{name}-{int(armored)}"
        op = client.begin_create_certificate(
            cert_name, unknown_policy(f"{cert_name}.example.com")
        ).result()
        ca_key, ca_cert = x509util.new_ca()
        leaf = x509util.sign_csr(op.csr, ca_key, ca_cert)
        pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
        if not armored:
            pem = pem.replace("-----BEGIN CERTIFICATE-----", "").replace(
                "-----END CERTIFICATE-----", ""
            )
        # The SDK base64-encodes each entry: base64 of the base64 text reaches the server.
        merged = client.merge_certificate(cert_name, [pem.encode()])
        assert merged.cer == x509util.der(leaf)
        assert merged.properties.enabled is True
        assert client.get_certificate_operation(cert_name).status == "completed"


def test_preserve_order_is_kept_on_the_certificate(client, name):
    policy = CertificatePolicy(
        issuer_name=WellKnownIssuerNames.self, subject=f"CN={name}.example.com", key_type=KeyType.ec
    )
    cert = client.begin_create_certificate(
        name, policy, preserve_order=True, _polling_interval=POLL
    ).result()
    assert cert.properties.preserve_order is True
    assert client.get_certificate(name).properties.preserve_order is True


def test_issuers_naming_key_vaults_providers_round_trip(client, name):
    admins = [AdministratorContact(first_name="Ada", last_name="Lovelace", email="ada@example.com", phone="555")]
    for provider in ("Test", "DigiCert", "GlobalSign"):
        issuer_name = f"{name}-{provider}".lower()
        created = client.create_issuer(
            issuer_name,
            provider,
            enabled=True,
            account_id="keyvaultuser",
            password="never-returned",
            organization_id="org-1",
            admin_contacts=admins,
        )
        got = client.get_issuer(issuer_name)
        for issuer in (created, got):
            assert issuer.provider == provider
            assert issuer.account_id == "keyvaultuser"
            assert issuer.password is None
            assert issuer.organization_id == "org-1"
            [admin] = issuer.admin_contacts
            assert (admin.first_name, admin.last_name, admin.email, admin.phone) == (
                "Ada", "Lovelace", "ada@example.com", "555"
            )
            assert issuer.enabled is True


def test_recover_a_deleted_certificate_that_has_no_version_yet(client, name):
    client.begin_create_certificate(name, unknown_policy(f"{name}.example.com")).result()
    client.begin_delete_certificate(name, _polling_interval=POLL).result()
    recovered = client.begin_recover_deleted_certificate(name, _polling_interval=POLL).result()
    assert recovered.name == name
    assert recovered.properties.enabled is False
    assert recovered.cer is None
    assert client.get_certificate(name).policy.subject == f"CN={name}.example.com"
