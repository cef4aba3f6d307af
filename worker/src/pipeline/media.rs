//! The media step of the pipeline: download each attachment, store it once per SHA-256, link
//! it to the message, then transcribe voice notes, hash and describe photos, and turn shared
//! locations into text.
//!
//! Every effect is recorded before the next one starts, so a retried or redelivered job
//! resumes instead of repeating:
//! - an `interaction_media` row per (interaction, position), created first;
//! - the object stored under its hash, then `media_objects` upserted (unique sha256), then the
//!   link set from NULL **and** `ref_count` incremented in one transaction — only when the link
//!   was still NULL, so a retry never counts twice and never downloads again;
//! - the perceptual hash on the object, `duplicate_of` on the link (set once);
//! - the transcript on the interaction before the memory is made from it.
//!
//! Attachment-level failures (4xx, too large, not from Twilio, undecodable) become a line in the
//! reply and the message is still answered; timeouts and 5xx are transient and retry the job.

use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tracing::{info, warn};
use uuid::Uuid;

use super::{Pipeline, Result};
use mnemo_shared::clients::external::ExternalError;
use mnemo_shared::clients::media_download::{DownloadError, Downloader, Source, redact};
use mnemo_shared::clients::transcribe::{LocalOutcome, LocalWhisper, Transcriber};
use mnemo_shared::clients::vision::Describer;
use mnemo_shared::config::Settings;
use mnemo_shared::domain::inbound::{self, InboundMedia, Location};
use mnemo_shared::error::PipelineError;
use mnemo_shared::media::phash::{self, NEAR_DUPLICATE_BITS};
use mnemo_shared::media::{MediaStore, human_size, kind_of, storage_key};
use mnemo_shared::store::entities::{interaction, interaction_media, media_object, memory, user};
use mnemo_shared::store::interaction_media as links;
use mnemo_shared::store::{interactions, media_objects};

/// What the attachments of one message added to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaOutcome {
    /// A voice note's transcript (also stored on the interaction).
    pub transcript: Option<String>,
    /// A photo's description from the vision model, when one is configured.
    pub description: Option<String>,
    /// The first image as a `data:` URL, for Mem0's multimodal add.
    pub image_data_url: Option<String>,
    /// Lines for the reply ("that file is too large", "looks like the photo you sent on …").
    pub notes: Vec<String>,
    /// A shared location as text: "📍 Label, Address (lat, lon)".
    pub location: Option<String>,
    /// The memory text when nothing else gives one (no caption, transcript or description):
    /// e.g. "voice note (not transcribed)".
    pub fallback: Option<String>,
    /// The objects stored for this message, in attachment order.
    pub stored: Vec<StoredMedia>,
}

/// One stored attachment of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// The earlier `interaction_media` row this photo nearly duplicates.
    pub duplicate_of: Option<Uuid>,
}

impl MediaOutcome {
    /// The memory text of the message: caption, transcript, description and location, in
    /// that order; the fallback when all are empty.
    pub fn memory_text(&self, inbound: &interaction::Model) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for p in [
            Some(inbound.body.as_str()),
            self.transcript.as_deref(),
            inbound.transcript.as_deref().filter(|_| self.transcript.is_none()),
            self.description.as_deref(),
            self.location.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            let p = p.trim();
            if !p.is_empty() && !parts.contains(&p) {
                parts.push(p);
            }
        }
        if parts.is_empty()
            && let Some(f) = &self.fallback
        {
            return f.clone();
        }
        parts.join("\n")
    }
}

/// The outside services the media step uses, built once per pipeline.
#[derive(Clone)]
pub struct MediaClients {
    pub downloader: Downloader,
    pub transcriber: Option<Transcriber>,
    /// Whisper on this machine: used when no transcription API is configured.
    pub local_whisper: LocalWhisper,
    pub describer: Option<Describer>,
}

impl MediaClients {
    pub fn from_settings(
        settings: &Settings,
        models: &mnemo_shared::clients::models::LocalModels,
    ) -> Self {
        // Transcription and vision calls carry megabytes and run models: a longer timeout.
        let slow = mnemo_shared::clients::http::client(
            settings.http_timeout.max(std::time::Duration::from_secs(120)),
        );
        MediaClients {
            downloader: Downloader::from_settings(settings),
            transcriber: settings.transcribe.clone().map(|c| Transcriber::new(slow.clone(), c)),
            local_whisper: LocalWhisper::start(settings, models),
            describer: settings.llm.clone().map(|c| Describer::new(slow, c)),
        }
    }
}

