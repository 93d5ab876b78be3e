//! A data directory that fills up or turns read-only, on a small tmpfs mounted by the test
//! (root only; skipped with a printed reason otherwise) and unmounted by a guard whatever
//! happens: writes are refused with 503 in the envelope and a message saying why, the server
//! stays up and keeps serving reads, nothing acknowledged is lost, writes work again once
//! space returns, and `rebuild --check` and `verify` stay clean.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::figures;
use crate::server::{assert_rebuild_and_verify_clean, Server};

/// A tmpfs mounted for one test; unmounted (lazily if still busy) on drop.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "8m"); `Err` with the reason when it cannot.
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("not root: mounting a tmpfs needs root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0700"))
            .arg("tmpfs")
            .arg(&path)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { path, _dir: dir })
    }

    fn remount(&self, mode: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "remount {mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// Writes zeros into `path` until the file system refuses; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    // Whatever is left below one chunk, byte by byte in small pieces.
    while let Ok(n) = f.write(&chunk[..512]) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    let _ = f.sync_all();
    written
}

fn self_signed(name: &str) -> Value {
    json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"}, "x509_props": {"subject": format!("CN={name}.example.com")}, "issuer": {"name": "Self"}}})
}

async fn create(server: &Server, name: &str) -> (u16, Value) {
    server
        .call(
            Method::POST,
            &format!("/certificates/{name}/create"),
            Some(self_signed(name)),
        )
        .await
}

fn assert_unavailable(status: u16, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "ServiceUnavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("disk"), "{message}");
}

async fn assert_present(server: &Server, names: &[String]) {
    for name in names {
        let (status, body) = server
            .call(Method::GET, &format!("/certificates/{name}/"), None)
            .await;
        assert_eq!(status, 200, "{name}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_then_read_only_data_dir_refuses_writes_with_503_and_loses_nothing() {
    let mnt = match Tmpfs::mount("8m") {
        Ok(m) => m,
        Err(reason) => {
            println!("skipped: disk-full and read-only data directory: {reason}");
            figures::record("disk", &[("disk_scenarios_skipped", 1)]);
            return;
        }
    };
    let data = mnt.path.join("data");
    let mut server = Server::start(&data);
    let mut acked: Vec<String> = Vec::new();
    for i in 0..5 {
        let name = format!("before{i}");
        let (status, body) = create(&server, &name).await;
        assert_eq!(status, 202, "{body}");
        acked.push(name);
    }

    // Disk full: every write from some point on is refused with 503; reads go on.
    let filled = fill(&mnt.path.join("filler"));
    println!("filled the 8 MB tmpfs with {filled} more bytes");
    let mut refused = 0;
    for i in 0..400 {
        let name = format!("full{i}");
        let (status, body) = create(&server, &name).await;
        if status == 202 {
            acked.push(name);
            continue;
        }
        assert_unavailable(status, &body);
        refused += 1;
        if refused == 5 {
            break;
        }
    }
    assert_eq!(refused, 5, "writes never failed on a full disk");
    assert!(server.is_running(), "the server died on a full disk");
    let (status, _) = server.call(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200);
    assert_present(&server, &acked).await;

    // Space returns: writes work again, on the same process.
    std::fs::remove_file(mnt.path.join("filler")).unwrap();
    let mut recovered = false;
    for i in 0..10 {
        let name = format!("after{i}");
        let (status, body) = create(&server, &name).await;
        if status == 202 {
            acked.push(name);
            recovered = true;
            break;
        }
        assert_unavailable(status, &body);
    }
    assert!(recovered, "writes did not work again after space returned");
    assert_present(&server, &acked).await;
    server.kill9();
    assert_rebuild_and_verify_clean(&data);

    // Read-only: Linux refuses to remount read-only while a process holds files open for
    // writing, so the server is started on a data directory that is already read-only.
    mnt.remount("ro");
    let read_only = match Server::try_start(&data) {
        Ok(ro) => {
            assert_present(&ro, &acked).await;
            let (status, body) = create(&ro, "readonly").await;
            assert_unavailable(status, &body);
            assert!(ro.stderr_lines().iter().all(|l| !l.contains("panicked")));
            "served reads, refused writes with 503"
        }
        Err(e) => {
            assert!(e.contains("read-only"), "{e}");
            "refused to start, saying the data directory is read-only"
        }
    };
    println!("read-only data directory: {read_only}");
    mnt.remount("rw");
    let server = Server::start(&data);
    let (status, body) = create(&server, "writable").await;
    assert_eq!(status, 202, "{body}");
    acked.push("writable".into());
    assert_present(&server, &acked).await;
    drop(server);
    assert_rebuild_and_verify_clean(&data);
    figures::record(
        "disk",
        &[
            ("disk_full_writes_refused", refused),
            ("disk_acknowledged_writes_checked", acked.len() as u64),
        ],
    );
}
