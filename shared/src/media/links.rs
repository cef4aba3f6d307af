//! Signed, expiring links to stored media for the local store:
//! `{PUBLIC_BASE_URL}/media/{sha256}?exp={unix seconds}&sig={hex HMAC-SHA256}`.
//!
//! The signature covers the hash and the expiry, so a link cannot be widened to another object
//! or a later time. (The S3 store hands out S3 presigned URLs instead.)

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tracing::warn;

use crate::config::{ExposeSecret, Settings};

type HmacSha256 = Hmac<Sha256>;

/// Why a link was refused (both map to 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("link expired")]
    Expired,
    #[error("invalid link signature")]
    BadSignature,
}

/// Signs and checks media links.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(<key>)")
    }
}

/// Where the generated key is kept when no secret is configured.
pub const KEY_FILE: &str = ".link-key";

impl LinkSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        LinkSigner { key: key.into() }
    }

    /// The signing key, in this order:
    ///
    /// 1. `MEDIA_SIGNING_KEY` when set (recommended in production; every replica uses it).
    /// 2. Derived from `TWILIO_AUTH_TOKEN`, else `API_TOKEN`: HMAC-SHA256(token, a fixed
    ///    label), so the token itself never signs anything public and cannot be recovered from
    ///    a link. Every ingress replica and worker is configured with the same token, so they
    ///    all agree with nothing to distribute. Rotating that token invalidates the
    ///    outstanding links, which expire within `MEDIA_URL_TTL_SECS` anyway.
    /// 3. Neither set (the zero-configuration embedded mode): a random 32-byte key created
    ///    once in `MEDIA_DIR/.link-key` (mode 0600) and read by every later start. Processes
    ///    sharing the media folder share the key; a local store is only reachable by processes
    ///    sharing that folder anyway. If the folder is not writable, a per-process random key
    ///    is used and a warning logged (links then verify only in this process).
    pub fn from_settings(settings: &Settings) -> Self {
        if let Some(k) = &settings.media_signing_key {
            return Self::new(k.expose_secret().as_bytes().to_vec());
        }
        let token = settings
            .twilio
            .as_ref()
            .map(|t| &t.auth_token)
            .or(settings.api_token.as_ref())
            .map(ExposeSecret::expose_secret);
        if let Some(token) = token {
            let mut mac = HmacSha256::new_from_slice(token.as_bytes()).expect("any key length");
            mac.update(b"mnemo media link key v1");
            return Self::new(mac.finalize().into_bytes().to_vec());
        }
        match persisted_key(Path::new(&settings.media_dir)) {
            Ok(key) => Self::new(key),
            Err(e) => {
                warn!(error = %e, dir = %settings.media_dir, "cannot keep a media link key; using a per-process key");
                Self::new(rand::random::<[u8; 32]>().to_vec())
            }
        }
    }

    fn mac(&self, sha256: &str, exp: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length");
        mac.update(sha256.as_bytes());
        mac.update(b"\n");
        mac.update(exp.to_string().as_bytes());
        mac
    }

    pub fn sign(&self, sha256: &str, exp: i64) -> String {
        hex::encode(self.mac(sha256, exp).finalize().into_bytes())
    }

    /// The full link, valid until `exp` (unix seconds).
    pub fn url(&self, public_base_url: &str, sha256: &str, exp: i64) -> String {
        format!(
            "{}/media/{sha256}?exp={exp}&sig={}",
            public_base_url.trim_end_matches('/'),
            self.sign(sha256, exp)
        )
    }

    /// Checks a link's signature (constant time) and expiry against `now` (unix seconds).
    pub fn verify(&self, sha256: &str, exp: i64, sig: &str, now: i64) -> Result<(), LinkError> {
        let given = decode_hex(sig).ok_or(LinkError::BadSignature)?;
        self.mac(sha256, exp).verify_slice(&given).map_err(|_| LinkError::BadSignature)?;
        if exp < now {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Reads `dir/.link-key`, creating it first (exclusively, so concurrent starts agree).
fn persisted_key(dir: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    std::fs::create_dir_all(dir)?;
    let path = dir.join(KEY_FILE);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            let key = hex::encode(rand::random::<[u8; 32]>());
            f.write_all(key.as_bytes())?;
            f.sync_all()?;
            Ok(key.into_bytes())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another process may be writing it right now: wait for the whole key.
            for _ in 0..50 {
                let mut key = String::new();
                std::fs::File::open(&path)?.read_to_string(&mut key)?;
                if key.trim().len() >= 64 {
                    return Ok(key.trim().as_bytes().to_vec());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::io::Error::other(format!("{} is incomplete", path.display())))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_map(&map).unwrap()
    }

    #[test]
    fn links_verify_until_they_expire() {
        let s = LinkSigner::new(b"k".repeat(32));
        let h = "a".repeat(64);
        let sig = s.sign(&h, 1_000);
        assert_eq!(s.verify(&h, 1_000, &sig, 999), Ok(()));
        assert_eq!(s.verify(&h, 1_000, &sig, 1_001), Err(LinkError::Expired));
        assert_eq!(s.verify(&h, 2_000, &sig, 999), Err(LinkError::BadSignature));
        assert_eq!(s.verify(&"b".repeat(64), 1_000, &sig, 999), Err(LinkError::BadSignature));
        assert_eq!(s.verify(&h, 1_000, "zz", 999), Err(LinkError::BadSignature));
        let url = s.url("http://x/", &h, 1_000);
        assert_eq!(url, format!("http://x/media/{h}?exp=1000&sig={sig}"));
    }

    #[test]
    fn replicas_agree_on_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media").display().to_string();
        let h = "c".repeat(64);
        // Derived from the Twilio token: identical in every process with the same settings.
        let twilio = [
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_AUTH_TOKEN", "tok"),
            ("TWILIO_WHATSAPP_NUMBER", "+14155238886"),
        ];
        let a = LinkSigner::from_settings(&settings(&twilio));
        let b = LinkSigner::from_settings(&settings(&twilio));
        assert_eq!(a.sign(&h, 5), b.sign(&h, 5));
        assert_ne!(a.sign(&h, 5), LinkSigner::new(b"tok".to_vec()).sign(&h, 5));
        // Explicit key wins.
        let k = LinkSigner::from_settings(&settings(&[("MEDIA_SIGNING_KEY", "0123456789abcdef")]));
        assert_eq!(k.sign(&h, 5), LinkSigner::new(b"0123456789abcdef".to_vec()).sign(&h, 5));
        // Nothing configured: persisted once, then reused.
        let first = LinkSigner::from_settings(&settings(&[("MEDIA_DIR", &media)]));
        let again = LinkSigner::from_settings(&settings(&[("MEDIA_DIR", &media)]));
        assert_eq!(first.sign(&h, 5), again.sign(&h, 5));
        assert!(dir.path().join("media").join(KEY_FILE).exists());
    }
}
