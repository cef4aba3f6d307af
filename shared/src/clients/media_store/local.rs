//! The local-folder store: `MEDIA_DIR/sha256/ab/abcdef…`, downloads staged in `MEDIA_DIR/tmp`.
//!
//! Publishing is atomic: the staged file is hard-linked to its final name (one system call
//! that fails if the name exists, so concurrent identical uploads are harmless and a reader
//! never sees a partial file). Where hard links are not supported, the bytes are copied to a
//! temporary file in the destination folder and renamed over the final name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::{BlobStore, ObjectReader, StoreError};
use crate::media::links::LinkSigner;

const NAME: &str = "local";

pub struct LocalStore {
    root: PathBuf,
    public_base_url: String,
    signer: LinkSigner,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>, public_base_url: &str, signer: LinkSigner) -> Self {
        LocalStore {
            root: root.into(),
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
            signer,
        }
    }

    /// The file of a key; keys are made by us (`sha256/ab/<hex>`), anything else is refused.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        let mut parts = key.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("sha256"), Some(prefix), Some(hash), None)
                if crate::media::is_sha256_hex(hash)
                    && hash.starts_with(prefix)
                    && prefix.len() == 2 =>
            {
                Ok(self.root.join("sha256").join(prefix).join(hash))
            }
            _ => Err(StoreError::new(NAME, format!("not a media key: {key:?}"))),
        }
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::new(NAME, e)
}

#[async_trait]
impl BlobStore for LocalStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn staging_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    async fn put(&self, key: &str, path: &Path, _content_type: &str) -> Result<(), StoreError> {
        let dest = self.path_of(key)?;
        let src = path.to_path_buf();
        tokio::task::spawn_blocking(move || publish(&src, &dest))
            .await
            .map_err(|e| StoreError::new(NAME, e))?
            .map_err(io)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        tokio::fs::try_exists(self.path_of(key)?).await.map_err(io)
    }

    async fn get(&self, key: &str) -> Result<Option<ObjectReader>, StoreError> {
        match tokio::fs::File::open(self.path_of(key)?).await {
            Ok(f) => {
                let size = f.metadata().await.map_err(io)?.len();
                Ok(Some(ObjectReader { size, body: Box::pin(f) }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path_of(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    async fn signed_url(
        &self,
        sha256: &str,
        _content_type: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let exp = chrono::Utc::now().timestamp() + ttl.as_secs() as i64;
        Ok(self.signer.url(&self.public_base_url, sha256, exp))
    }
}

/// Makes `dest` hold the bytes of `src`, atomically, unless it already exists.
fn publish(src: &Path, dest: &Path) -> std::io::Result<()> {
    let dir = dest.parent().expect("keys have a folder");
    std::fs::create_dir_all(dir)?;
    if dest.exists() {
        return Ok(());
    }
    match std::fs::hard_link(src, dest) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => {
            // No hard links here (another file system, FAT, some network mounts): copy next to
            // the destination, then rename over it (same content, so a race is harmless).
            let tmp = tempfile::Builder::new().prefix(".put-").tempfile_in(dir)?;
            std::fs::copy(src, tmp.path())?;
            tmp.as_file().sync_all()?;
            tmp.persist(dest).map_err(|e| e.error)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn store(dir: &Path) -> LocalStore {
        LocalStore::new(dir.join("media"), "http://h", LinkSigner::new(b"k".to_vec()))
    }

    #[tokio::test]
    async fn put_is_idempotent_and_concurrency_safe() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(store(dir.path()));
        let hash = "ab".repeat(32);
        let key = crate::media::storage_key(&hash);
        assert!(!s.exists(&key).await.unwrap());
        assert!(s.get(&key).await.unwrap().is_none());
        let src = dir.path().join("src");
        std::fs::write(&src, b"hello").unwrap();
        let puts = (0..8).map(|_| {
            let s = s.clone();
            let key = key.clone();
            let src = src.clone();
            tokio::spawn(async move { s.put(&key, &src, "text/plain").await })
        });
        for p in puts {
            p.await.unwrap().unwrap();
        }
        assert!(s.exists(&key).await.unwrap());
        let mut obj = s.get(&key).await.unwrap().unwrap();
        let mut out = Vec::new();
        obj.body.read_to_end(&mut out).await.unwrap();
        assert_eq!((obj.size, out.as_slice()), (5, b"hello".as_slice()));
        // The staged file may be removed afterwards; the stored one stays.
        std::fs::remove_file(&src).unwrap();
        assert!(s.exists(&key).await.unwrap());
    }

    #[test]
    fn keys_cannot_escape_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        for bad in ["../etc/passwd", "sha256/ab/../../x", "sha256/zz/abc", ""] {
            assert!(s.path_of(bad).is_err(), "{bad}");
        }
    }
}