/// The attachments and location of the message as recorded (every parameter is kept in
/// `raw`; REST submissions have no `MessageSid`/`From` there, so none is required).
fn parse_raw(inbound: &interaction::Model) -> Option<(Vec<InboundMedia>, Option<Location>)> {
    let obj = inbound.raw.as_ref()?.as_object()?;
    let mut params = Vec::new();
    for (k, v) in obj {
        match v {
            serde_json::Value::String(s) => params.push((k.clone(), s.clone())),
            serde_json::Value::Array(list) => params
                .extend(list.iter().filter_map(|x| x.as_str()).map(|s| (k.clone(), s.to_string()))),
            _ => {}
        }
    }
    Some(inbound::attachments(&params))
}

/// "📍 Blue Bottle Coffee, 66 Mint St (37.78250, -122.40360)".
pub fn location_text(loc: &Location) -> String {
    let mut name: Vec<&str> = Vec::new();
    for part in [loc.label.as_deref(), loc.address.as_deref()].into_iter().flatten() {
        if !name.contains(&part) {
            name.push(part);
        }
    }
    let coords = format!("({:.5}, {:.5})", loc.latitude, loc.longitude);
    if name.is_empty() {
        format!("📍 {coords}")
    } else {
        format!("📍 {} {coords}", name.join(", "))
    }
}

/// The memory text of a voice note still waiting for a transcript (the backfill's marker).
pub const NOT_TRANSCRIBED: &str = "voice note (not transcribed)";

/// "1:05 min", "12 min".
fn minutes(secs: f64) -> String {
    let s = secs.round() as u64;
    if s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{}:{:02} min", s / 60, s % 60)
    }
}

fn day(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b").to_string()
}

fn noun(kind: &str) -> &'static str {
    match kind {
        "image" => "photo",
        "audio" => "voice note",
        "video" => "video",
        _ => "file",
    }
}

/// A local copy of an attachment's bytes: the fresh download, or read back from the store.
struct Bytes {
    file: Option<tempfile::NamedTempFile>,
}

impl Bytes {
    async fn path(&mut self, store: &MediaStore, key: &str) -> Result<&Path> {
        if self.file.is_none() {
            self.file = Some(store.fetch_to_staging(key).await?.ok_or_else(|| {
                PipelineError::transient(format!("stored media {key} is missing"))
            })?);
        }
        Ok(self.file.as_ref().expect("just set").path())
    }
}

impl Pipeline {
    /// Ingests the message's attachments and location; a text message has none.
    pub(crate) async fn ingest_media(&self, inbound: &interaction::Model) -> Result<MediaOutcome> {
        let mut out = MediaOutcome::default();
        let Some((media, location)) = parse_raw(inbound) else {
            return Ok(out);
        };
        if let Some(loc) = &location {
            out.location = Some(location_text(loc));
        }
        if media.is_empty() {
            return Ok(out);
        }
        let tz: Tz = user::Entity::find_by_id(inbound.user_id)
            .one(&self.db)
            .await?
            .and_then(|u| u.timezone.parse().ok())
            .unwrap_or(self.settings.default_timezone);
        let memory = memory::Entity::find()
            .filter(memory::Column::InteractionId.eq(inbound.id))
            .one(&self.db)
            .await?;
        let work = Work {
            // Transcript and description feed the memory text: only before it exists.
            text: memory.is_none(),
            // Mem0 gets the image until it holds the memory.
            data_url: memory
                .as_ref()
                .is_none_or(|m| self.engine.mem0.is_some() && m.mem0_id.is_none()),
            last_attempt: inbound.attempts >= self.settings.job_max_attempts as i32,
            tz,
            submitted: mnemo_shared::domain::api_submission::is_submission(inbound.raw.as_ref()),
        };
        for (position, media) in media.iter().enumerate() {
            self.ingest_one(inbound, position as i32, media, &work, &mut out).await?;
        }
        if out.fallback.is_none() {
            let kind = kind_of(&media[0].content_type);
            out.fallback = Some(match out.stored.first() {
                Some(s) => format!(
                    "{} ({}, {})",
                    noun(kind),
                    mnemo_shared::media::essence(&s.content_type),
                    human_size(s.size_bytes.max(0) as u64)
                ),
                None => format!("{} (not kept)", noun(kind)),
            });
        }
        Ok(out)
    }

