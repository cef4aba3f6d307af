//! The model hub: errors, each model's state, the process's [`LocalModels`] and the
//! [`Embeddings`] the memory engine calls (see the module above for the whole picture).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};

use super::catalog::ModelSpec;
pub use super::embed::Embedder;
pub use super::pool::InferencePool;
use super::{install, manifest};
use crate::clients::external::Service;
use crate::config::{ExposeSecret, LocalModelsMode, SecretString, Settings};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(
        "refusing to load {model}: {file} has sha256 {found}, expected {expected} (reinstall with `fetch-models`)"
    )]
    HashMismatch { model: String, file: String, expected: String, found: String },
    #[error("model {0} is not installed in {1} (run `mnemo-ingress fetch-models`)")]
    Missing(String, String),
    #[error("{0}")]
    Format(String),
    #[error("download failed: {0}")]
    Download(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

impl ModelError {
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        ModelError::Io { path: path.display().to_string(), message: e.to_string() }
    }

    /// `Ok` when `found` is the `expected` SHA-256 of `model`'s `file`; else
    /// [`ModelError::HashMismatch`].
    pub fn check_hash(model: &str, file: &str, expected: &str, found: String) -> Result<(), Self> {
        if found == expected {
            return Ok(());
        }
        let (model, file, expected) = (model.into(), file.into(), expected.into());
        Err(ModelError::HashMismatch { model, file, expected, found })
    }
}

/// Where a model is in its life (`/ready` → `models`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelState {
    Ready,
    Fetching,
    Loading,
    Missing,
    Off,
}

impl ModelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::Ready => "ready",
            ModelState::Fetching => "fetching",
            ModelState::Loading => "loading",
            ModelState::Missing => "missing",
            ModelState::Off => "off",
        }
    }
}

/// One process's local models for one set of settings; cheap to clone, shared by the ingress,
/// the embedded worker and every pipeline in the process.
#[derive(Clone)]
pub struct LocalModels {
    hub: Arc<Hub>,
}

struct Hub {
    models_dir: PathBuf,
    hf_endpoint: String,
    pool: InferencePool,
    embed_spec: Option<&'static ModelSpec>,
    embed_state: watch::Sender<ModelState>,
    embedder: OnceLock<Arc<Embedder>>,
    last_error: Mutex<Option<String>>,
}

type HubKey = (PathBuf, Option<&'static str>, LocalModelsMode, String);
static HUBS: LazyLock<Mutex<HashMap<HubKey, Arc<Hub>>>> = LazyLock::new(Default::default);

impl LocalModels {
    /// The process's models for these settings, started on first call: an installed model is
    /// verified and loaded on a background thread; in `auto`, a missing one is fetched from the
    /// hub in the background first. Never blocks; `required` callers then await
    /// [`LocalModels::wait_ready`].
    pub fn start(settings: &Settings) -> LocalModels {
        let m = &settings.models;
        let embed_spec = if m.embed_api.is_some() || m.mode == LocalModelsMode::Off {
            None
        } else {
            m.embed_model
        };
        let key: HubKey = (m.dir.clone(), embed_spec.map(|s| s.id), m.mode, m.hf_endpoint.clone());
        let mut hubs = HUBS.lock().expect("model hubs lock");
        if let Some(hub) = hubs.get(&key) {
            return LocalModels { hub: hub.clone() };
        }
        let hub = Arc::new(Hub {
            models_dir: m.dir.clone(),
            hf_endpoint: m.hf_endpoint.clone(),
            pool: InferencePool::new(m.threads),
            embed_spec,
            embed_state: watch::Sender::new(if embed_spec.is_some() {
                ModelState::Loading
            } else {
                ModelState::Off
            }),
            embedder: OnceLock::new(),
            last_error: Mutex::new(None),
        });
        hubs.insert(key, hub.clone());
        drop(hubs);
        if let Some(spec) = embed_spec {
            let hub = hub.clone();
            std::thread::Builder::new()
                .name(format!("load-{}", spec.id))
                .spawn(move || hub.bring_up(spec))
                .expect("spawn model loader thread");
        }
        LocalModels { hub }
    }

    pub fn pool(&self) -> &InferencePool {
        &self.hub.pool
    }

    pub fn models_dir(&self) -> &Path {
        &self.hub.models_dir
    }

    pub fn embeddings_state(&self) -> ModelState {
        *self.hub.embed_state.borrow()
    }

    /// Why the embedding model is not available, when it failed to fetch or load.
    pub fn last_error(&self) -> Option<String> {
        self.hub.last_error.lock().expect("error lock").clone()
    }

    /// The loaded embedder, once ready.
    pub fn embedder(&self) -> Option<Arc<Embedder>> {
        self.hub.embedder.get().cloned()
    }

    /// Waits until the embedding model is ready, or fails with why it cannot be (`required`).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), ModelError> {
        let mut rx = self.hub.embed_state.subscribe();
        let done = tokio::time::timeout(
            timeout,
            rx.wait_for(|s| matches!(s, ModelState::Ready | ModelState::Missing | ModelState::Off)),
        )
        .await;
        match done.as_ref().map(|r| r.as_deref().copied()) {
            Ok(Ok(ModelState::Ready | ModelState::Off)) => Ok(()),
            Ok(_) => Err(self
                .hub
                .last_error
                .lock()
                .expect("error lock")
                .clone()
                .map(ModelError::Format)
                .unwrap_or_else(|| {
                    ModelError::Missing(
                        "embedding model".into(),
                        self.hub.models_dir.display().to_string(),
                    )
                })),
            Err(_) => Err(ModelError::Format(format!(
                "the embedding model was not ready within {timeout:?}"
            ))),
        }
    }
}

