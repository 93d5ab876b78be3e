"""Acceptance by the official Python SDKs: the real `certbroker serve` binary on a loopback
port with a temporary data directory, a static bearer token and its own TLS CA.

The binary is $CERTBROKER_BIN, else target/debug/certbroker (built by `cargo build`)."""

import os
import pathlib
import re
import shutil
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


class Server:
    def __init__(self, binary, data_dir, log_path):
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc = None
        self.url = None

    @property
    def ca_pem(self):
        return str(self.data_dir / "tls" / "ca.pem")

    def start(self):
        env = dict(os.environ)
        env["CERTBROKER__AUTH__TOKEN"] = TOKEN
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--data-dir", str(self.data_dir), "serve", "--listen", "127.0.0.1:0"],
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


@pytest.fixture(scope="session")
def server():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="certbroker-sdk-py-"))
    srv = Server(_binary(), tmp / "data", tmp / "server.log")
    srv.start()
    yield srv
    srv.stop()
    if os.environ.get("KEEP_SDK_DATA"):
        print(f"data kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def make_client(server, cls=CertificateClient, token=TOKEN, credential=None, **kwargs):
    return cls(
        server.url,
        credential or StaticTokenCredential(token),
        verify_challenge_resource=False,
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