    async fn ingest_one(
        &self,
        inbound: &interaction::Model,
        position: i32,
        media: &InboundMedia,
        work: &Work,
        out: &mut MediaOutcome,
    ) -> Result<()> {
        let link = self.ensure_link(inbound.id, position, media).await?;
        let n = position + 1;
        let declared_kind = kind_of(&media.content_type);
        let mut bytes = Bytes { file: None };

        let object = match link.media_object_id {
            Some(id) => media_object::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .ok_or_else(|| PipelineError::Permanent(format!("media object {id} vanished")))?,
            None => {
                let uploaded = mnemo_shared::domain::api_submission::stored_sha256(&media.url);
                if uploaded.is_none()
                    && !work.submitted
                    && !self.media_clients.downloader.is_allowed(&media.url)
                {
                    warn!(url = %redact(&media.url), position, "media URL not on the Twilio host; not fetched");
                    out.notes.push(format!(
                        "⚠️ I skipped attachment {n}: it did not come from WhatsApp's media server."
                    ));
                    return Ok(());
                }
                let staging = self.media.staging_dir();
                let fetched = match uploaded {
                    // A REST upload, already in the store: read back, then the same path.
                    Some(sha256) => self.read_upload(sha256, &media.content_type).await,
                    None => {
                        let from =
                            if work.submitted { Source::Submission } else { Source::Message };
                        let downloader = &self.media_clients.downloader;
                        downloader.fetch(&media.url, &media.content_type, &staging, from).await
                    }
                };
                let got = match fetched {
                    Ok(got) => got,
                    Err(DownloadError::NotAllowed(url)) => {
                        warn!(url = %url, position, "media URL refused");
                        out.notes.push(format!(
                            "⚠️ I skipped attachment {n}: it did not come from WhatsApp's media server."
                        ));
                        return Ok(());
                    }
                    Err(DownloadError::TooLarge { limit, size }) => {
                        info!(position, limit, ?size, "media over the size limit; refused");
                        let size =
                            size.map(|s| format!(" ({})", human_size(s))).unwrap_or_default();
                        out.notes.push(format!(
                            "⚠️ Your {} is too large for me to keep{size}; the limit is {}.",
                            noun(declared_kind),
                            human_size(limit)
                        ));
                        return Ok(());
                    }
                    Err(DownloadError::Permanent(why)) => {
                        warn!(url = %redact(&media.url), position, error = %why, "media download refused");
                        out.notes.push(format!(
                            "⚠️ I couldn't download your {} ({why}).",
                            noun(declared_kind)
                        ));
                        return Ok(());
                    }
                    Err(DownloadError::Transient(e)) => return Err(e.into()),
                    Err(DownloadError::Io(e)) => {
                        return Err(PipelineError::transient(format!("media staging: {e}")));
                    }
                };
                let key = storage_key(&got.sha256);
                if uploaded.is_none() {
                    self.media.put(&key, got.file.path(), &got.content_type).await?;
                }
                let object =
                    self.upsert_object(&got.sha256, got.size, &got.content_type, &key).await?;
                if self.link_object(link.id, &object, &got.content_type).await? {
                    info!(sha256 = %got.sha256, size = got.size, position, "media stored and linked");
                }
                bytes.file = Some(got.file);
                object
            }
        };
        let key = object.storage_key.clone();
        let mut stored = StoredMedia {
            sha256: object.sha256.clone(),
            content_type: object.content_type.clone(),
            size_bytes: object.size_bytes,
            duplicate_of: link.duplicate_of,
        };

        match kind_of(&object.content_type) {
            "image" => {
                let need_phash = object.phash.is_none();
                let first_image = out.image_data_url.is_none() && work.data_url;
                let mut phash = object.phash.clone();
                if need_phash || first_image {
                    let path = bytes.path(&self.media, &key).await?.to_path_buf();
                    match tokio::task::spawn_blocking(move || phash::analyse(&path)).await {
                        Ok(Ok(a)) => {
                            if need_phash {
                                media_objects::set_phash(&self.db, object.id, &a.phash).await?;
                                phash = Some(a.phash.clone());
                            }
                            if first_image && !a.data_url.is_empty() {
                                if work.text
                                    && let Some(d) = &self.media_clients.describer
                                {
                                    out.description = self.optional_step(
                                        d.describe(&a.data_url, &inbound.body).await,
                                        work,
                                        "photo description",
                                    )?;
                                }
                                out.image_data_url = Some(a.data_url);
                            }
                        }
                        Ok(Err(e)) => {
                            warn!(error = %e, sha256 = %object.sha256, "photo could not be decoded");
                        }
                        Err(e) => return Err(PipelineError::transient(format!("image task: {e}"))),
                    }
                }
                if let Some(ph) = &phash {
                    stored.duplicate_of =
                        self.near_duplicate(inbound, &link, ph, work.tz, out).await?;
                }
            }
            "audio" => {
                if let Some(t) = &inbound.transcript {
                    out.transcript = Some(t.clone());
                } else if work.text {
                    match &self.media_clients.transcriber {
                        Some(t) => {
                            let path = bytes.path(&self.media, &key).await?.to_path_buf();
                            let result = t.transcribe(&path, &object.content_type).await;
                            match self.optional_step(result, work, "transcription")? {
                                Some(text) if !text.is_empty() => {
                                    // Recorded before the memory is made from it.
                                    self.record_transcript(inbound.id, &text, None).await?;
                                    out.transcript = Some(text);
                                }
                                Some(_) => {
                                    out.notes.push("🎙 I kept your voice note, but I couldn't make out any words.".into());
                                    out.fallback = Some("voice note (no words recognised)".into());
                                }
                                None => {
                                    out.notes.push("🎙 I kept your voice note, but transcribing it failed; it's saved untranscribed.".into());
                                    out.fallback = Some("voice note (not transcribed)".into());
                                }
                            }
                        }
                        None => {
                            let path = bytes.path(&self.media, &key).await?.to_path_buf();
                            self.transcribe_locally(
                                inbound,
                                &path,
                                &object.content_type,
                                work,
                                out,
                            )
                            .await?;
                        }
                    }
                }
            }
            _ => {}
        }
        out.stored.push(stored);
        Ok(())
    }

