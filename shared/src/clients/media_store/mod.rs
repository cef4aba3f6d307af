//! Where media bytes live: one trait, two implementations — a local folder (`MEDIA_DIR`, the
//! default) and S3 or any S3-compatible server (`S3_BUCKET`, e.g. MinIO).
//!
//! Keys are content-addressed ([`crate::media::storage_key`]), so `put` of the same key twice —
//! sequentially or concurrently — stores the bytes once and is harmless.

pub mod local;
pub mod s3;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::config::Settings;
use crate::media::links::{LinkError, LinkSigner};

/// A failed store operation; always worth a retry (disk full, S3 unavailable, …).
#[derive(Debug, thiserror::Error)]
#[error("media store ({backend}): {message}")]
pub struct StoreError {
    pub backend: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(backend: &'static str, message: impl std::fmt::Display) -> Self {
        StoreError { backend, message: message.to_string() }
    }
}

impl From<StoreError> for crate::error::PipelineError {
    fn from(e: StoreError) -> Self {
        crate::error::PipelineError::transient(e.to_string())
    }
}

/// A stored object being read.
pub struct ObjectReader {
    pub size: u64,
    pub body: Pin<Box<dyn AsyncRead + Send>>,
}

/// One way of keeping blobs.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// `local` or `s3`.
    fn name(&self) -> &'static str;

    /// A folder for downloads in progress; for the local store it is on the same file system
    /// as the objects, so publishing one is a rename.
    fn staging_dir(&self) -> PathBuf;

    /// Stores the file at `path` under `key` unless that key already exists. The file is left
    /// in place (the caller still reads it and deletes it).
    async fn put(&self, key: &str, path: &Path, content_type: &str) -> Result<(), StoreError>;

    /// Whether `key` is stored.
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;

    /// Reads an object; `None` when it is not stored.
    async fn get(&self, key: &str) -> Result<Option<ObjectReader>, StoreError>;

    /// Removes an object (no error when it is not stored).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// A link anyone can GET until it expires in `ttl`.
    async fn signed_url(
        &self,
        sha256: &str,
        content_type: &str,
        ttl: std::time::Duration,
    ) -> Result<String, StoreError>;
}

/// The configured store; cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<dyn BlobStore>,
    ttl: std::time::Duration,
    /// Checks `/media/{sha256}` links; only the local store issues them.
    links: Option<LinkSigner>,
}

impl MediaStore {
    /// S3 when `S3_BUCKET` is set, else the local folder `MEDIA_DIR`. Never fails: the S3
    /// client is built on first use, the local folder is created on first write.
    pub fn from_settings(settings: &Settings) -> Self {
        match &settings.s3 {
            Some(s3) => MediaStore {
                inner: Arc::new(s3::S3Store::new(s3.clone())),
                ttl: settings.media_url_ttl,
                links: None,
            },
            None => {
                let signer = LinkSigner::from_settings(settings);
                MediaStore {
                    inner: Arc::new(local::LocalStore::new(
                        &settings.media_dir,
                        &settings.public_base_url,
                        signer.clone(),
                    )),
                    ttl: settings.media_url_ttl,
                    links: Some(signer),
                }
            }
        }
    }

    /// Any store; `links` checks the `/media/{sha256}` links it issues, if it issues any.
    pub fn new(
        inner: Arc<dyn BlobStore>,
        ttl: std::time::Duration,
        links: Option<LinkSigner>,
    ) -> Self {
        MediaStore { inner, ttl, links }
    }

    /// Checks a `/media/{sha256}?exp=…&sig=…` link at time `now` (unix seconds). Stores that
    /// issue other links (S3 presigned URLs) refuse every such link.
    pub fn verify_link(
        &self,
        sha256: &str,
        exp: i64,
        sig: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        match &self.links {
            Some(l) => l.verify(sha256, exp, sig, now),
            None => Err(LinkError::BadSignature),
        }
    }

    pub fn name(&self) -> &'static str {
        self.inner.name()
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.inner.staging_dir()
    }

    pub async fn put(&self, key: &str, path: &Path, content_type: &str) -> Result<(), StoreError> {
        self.inner.put(key, path, content_type).await
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.exists(key).await
    }

    pub async fn get(&self, key: &str) -> Result<Option<ObjectReader>, StoreError> {
        self.inner.get(key).await
    }

    /// Removes an object whose last reference is gone.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }

    /// A signed, expiring link to the object with this hash (valid `MEDIA_URL_TTL_SECS`): an
    /// S3 presigned URL, or `{PUBLIC_BASE_URL}/media/{sha256}?exp=…&sig=…` for the local store.
    /// Used by REST responses and by replies that send a photo back. Building a presigned URL
    /// is local computation; should it fail anyway, the error is logged and an empty string
    /// returned (callers then omit the link).
    pub async fn signed_url(&self, sha256: &str, content_type: &str) -> String {
        match self.inner.signed_url(sha256, content_type, self.ttl).await {
            Ok(url) => url,
            Err(e) => {
                tracing::error!(error = %e, sha256, "cannot sign a media link");
                String::new()
            }
        }
    }

    /// Copies a stored object into a new temporary file under the staging folder.
    pub async fn fetch_to_staging(
        &self,
        key: &str,
    ) -> Result<Option<tempfile::NamedTempFile>, StoreError> {
        let Some(mut obj) = self.get(key).await? else {
            return Ok(None);
        };
        let backend = self.name();
        let dir = self.staging_dir();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::new(backend, e))?;
        let file = tempfile::Builder::new()
            .prefix("read-")
            .tempfile_in(&dir)
            .map_err(|e| StoreError::new(backend, e))?;
        let std_file = file.as_file().try_clone().map_err(|e| StoreError::new(backend, e))?;
        let mut out = tokio::fs::File::from_std(std_file);
        tokio::io::copy(&mut obj.body, &mut out).await.map_err(|e| StoreError::new(backend, e))?;
        Ok(Some(file))
    }
}
