"""Acceptance by the official Python SDKs: the real `certbroker serve` binary on a loopback
port with a temporary data directory, a static bearer token and its own TLS CA.

The binary is $CERTBROKER_BIN, else target/debug/certbroker (built by `cargo build`). With
$CERTBROKER_SDK_STORAGE_URL (a PostgreSQL server's URL) each server runs on a fresh database
made on it (`scripts/pg.sh newdb`) instead of the SQLite file in its data directory."""

import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
from azure.core.credentials import AccessToken
from azure.keyvault.certificates import CertificateClient
from azure.keyvault.secrets import SecretClient

ROOT = pathlib.Path(__file__).resolve().parents[3]
TOKEN = "sdk-python-token"
STARTUP_SECONDS = 60


def missing(endpoint):
    """A test of an operation the server does not answer yet: strict, so it fails once the
    endpoint lands, and the mark must then go."""
    return pytest.mark.xfail(strict=True, reason=f"server lacks {endpoint}")


class StaticTokenCredential:
    """The smallest TokenCredential: one fixed token; records what the SDK asked for."""

    def __init__(self, token):
        self.token = token
        self.requests = []

    def get_token(self, *scopes, **kwargs):
        self.requests.append((scopes, kwargs))
        return AccessToken(self.token, int(time.time()) + 3600)


def fresh_storage_url():
    """A fresh database on the PostgreSQL server of $CERTBROKER_SDK_STORAGE_URL, or "" (SQLite)."""
    admin = os.environ.get("CERTBROKER_SDK_STORAGE_URL", "")
    if not admin:
        return ""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg.sh"), "newdb", admin],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


class Server:
    def __init__(
        self, binary, data_dir, log_path, extra_env=None, listen="127.0.0.1:0", extra_args=()
    ):
        self.storage_url = fresh_storage_url()
        self.extra_env = extra_env or {}
        self.extra_args = list(extra_args)
        self.listen = listen
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc = None
        self.url = None

    def tool(self, *args):
        """The command line of a certbroker tool on this server's database."""
        return [self.binary, "--data-dir", str(self.data_dir), "--storage-url", self.storage_url, *args]

    @property
    def ca_pem(self):
        return str(self.data_dir / "tls" / "ca.pem")

    def start(self):
        env = dict(os.environ)
        env["CERTBROKER__AUTH__TOKEN"] = TOKEN
        env["CERTBROKER__STORAGE__URL"] = self.storage_url
        # A provider whose CA refuses names outside example.com (a failed issuance).
        env["CERTBROKER__PROVIDERS__RESTRICTED__KIND"] = "local-ca"
        env["CERTBROKER__PROVIDERS__RESTRICTED__ALLOWED_DOMAINS"] = '["example.com"]'
        env.update(self.extra_env)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--data-dir", str(self.data_dir), *self.extra_args, "serve", "--listen", self.listen],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        pattern = re.compile(rb"listening on (https://127\.0\.0\.1:\d+)")
        while time.monotonic() < deadline:
            m = pattern.search(self.log_path.read_bytes())
            if m:
                self.url = m.group(1).decode()
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("certbroker did not start:\n" + self.log_path.read_text(errors="replace"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def _binary():
    b = os.environ.get("CERTBROKER_BIN") or str(ROOT / "target" / "debug" / "certbroker")
    if not os.access(b, os.X_OK):
        pytest.exit(f"no certbroker binary at {b}: run `cargo build` first", returncode=2)
    return b


def _serve(extra_env=None, listen="127.0.0.1:0", extra_args=(), tmp=None):
    tmp = tmp or pathlib.Path(tempfile.mkdtemp(prefix="certbroker-sdk-py-"))
    srv = Server(_binary(), tmp / "data", tmp / "server.log", extra_env, listen, extra_args)
    srv.start()
    yield srv
    srv.stop()
    if os.environ.get("KEEP_SDK_DATA"):
        print(f"data kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    yield from _serve()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vault_localhost_server():
    """A second server whose challenge names resource https://vault.localhost:<port>, so that
    <name>.vault.localhost:<port> passes the SDK's challenge-resource check. The Python SDK
    compares host *and port* (netloc), so the resource must carry the port, which must then be
    chosen before the server starts."""
    port = free_port()
    yield from _serve(
        {"CERTBROKER__AUTH__RESOURCE": f"https://vault.localhost:{port}"}, f"127.0.0.1:{port}"
    )


@pytest.fixture
def resolve_vault_localhost(monkeypatch):
    """<name>.vault.localhost resolves to 127.0.0.1 in this process (as systemd-resolved would
    do; glibc alone does not). Only name resolution changes: TLS still checks the host name."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".vault.localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def make_client(server, cls=CertificateClient, token=TOKEN, credential=None, url=None, **kwargs):
    kwargs.setdefault("verify_challenge_resource", False)
    return cls(
        url or server.url,
        credential or StaticTokenCredential(token),
        connection_verify=server.ca_pem,
        **kwargs,
    )


@pytest.fixture(scope="session")
def client(server):
    with make_client(server) as c:
        yield c


@pytest.fixture(scope="session")
def secret_client(server):
    with make_client(server, SecretClient) as c:
        yield c


@pytest.fixture
def name(request):
    """A certificate name unique to the test (Key Vault names: letters, digits, '-')."""
    base = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.removeprefix("test_"))[:30].strip("-")
    return f"{base}-{uuid.uuid4().hex[:8]}"