    /// A REST upload the ingress stored under `sha256`, copied to staging like a download.
    async fn read_upload(
        &self,
        sha256: &str,
        content_type: &str,
    ) -> Result<mnemo_shared::clients::media_download::Downloaded, DownloadError> {
        let transient = |e: String| {
            DownloadError::Transient(ExternalError::Transient {
                service: mnemo_shared::clients::external::Service::Media,
                message: e,
                retry_after: None,
                status: None,
            })
        };
        let file = self
            .media
            .fetch_to_staging(&storage_key(sha256))
            .await
            .map_err(|e| transient(e.to_string()))?
            .ok_or_else(|| DownloadError::Permanent("the uploaded file is gone".into()))?;
        let size = file.as_file().metadata()?.len();
        Ok(mnemo_shared::clients::media_download::Downloaded {
            file,
            sha256: sha256.to_string(),
            size,
            content_type: content_type.to_string(),
        })
    }

    /// A voice note through the local Whisper, when no transcription API is configured.
    /// Without an installed model the note is kept as "voice note (not transcribed)", the
    /// marker the backfill looks for once a model appears.
    async fn transcribe_locally(
        &self,
        inbound: &interaction::Model,
        path: &Path,
        content_type: &str,
        work: &Work,
        out: &mut MediaOutcome,
    ) -> Result<()> {
        let local = &self.media_clients.local_whisper;
        if local.state() == mnemo_shared::clients::models::ModelState::Off {
            out.notes.push(
                "🎙 I kept your voice note. Transcription isn't set up, so it's saved untranscribed."
                    .into(),
            );
            out.fallback = Some(NOT_TRANSCRIBED.into());
            return Ok(());
        }
        let model = match local.model().await {
            Ok(Some(m)) => m,
            Ok(None) => {
                out.notes.push(
                    "🎙 I kept your voice note. My speech model isn't installed yet; I'll transcribe it as soon as it is."
                        .into(),
                );
                out.fallback = Some(NOT_TRANSCRIBED.into());
                return Ok(());
            }
            Err(e) => {
                warn!(error = %e, "the local whisper model could not be loaded");
                out.notes.push(
                    "🎙 I kept your voice note; I couldn't transcribe it just now and will do it later."
                        .into(),
                );
                out.fallback = Some(NOT_TRANSCRIBED.into());
                return Ok(());
            }
        };
        let result = self
            .holding_lease(inbound.id, local.transcribe_file(model, path, content_type))
            .await?;
        match result {
            Ok(LocalOutcome::Transcribed(t)) if t.text.trim().is_empty() => {
                out.notes
                    .push("🎙 I kept your voice note, but I couldn't make out any words.".into());
                out.fallback = Some("voice note (no words recognised)".into());
            }
            Ok(LocalOutcome::Transcribed(t)) => {
                let language = if t.low_confidence { None } else { t.language.clone() };
                self.record_transcript(inbound.id, &t.text, language.as_deref()).await?;
                if t.low_confidence {
                    out.notes.push(
                        "🤔 I'm not sure I heard this right: it may not be in English, and my speech model only knows English."
                            .into(),
                    );
                }
                out.transcript = Some(t.text);
            }
            Ok(LocalOutcome::TooLong { secs, limit }) => {
                info!(secs, limit, "voice note over MAX_AUDIO_SECS; not transcribed");
                out.notes.push(format!(
                    "⚠️ Your voice note lasts {}; I transcribe notes up to {}, so it's saved untranscribed.",
                    minutes(secs),
                    minutes(limit as f64)
                ));
                out.fallback = Some("voice note (too long to transcribe)".into());
            }
            Ok(LocalOutcome::Undecodable(why)) => {
                warn!(error = %why, interaction = %inbound.id, "voice note could not be decoded");
                out.notes.push(
                    "⚠️ I kept your voice note, but I couldn't play it (the file seems damaged), so it isn't transcribed."
                        .into(),
                );
                out.fallback = Some("voice note (could not be decoded)".into());
            }
            Err(e) if !work.last_attempt => return Err(PipelineError::transient(e.to_string())),
            Err(e) => {
                warn!(error = %e, "local transcription failed; going on without it");
                out.notes.push("🎙 I kept your voice note, but transcribing it failed; it's saved untranscribed.".into());
                out.fallback = Some(NOT_TRANSCRIBED.into());
            }
        }
        Ok(())
    }

