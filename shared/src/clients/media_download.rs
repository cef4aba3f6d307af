//! Downloading one media URL, safely.
//!
//! - **Where from (SSRF):** a `MediaUrlN` is fetched only from Twilio's media path on
//!   `TWILIO_API_BASE` (`/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages/{sid}/Media/{sid}`)
//!   or, while the console is on, the console's own `/console/media/{id}` on
//!   `PUBLIC_BASE_URL`; any other path on those origins is refused before a connection is made.
//!   A REST submission's `media_url` may also name any public host ([`Source::Submission`]).
//! - **Redirects:** followed by hand (the client never follows them itself), at most
//!   [`MAX_REDIRECTS`] hops, over https or the configured base's scheme. Every target is routed
//!   by the same rules; one off the configured origins must be a public address: IP literals are
//!   checked directly, names through a resolver that drops loopback, private, link-local,
//!   unique-local, IPv4-mapped, unspecified and multicast addresses, and the connection goes to
//!   the addresses that resolver returned (no second lookup to rebind). `MEDIA_TRUSTED_HOSTS`
//!   names `host:port` origins exempt from the address check (storage next to mnemo; tests).
//! - **Credentials:** HTTP Basic `AccountSid:AuthToken` only on Twilio's media path.
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

use crate::clients::external::{ExternalError, Service};
use crate::config::{ExposeSecret, SecretString};

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

/// Where a media URL came from, which decides the hosts it may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A WhatsApp message (Twilio's media routes, trusted hosts).
    Message,
    /// A REST submission's `media_url`: any public host too.
    Submission,
}

/// Fetches Twilio media under the rules above.
#[derive(Clone)]
pub struct Downloader {
    /// For the configured origins (Twilio, the console, `MEDIA_TRUSTED_HOSTS`).
    http: reqwest::Client,
    /// For everything else: resolves to public addresses only, and connects to those.
    public: reqwest::Client,
    base: Url,
    /// The web console's origin while the console is enabled (its media route only).
    console: Option<Url>,
    /// `host:port` origins fetched without the public-address check, never with credentials.
    trusted: Vec<String>,
    credentials: Option<(String, SecretString)>,
    max_bytes: u64,
    total_timeout: Duration,
}

/// How one URL is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Twilio's media path: with the account's credentials.
    Twilio,
    /// A configured origin, or a trusted host: no credentials, no address check.
    Configured,
    /// Anywhere else: public addresses only.
    Public,
}

/// A resolver that answers only with public addresses (see [`is_public`]).
struct PublicOnly;

/// The resolver's refusal, found again in the connection error's chain.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to no public address")]
struct NoPublicAddress(String);

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        type BoxError = Box<dyn std::error::Error + Send + Sync>;
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as BoxError)?;
            let public: Vec<std::net::SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(NoPublicAddress(host)) as BoxError);
            }
            Ok::<reqwest::dns::Addrs, BoxError>(Box::new(public.into_iter()))
        })
    }
}

/// False for every address that reaches this machine or its networks rather than the
/// internet: loopback, private, shared, link-local, unique-local, IPv4-mapped or -compatible
/// IPv6, NAT64, unspecified, broadcast, multicast, documentation and reserved ranges.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.to_ipv4_mapped().is_some()
                || seg[..6].iter().all(|s| *s == 0)
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0
                || (seg[0] == 0x64 && seg[1] == 0xff9b)
                || (seg[0] == 0x2001 && seg[1] == 0x0db8))
        }
    }
}

/// `/2010-04-01/Accounts/{account}/Messages/{sid}/Media/{sid}`, nothing more (no `.json`
/// resources, no other account's media). `account` is any `AC…` in dry-run mode.
fn is_twilio_media_path(path: &str, account: Option<&str>) -> bool {
    let sid = |s: &str| {
        (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let parts: Vec<&str> = path.split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "2010-04-01", "Accounts", acct, "Messages", msg, "Media", media]
            if sid(acct)
                && account.map_or(acct.starts_with("AC"), |a| a == *acct)
                && sid(msg)
                && sid(media)
    )
}

