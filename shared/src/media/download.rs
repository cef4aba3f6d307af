//! Downloading one Twilio media URL, safely.
//!
//! - **Allow-list:** the first request must go to the origin (scheme, host, port) of
//!   `TWILIO_API_BASE`; any other URL is refused before a connection is made (SSRF).
//! - **Credentials:** HTTP Basic `AccountSid:AuthToken` is sent only to that origin. Twilio
//!   answers with a redirect to pre-signed storage on another host; redirects are followed by
//!   hand (the client never follows them itself), at most [`MAX_REDIRECTS`] hops, over https or
//!   the configured base's scheme, and the credentials never leave the Twilio origin.
//! - **Size cap:** refused as soon as the size is known, from `Content-Length` or while
//!   streaming, so an oversized file is never fully read.
//! - **Streaming SHA-256:** chunks are hashed and written to a temporary file as they arrive;
//!   the file is never held in memory.
//! - **Timeouts:** connect and per-read timeouts plus an overall cap per file.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::external::{ExternalError, Service};

/// Twilio redirects once; a few more hops are tolerated, loops are not.
pub const MAX_REDIRECTS: usize = 5;

/// Why an attachment could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Not on the Twilio origin (or not http/https): never fetched.
    #[error("media URL is not on the allowed host: {0}")]
    NotAllowed(String),
    /// Larger than `MAX_MEDIA_BYTES`; `size` is the announced size when there was one.
    #[error("media larger than {limit} bytes")]
    TooLarge { limit: u64, size: Option<u64> },
    /// A 4xx, a redirect loop or a bad redirect: retrying will not help.
    #[error("media download refused: {0}")]
    Permanent(String),
    /// Timeouts, connection errors, 5xx: worth retrying the job.
    #[error(transparent)]
    Transient(ExternalError),
    /// The local temporary file could not be written.
    #[error("media staging failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A downloaded file in the staging folder; deleted when dropped unless moved on.
#[derive(Debug)]
pub struct Downloaded {
    pub file: tempfile::NamedTempFile,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
    /// What the final response said, else what the webhook said.
    pub content_type: String,
}

/// Fetches Twilio media under the rules above.
#[derive(Clone)]
pub struct Downloader {
    http: reqwest::Client,
    base: Url,
    /// Further origins media may come from, never sent credentials: the web console's own
    /// Twilio-like media route while the console is enabled.
    extra: Vec<Url>,
    credentials: Option<(String, String)>,
    max_bytes: u64,
    total_timeout: Duration,
}

impl Downloader {
    /// `api_base` is `TWILIO_API_BASE`; `credentials` the account SID and auth token (none in
    /// dry-run mode). `read_timeout` bounds every wait for bytes.
    pub fn new(
        api_base: &str,
        credentials: Option<(String, String)>,
        max_bytes: u64,
        read_timeout: Duration,
    ) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(read_timeout))
            .read_timeout(read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mnemo/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let base = Url::parse(api_base)
            .unwrap_or_else(|_| Url::parse("https://api.twilio.com").expect("static URL"));
        Downloader {
            http,
            base,
            extra: Vec::new(),
            credentials,
            max_bytes,
            total_timeout: Duration::from_secs(300).max(read_timeout),
        }
    }

    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let mut d = Self::new(
            &settings.twilio_api_base,
            settings
                .twilio
                .as_ref()
                .map(|t| (t.account_sid.clone(), t.auth_token.clone())),
            settings.max_media_bytes,
            settings.http_timeout,
        );
        if settings.console_enabled
            && let Ok(public) = Url::parse(&settings.public_base_url)
            && !same_origin(&public, &d.base)
        {
            d.extra.push(public);
        }
        d
    }

    fn allowed(&self, url: &Url) -> bool {
        same_origin(url, &self.base) || self.extra.iter().any(|e| same_origin(url, e))
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Whether `url` may be fetched at all: the Twilio origin only.
    pub fn is_allowed(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| self.allowed(&u))
    }

    /// Downloads `url` into a new temporary file under `staging`.
    pub async fn fetch(
        &self,
        url: &str,
        declared_type: &str,
        staging: &Path,
    ) -> Result<Downloaded, DownloadError> {
        if url.starts_with("data:") {
            // Media submitted through the REST API (`media_base64`) travels inline.
            return self.read_data_url(url, declared_type, staging).await;
        }
        let first = Url::parse(url).map_err(|_| DownloadError::NotAllowed(redact(url)))?;
        if !self.allowed(&first) {
            return Err(DownloadError::NotAllowed(redact(url)));
        }
        match tokio::time::timeout(
            self.total_timeout,
            self.fetch_from(first, declared_type, staging),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(DownloadError::Transient(ExternalError::Transient {
                service: Service::Media,
                message: format!("download took longer than {:?}", self.total_timeout),
                retry_after: None,
                status: None,
            })),
        }
    }

    async fn fetch_from(
        &self,
        mut url: Url,
        declared_type: &str,
        staging: &Path,
    ) -> Result<Downloaded, DownloadError> {
        let mut hops = 0;
        let resp = loop {
            let mut req = self.http.get(url.clone());
            if same_origin(&url, &self.base)
                && let Some((user, pass)) = &self.credentials
            {
                req = req.basic_auth(user, Some(pass));
            }
            let resp = req.send().await.map_err(|e| {
                DownloadError::Transient(ExternalError::from_reqwest(Service::Media, e))
            })?;
            let status = resp.status();
            if status.is_redirection() {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(DownloadError::Permanent(format!(
                        "more than {MAX_REDIRECTS} redirects"
                    )));
                }
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| url.join(loc).ok())
                    .ok_or_else(|| {
                        DownloadError::Permanent(format!("HTTP {status} without a usable Location"))
                    })?;
                if !(next.scheme() == "https" || next.scheme() == self.base.scheme()) {
                    return Err(DownloadError::Permanent(format!(
                        "redirect to a {} URL refused",
                        next.scheme()
                    )));
                }
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(
                    match ExternalError::from_response(Service::Media, resp).await {
                        e @ ExternalError::Transient { .. } => DownloadError::Transient(e),
                        ExternalError::Permanent { status, .. } => {
                            DownloadError::Permanent(format!("HTTP {status}"))
                        }
                    },
                );
            }
            break resp;
        };

        if let Some(len) = resp.content_length()
            && len > self.max_bytes
        {
            return Err(DownloadError::TooLarge {
                limit: self.max_bytes,
                size: Some(len),
            });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("application/octet-stream"))
            .unwrap_or(declared_type)
            .to_string();

        std::fs::create_dir_all(staging)?;
        let file = tempfile::Builder::new()
            .prefix("download-")
            .tempfile_in(staging)?;
        let mut out = tokio::io::BufWriter::with_capacity(
            64 * 1024,
            tokio::fs::File::from_std(file.as_file().try_clone()?),
        );
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut resp = resp;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| DownloadError::Transient(ExternalError::from_reqwest(Service::Media, e)))?
        {
            size += chunk.len() as u64;
            if size > self.max_bytes {
                return Err(DownloadError::TooLarge {
                    limit: self.max_bytes,
                    size: None,
                });
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        out.into_inner().sync_all().await?;
        Ok(Downloaded {
            file,
            sha256: hex(&hasher.finalize()),
            size,
            content_type,
        })
    }
}