    /// Stores a transcript (and its language) on the interaction, once.
    pub(crate) async fn record_transcript(
        &self,
        id: Uuid,
        text: &str,
        language: Option<&str>,
    ) -> Result<bool> {
        Ok(interactions::record_transcript(&self.db, id, text, language, Utc::now()).await?)
    }

    /// Runs `work` while renewing this worker's claim on the interaction, so a long
    /// transcription is not taken over by another worker when the lease would run out.
    pub(crate) async fn holding_lease<T>(
        &self,
        id: Uuid,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T> {
        let lease = self.settings.job_lease;
        let renew = async {
            loop {
                tokio::time::sleep(lease / 3).await;
                let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
                interactions::renew_lease(&self.db, id, until).await?;
            }
        };
        tokio::select! {
            done = work => Ok(done),
            err = renew => err,
        }
    }

    /// An optional enrichment's result: transient failures retry the job while attempts
    /// remain; permanent ones (and the last attempt) go on without it.
    fn optional_step<T>(
        &self,
        result: Result<T, ExternalError>,
        work: &Work,
        what: &str,
    ) -> Result<Option<T>> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_transient() && !work.last_attempt => Err(e.into()),
            Err(e) => {
                warn!(error = %e, "{what} failed; going on without it");
                Ok(None)
            }
        }
    }

    /// The link row of attachment `position`, created once.
    async fn ensure_link(
        &self,
        interaction_id: Uuid,
        position: i32,
        media: &InboundMedia,
    ) -> Result<interaction_media::Model> {
        links::ensure_link(
            &self.db,
            interaction_id,
            position,
            &media.url,
            &media.content_type,
            Utc::now(),
        )
        .await?
        .ok_or_else(|| PipelineError::transient("media link not visible yet"))
    }

    /// The object row of these bytes, created once (unique sha256) with no references yet.
    async fn upsert_object(
        &self,
        sha256: &str,
        size: u64,
        content_type: &str,
        key: &str,
    ) -> Result<media_object::Model> {
        media_objects::upsert(
            &self.db,
            sha256,
            size as i64,
            &mnemo_shared::media::essence(content_type),
            key,
            Utc::now(),
        )
        .await?
        .ok_or_else(|| PipelineError::transient("media object not visible yet"))
    }

    /// Points the link at the object and counts the reference, in one transaction, only if
    /// the link was still empty: true when this call made the link.
    async fn link_object(
        &self,
        link_id: Uuid,
        object: &media_object::Model,
        content_type: &str,
    ) -> Result<bool> {
        Ok(links::link_object(&self.db, link_id, object.id, content_type).await?)
    }

    /// Links a photo to the closest earlier photo of the same user within
    /// [`NEAR_DUPLICATE_BITS`] (once), and adds the reply line.
    async fn near_duplicate(
        &self,
        inbound: &interaction::Model,
        link: &interaction_media::Model,
        phash: &str,
        tz: Tz,
        out: &mut MediaOutcome,
    ) -> Result<Option<Uuid>> {
        let rows =
            links::earlier_photos(&self.db, inbound.user_id, inbound.id, inbound.occurred_at)
                .await?;
        let mut best: Option<(u32, Uuid, DateTime<Utc>)> = None;
        for row in rows {
            let Some(d) = phash::distance(phash, &row.phash) else {
                continue;
            };
            // Newest first, so on equal distance the most recent earlier photo wins.
            if d <= NEAR_DUPLICATE_BITS && best.is_none_or(|(bd, _, _)| d < bd) {
                best = Some((d, row.link_id, row.occurred_at));
            }
        }
        let chosen = match (link.duplicate_of, best) {
            (Some(id), _) => {
                // Decided on an earlier attempt: only the reply line is needed again.
                let at = links::occurred_at(&self.db, id).await?;
                at.map(|at| (id, at))
            }
            (None, Some((_, id, at))) => {
                links::mark_duplicate(&self.db, link.id, id).await?;
                Some((id, at))
            }
            (None, None) => None,
        };
        Ok(chosen.map(|(id, at)| {
            out.notes.push(format!("🔁 Looks like the photo you sent on {}.", day(at, tz)));
            id
        }))
    }
}

