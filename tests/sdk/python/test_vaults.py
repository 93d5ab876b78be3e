"""Several vaults on one server, named by the host the SDK calls, with the SDK's
challenge-resource check left on (its default)."""

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.certificates import CertificateClient
from azure.keyvault.secrets import SecretClient

from conftest import make_client
from test_certificates import create_self


def vault(server, host, cls=CertificateClient):
    port = server.url.rsplit(":", 1)[1]
    url = f"https://{host}:{port}"
    return url, make_client(server, cls, url=url, verify_challenge_resource=True)


def test_host_named_vaults_are_isolated_with_the_challenge_check_on(
    vault_localhost_server, resolve_vault_localhost, name
):
    url_a, team_a = vault(vault_localhost_server, "team-a.vault.localhost")
    _, team_b = vault(vault_localhost_server, "team-b.vault.localhost")
    with team_a, team_b:
        cert = create_self(team_a, name)
        assert cert.id == f"{url_a}/certificates/{name}/{cert.properties.version}"
        assert cert.properties.vault_url == url_a
        with pytest.raises(ResourceNotFoundError):
            team_b.get_certificate(name)
        assert name not in {p.name for p in team_b.list_properties_of_certificates()}
        with make_client(vault_localhost_server) as default_vault:
            with pytest.raises(ResourceNotFoundError):
                default_vault.get_certificate(name)
    _, secrets_a = vault(vault_localhost_server, "team-a.vault.localhost", SecretClient)
    with secrets_a:
        assert secrets_a.get_secret(name).id == cert.secret_id


def test_the_default_resource_fails_the_sdk_check_on_a_local_host(server, resolve_vault_localhost, name):
    _, checked = vault(server, "team-a.vault.localhost")
    with checked:
        with pytest.raises(ValueError, match="does not match the requested domain"):
            checked.get_certificate(name)