/// `/console/media/{32 hex}`: the console's uploads.
fn is_console_media_path(path: &str) -> bool {
    path.strip_prefix("/console/media/")
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Downloader {
    /// `api_base` is `TWILIO_API_BASE`; `credentials` the account SID and auth token (none in
    /// dry-run mode). `read_timeout` bounds every wait for bytes.
    pub fn new(
        api_base: &str,
        credentials: Option<(String, SecretString)>,
        max_bytes: u64,
        read_timeout: Duration,
    ) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10).min(read_timeout))
                .read_timeout(read_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("mnemo/", env!("CARGO_PKG_VERSION")))
        };
        let http = builder().build().unwrap_or_else(|_| reqwest::Client::new());
        // No proxy: it would resolve the name itself, past the address check.
        let public = builder()
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(PublicOnly))
            .build()
            .unwrap_or_else(|_| http.clone());
        let base = Url::parse(api_base)
            .unwrap_or_else(|_| Url::parse("https://api.twilio.com").expect("static URL"));
        Downloader {
            http,
            public,
            base,
            console: None,
            trusted: Vec::new(),
            credentials,
            max_bytes,
            total_timeout: Duration::from_secs(300).max(read_timeout),
        }
    }

    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let mut d = Self::new(
            &settings.twilio_api_base,
            settings.twilio.as_ref().map(|t| (t.account_sid.clone(), t.auth_token.clone())),
            settings.max_media_bytes,
            settings.http_timeout,
        );
        if settings.console_enabled
            && let Ok(public) = Url::parse(&settings.public_base_url)
        {
            d.console = Some(public);
        }
        d.trusted = settings.media_trusted_hosts.clone();
        d
    }

    /// Also fetch from these `host:port` origins without the public-address check.
    pub fn with_trusted_hosts(mut self, hosts: Vec<String>) -> Self {
        self.trusted = hosts;
        self
    }

    /// How `url` may be fetched: `first` for the URL a message named (only the configured
    /// media routes, or any public host when `public_first`), else a redirect target.
    fn route(&self, url: &Url, first: bool, public_first: bool) -> Result<Route, DownloadError> {
        let refuse =
            |why: &str| Err(DownloadError::NotAllowed(format!("{} ({why})", redact(url.as_str()))));
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return refuse("not an http(s) URL");
        }
        if same_origin(url, &self.base) {
            let account = self.credentials.as_ref().map(|(a, _)| a.as_str());
            return if is_twilio_media_path(url.path(), account) && url.query().is_none() {
                Ok(Route::Twilio)
            } else {
                refuse("not a Twilio media path")
            };
        }
        if let Some(console) = &self.console
            && same_origin(url, console)
        {
            return if is_console_media_path(url.path()) {
                Ok(Route::Configured)
            } else {
                refuse("not the console's media path")
            };
        }
        let host_port = format!(
            "{}:{}",
            url.host_str().unwrap_or_default().to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or(0)
        );
        if self.trusted.contains(&host_port) {
            return Ok(Route::Configured);
        }
        if first && !public_first {
            return refuse("not WhatsApp's media server");
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !is_public(ip.into()) => refuse("not a public address"),
            Some(url::Host::Ipv6(ip)) if !is_public(ip.into()) => refuse("not a public address"),
            _ => Ok(Route::Public),
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Whether a message's media URL may be fetched at all: the routes above only.
    pub fn is_allowed(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| self.route(&u, true, false).is_ok())
    }

    /// Downloads `url` into a new temporary file under `staging`. A REST submission's
    /// `media_url` may also name a public host; never with credentials there.
    pub async fn fetch(
        &self,
        url: &str,
        declared_type: &str,
        staging: &Path,
        from: Source,
    ) -> Result<Downloaded, DownloadError> {
        let started = std::time::Instant::now();
        let result = self.fetch_with(url, declared_type, staging, from == Source::Submission).await;
        // Measured like every outside call (`service="media"`), when a request was made.
        let outcome = match &result {
            Ok(_) => Some(Ok(())),
            Err(DownloadError::Transient(_)) => Some(Err(true)),
            Err(DownloadError::Permanent(_) | DownloadError::TooLarge { .. }) => Some(Err(false)),
            Err(DownloadError::NotAllowed(_) | DownloadError::Io(_)) => None,
        };
        if let Some(outcome) = outcome.filter(|_| !url.starts_with("data:")) {
            crate::monitoring::external(Service::Media, started, outcome);
        }
        result
    }

    async fn fetch_with(
        &self,
        url: &str,
        declared_type: &str,
        staging: &Path,
        public_first: bool,
    ) -> Result<Downloaded, DownloadError> {
        if url.starts_with("data:") {
            // Rows recorded before REST uploads were stored kept the bytes inline.
            return self.read_data_url(url, declared_type, staging).await;
        }
        let first = Url::parse(url).map_err(|_| DownloadError::NotAllowed(redact(url)))?;
        self.route(&first, true, public_first)?;
        match tokio::time::timeout(
            self.total_timeout,
            self.fetch_from(first, declared_type, staging, public_first),
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
        public_first: bool,
    ) -> Result<Downloaded, DownloadError> {
        let mut hops = 0;
        let resp = loop {
            let route = self.route(&url, hops == 0, public_first)?;
            let mut req = match route {
                Route::Public => self.public.get(url.clone()),
                Route::Twilio | Route::Configured => self.http.get(url.clone()),
            };
            if route == Route::Twilio
                && let Some((user, pass)) = &self.credentials
            {
                req = req.basic_auth(user, Some(pass.expose_secret()));
            }
            let resp = req.send().await.map_err(|e| {
                if refused_address(&e) {
                    DownloadError::NotAllowed(format!(
                        "{} (not a public address)",
                        redact(url.as_str())
                    ))
                } else {
                    DownloadError::Transient(ExternalError::from_reqwest(Service::Media, e))
                }
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
                return Err(match ExternalError::from_response(Service::Media, resp).await {
                    e @ ExternalError::Transient { .. } => DownloadError::Transient(e),
                    ExternalError::Permanent { status, .. } => {
                        DownloadError::Permanent(format!("HTTP {status}"))
                    }
                });
            }
            break resp;
        };

        if let Some(len) = resp.content_length()
            && len > self.max_bytes
        {
            return Err(DownloadError::TooLarge { limit: self.max_bytes, size: Some(len) });
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
        let file = tempfile::Builder::new().prefix("download-").tempfile_in(staging)?;
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
                return Err(DownloadError::TooLarge { limit: self.max_bytes, size: None });
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        out.into_inner().sync_all().await?;
        Ok(Downloaded { file, sha256: hex::encode(hasher.finalize()), size, content_type })
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
        let Some((content_type, bytes)) = crate::domain::api_submission::decode_data_url(url)
        else {
            return Err(DownloadError::Permanent("not a base64 data URL".into()));
        };
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(DownloadError::TooLarge { limit: self.max_bytes, size: Some(size) });
        }
        std::fs::create_dir_all(staging)?;
        let file = tempfile::Builder::new().prefix("inline-").tempfile_in(staging)?;
        tokio::fs::write(file.path(), &bytes).await?;
        let content_type =
            if content_type.is_empty() { declared_type.to_string() } else { content_type };
        Ok(Downloaded { file, sha256: hex::encode(Sha256::digest(&bytes)), size, content_type })
    }
}

/// Did the public-only resolver refuse the host?
fn refused_address(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<NoPublicAddress>().is_some() {
            return true;
        }
        source = err.source();
    }
    false
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
        Ok(u) => format!("{}://{}{}", u.scheme(), u.host_str().unwrap_or_default(), u.path()),
        Err(_) => "<unparsable URL>".to_string(),
    }
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
        assert!(d.is_allowed(
            "https://API.twilio.com:443/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
        ));
        for bad in [
            "https://api.twilio.com/x",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media.json",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1.json",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1?x=1",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1/x",
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
    fn credentials_pin_the_account() {
        let d = Downloader::new(
            "https://api.twilio.com",
            Some(("ACmine".into(), "token".into())),
            1024,
            Duration::from_secs(5),
        );
        assert!(d.is_allowed(
            "https://api.twilio.com/2010-04-01/Accounts/ACmine/Messages/MM1/Media/ME1"
        ));
        assert!(!d.is_allowed(
            "https://api.twilio.com/2010-04-01/Accounts/ACother/Messages/MM1/Media/ME1"
        ));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::7f00:1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["8.8.8.8", "54.172.60.1", "2606:4700::1111"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }

    #[tokio::test]
    async fn redirects_to_this_machine_are_refused_before_connecting() {
        // A "Twilio" that redirects to another local server: the target never hears a thing.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let internal = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let internal_port = internal.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((_sock, _)) = internal.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        for target in [
            format!("http://127.0.0.1:{internal_port}/secret"),
            format!("http://localhost:{internal_port}/secret"),
            format!("http://[::ffff:127.0.0.1]:{internal_port}/secret"),
            format!("http://[::1]:{internal_port}/secret"),
            "http://169.254.169.254/latest/meta-data".to_string(),
        ] {
            let twilio = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", twilio.local_addr().unwrap());
            let location = target.clone();
            tokio::spawn(async move {
                while let Ok((mut sock, _)) = twilio.accept().await {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let head = format!(
                        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                }
            });
            let dir = tempfile::tempdir().unwrap();
            let d = Downloader::new(&base, None, 1024, Duration::from_secs(5));
            let url = format!("{base}/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1");
            let e = d.fetch(&url, "image/jpeg", dir.path(), Source::Message).await.unwrap_err();
            assert!(matches!(e, DownloadError::NotAllowed(_)), "{target}: {e}");
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn redacted_urls_drop_the_query() {
        assert_eq!(
            redact("https://mms.twiliocdn.com/a/b?Signature=secret&Expires=1"),
            "https://mms.twiliocdn.com/a/b"
        );
        assert_eq!(hex::encode([0, 15, 255]), "000fff");
    }

    #[tokio::test]
    async fn off_host_urls_are_refused_without_a_request() {
        let dir = tempfile::tempdir().unwrap();
        let d = dl("http://127.0.0.1:9");
        let e = d
            .fetch("http://10.0.0.1/secret", "image/jpeg", dir.path(), Source::Message)
            .await
            .unwrap_err();
        assert!(matches!(e, DownloadError::NotAllowed(_)), "{e}");
    }

    const MEDIA: &str = "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1";

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
        crate::monitoring::handle();
        let base = chunked_server(3).await;
        let dir = tempfile::tempdir().unwrap();
        let d = Downloader::new(&base, None, 2500, Duration::from_secs(5));
        let e = d
            .fetch(&format!("{base}{MEDIA}"), "video/mp4", dir.path(), Source::Message)
            .await
            .unwrap_err();
        assert!(matches!(e, DownloadError::TooLarge { limit: 2500, size: None }), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "partial file removed");

        let d = Downloader::new(&base, None, 3000, Duration::from_secs(5));
        let got = d
            .fetch(&format!("{base}{MEDIA}"), "video/mp4", dir.path(), Source::Message)
            .await
            .unwrap();
        assert_eq!(got.size, 3000);
        assert_eq!(got.content_type, "video/mp4");
        use sha2::Digest;
        assert_eq!(got.sha256, hex::encode(sha2::Sha256::digest([b'x'; 3000])));
        assert_eq!(std::fs::read(got.file.path()).unwrap().len(), 3000);
        // Both downloads are measured as calls to an outside service; the refused one as an
        // error that a retry would not mend.
        let metrics = crate::monitoring::render();
        for line in [
            "mnemo_external_request_duration_seconds_count{service=\"media\"}",
            "mnemo_external_errors_total{service=\"media\",kind=\"permanent\"}",
        ] {
            assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
        }
    }
}