/// What still needs doing for this message, decided once per attempt.
struct Work {
    text: bool,
    data_url: bool,
    last_attempt: bool,
    tz: Tz,
    /// Sent through the REST API: its `media_url` may be any public address.
    submitted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_naturally() {
        let loc = Location {
            latitude: 37.7825,
            longitude: -122.4036,
            address: Some("66 Mint St".into()),
            label: Some("Blue Bottle Coffee".into()),
        };
        assert_eq!(location_text(&loc), "📍 Blue Bottle Coffee, 66 Mint St (37.78250, -122.40360)");
        let bare = Location { address: None, label: None, ..loc };
        assert_eq!(location_text(&bare), "📍 (37.78250, -122.40360)");
    }

    #[test]
    fn memory_text_falls_back_when_nothing_else() {
        let now = Utc::now();
        let inbound = interaction::Model {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            message_sid: None,
            direction: interaction::Direction::Inbound,
            kind: interaction::Kind::Audio,
            body: String::new(),
            transcript: None,
            transcript_language: None,
            status: interaction::MessageStatus::Processing,
            error: None,
            error_code: None,
            attempts: 1,
            locked_until: None,
            reply_to: None,
            purpose: None,
            reminder_id: None,
            replied_to_sid: None,
            media_url: None,
            raw: None,
            occurred_at: now,
            created_at: now,
            updated_at: now,
            processed_at: None,
        };
        let mut out = MediaOutcome {
            fallback: Some("voice note (not transcribed)".into()),
            ..Default::default()
        };
        assert_eq!(out.memory_text(&inbound), "voice note (not transcribed)");
        out.transcript = Some("buy milk".into());
        assert_eq!(out.memory_text(&inbound), "buy milk");
    }
}
