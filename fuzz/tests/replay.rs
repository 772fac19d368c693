//! Replays every corpus file (`corpus/<target>/`) and every saved crash or regression input
//! (`regressions/<target>/`) through its target function, on the stable toolchain: what the
//! fuzzers found and fixed stays fixed, and the targets keep working on their corpora.
//! CI runs this with the workspace tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for (name, target) in ota_fuzz::TARGETS {
        let corpus = files(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "target {name} has no corpus");
        let regressions = files(&root.join("regressions").join(name));
        let started = Instant::now();
        for path in corpus.iter().chain(&regressions) {
            let data = std::fs::read(path).expect("readable input");
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
        eprintln!(
            "{name}: {} corpus and {} regression inputs in {:.1?}",
            corpus.len(),
            regressions.len(),
            started.elapsed()
        );
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in ota_fuzz::TARGETS {
        let bin = root.join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&bin).unwrap_or_default();
        assert!(
            text.contains(&format!("ota_fuzz::{name}(")),
            "{} must call ota_fuzz::{name}",
            bin.display()
        );
    }
}
