"""azure-identity's own credentials against certbroker, with no hand-written credential class:
DefaultAzureCredential through the managed-identity endpoint (IDENTITY_ENDPOINT and
IDENTITY_HEADER only), EnvironmentCredential with a client secret (AZURE_TENANT_ID=adfs), and
workload identity (AZURE_FEDERATED_TOKEN_FILE)."""

import base64
import json
import pathlib
import subprocess
import tempfile
import time

import pytest
from azure.identity import DefaultAzureCredential, EnvironmentCredential, WorkloadIdentityCredential
from azure.keyvault.certificates import CertificateClient, CertificatePolicy, WellKnownIssuerNames
from azure.keyvault.secrets import SecretClient
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import TOKEN, _serve, free_port

# Every variable a credential reads: each test sets only its own.
AZURE_VARS = [
    "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
    "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT",
    "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS",
]
FEDERATED_CLIENT = "5f2d7c1e-8a4b-4c3d-9e6f-0a1b2c3d4e5f"
ISSUER = "https://oidc.example"
SUBJECT = "system:serviceaccount:apps:web"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def issuer_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def identity_server(issuer_key):
    """A server with the plain-HTTP managed-identity listener and one federated issuer."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="certbroker-sdk-py-id-"))
    key_file = tmp / "issuer.pem"
    key_file.write_bytes(
        issuer_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    mi_port = free_port()
    config = tmp / "certbroker.toml"
    config.write_text(
        f"""[identity]
http_listen = "127.0.0.1:{mi_port}"

[[identity.federated]]
name = "web"
role = "operator"
client_id = "{FEDERATED_CLIENT}"
issuer = "{ISSUER}"
subject = "{SUBJECT}"
key_file = "{key_file}"
"""
    )
    for srv in _serve(extra_args=["--config", str(config)], tmp=tmp):
        srv.mi_endpoint = f"http://127.0.0.1:{mi_port}/msi/token"
        srv.tenant_id = (srv.data_dir / "identity" / "tenant-id").read_text().strip()
        yield srv


@pytest.fixture
def clean_env(monkeypatch):
    for v in AZURE_VARS:
        monkeypatch.delenv(v, raising=False)
    return monkeypatch


def certificate_flow(server, credential, name):
    """Create (Self, polled to the end), read it back, read its secret."""
    kv = CertificateClient(
        server.url, credential, verify_challenge_resource=False, connection_verify=server.ca_pem
    )
    policy = CertificatePolicy(
        issuer_name=WellKnownIssuerNames.self, subject=f"CN={name}", validity_in_months=12
    )
    cert = kv.begin_create_certificate(name, policy, _polling_interval=0.2).result()
    assert cert.name == name and cert.cer
    assert kv.get_certificate(name).properties.version == cert.properties.version
    secrets = SecretClient(
        server.url, credential, verify_challenge_resource=False, connection_verify=server.ca_pem
    )
    assert secrets.get_secret(name).properties.content_type == "application/x-pkcs12"


def jwt_claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_default_azure_credential_with_two_variables_runs_the_certificate_flows(
    identity_server, clean_env, name
):
    clean_env.setenv("IDENTITY_ENDPOINT", identity_server.mi_endpoint)
    clean_env.setenv("IDENTITY_HEADER", TOKEN)
    credential = DefaultAzureCredential()
    certificate_flow(identity_server, credential, name)
    token = credential.get_token("https://vault.azure.net/.default").token
    claims = jwt_claims(token)
    assert claims["aud"] == "https://vault.azure.net"
    assert claims["tid"] == identity_server.tenant_id


def test_a_wrong_identity_header_is_refused_and_the_chain_moves_on(identity_server, clean_env):
    from azure.identity import CredentialUnavailableError, ManagedIdentityCredential
    from azure.core.exceptions import ClientAuthenticationError

    clean_env.setenv("IDENTITY_ENDPOINT", identity_server.mi_endpoint)
    clean_env.setenv("IDENTITY_HEADER", "not-a-token")
    with pytest.raises((ClientAuthenticationError, CredentialUnavailableError)):
        ManagedIdentityCredential().get_token("https://vault.azure.net/.default")


def make_client(server, name, role):
    out = subprocess.run(
        server.tool("client", "create", "--name", name, "--role", role),
        check=True, capture_output=True, text=True, env={"CERTBROKER__LOG__LEVEL": "error"},
    ).stdout
    fields = dict(line.split(" ", 1) for line in out.strip().splitlines())
    return fields["client_id"], fields["client_secret"]


def test_environment_credential_with_a_client_secret_and_the_adfs_tenant(
    identity_server, clean_env, name
):
    client_id, secret = make_client(identity_server, f"env-{name}", "operator")
    clean_env.setenv("AZURE_TENANT_ID", "adfs")
    clean_env.setenv("AZURE_CLIENT_ID", client_id)
    clean_env.setenv("AZURE_CLIENT_SECRET", secret)
    clean_env.setenv("AZURE_AUTHORITY_HOST", identity_server.url)
    credential = EnvironmentCredential(connection_verify=identity_server.ca_pem)
    certificate_flow(identity_server, credential, name)
    claims = jwt_claims(credential.get_token("https://vault.azure.net/.default").token)
    assert claims["appid"] == client_id


def assertion(key, subject=SUBJECT):
    now = int(time.time())
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    claims = b64url(json.dumps({
        "iss": ISSUER, "sub": subject, "aud": ["api://AzureADTokenExchange"],
        "iat": now, "nbf": now, "exp": now + 600,
    }).encode())
    signature = key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{claims}.{b64url(signature)}"


@pytest.mark.parametrize("tenant", ["adfs", "guid"])
def test_workload_identity_with_a_federated_token_file(
    identity_server, issuer_key, clean_env, name, tenant, tmp_path
):
    token_file = tmp_path / "token"
    token_file.write_text(assertion(issuer_key))
    tenant_id = identity_server.tenant_id if tenant == "guid" else "adfs"
    clean_env.setenv("AZURE_TENANT_ID", tenant_id)
    clean_env.setenv("AZURE_CLIENT_ID", FEDERATED_CLIENT)
    clean_env.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    clean_env.setenv("AZURE_AUTHORITY_HOST", identity_server.url)
    credential = WorkloadIdentityCredential(connection_verify=identity_server.ca_pem)
    certificate_flow(identity_server, credential, name)
