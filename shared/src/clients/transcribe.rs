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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::audio::{self, AudioError};
use crate::clients::models::catalog::{self, ModelSpec};
use crate::clients::models::manifest::Manifest;
use crate::clients::models::whisper::{Transcript, WhisperModel};
use crate::clients::models::{LocalModels, ModelError, ModelState, install};
use crate::config::{LocalModelsMode, Settings};

use crate::clients::external::{ExternalError, Service};
use crate::config::OpenAiCompatible;
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
        let req = self
            .http
            .post(format!("{}/audio/transcriptions", self.config.api_base))
            .multipart(form);
        let send = ExternalError::send_authed(Service::Transcribe, req, self.config.key());
        let resp = crate::monitoring::observed(Service::Transcribe, send).await?;
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
    TooLong {
        secs: f64,
        limit: u64,
    },
    /// Not audio this build can decode (corrupt, or an unsupported codec).
    Undecodable(String),
}

/// Whisper on this machine, one per process and settings (shared by the ingress's `/ready`,
/// the embedded worker and every pipeline). The chosen model (`WHISPER_MODEL`, else the
/// largest installed) is verified against its manifest and loaded in the background as soon
/// as it is installed; a model installed later (`fetch-models`) is picked up on the next voice
/// note or backfill pass. Inference runs on the process's bounded inference pool.
#[derive(Clone)]
pub struct LocalWhisper {
    inner: Arc<LocalInner>,
}

struct LocalInner {
    models: LocalModels,
    mode: LocalModelsMode,
    wanted: Option<String>,
    max_secs: u64,
    /// A transcription API is configured: the local model is not used.
    api: bool,
    model: OnceCell<Arc<WhisperModel>>,
    loading: AtomicBool,
    /// True while the model is being fetched from the hub (`LOCAL_MODELS=auto|required` with
    /// none installed).
    fetching: tokio::sync::watch::Sender<bool>,
}

type Key = (PathBuf, Option<String>, LocalModelsMode, bool);
static REGISTRY: LazyLock<Mutex<HashMap<Key, LocalWhisper>>> = LazyLock::new(Default::default);

fn key(settings: &Settings) -> Key {
    (
        settings.models.dir.clone(),
        settings.models.whisper_model.clone(),
        settings.models.mode,
        settings.transcribe.is_some(),
    )
}

