//! Voice-note transcription, in order of preference: any OpenAI-compatible
//! `/audio/transcriptions` when `TRANSCRIBE_API_BASE` is set ([`Transcriber`]: OpenAI,
//! speaches, LocalAI, whisper.cpp with `--inference-path`); else Whisper on this machine
//! ([`LocalWhisper`]) once its files are installed; else the note is kept untranscribed and
//! the backfill transcribes it when the model appears.
//!
//! Portable request: multipart `file` (streamed from disk, named `voice.<ext>` with its
//! content type — servers decide by extension and reject `.opus`, so Ogg/Opus is
//! `voice.ogg`), `model`, and `response_format=json` (LocalAI defaults to `verbose_json`);
//! only `.text` of the answer is read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::{OnceCell, Semaphore};

use crate::audio::{self, AudioError};
use crate::config::Settings;
use crate::whisper::{self, Transcript, WhisperModel};

use crate::config::OpenAiCompatible;
use crate::external::{ExternalError, Service};
use crate::media::{essence, extension};

#[derive(Clone)]
pub struct Transcriber {
    http: reqwest::Client,
    config: OpenAiCompatible,
}

#[derive(Deserialize)]
struct Transcription {
    text: String,
}

impl Transcriber {
    pub fn new(http: reqwest::Client, config: OpenAiCompatible) -> Self {
        Transcriber { http, config }
    }

    /// The transcript of the audio file at `path` (trimmed; may be empty for silence).
    pub async fn transcribe(
        &self,
        path: &Path,
        content_type: &str,
    ) -> Result<String, ExternalError> {
        let io = |e: std::io::Error| ExternalError::Transient {
            service: Service::Transcribe,
            message: format!("reading the audio file: {e}"),
            retry_after: None,
            status: None,
        };
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let len = file.metadata().await.map_err(io)?.len();
        let mime = match essence(content_type).as_str() {
            "audio/opus" => "audio/ogg".to_string(),
            "" => "application/octet-stream".to_string(),
            other => other.to_string(),
        };
        let part = reqwest::multipart::Part::stream_with_length(file, len)
            .file_name(format!("voice.{}", extension(content_type)))
            .mime_str(&mime)
            .map_err(|e| ExternalError::from_reqwest(Service::Transcribe, e))?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.config.model.clone())
            .text("response_format", "json");
        let mut req = self
            .http
            .post(format!("{}/audio/transcriptions", self.config.api_base))
            .multipart(form);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ExternalError::from_reqwest(Service::Transcribe, e))?;
        if !resp.status().is_success() {
            return Err(ExternalError::from_response(Service::Transcribe, resp).await);
        }
        let body: Transcription = resp.json().await.map_err(|e| ExternalError::Permanent {
            service: Service::Transcribe,
            status: 200,
            message: format!("unexpected response: {e}"),
        })?;
        Ok(body.text.trim().to_string())
    }
}

/// What the local model made of a voice note.
#[derive(Debug, Clone)]
pub enum LocalOutcome {
    Transcribed(Transcript),
    /// Longer than `MAX_AUDIO_SECS` (found before decoding it whole).
    TooLong { secs: f64, limit: u32 },
    /// Not audio this build can decode (corrupt, or an unsupported codec).
    Undecodable(String),
}

/// Whisper on this machine: the model folder `MODELS_DIR/whisper-<name>` is loaded on first
/// use (once; a folder that appears later is picked up then) and inference runs on a bounded
/// pool of blocking threads, never on the async runtime's.
#[derive(Clone)]
pub struct LocalWhisper {
    inner: Arc<LocalInner>,
}

struct LocalInner {
    models_dir: PathBuf,
    wanted: Option<String>,
    max_secs: u32,
    model: OnceCell<Arc<WhisperModel>>,
    pool: Semaphore,
}

/// A local model failed (its files are unreadable, or inference itself failed).
#[derive(Debug, thiserror::Error)]
#[error("local transcription: {0}")]
pub struct LocalError(pub String);