impl Hub {
    fn set(&self, state: ModelState) {
        self.embed_state.send_replace(state);
    }

    fn fail(&self, state: ModelState, message: String) {
        *self.last_error.lock().expect("error lock") = Some(message);
        self.set(state);
    }

    /// On the loader thread: fetch if allowed and needed, verify, load.
    fn bring_up(&self, spec: &'static ModelSpec) {
        // A hub exists only for `auto` and `required`: both fetch what is missing.
        if !install::is_installed(&self.models_dir, spec) {
            self.set(ModelState::Fetching);
            warn!(
                model = spec.id,
                dir = %self.models_dir.display(),
                "embedding model not installed: fetching it from {} in the background; answering lexically meanwhile",
                self.hf_endpoint
            );
            if let Err(e) = self.fetch(spec) {
                let msg = format!(
                    "could not fetch {} ({e}); recall stays lexical. Install it with `mnemo-ingress fetch-models --from DIR` (see README: Local models)",
                    spec.id
                );
                warn!("{msg}");
                self.fail(ModelState::Missing, msg);
                return;
            }
        }
        self.set(ModelState::Loading);
        let started = std::time::Instant::now();
        let dir = install::model_dir(&self.models_dir, spec);
        let loaded =
            manifest::Manifest::verify(spec, &dir).and_then(|_| Embedder::load(spec, &dir));
        match loaded {
            Ok(embedder) => {
                let _ = self.embedder.set(Arc::new(embedder));
                info!(
                    model = spec.id,
                    ms = started.elapsed().as_millis() as u64,
                    "embedding model ready"
                );
                self.set(ModelState::Ready);
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::error!("{msg}; recall stays lexical");
                self.fail(ModelState::Missing, msg);
            }
        }
    }

    fn fetch(&self, spec: &'static ModelSpec) -> Result<(), ModelError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ModelError::Download(e.to_string()))?;
        let http = install::download_client();
        let progress = |line: &str| info!("{line}");
        rt.block_on(install::install_from_hub(
            &self.models_dir,
            spec,
            &self.hf_endpoint,
            &http,
            &progress,
        ))
        .map(|_| ())
    }
}

/// The embedding backend the memory engine uses.
#[derive(Clone)]
pub enum Embeddings {
    /// `LOCAL_MODELS=off` and no `EMBED_API_BASE`: recall is lexical only.
    Off,
    Local(LocalModels),
    Api(ApiEmbedder),
}

