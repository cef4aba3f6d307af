//! Settings: every environment variable mnemo reads, parsed and validated once at start-up.
//!
//! `.env` is read if present. A bad value stops start-up with one line naming the variable
//! (`ConfigError`'s Display). Tests build `Settings` from a map with [`Settings::from_lookup`],
//! so nothing in the process environment leaks between them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;
pub use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// One setting that could not be used, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

/// Where jobs are queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueBackend {
    /// apalis-redis at this URL.
    Redis(String),
    /// apalis-sqlite / apalis-postgres inside `DATABASE_URL`'s database.
    Database,
}

/// `LOCAL_MODELS`: whether models run on this machine (DESIGN §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalModelsMode {
    /// Use what is installed; fetch what is missing in the background; lexical meanwhile.
    Auto,
    /// Never load a model.
    Off,
    /// Serve only once the models are ready; fail start-up if they cannot be had.
    Required,
}

/// Local models and embeddings.
#[derive(Clone, Debug)]
pub struct ModelSettings {
    /// `MODELS_DIR`: one folder per model.
    pub dir: std::path::PathBuf,
    pub mode: LocalModelsMode,
    /// `EMBED_MODEL` resolved in the catalog (`None` when `EMBED_API_BASE` is used).
    pub embed_model: Option<&'static crate::clients::models::catalog::ModelSpec>,
    /// `EMBED_API_BASE`/`EMBED_API_KEY`/`EMBED_MODEL`: an OpenAI-compatible `/embeddings`.
    pub embed_api: Option<OpenAiCompatible>,
    /// `MODEL_THREADS`: size of the inference pool.
    pub threads: usize,
    /// `HF_ENDPOINT`: where canonical model files are downloaded from.
    pub hf_endpoint: String,
    /// `WHISPER_MODEL`; `None`: the largest one installed.
    pub whisper_model: Option<String>,
    /// `MAX_AUDIO_SECS`: longer voice notes are refused with a reply.
    pub max_audio_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: SecretString,
    pub whatsapp_number: String,
}