impl LocalWhisper {
    /// The process's Whisper for these settings; the first call starts loading an installed
    /// model in the background.
    pub fn start(settings: &Settings, models: &LocalModels) -> LocalWhisper {
        let mut reg = REGISTRY.lock().expect("whisper registry");
        if let Some(w) = reg.get(&key(settings)) {
            return w.clone();
        }
        let w = LocalWhisper {
            inner: Arc::new(LocalInner {
                models: models.clone(),
                mode: settings.models.mode,
                wanted: settings.models.whisper_model.clone(),
                max_secs: settings.models.max_audio_secs,
                api: settings.transcribe.is_some(),
                model: OnceCell::new(),
                loading: AtomicBool::new(false),
                fetching: tokio::sync::watch::Sender::new(false),
            }),
        };
        reg.insert(key(settings), w.clone());
        drop(reg);
        if w.enabled()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let bg = w.clone();
            if w.chosen().is_some() {
                rt.spawn(async move {
                    if let Err(e) = bg.model().await {
                        tracing::error!(error = %e, "the whisper model could not be loaded; voice notes stay untranscribed");
                    }
                });
            } else if let Some(spec) = catalog::whisper_to_install(w.inner.wanted.as_deref()) {
                w.inner.fetching.send_replace(true);
                let endpoint = settings.models.hf_endpoint.clone();
                rt.spawn(async move { bg.fetch(spec, &endpoint).await });
            }
        }
        w
    }

    /// `/ready`'s `models.whisper` without loading anything: this process's state when it
    /// runs Whisper, else what is on disk (`ready` when installed: workers load it on use).
    pub fn state_for(settings: &Settings) -> ModelState {
        if let Some(w) = REGISTRY.lock().expect("whisper registry").get(&key(settings)) {
            return w.state();
        }
        if settings.models.mode == LocalModelsMode::Off || settings.transcribe.is_some() {
            return ModelState::Off;
        }
        match chosen_in(&settings.models.dir, settings.models.whisper_model.as_deref()) {
            Some(_) => ModelState::Ready,
            None => ModelState::Missing,
        }
    }

    fn enabled(&self) -> bool {
        self.inner.mode != LocalModelsMode::Off && !self.inner.api
    }

    /// `ready | fetching | loading | missing | off`.
    pub fn state(&self) -> ModelState {
        if !self.enabled() {
            ModelState::Off
        } else if *self.inner.fetching.borrow() {
            ModelState::Fetching
        } else if self.inner.model.initialized() {
            ModelState::Ready
        } else if self.inner.loading.load(Ordering::SeqCst) {
            ModelState::Loading
        } else {
            ModelState::Missing
        }
    }

    /// In the background: installs `spec` from the hub at `endpoint`, then loads it. On failure
    /// the notes stay untranscribed (the backfill transcribes them once a model is installed).
    async fn fetch(&self, spec: &'static ModelSpec, endpoint: &str) {
        let dir = self.inner.models.models_dir().to_path_buf();
        tracing::warn!(
            model = spec.id,
            dir = %dir.display(),
            "no whisper model installed: fetching it from {endpoint} in the background; voice notes are kept untranscribed meanwhile"
        );
        let progress = |line: &str| tracing::info!("{line}");
        let http = install::download_client();
        let fetched = install::install_from_hub(&dir, spec, endpoint, &http, &progress).await;
        if fetched.is_ok() {
            // `loading` from here, never `missing` between the fetch and the load.
            self.inner.loading.store(true, Ordering::SeqCst);
        }
        self.inner.fetching.send_replace(false);
        match fetched {
            Ok(_) => {
                if let Err(e) = self.model().await {
                    tracing::error!(error = %e, "the fetched whisper model could not be loaded; voice notes stay untranscribed");
                }
                if !self.inner.model.initialized() {
                    self.inner.loading.store(false, Ordering::SeqCst);
                }
            }
            Err(e) => tracing::warn!(
                "could not fetch {} ({e}); voice notes stay untranscribed. Install it with `mnemo-ingress fetch-models --from DIR` (see README: Local models)",
                spec.id
            ),
        }
    }

    /// With `LOCAL_MODELS=required`: waits for a fetch under way, then fails unless a model is
    /// installed (`Ok` when the local model is not used).
    pub async fn wait_ready(&self, timeout: std::time::Duration) -> Result<(), ModelError> {
        if !self.enabled() {
            return Ok(());
        }
        let mut rx = self.inner.fetching.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|fetching| !*fetching)).await;
        match self.chosen() {
            Some(_) => Ok(()),
            None => Err(ModelError::Missing(
                "whisper model".into(),
                self.inner.models.models_dir().display().to_string(),
            )),
        }
    }

    /// The model to use, if it is installed.
    pub fn chosen(&self) -> Option<&'static ModelSpec> {
        chosen_in(self.inner.models.models_dir(), self.inner.wanted.as_deref())
    }

    /// The loaded model, verifying and loading it on first use; `None` while none is
    /// installed (or the local model is off).
    pub async fn model(&self) -> Result<Option<Arc<WhisperModel>>, ModelError> {
        if let Some(m) = self.inner.model.get() {
            return Ok(Some(m.clone()));
        }
        if !self.enabled() {
            return Ok(None);
        }
        let Some(spec) = self.chosen() else {
            return Ok(None);
        };
        let model = self
            .inner
            .model
            .get_or_try_init(|| async {
                self.inner.loading.store(true, Ordering::SeqCst);
                let started = std::time::Instant::now();
                let dir = install::model_dir(self.inner.models.models_dir(), spec);
                let loaded = self
                    .inner
                    .models
                    .pool()
                    .run(move || {
                        Manifest::verify(spec, &dir)?;
                        let name = spec.id.trim_start_matches("whisper-");
                        WhisperModel::load(&dir, name)
                            .map_err(|e| ModelError::Format(e.to_string()))
                    })
                    .await;
                self.inner.loading.store(false, Ordering::SeqCst);
                let loaded = loaded?;
                tracing::info!(
                    model = spec.id,
                    ms = started.elapsed().as_millis() as u64,
                    "whisper model ready"
                );
                Ok::<_, ModelError>(Arc::new(loaded))
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
    ) -> Result<LocalOutcome, ModelError> {
        let bytes = tokio::fs::read(path).await.map_err(|e| ModelError::io(path, e))?;
        let content_type = content_type.to_string();
        let max_secs = self.inner.max_secs.min(u32::MAX as u64) as u32;
        // The container's own length, before queueing for the pool.
        match audio::duration_secs(&bytes, &content_type) {
            Ok(Some(secs)) if secs > max_secs as f64 => {
                return Ok(LocalOutcome::TooLong { secs, limit: max_secs as u64 });
            }
            Err(e) => return Ok(LocalOutcome::Undecodable(e.to_string())),
            Ok(_) => {}
        }
        self.inner
            .models
            .pool()
            .run(move || {
                let started = std::time::Instant::now();
                let pcm = match audio::decode(&bytes, &content_type, max_secs) {
                    Ok(p) => p,
                    Err(AudioError::TooLong { secs, limit }) => {
                        return Ok(LocalOutcome::TooLong { secs, limit: limit as u64 });
                    }
                    Err(e) => return Ok(LocalOutcome::Undecodable(e.to_string())),
                };
                drop(bytes);
                let t = model
                    .transcribe(&pcm.samples)
                    .map_err(|e| ModelError::Inference(e.to_string()))?;
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
    }
}

/// `wanted` (a catalog id) when installed, else the largest installed Whisper.
fn chosen_in(models_dir: &Path, wanted: Option<&str>) -> Option<&'static ModelSpec> {
    catalog::WHISPER_MODELS
        .iter()
        .filter(|s| wanted.is_none_or(|w| s.id == w))
        .find(|s| install::is_installed(models_dir, s))
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
        assert!(body.contains(r#"name="file"; filename="voice.ogg""#), "{body}");
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
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"x").unwrap();
        let t = transcriber(&server.uri());
        crate::monitoring::handle();
        assert!(!t.transcribe(&p, "audio/ogg").await.unwrap_err().is_transient());
        assert!(t.transcribe(&p, "audio/ogg").await.unwrap_err().is_transient());
        // Both calls are in the external-service metrics the README lists.
        let metrics = crate::monitoring::render();
        for kind in ["permanent", "transient"] {
            let line =
                format!("mnemo_external_errors_total{{service=\"transcribe\",kind=\"{kind}\"}}");
            assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
        }
    }
}
