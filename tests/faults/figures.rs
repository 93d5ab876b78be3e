//! Figures of a run, one file per scenario under `<target>/faults/`, as `key=value` lines.

use std::path::PathBuf;

/// `<target>/faults`, next to the test binary's target directory.
pub fn dir() -> PathBuf {
    // CARGO_BIN_EXE_certbroker is <target>/<profile>/certbroker.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_certbroker"));
    let target = bin
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    target.join("faults")
}

/// Writes `figures` for `scenario` (replacing what an earlier run of it wrote) and prints them.
pub fn record(scenario: &str, figures: &[(&str, u64)]) {
    let dir = dir();
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = figures.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(dir.join(format!("figures-{scenario}.txt")), &text).unwrap();
    println!("figures of {scenario}:\n{text}");
}

/// A number from the environment, else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small seeded generator (SplitMix64): the same seed gives the same kill moments and mix.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}