#[derive(Clone, Debug)]
pub struct S3Settings {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub force_path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct Mem0Settings {
    pub api_base: String,
    pub api_key: SecretString,
}

#[derive(Clone, Debug)]
pub struct OpenAiCompatible {
    pub api_base: String,
    pub api_key: Option<SecretString>,
    pub model: String,
}

impl OpenAiCompatible {
    /// The API key to send, when there is one.
    pub fn key(&self) -> Option<&str> {
        self.api_key.as_ref().map(ExposeSecret::expose_secret)
    }
}

/// All settings. Loaded once; cloned into the parts that need them.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bind_addr: SocketAddr,
    /// Without trailing slash; the URL Twilio calls (signature base).
    pub public_base_url: String,
    pub database_url: String,
    pub database_max_connections: u32,
    pub queue: QueueBackend,
    /// Queue name (Redis namespace / SQL queue), so renaming a Rust type never orphans jobs.
    pub queue_name: String,
    pub embedded_worker: bool,
    pub worker_concurrency: usize,
    pub job_max_attempts: u32,
    pub job_retry_base: Duration,
    pub job_retry_max: Duration,
    /// How long a worker's claim on a message lasts before another may take it over.
    pub job_lease: Duration,
    pub sweep_interval: Duration,
    pub sweep_after: Duration,
    pub shutdown_timeout: Duration,
    pub s3: Option<S3Settings>,
    pub media_dir: String,
    pub max_media_bytes: u64,
    /// `IMPORT_MAX_BYTES`: the largest archive `POST /users/{user}/import` reads (and the most
    /// its entries may hold once decompressed).
    pub import_max_bytes: u64,
    pub media_url_ttl: Duration,
    /// `MEDIA_SIGNING_KEY`: the secret behind `/media/{sha256}` links; see
    /// [`crate::media::links::LinkSigner::from_settings`] for what is used when it is unset.
    pub media_signing_key: Option<SecretString>,
    pub twilio: Option<TwilioSettings>,
    pub twilio_api_base: String,
    pub twilio_reminder_content_sid: Option<String>,
    pub mem0: Option<Mem0Settings>,
    pub transcribe: Option<OpenAiCompatible>,
    pub llm: Option<OpenAiCompatible>,
    pub default_timezone: Tz,
    pub api_token: Option<SecretString>,
    pub log_format: LogFormat,
    pub metrics_addr: Option<SocketAddr>,
    pub console_enabled: bool,
    pub http_timeout: Duration,
    pub models: ModelSettings,
    /// `ALLOWED_HOSTS`: further `Host` names the HTTP server answers (lowercase, no port),
    /// besides those of `BIND_ADDR` and `PUBLIC_BASE_URL` and the loopback names.
    pub allowed_hosts: Vec<String>,
    /// `METRICS_TOKEN`: when set, `/metrics` needs `Authorization: Bearer <METRICS_TOKEN>`.
    pub metrics_token: Option<SecretString>,
    /// `MEDIA_TRUSTED_HOSTS`: `host:port` origins media may be fetched from although they are
    /// on a private network (a storage server next to mnemo; tests). Never sent credentials.
    pub media_trusted_hosts: Vec<String>,
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Reader<'_> {
    /// The value, with empty strings treated as unset (as `.env` templates leave them).
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// A credential: kept out of `Debug` output (and so out of logs).
    fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| err(name, &v, &format!("expected {what}"))),
        }
    }

    fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(err(name, &v, "expected true or false")),
            },
        }
    }

    fn url(
        &self,
        name: &'static str,
        default: Option<&str>,
    ) -> Result<Option<String>, ConfigError> {
        let Some(v) = self.get(name).or(default.map(str::to_string)) else {
            return Ok(None);
        };
        let parsed = Url::parse(&v).map_err(|e| err(name, &v, &format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(err(name, &v, "expected an http:// or https:// URL with a host"));
        }
        Ok(Some(v.trim_end_matches('/').to_string()))
    }

    fn secs(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        let v: u64 = self.parse(name, default, "a whole number of seconds")?;
        Ok(Duration::from_secs(v))
    }

    fn millis(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        let v: u64 = self.parse(name, default, "a whole number of milliseconds")?;
        Ok(Duration::from_millis(v))
    }
}

fn err(name: &'static str, value: &str, reason: &str) -> ConfigError {
    // Never echo secrets back into logs.
    let secret = name.contains("TOKEN") || name.contains("SECRET") || name.ends_with("_KEY");
    ConfigError {
        name,
        value: if secret { "<hidden>".into() } else { value.into() },
        reason: reason.into(),
    }
}

/// A comma-separated list of host names (`ALLOWED_HOSTS`: a port is ignored) or `host:port`
/// origins (`MEDIA_TRUSTED_HOSTS`: the port is required), lowercase.
fn host_list(r: &Reader<'_>, name: &'static str, port: bool) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = r.get(name) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let parsed = Url::parse(&format!("http://{item}/"))
            .ok()
            .filter(|u| u.path() == "/" && u.username().is_empty() && u.host_str().is_some());
        let Some(u) = parsed else {
            return Err(err(name, &raw, &format!("`{item}` is not a host name")));
        };
        let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
        if port {
            let Some(p) = u.port() else {
                return Err(err(name, &raw, &format!("`{item}` needs a port (host:port)")));
            };
            out.push(format!("{host}:{p}"));
        } else {
            out.push(host);
        }
    }
    Ok(out)
}

