//! The export archive: a zip streamed as it is written, never held whole in memory.
//!
//! - `memories.json`: every memory in full (kind, text, labels, times in UTC and in the user's
//!   zone, the source message with its transcript, the attachments' hashes), oldest first;
//! - `memories/YYYY-MM.md`: the same, readable, one file per month of the user's zone;
//! - `media/<sha256>.<ext>`: each stored attachment once.
//!
//! The zip is written on a blocking thread ([`zip::ZipWriter::new_stream`]: no seeking, data
//! descriptors after each entry) into a small bounded channel that the HTTP body drains, so
//! memory stays at a page of memories and a 64 KiB chunk whatever the archive's size, and a
//! client that goes away stops the writer. The database is read page by page (three passes:
//! JSON, Markdown, media).

use std::io::{self, Write};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use uuid::Uuid;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::domain::replies;
use crate::media::{MediaStore, extension};
use crate::store::entities::user;
use crate::store::ownership::{self, ExportRow};

/// `format` of `memories.json`.
pub const FORMAT: &str = "mnemo-export";
/// `version` of `memories.json`.
pub const VERSION: u32 = 1;

/// Memories read per query.
const PAGE: u64 = 500;
/// Bytes per chunk handed to the HTTP body.
const CHUNK: usize = 64 * 1024;

/// The person the archive belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedUser {
    pub id: Uuid,
    pub phone: String,
    pub display_name: Option<String>,
    pub timezone: String,
}

/// The message a memory came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedSource {
    pub interaction_id: Uuid,
    pub message_sid: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub body: String,
    pub transcript: Option<String>,
    pub transcript_language: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// An attachment, stored in the archive at `path`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedMedia {
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub path: String,
}

/// One memory in `memories.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedMemory {
    pub id: Uuid,
    pub kind: String,
    pub text: String,
    #[serde(default)]
    pub labels: Vec<String>,
    /// UTC.
    pub occurred_at: DateTime<Utc>,
    /// The same moment in the user's zone, with its offset.
    pub occurred_at_local: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub engine: Option<String>,
    pub mem0_id: Option<String>,
    pub source: Option<ExportedSource>,
    #[serde(default)]
    pub media: Vec<ExportedMedia>,
    /// Earlier texts, oldest first (each correction by reply keeps the text it replaced).
    #[serde(default)]
    pub versions: Vec<ExportedVersion>,
}

/// An earlier text of a memory, and when a correction replaced it (UTC).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedVersion {
    pub text: String,
    pub replaced_at: DateTime<Utc>,
}

/// `memories.json` as a whole (what the import reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub format: String,
    pub version: u32,
    pub exported_at: Option<DateTime<Utc>>,
    pub user: Option<ExportedUser>,
    pub memories: Vec<ExportedMemory>,
}

/// Where an attachment goes in the archive.
pub fn media_path(sha256: &str, content_type: &str) -> String {
    format!("media/{sha256}.{}", extension(content_type))
}

fn exported(row: &ExportRow, tz: Tz) -> ExportedMemory {
    let m = &row.memory;
    ExportedMemory {
        id: m.id,
        kind: m.kind.to_string(),
        text: m.text.clone(),
        labels: m.label_list(),
        occurred_at: m.occurred_at,
        occurred_at_local: Some(m.occurred_at.with_timezone(&tz).to_rfc3339()),
        created_at: Some(m.created_at),
        engine: Some(m.engine.to_string()),
        mem0_id: m.mem0_id.clone(),
        source: row.source.as_ref().map(|i| ExportedSource {
            interaction_id: i.id,
            message_sid: i.message_sid.clone(),
            kind: i.kind.to_string(),
            body: i.body.clone(),
            transcript: i.transcript.clone(),
            transcript_language: i.transcript_language.clone(),
            occurred_at: i.occurred_at,
        }),
        media: row
            .media
            .iter()
            .map(|o| ExportedMedia {
                sha256: o.sha256.clone(),
                content_type: o.content_type.clone(),
                size_bytes: o.size_bytes,
                path: media_path(&o.sha256, &o.content_type),
            })
            .collect(),
        versions: row
            .versions
            .iter()
            .map(|v| ExportedVersion { text: v.text.clone(), replaced_at: v.replaced_at })
            .collect(),
    }
}

/// A chunk of the archive, or the error that cut it short.
pub type Chunk = Result<Vec<u8>, io::Error>;

/// Starts writing the user's archive; the receiver yields it chunk by chunk. An error after
/// the first bytes can no longer change the status: it ends the stream with an error, so the
/// client sees a broken transfer rather than a complete-looking archive.
pub fn stream(
    db: DatabaseConnection,
    media: MediaStore,
    user: user::Model,
    tz: Tz,
) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let out = Channel { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
        if let Err(e) = write(&handle, &db, &media, &user, tz, out) {
            tracing::warn!(user_id = %user.id, error = %e, "export cut short");
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
    });
    rx
}