impl LocalWhisper {
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(
            PathBuf::from(&settings.models_dir),
            settings.whisper_model.clone(),
            settings.max_audio_secs,
        )
    }

    pub fn new(models_dir: PathBuf, wanted: Option<String>, max_secs: u32) -> Self {
        LocalWhisper {
            inner: Arc::new(LocalInner {
                models_dir,
                wanted,
                max_secs,
                model: OnceCell::new(),
                pool: Semaphore::new(1),
            }),
        }
    }

    /// The folder of model `name`.
    pub fn folder(models_dir: &Path, name: &str) -> PathBuf {
        models_dir.join(format!("whisper-{name}"))
    }

    /// The Whisper models whose files are all present.
    pub fn installed(&self) -> Vec<&'static str> {
        whisper::WHISPER_MODELS
            .iter()
            .copied()
            .filter(|m| {
                let dir = Self::folder(&self.inner.models_dir, m);
                ["config.json", "tokenizer.json", "model.safetensors"]
                    .iter()
                    .all(|f| dir.join(f).is_file())
            })
            .collect()
    }

    /// The model chosen by `WHISPER_MODEL` (or the largest installed), if it is installed.
    pub fn chosen(&self) -> Option<String> {
        let installed = self.installed();
        whisper::choose(self.inner.wanted.as_deref(), &installed)
            .filter(|m| installed.contains(&m.as_str()))
    }

    /// Whether a model is loaded and serving.
    pub fn is_loaded(&self) -> bool {
        self.inner.model.initialized()
    }

    /// The loaded model, loading it on first use; `None` while none is installed.
    pub async fn model(&self) -> Result<Option<Arc<WhisperModel>>, LocalError> {
        if let Some(m) = self.inner.model.get() {
            return Ok(Some(m.clone()));
        }
        let Some(name) = self.chosen() else {
            return Ok(None);
        };
        let dir = Self::folder(&self.inner.models_dir, &name);
        let model = self
            .inner
            .model
            .get_or_try_init(|| async {
                let started = std::time::Instant::now();
                let _permit = self.inner.pool.acquire().await.expect("never closed");
                let loaded = tokio::task::spawn_blocking(move || WhisperModel::load(&dir, &name))
                    .await
                    .map_err(|e| LocalError(format!("loading task: {e}")))?
                    .map_err(|e| LocalError(e.to_string()))?;
                tracing::info!(model = loaded.name(), secs = started.elapsed().as_secs_f64(), "whisper model loaded");
                Ok::<_, LocalError>(Arc::new(loaded))
            })
            .await?;
        Ok(Some(model.clone()))
    }

    /// Decodes and transcribes the audio file at `path` on the inference pool.
    pub async fn transcribe_file(
        &self,
        model: Arc<WhisperModel>,
        path: &Path,
        content_type: &str,
    ) -> Result<LocalOutcome, LocalError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| LocalError(format!("reading the audio file: {e}")))?;
        let content_type = content_type.to_string();
        let max_secs = self.inner.max_secs;
        // The container's own length, before queueing for the pool.
        match audio::duration_secs(&bytes, &content_type) {
            Ok(Some(secs)) if secs > max_secs as f64 => {
                return Ok(LocalOutcome::TooLong {
                    secs,
                    limit: max_secs,
                });
            }
            Err(e) => return Ok(LocalOutcome::Undecodable(e.to_string())),
            Ok(_) => {}
        }
        let _permit = self.inner.pool.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let pcm = match audio::decode(&bytes, &content_type, max_secs) {
                Ok(p) => p,
                Err(AudioError::TooLong { secs, limit }) => {
                    return Ok(LocalOutcome::TooLong { secs, limit });
                }
                Err(e) => return Ok(LocalOutcome::Undecodable(e.to_string())),
            };
            drop(bytes);
            let t = model
                .transcribe(&pcm.samples)
                .map_err(|e| LocalError(e.to_string()))?;
            tracing::info!(
                model = model.name(),
                audio_secs = pcm.secs(),
                secs = started.elapsed().as_secs_f64(),
                windows = t.windows,
                language = ?t.language,
                low_confidence = t.low_confidence,
                "voice note transcribed locally"
            );
            Ok(LocalOutcome::Transcribed(t))
        })
        .await
        .map_err(|e| LocalError(format!("transcription task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn transcriber(base: &str) -> Transcriber {
        Transcriber::new(
            reqwest::Client::new(),
            OpenAiCompatible {
                api_base: base.to_string(),
                api_key: Some("sk-test".into()),
                model: "whisper-1".into(),
            },
        )
    }

    #[tokio::test]
    async fn sends_ogg_named_multipart_and_reads_text() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/audio/transcriptions"))
            .and(header("authorization", "Bearer sk-test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"text": " buy milk ", "usage": {"type": "duration", "seconds": 2}})))
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"OggS\0fake-opus-bytes").unwrap();
        let t = transcriber(&format!("{}/v1", server.uri()));
        let text = t.transcribe(&p, "audio/ogg; codecs=opus").await.unwrap();
        assert_eq!(text, "buy milk");
        let req = &server.received_requests().await.unwrap()[0];
        let body = String::from_utf8_lossy(&req.body);
        assert!(
            body.contains(r#"name="file"; filename="voice.ogg""#),
            "{body}"
        );
        assert!(body.contains("Content-Type: audio/ogg"), "{body}");
        assert!(body.contains("OggS\0fake-opus-bytes"));
        assert!(body.contains(r#"name="response_format""#) && body.contains("\r\n\r\njson\r\n"));
        assert!(body.contains("\r\n\r\nwhisper-1\r\n"));
        assert!(!body.contains(".opus"));
    }

    #[tokio::test]
    async fn errors_are_classified() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_string("Unsupported file format"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"x").unwrap();
        let t = transcriber(&server.uri());
        assert!(
            !t.transcribe(&p, "audio/ogg")
                .await
                .unwrap_err()
                .is_transient()
        );
        assert!(
            t.transcribe(&p, "audio/ogg")
                .await
                .unwrap_err()
                .is_transient()
        );
    }
}