impl Embeddings {
    pub fn from_settings(settings: &Settings, models: &LocalModels) -> Embeddings {
        match &settings.models.embed_api {
            Some(api) => Embeddings::Api(ApiEmbedder {
                api_base: api.api_base.clone(),
                api_key: api.api_key.clone(),
                model: api.model.clone(),
                http: crate::clients::http::client(settings.http_timeout),
            }),
            None if models.hub.embed_spec.is_some() => Embeddings::Local(models.clone()),
            None => Embeddings::Off,
        }
    }

    /// The name recorded with each vector; vectors of another model are never compared.
    pub fn model_id(&self) -> Option<String> {
        match self {
            Embeddings::Off => None,
            Embeddings::Local(m) => m.hub.embed_spec.map(|s| s.id.to_string()),
            Embeddings::Api(a) => Some(format!("api:{}", a.model)),
        }
    }

    pub fn state(&self) -> ModelState {
        match self {
            Embeddings::Off => ModelState::Off,
            Embeddings::Local(m) => m.embeddings_state(),
            Embeddings::Api(_) => ModelState::Ready,
        }
    }

    /// Vectors for memories; `None` while no model is ready (the backfill catches up later).
    pub async fn passages(&self, texts: Vec<String>) -> Result<Option<Vec<Vec<f32>>>, ModelError> {
        match self {
            Embeddings::Off => Ok(None),
            Embeddings::Local(m) => match m.embedder() {
                None => Ok(None),
                Some(e) => m.pool().run(move || e.passages(&texts)).await.map(Some),
            },
            Embeddings::Api(a) => a.embed(&texts).await.map(Some),
        }
    }

    /// The vector of a question; `None` while no model is ready.
    pub async fn query(&self, text: &str) -> Result<Option<Vec<f32>>, ModelError> {
        match self {
            Embeddings::Off => Ok(None),
            Embeddings::Local(m) => match m.embedder() {
                None => Ok(None),
                Some(e) => {
                    let text = text.to_string();
                    m.pool().run(move || e.query(&text)).await.map(Some)
                }
            },
            Embeddings::Api(a) => Ok(a.embed(&[text.to_string()]).await?.pop()),
        }
    }
}

/// An OpenAI-compatible `POST {base}/embeddings` endpoint.
#[derive(Clone)]
pub struct ApiEmbedder {
    api_base: String,
    api_key: Option<SecretString>,
    model: String,
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct ApiResponse {
    data: Vec<ApiItem>,
}

#[derive(serde::Deserialize)]
struct ApiItem {
    embedding: Vec<f32>,
    #[serde(default)]
    index: usize,
}

impl ApiEmbedder {
    /// Measured as `service="embeddings"`: a refused request (4xx) or an answer that is not
    /// one vector per input counts as permanent, anything else that fails as transient.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let started = std::time::Instant::now();
        let result = self.request(texts).await;
        let outcome = result.as_ref().map(|_| ()).map_err(|(_, transient)| *transient);
        crate::monitoring::external(Service::Embeddings, started, outcome);
        result.map_err(|(e, _)| e)
    }

    /// One request; a failure says whether it may pass on a retry.
    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, (ModelError, bool)> {
        let url = format!("{}/embeddings", self.api_base);
        let transient = |e: String| (ModelError::Inference(e), true);
        let permanent = |e: String| (ModelError::Inference(e), false);
        let mut req =
            self.http.post(&url).json(&serde_json::json!({"model": self.model, "input": texts}));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k.expose_secret());
        }
        let res = req.send().await.map_err(|e| transient(format!("{url}: {e}")))?;
        let status = res.status();
        if status.is_client_error() && status.as_u16() != 429 {
            return Err(permanent(format!("{url}: HTTP {status}")));
        }
        if !status.is_success() {
            return Err(transient(format!("{url}: HTTP {status}")));
        }
        let mut body: ApiResponse =
            res.json().await.map_err(|e| permanent(format!("{url}: unexpected answer: {e}")))?;
        if body.data.len() != texts.len() {
            let (got, want) = (body.data.len(), texts.len());
            return Err(permanent(format!("{url}: {got} vectors for {want} inputs")));
        }
        body.data.sort_by_key(|d| d.index);
        Ok(body.data.into_iter().map(|d| normalise(d.embedding)).collect())
    }
}

/// L2-normalises a vector (so a dot product is the cosine).
pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}
