//! The S3 store (AWS S3, MinIO or any S3-compatible server) via aws-sdk-s3.
//!
//! `S3_ENDPOINT` points the client at MinIO and friends; `S3_FORCE_PATH_STYLE=true` is needed
//! there. Credentials are `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` when both are set,
//! else the default AWS chain (environment, web identity, ECS/IMDS). The client is built on
//! first use (loading the default chain is asynchronous), so constructing the store never
//! fails or blocks.
//!
//! `put` is HEAD-then-PUT: the key is the content hash, so an existing object already holds
//! these bytes, and two concurrent PUTs of one key write identical bytes. Request checksums
//! are computed only when an operation requires them, which every S3-compatible server accepts;
//! the content hash is checked by us while downloading.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::OnceCell;

use super::{BlobStore, ObjectReader, StoreError};
use crate::config::{ExposeSecret, S3Settings};

const NAME: &str = "s3";

pub struct S3Store {
    settings: S3Settings,
    client: OnceCell<Client>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(NAME, e)
}

/// The full error chain: the SDK's top-level Display is only "service error".
fn sdk_err<E: std::error::Error>(e: E) -> StoreError {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    err(msg)
}

impl S3Store {
    pub fn new(settings: S3Settings) -> Self {
        S3Store { settings, client: OnceCell::new() }
    }

    /// The client, built once from the settings.
    pub async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let s = &self.settings;
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(s.region.clone()));
                if let (Some(id), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
                    loader = loader.credentials_provider(Credentials::new(
                        id.clone(),
                        secret.expose_secret().to_string(),
                        None,
                        None,
                        "mnemo-settings",
                    ));
                }
                if let Some(endpoint) = &s.endpoint {
                    loader = loader.endpoint_url(endpoint.clone());
                }
                let shared = loader.load().await;
                let config = aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(s.force_path_style)
                    .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                    .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
                    .build();
                Client::from_conf(config)
            })
            .await
    }

    pub fn bucket(&self) -> &str {
        &self.settings.bucket
    }
}

#[async_trait]
impl BlobStore for S3Store {
    fn name(&self) -> &'static str {
        NAME
    }

    fn staging_dir(&self) -> PathBuf {
        std::env::temp_dir().join("mnemo-media")
    }

    async fn put(&self, key: &str, path: &Path, content_type: &str) -> Result<(), StoreError> {
        if self.exists(key).await? {
            return Ok(());
        }
        let body = ByteStream::from_path(path).await.map_err(sdk_err)?;
        self.client()
            .await
            .put_object()
            .bucket(self.bucket())
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.client().await.head_object().bucket(self.bucket()).key(key).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let not_found = e.as_service_error().is_some_and(|se| se.is_not_found())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if not_found { Ok(false) } else { Err(sdk_err(e)) }
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<ObjectReader>, StoreError> {
        match self.client().await.get_object().bucket(self.bucket()).key(key).send().await {
            Ok(out) => Ok(Some(ObjectReader {
                size: out.content_length().unwrap_or_default().max(0) as u64,
                body: Box::pin(out.body.into_async_read()),
            })),
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|se| se.is_no_such_key())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if missing { Ok(None) } else { Err(sdk_err(e)) }
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        // S3 answers 204 whether or not the key exists.
        self.client()
            .await
            .delete_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn signed_url(
        &self,
        sha256: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let presign = PresigningConfig::expires_in(ttl).map_err(err)?;
        // What the link's response says, whatever the object was stored with: no type a
        // browser would run, documents as downloads (see `media::types`).
        let (content_type, disposition) = crate::media::types::serving_headers(content_type);
        let req = self
            .client()
            .await
            .get_object()
            .bucket(self.bucket())
            .key(crate::media::storage_key(sha256))
            .response_content_type(content_type)
            .response_content_disposition(disposition)
            .presigned(presign)
            .await
            .map_err(sdk_err)?;
        Ok(req.uri().to_string())
    }
}
