//! Helpers shared by depin's integration test suites.
//!
//! Real inputs and other projects' vectors live in `../shared` beside the repository (never
//! copied into it). Suites that need them call [`shared_path`]: without `../shared` they are
//! skipped with a message, unless `DEPIN_REQUIRE_SHARED=1` (set by `.ci/run`), in which case
//! they fail loudly.

use std::path::PathBuf;

/// The `shared/` directory: `$DEPIN_SHARED_DIR`, or `../shared` beside the workspace.
pub fn shared_dir() -> PathBuf {
    if let Ok(d) = std::env::var("DEPIN_SHARED_DIR") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Whether missing shared data must fail the suite (`DEPIN_REQUIRE_SHARED=1`).
pub fn shared_required() -> bool {
    std::env::var("DEPIN_REQUIRE_SHARED").is_ok_and(|v| v == "1")
}

/// The path of `rel` under the shared directory, or `None` (after printing why) when it is
/// absent and not required.
///
/// # Panics
/// When the file is absent and `DEPIN_REQUIRE_SHARED=1`.
#[allow(clippy::panic)] // a test helper: failing loudly is its purpose
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    let p = shared_dir().join(rel);
    if p.exists() {
        return Some(p);
    }
    if shared_required() {
        panic!(
            "{} is missing and DEPIN_REQUIRE_SHARED=1: the suite needs ../shared",
            p.display()
        );
    }
    eprintln!(
        "skipping: {} not found (set DEPIN_SHARED_DIR, or DEPIN_REQUIRE_SHARED=1 to fail)",
        p.display()
    );
    None
}
