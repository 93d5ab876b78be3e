"""Runs last (file order): the views the whole SDK session left behind rebuild identically
from the events."""

import subprocess


def test_views_rebuild_identical_after_the_sdk_session(server):
    out = subprocess.run(
        server.tool("rebuild", "--check"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "views match the events" in out.stdout