/// Scheme, host and port equal (default ports made explicit).
impl Downloader {
    /// Writes an inline `data:` URL's bytes to staging, hashing them on the way.
    async fn read_data_url(
        &self,
        url: &str,
        declared_type: &str,
        staging: &Path,
    ) -> Result<Downloaded, DownloadError> {
        let Some((content_type, bytes)) = crate::api_submission::decode_data_url(url) else {
            return Err(DownloadError::Permanent("not a base64 data URL".into()));
        };
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(DownloadError::TooLarge {
                limit: self.max_bytes,
                size: Some(size),
            });
        }
        std::fs::create_dir_all(staging)?;
        let file = tempfile::Builder::new()
            .prefix("inline-")
            .tempfile_in(staging)?;
        tokio::fs::write(file.path(), &bytes).await?;
        let content_type = if content_type.is_empty() {
            declared_type.to_string()
        } else {
            content_type
        };
        Ok(Downloaded {
            file,
            sha256: hex(&Sha256::digest(&bytes)),
            size,
            content_type,
        })
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    matches!(a.scheme(), "http" | "https")
        && a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A URL for logs: scheme, host and path only (signed query strings stay out of logs).
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.path()
        ),
        Err(_) => "<unparsable URL>".to_string(),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dl(base: &str) -> Downloader {
        Downloader::new(base, None, 1024, Duration::from_secs(5))
    }

    #[test]
    fn only_the_twilio_origin_is_allowed() {
        let d = dl("https://api.twilio.com");
        assert!(
            d.is_allowed("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1")
        );
        assert!(d.is_allowed("https://API.twilio.com:443/x"));
        for bad in [
            "http://api.twilio.com/x",
            "https://api.twilio.com.evil.example/x",
            "https://api.twilio.com:8443/x",
            "https://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(!d.is_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn redacted_urls_drop_the_query() {
        assert_eq!(
            redact("https://mms.twiliocdn.com/a/b?Signature=secret&Expires=1"),
            "https://mms.twiliocdn.com/a/b"
        );
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }

    #[tokio::test]
    async fn off_host_urls_are_refused_without_a_request() {
        let dir = tempfile::tempdir().unwrap();
        let d = dl("http://127.0.0.1:9");
        let e = d
            .fetch("http://10.0.0.1/secret", "image/jpeg", dir.path())
            .await
            .unwrap_err();
        assert!(matches!(e, DownloadError::NotAllowed(_)), "{e}");
    }

    /// A server that streams `chunks` chunks of 1000 bytes with no Content-Length.
    async fn chunked_server(chunks: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                for _ in 0..chunks {
                    let _ = sock.write_all(b"3e8\r\n").await;
                    let _ = sock.write_all(&[b'x'; 1000]).await;
                    let _ = sock.write_all(b"\r\n").await;
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn the_size_cap_holds_while_streaming() {
        let base = chunked_server(3).await;
        let dir = tempfile::tempdir().unwrap();
        let d = Downloader::new(&base, None, 2500, Duration::from_secs(5));
        let e = d
            .fetch(&format!("{base}/m"), "video/mp4", dir.path())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                DownloadError::TooLarge {
                    limit: 2500,
                    size: None
                }
            ),
            "{e}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "partial file removed"
        );

        let d = Downloader::new(&base, None, 3000, Duration::from_secs(5));
        let got = d
            .fetch(&format!("{base}/m"), "video/mp4", dir.path())
            .await
            .unwrap();
        assert_eq!(got.size, 3000);
        assert_eq!(got.content_type, "video/mp4");
        use sha2::Digest;
        assert_eq!(got.sha256, hex(&sha2::Sha256::digest([b'x'; 3000])));
        assert_eq!(std::fs::read(got.file.path()).unwrap().len(), 3000);
    }
}