impl Settings {
    /// Reads `.env` (if present) and the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Builds settings from a map (tests, tools).
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| map.get(k).cloned())
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let r = Reader { lookup };

        let bind_raw = r.get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8000".into());
        let bind_addr: SocketAddr = bind_raw
            .parse()
            .map_err(|_| err("BIND_ADDR", &bind_raw, "expected host:port, e.g. 127.0.0.1:8000"))?;
        let public_base_url =
            r.url("PUBLIC_BASE_URL", Some(&format!("http://{bind_addr}")))?.unwrap_or_default();
        if let Ok(u) = Url::parse(&public_base_url)
            && (u.query().is_some() || u.fragment().is_some())
        {
            return Err(err(
                "PUBLIC_BASE_URL",
                &public_base_url,
                "must not contain a query or fragment",
            ));
        }

        let database_url =
            r.get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/mnemo.db?mode=rwc".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err("DATABASE_URL", &database_url, "expected sqlite://… or postgres://…"));
        }
        let database_max_connections =
            r.parse("DATABASE_MAX_CONNECTIONS", 10u32, "a positive number")?;
        if database_max_connections == 0 {
            return Err(err("DATABASE_MAX_CONNECTIONS", "0", "must be at least 1"));
        }

        let queue = match r.get("REDIS_URL") {
            Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {
                QueueBackend::Redis(u)
            }
            Some(u) => return Err(err("REDIS_URL", &u, "expected redis://host:port")),
            None => QueueBackend::Database,
        };
        let queue_name = r.get("QUEUE_NAME").unwrap_or_else(|| "mnemo:process-message".into());
        let embedded_worker = r.bool("EMBEDDED_WORKER", matches!(queue, QueueBackend::Database))?;
        let worker_concurrency: usize =
            r.parse("WORKER_CONCURRENCY", 16usize, "a positive number")?;
        if worker_concurrency == 0 {
            return Err(err("WORKER_CONCURRENCY", "0", "must be at least 1"));
        }
        let job_max_attempts: u32 = r.parse("JOB_MAX_ATTEMPTS", 8u32, "a positive number")?;
        if job_max_attempts == 0 {
            return Err(err("JOB_MAX_ATTEMPTS", "0", "must be at least 1"));
        }

        let s3 = match r.get("S3_BUCKET") {
            None => None,
            Some(bucket) => Some(S3Settings {
                bucket,
                endpoint: r.url("S3_ENDPOINT", None)?,
                region: r.get("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                force_path_style: r.bool("S3_FORCE_PATH_STYLE", false)?,
                access_key_id: r.get("AWS_ACCESS_KEY_ID"),
                secret_access_key: r.secret("AWS_SECRET_ACCESS_KEY"),
            }),
        };

        let twilio = match (
            r.get("TWILIO_ACCOUNT_SID"),
            r.get("TWILIO_AUTH_TOKEN"),
            r.get("TWILIO_WHATSAPP_NUMBER"),
        ) {
            (None, None, None) => None,
            (Some(account_sid), Some(auth_token), Some(number)) => {
                if !account_sid.starts_with("AC") {
                    return Err(err("TWILIO_ACCOUNT_SID", &account_sid, "expected AC…"));
                }
                let whatsapp_number = if number.starts_with("whatsapp:") {
                    number
                } else if number.starts_with('+') {
                    format!("whatsapp:{number}")
                } else {
                    return Err(err(
                        "TWILIO_WHATSAPP_NUMBER",
                        &number,
                        "expected whatsapp:+E164, e.g. whatsapp:+14155238886",
                    ));
                };
                Some(TwilioSettings { account_sid, auth_token: auth_token.into(), whatsapp_number })
            }
            (sid, token, number) => {
                let missing = [
                    ("TWILIO_ACCOUNT_SID", sid.is_none()),
                    ("TWILIO_AUTH_TOKEN", token.is_none()),
                    ("TWILIO_WHATSAPP_NUMBER", number.is_none()),
                ]
                .into_iter()
                .find(|(_, m)| *m)
                .map(|(n, _)| n)
                .unwrap_or("TWILIO_ACCOUNT_SID");
                return Err(err(
                    missing,
                    "",
                    "set all of TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_NUMBER, or none",
                ));
            }
        };
        let twilio_api_base =
            r.url("TWILIO_API_BASE", Some("https://api.twilio.com"))?.unwrap_or_default();

        let mem0 = match r.get("MEM0_API_KEY") {
            None => None,
            Some(api_key) => Some(Mem0Settings {
                api_key: api_key.into(),
                api_base: r.url("MEM0_API_BASE", Some("https://api.mem0.ai"))?.unwrap_or_default(),
            }),
        };

        let transcribe_key = r.get("TRANSCRIBE_API_KEY").or_else(|| r.get("OPENAI_API_KEY"));
        let transcribe_base = r.url("TRANSCRIBE_API_BASE", None)?;
        let transcribe = if transcribe_key.is_some() || transcribe_base.is_some() {
            Some(OpenAiCompatible {
                api_base: transcribe_base.unwrap_or_else(|| "https://api.openai.com/v1".into()),
                api_key: transcribe_key.map(SecretString::from),
                model: r.get("TRANSCRIBE_MODEL").unwrap_or_else(|| "whisper-1".into()),
            })
        } else {
            None
        };

        let llm = r.url("LLM_API_BASE", None)?.map(|api_base| OpenAiCompatible {
            api_base,
            api_key: r.secret("LLM_API_KEY"),
            model: r.get("LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
        });

        let tz_raw = r.get("DEFAULT_TIMEZONE").unwrap_or_else(|| "UTC".into());
        let default_timezone: Tz = tz_raw.parse().map_err(|_| {
            err("DEFAULT_TIMEZONE", &tz_raw, "expected an IANA zone such as Europe/London")
        })?;

        let log_format = match r.get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(err("LOG_FORMAT", other, "expected pretty or json")),
        };

        let metrics_addr = match r.get("METRICS_ADDR") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| err("METRICS_ADDR", &v, "expected host:port"))?),
        };

        let max_media_bytes: u64 =
            r.parse("MAX_MEDIA_BYTES", 26_214_400u64, "a number of bytes")?;
        if max_media_bytes == 0 {
            return Err(err("MAX_MEDIA_BYTES", "0", "must be at least 1"));
        }

        let job_retry_max = r.secs("JOB_RETRY_MAX_SECS", 60)?;
        // Renewed by a heartbeat every third of it while the job runs (retry pauses included),
        // so it only bounds how long a dead worker's message waits to be taken over.
        let job_lease = r.secs("JOB_LEASE_SECS", 15)?;
        if job_lease < Duration::from_secs(3) {
            return Err(err(
                "JOB_LEASE_SECS",
                &job_lease.as_secs().to_string(),
                "must be at least 3 (the heartbeat renews it every third)",
            ));
        }

        let models = Self::model_settings(&r)?;

        Ok(Settings {
            models,
            bind_addr,
            public_base_url,
            database_url,
            database_max_connections,
            console_enabled: r.bool(
                "CONSOLE_ENABLED",
                matches!(queue, QueueBackend::Database) && twilio.is_none(),
            )?,
            queue,
            queue_name,
            embedded_worker,
            worker_concurrency,
            job_max_attempts,
            job_retry_base: r.millis("JOB_RETRY_BASE_MS", 1000)?,
            job_retry_max,
            job_lease,
            sweep_interval: r.secs("SWEEP_INTERVAL_SECS", 5)?,
            sweep_after: r.secs("SWEEP_AFTER_SECS", 10)?,
            shutdown_timeout: r.secs("SHUTDOWN_TIMEOUT_SECS", 30)?,
            s3,
            media_dir: r.get("MEDIA_DIR").unwrap_or_else(|| "./data/media".into()),
            max_media_bytes,
            import_max_bytes: r.parse("IMPORT_MAX_BYTES", 268_435_456u64, "a number of bytes")?,
            media_url_ttl: r.secs("MEDIA_URL_TTL_SECS", 3600)?,
            media_signing_key: match r.get("MEDIA_SIGNING_KEY") {
                Some(k) if k.len() < 16 => {
                    return Err(err("MEDIA_SIGNING_KEY", &k, "must be at least 16 characters"));
                }
                k => k.map(SecretString::from),
            },
            twilio,
            twilio_api_base,
            twilio_reminder_content_sid: r.get("TWILIO_REMINDER_CONTENT_SID"),
            mem0,
            transcribe,
            llm,
            default_timezone,
            api_token: r.secret("API_TOKEN"),
            log_format,
            metrics_addr,
            http_timeout: r.secs("HTTP_TIMEOUT_SECS", 30)?,
            allowed_hosts: host_list(&r, "ALLOWED_HOSTS", false)?,
            metrics_token: r.secret("METRICS_TOKEN"),
            media_trusted_hosts: host_list(&r, "MEDIA_TRUSTED_HOSTS", true)?,
        })
    }

    fn model_settings(r: &Reader<'_>) -> Result<ModelSettings, ConfigError> {
        use crate::clients::models::catalog::{self, ModelKind};
        let mode = match r.get("LOCAL_MODELS").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("auto") => LocalModelsMode::Auto,
            Some("off") => LocalModelsMode::Off,
            Some("required") => LocalModelsMode::Required,
            Some(other) => {
                return Err(err("LOCAL_MODELS", other, "expected auto, off or required"));
            }
        };
        let embed_name = r.get("EMBED_MODEL");
        let embed_api = r.url("EMBED_API_BASE", None)?.map(|api_base| OpenAiCompatible {
            api_base,
            api_key: r.secret("EMBED_API_KEY"),
            model: embed_name.clone().unwrap_or_else(|| "text-embedding-3-small".into()),
        });
        let embed_model = match (&embed_api, embed_name) {
            (Some(_), _) => None,
            (None, None) => catalog::find(ModelKind::Embeddings, "all-MiniLM-L6-v2"),
            (None, Some(name)) => {
                Some(catalog::find(ModelKind::Embeddings, &name).ok_or_else(|| {
                    err(
                        "EMBED_MODEL",
                        &name,
                        &format!(
                            "unknown local model; known: {} (or set EMBED_API_BASE)",
                            catalog::names(ModelKind::Embeddings)
                        ),
                    )
                })?)
            }
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads: usize = r.parse("MODEL_THREADS", cores, "a positive number")?;
        if threads == 0 {
            return Err(err("MODEL_THREADS", "0", "must be at least 1"));
        }
        let max_audio_secs: u64 = r.parse("MAX_AUDIO_SECS", 600u64, "a number of seconds")?;
        if max_audio_secs == 0 {
            return Err(err("MAX_AUDIO_SECS", "0", "must be at least 1"));
        }
        Ok(ModelSettings {
            dir: r.get("MODELS_DIR").unwrap_or_else(|| "./data/models".into()).into(),
            mode,
            embed_model,
            embed_api,
            threads,
            hf_endpoint: r.url("HF_ENDPOINT", Some("https://huggingface.co"))?.unwrap_or_default(),
            whisper_model: match r.get("WHISPER_MODEL") {
                None => None,
                Some(name) => Some(
                    catalog::find(ModelKind::Whisper, &name)
                        .ok_or_else(|| {
                            err(
                                "WHISPER_MODEL",
                                &name,
                                "expected tiny, tiny.en, base, base.en or small",
                            )
                        })?
                        .id
                        .to_string(),
                ),
            },
            max_audio_secs,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Hosts (`host` or `host:port`) the worker may download `MediaUrlN` from: the
    /// `TWILIO_API_BASE` host, plus the `PUBLIC_BASE_URL` host while the web console is enabled
    /// (the console serves its uploads at `/console/media/{id}`, a Twilio-like URL).
    pub fn media_hosts(&self) -> Vec<String> {
        let host_of = |u: &str| {
            Url::parse(u).ok().and_then(|u| {
                let host = u.host_str()?.to_ascii_lowercase();
                Some(match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                })
            })
        };
        let mut hosts: Vec<String> = host_of(&self.twilio_api_base).into_iter().collect();
        if self.console_enabled
            && let Some(h) = host_of(&self.public_base_url)
            && !hosts.contains(&h)
        {
            hosts.push(h);
        }
        hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_map(&map)
    }

    #[test]
    fn zero_settings_mean_embedded_mode() {
        let s = load(&[]).unwrap();
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(s.public_base_url, "http://127.0.0.1:8000");
        assert_eq!(s.database_url, "sqlite://data/mnemo.db?mode=rwc");
        assert_eq!(s.queue, QueueBackend::Database);
        assert!(s.embedded_worker);
        assert!(s.twilio.is_none() && s.mem0.is_none() && s.s3.is_none());
        assert_eq!(s.worker_concurrency, 16);
        assert_eq!(s.max_media_bytes, 26_214_400);
        assert_eq!(s.models.whisper_model, None);
        assert_eq!(s.default_timezone, chrono_tz::UTC);
        assert!(s.console_enabled);
        assert_eq!(s.models.mode, LocalModelsMode::Auto);
        assert_eq!(s.models.dir, std::path::PathBuf::from("./data/models"));
        assert_eq!(s.models.embed_model.unwrap().id, "all-MiniLM-L6-v2");
        assert!(s.models.embed_api.is_none());
        assert_eq!(s.models.max_audio_secs, 600);
    }

    #[test]
    fn embed_api_replaces_the_local_model() {
        let s = load(&[
            ("EMBED_API_BASE", "http://127.0.0.1:9/v1"),
            ("EMBED_MODEL", "nomic-embed-text"),
        ])
        .unwrap();
        assert!(s.models.embed_model.is_none());
        assert_eq!(s.models.embed_api.unwrap().model, "nomic-embed-text");
        let s = load(&[("EMBED_MODEL", "e5-small"), ("LOCAL_MODELS", "Required")]).unwrap();
        assert_eq!(s.models.embed_model.unwrap().id, "e5-small-v2");
        assert_eq!(s.models.mode, LocalModelsMode::Required);
    }

    #[test]
    fn media_hosts_add_the_console_host_only_when_enabled() {
        let s = load(&[]).unwrap();
        assert_eq!(s.media_hosts(), vec!["api.twilio.com", "127.0.0.1:8000"]);
        let s =
            load(&[("CONSOLE_ENABLED", "false"), ("PUBLIC_BASE_URL", "https://mnemo.example.com")])
                .unwrap();
        assert_eq!(s.media_hosts(), vec!["api.twilio.com"]);
        let s = load(&[
            ("CONSOLE_ENABLED", "true"),
            ("PUBLIC_BASE_URL", "https://Mnemo.example.com"),
            ("TWILIO_API_BASE", "http://127.0.0.1:9999"),
        ])
        .unwrap();
        assert_eq!(s.media_hosts(), vec!["127.0.0.1:9999", "mnemo.example.com"]);
    }

    #[test]
    fn redis_turns_embedded_worker_off_by_default() {
        let s = load(&[("REDIS_URL", "redis://127.0.0.1:6379")]).unwrap();
        assert!(!s.embedded_worker);
        let s =
            load(&[("REDIS_URL", "redis://127.0.0.1:6379"), ("EMBEDDED_WORKER", "true")]).unwrap();
        assert!(s.embedded_worker);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("BIND_ADDR", "nope"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://x"),
            ("WORKER_CONCURRENCY", "0"),
            ("WORKER_CONCURRENCY", "many"),
            ("DEFAULT_TIMEZONE", "Mars/Olympus"),
            ("LOG_FORMAT", "xml"),
            ("MAX_MEDIA_BYTES", "-1"),
            ("EMBEDDED_WORKER", "maybe"),
            ("PUBLIC_BASE_URL", "ftp://x"),
            ("MEM0_API_BASE", "x"),
            ("MEDIA_SIGNING_KEY", "short"),
            ("WHISPER_MODEL", "large-v3"),
            ("LOCAL_MODELS", "sometimes"),
            ("EMBED_MODEL", "gpt-9"),
            ("MODEL_THREADS", "0"),
            ("MAX_AUDIO_SECS", "0"),
        ] {
            let mut pairs = vec![(k, v)];
            if k == "MEM0_API_BASE" {
                pairs.push(("MEM0_API_KEY", "k"));
            }
            let e = load(&pairs).unwrap_err();
            assert_eq!(e.name, k, "{e}");
            assert!(e.to_string().starts_with(&format!("invalid setting {k}=")), "{e}");
        }
    }

    #[test]
    fn twilio_needs_all_three_and_hides_the_token() {
        let e = load(&[("TWILIO_AUTH_TOKEN", "secret")]).unwrap_err();
        assert_eq!(e.name, "TWILIO_ACCOUNT_SID");
        let s = load(&[
            ("TWILIO_ACCOUNT_SID", "AC123"),
            ("TWILIO_AUTH_TOKEN", "secret"),
            ("TWILIO_WHATSAPP_NUMBER", "+14155238886"),
        ])
        .unwrap();
        assert_eq!(s.twilio.unwrap().whatsapp_number, "whatsapp:+14155238886");
        let e = load(&[("API_TOKEN", "x"), ("METRICS_ADDR", "bad")]).unwrap_err();
        assert_eq!(e.name, "METRICS_ADDR");
        assert_eq!(err("TWILIO_AUTH_TOKEN", "s3cret", "x").value, "<hidden>");
    }

    #[test]
    fn credentials_stay_out_of_debug_output() {
        let secrets = [
            ("TWILIO_AUTH_TOKEN", "tw-secret-1"),
            ("MEM0_API_KEY", "m0-secret-2"),
            ("TRANSCRIBE_API_KEY", "stt-secret-3"),
            ("LLM_API_KEY", "llm-secret-4"),
            ("EMBED_API_KEY", "emb-secret-5"),
            ("API_TOKEN", "api-secret-6"),
            ("METRICS_TOKEN", "metrics-secret-7"),
            ("MEDIA_SIGNING_KEY", "signing-secret-8-long"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret-9"),
        ];
        let mut env = vec![
            ("TWILIO_ACCOUNT_SID", "AC123"),
            ("TWILIO_WHATSAPP_NUMBER", "+14155238886"),
            ("LLM_API_BASE", "http://127.0.0.1:9/v1"),
            ("EMBED_API_BASE", "http://127.0.0.1:9/v1"),
            ("S3_BUCKET", "media"),
        ];
        env.extend(secrets);
        let s = load(&env).unwrap();
        let shown = format!("{s:?}");
        for (name, value) in secrets {
            assert!(!shown.contains(value), "{name} shown in {shown}");
        }
        assert_eq!(s.twilio.unwrap().auth_token.expose_secret(), "tw-secret-1");
    }

    #[test]
    fn host_lists_parse() {
        let s = load(&[
            ("ALLOWED_HOSTS", "Mnemo.Example.com, localhost:9000"),
            ("MEDIA_TRUSTED_HOSTS", "minio:9000"),
            ("METRICS_TOKEN", "m"),
        ])
        .unwrap();
        assert_eq!(s.allowed_hosts, vec!["mnemo.example.com", "localhost"]);
        assert_eq!(s.media_trusted_hosts, vec!["minio:9000"]);
        assert_eq!(s.metrics_token.as_ref().map(ExposeSecret::expose_secret), Some("m"));
        assert_eq!(load(&[("ALLOWED_HOSTS", "a/b")]).unwrap_err().name, "ALLOWED_HOSTS");
        assert_eq!(
            load(&[("MEDIA_TRUSTED_HOSTS", "minio")]).unwrap_err().name,
            "MEDIA_TRUSTED_HOSTS"
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = load(&[("REDIS_URL", ""), ("MEM0_API_KEY", "  ")]).unwrap();
        assert_eq!(s.queue, QueueBackend::Database);
        assert!(s.mem0.is_none());
    }
}