/// A `Write` into the channel, in chunks of [`CHUNK`] bytes.
struct Channel {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl Channel {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for Channel {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn write(
    rt: &Handle,
    db: &DatabaseConnection,
    media: &MediaStore,
    user: &user::Model,
    tz: Tz,
    out: Channel,
) -> Result<(), BoxError> {
    let mut zip = ZipWriter::new_stream(out);
    let text = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);

    // memories.json, one memory at a time.
    zip.start_file("memories.json", text)?;
    let head = serde_json::json!({
        "format": FORMAT,
        "version": VERSION,
        "exported_at": Utc::now(),
        "user": ExportedUser {
            id: user.id,
            phone: user.phone.clone(),
            display_name: user.display_name.clone(),
            timezone: tz.name().to_string(),
        },
    })
    .to_string();
    // `{…,"memories":[` : the object without its closing brace, then the array.
    zip.write_all(&head.as_bytes()[..head.len() - 1])?;
    zip.write_all(b",\"memories\":[\n")?;
    let mut first = true;
    each_page(rt, db, user.id, |rows| {
        for row in rows {
            if !first {
                zip.write_all(b",\n")?;
            }
            first = false;
            serde_json::to_writer(&mut zip, &exported(row, tz))?;
        }
        Ok(())
    })?;
    zip.write_all(b"\n]}\n")?;

    // memories/YYYY-MM.md, months and days of the user's zone.
    let mut month: Option<(i32, u32)> = None;
    let mut day: Option<chrono::NaiveDate> = None;
    each_page(rt, db, user.id, |rows| {
        for row in rows {
            let local = row.memory.occurred_at.with_timezone(&tz);
            let this_month = (local.year(), local.month());
            if month != Some(this_month) {
                month = Some(this_month);
                day = None;
                zip.start_file(
                    format!("memories/{:04}-{:02}.md", this_month.0, this_month.1),
                    text,
                )?;
                write!(zip, "# Memories, {}\n\nTimes in {}.\n", local.format("%B %Y"), tz.name())?;
            }
            if day != Some(local.date_naive()) {
                day = Some(local.date_naive());
                write!(zip, "\n## {}\n\n", local.format("%A %-d %B"))?;
            }
            zip.write_all(markdown_entry(row, tz).as_bytes())?;
        }
        Ok(())
    })?;

    // media/<sha256>.<ext>, each object once.
    let objects = rt.block_on(ownership::export_media(db, user.id))?;
    let mut buf = vec![0u8; CHUNK];
    for o in objects {
        let Some(mut obj) = rt.block_on(media.get(&o.storage_key))? else {
            tracing::warn!(sha256 = %o.sha256, "export: a stored object is missing; left out");
            continue;
        };
        zip.start_file(media_path(&o.sha256, &o.content_type), stored)?;
        loop {
            let n = rt.block_on(obj.body.read(&mut buf))?;
            if n == 0 {
                break;
            }
            zip.write_all(&buf[..n])?;
        }
    }
    let mut out = zip.finish()?.into_inner();
    out.flush()?;
    Ok(())
}

/// Calls `f` with each page of the user's memories, oldest first.
fn each_page(
    rt: &Handle,
    db: &DatabaseConnection,
    user_id: Uuid,
    mut f: impl FnMut(&[ExportRow]) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let mut after = None;
    loop {
        let rows = rt.block_on(ownership::export_page(db, user_id, after, PAGE))?;
        f(&rows)?;
        match rows.last() {
            Some(last) if rows.len() as u64 == PAGE => {
                after = Some((last.memory.occurred_at, last.memory.id));
            }
            _ => return Ok(()),
        }
    }
}

/// One memory as a Markdown list item: time, kind, text, transcript, labels, earlier texts,
/// attachments.
pub fn markdown_entry(row: &ExportRow, tz: Tz) -> String {
    let m = &row.memory;
    let local = m.occurred_at.with_timezone(&tz);
    let indent = |s: &str| s.trim().replace('\n', "\n  ");
    let mut out = format!(
        "- **{}** {}: {}\n",
        local.format("%H:%M"),
        replies::kind_icon(&m.kind.to_string()),
        indent(&m.text)
    );
    if let Some(t) = row.source.as_ref().and_then(|s| s.transcript.as_deref())
        && t.trim() != m.text.trim()
        && !t.trim().is_empty()
    {
        out.push_str(&format!("  Transcript: {}\n", indent(t)));
    }
    let labels = m.label_list();
    if !labels.is_empty() {
        out.push_str(&format!("  Labels: {}\n", labels.join(", ")));
    }
    for v in &row.versions {
        out.push_str(&format!(
            "  Before {}: {}\n",
            v.replaced_at.with_timezone(&tz).format("%-d %b %Y %H:%M"),
            indent(&v.text)
        ));
    }
    for o in &row.media {
        out.push_str(&format!(
            "  [{}](../{})\n",
            o.content_type,
            media_path(&o.sha256, &o.content_type)
        ));
    }
    out
}
