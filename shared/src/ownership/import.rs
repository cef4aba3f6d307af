//! Reading an export archive back, checked in full before anything is written.
//!
//! A hostile archive is refused with [`ArchiveError`]: a name that is absolute, climbs out with
//! `..`, uses backslashes, is a symlink or is not one of the archive's own names; more entries
//! or more decompressed bytes than the limits (counted while reading, whatever the headers
//! claim, so a zip bomb stops at the limit); a `memories.json` that is not the export's
//! document; a media file whose bytes do not hash to its name, or a memory pointing at media
//! the archive lacks. Media are staged in temporary files (deleted when dropped) and their
//! SHA-256 computed while they are read.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::export::{Document, FORMAT, VERSION};
use crate::media::{essence, is_sha256_hex};

/// Earlier texts one memory of an archive may carry.
const MAX_VERSIONS: usize = 1000;

/// What an archive may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    /// Decompressed bytes over all entries.
    pub max_total_bytes: u64,
    pub max_json_bytes: u64,
    pub max_media_bytes: u64,
    pub max_text_chars: usize,
    pub max_labels: usize,
}

impl Limits {
    pub fn new(max_total_bytes: u64, max_media_bytes: u64) -> Self {
        Limits {
            max_entries: 100_000,
            max_total_bytes,
            max_json_bytes: max_total_bytes.min(256 * 1024 * 1024),
            max_media_bytes,
            max_text_chars: 20_000,
            max_labels: 50,
        }
    }
}

/// Why an archive was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a zip file at all (400).
    #[error("not a zip archive: {0}")]
    NotZip(String),
    /// Larger than the limits once decompressed, or too many entries (413).
    #[error("{0}")]
    TooLarge(String),
    /// A name, a document or a file that is not what an export holds (422).
    #[error("{0}")]
    Invalid(String),
    #[error("reading the archive: {0}")]
    Io(#[from] io::Error),
}

/// An attachment read from the archive, staged on disk.
#[derive(Debug)]
pub struct StagedMedia {
    pub sha256: String,
    pub size: u64,
    pub file: tempfile::NamedTempFile,
}

/// A checked archive.
#[derive(Debug)]
pub struct Archive {
    pub doc: Document,
    /// By sha256: only the media some memory refers to.
    pub media: HashMap<String, StagedMedia>,
}

/// The memory kinds an archive may carry.
pub const KINDS: &[&str] = &["text", "image", "audio", "video", "document", "location"];

enum Entry {
    Json,
    Ignored,
    Media(String),
}

/// Classifies an entry by its raw name; anything that is not an export's own name is refused.
fn classify(raw: &str) -> Result<Entry, ArchiveError> {
    let hostile = || ArchiveError::Invalid(format!("archive entry {raw:?} is not allowed"));
    if raw.is_empty()
        || raw.starts_with('/')
        || raw.contains('\\')
        || raw.contains('\0')
        || raw.split('/').any(|s| s == ".." || s == ".")
        || raw.contains(':')
    {
        return Err(hostile());
    }
    if raw == "memories.json" {
        return Ok(Entry::Json);
    }
    if raw == "memories/" || raw == "media/" {
        return Ok(Entry::Ignored);
    }
    if let Some(name) = raw.strip_prefix("memories/")
        && !name.contains('/')
        && name.ends_with(".md")
    {
        return Ok(Entry::Ignored);
    }
    if let Some(name) = raw.strip_prefix("media/")
        && let Some((hash, ext)) = name.split_once('.')
        && is_sha256_hex(hash)
        && !ext.is_empty()
        && ext.len() <= 8
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Ok(Entry::Media(hash.to_string()));
    }
    Err(hostile())
}

/// Reads and checks the archive at `path`, staging its media under `staging`. Blocking.
pub fn read_archive(path: &Path, staging: &Path, limits: &Limits) -> Result<Archive, ArchiveError> {
    let file = std::fs::File::open(path)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(ArchiveError::TooLarge(format!(
            "the archive has {} entries; at most {} are read",
            zip.len(),
            limits.max_entries
        )));
    }
    let bad_zip = |e: zip::result::ZipError| ArchiveError::NotZip(e.to_string());
    // First the names and the declared sizes.
    let mut json_index = None;
    let mut media_index: HashMap<String, usize> = HashMap::new();
    let mut declared: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(bad_zip)?;
        let raw = entry.name().map_err(bad_zip)?.to_string();
        if entry.is_symlink() || entry.enclosed_name().is_none() {
            return Err(ArchiveError::Invalid(format!("archive entry {raw:?} is not allowed")));
        }
        declared = declared.saturating_add(entry.size());
        if declared > limits.max_total_bytes {
            return Err(too_large(limits));
        }
        match classify(&raw)? {
            Entry::Json if json_index.is_none() => json_index = Some(i),
            Entry::Json => {
                return Err(ArchiveError::Invalid("memories.json appears twice".into()));
            }
            Entry::Ignored => {}
            Entry::Media(hash) => {
                if media_index.insert(hash, i).is_some() {
                    return Err(ArchiveError::Invalid(format!(
                        "archive entry {raw:?} repeats a hash"
                    )));
                }
            }
        }
    }
    let Some(json_index) = json_index else {
        return Err(ArchiveError::Invalid("the archive has no memories.json".into()));
    };
    // Then the bytes, counted as they are decompressed.
    let mut budget = limits.max_total_bytes;
    let mut json = Vec::new();
    {
        let entry = zip.by_index(json_index).map_err(bad_zip)?;
        let cap = limits.max_json_bytes.min(budget);
        entry
            .take(cap + 1)
            .read_to_end(&mut json)
            .map_err(|e| ArchiveError::NotZip(e.to_string()))?;
        if json.len() as u64 > cap {
            return Err(too_large(limits));
        }
        budget -= json.len() as u64;
    }
    let doc: Document = serde_json::from_slice(&json)
        .map_err(|e| ArchiveError::Invalid(format!("memories.json: {e}")))?;
    drop(json);
    check_document(&doc, limits)?;
    let wanted: HashSet<&str> =
        doc.memories.iter().flat_map(|m| m.media.iter().map(|o| o.sha256.as_str())).collect();
    std::fs::create_dir_all(staging)?;
    let mut media = HashMap::new();
    for hash in wanted {
        let Some(&i) = media_index.get(hash) else {
            return Err(ArchiveError::Invalid(format!(
                "memories.json refers to media {hash} that the archive lacks"
            )));
        };
        let entry = zip.by_index(i).map_err(bad_zip)?;
        let cap = limits.max_media_bytes.min(budget);
        let mut out = tempfile::Builder::new().prefix("import-").tempfile_in(staging)?;
        let mut hasher = Sha256::new();
        let mut reader = entry.take(cap + 1);
        let mut buf = vec![0u8; 64 * 1024];
        let mut size: u64 = 0;
        loop {
            let n = reader.read(&mut buf).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > cap {
                return Err(if cap == limits.max_media_bytes {
                    ArchiveError::TooLarge(format!(
                        "media {hash} is larger than {} bytes",
                        limits.max_media_bytes
                    ))
                } else {
                    too_large(limits)
                });
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        out.flush()?;
        budget -= size;
        if hex::encode(hasher.finalize()) != hash {
            return Err(ArchiveError::Invalid(format!(
                "media {hash}: its bytes do not hash to its name"
            )));
        }
        media.insert(hash.to_string(), StagedMedia { sha256: hash.to_string(), size, file: out });
    }
    Ok(Archive { doc, media })
}

fn too_large(limits: &Limits) -> ArchiveError {
    ArchiveError::TooLarge(format!(
        "the archive holds more than {} bytes once decompressed",
        limits.max_total_bytes
    ))
}

fn check_document(doc: &Document, limits: &Limits) -> Result<(), ArchiveError> {
    let invalid = |s: String| Err(ArchiveError::Invalid(s));
    if doc.format != FORMAT || doc.version != VERSION {
        return invalid(format!("memories.json is not a {FORMAT} version {VERSION} document"));
    }
    for (n, m) in doc.memories.iter().enumerate() {
        let at = format!("memories[{n}]");
        if !KINDS.contains(&m.kind.as_str()) {
            return invalid(format!("{at}: unknown kind {:?}", m.kind));
        }
        if m.text.trim().is_empty() || m.text.chars().count() > limits.max_text_chars {
            return invalid(format!(
                "{at}: text must be 1 to {} characters",
                limits.max_text_chars
            ));
        }
        if m.labels.len() > limits.max_labels
            || m.labels.iter().any(|l| l.is_empty() || l.chars().count() > 100)
        {
            return invalid(format!(
                "{at}: at most {} labels of 1 to 100 characters",
                limits.max_labels
            ));
        }
        if m.versions.len() > MAX_VERSIONS
            || m.versions
                .iter()
                .any(|v| v.text.trim().is_empty() || v.text.chars().count() > limits.max_text_chars)
        {
            return invalid(format!(
                "{at}: at most {MAX_VERSIONS} versions of 1 to {} characters",
                limits.max_text_chars
            ));
        }
        for o in &m.media {
            if !is_sha256_hex(&o.sha256) {
                return invalid(format!("{at}: media sha256 {:?} is not one", o.sha256));
            }
            if essence(&o.content_type).is_empty() || o.content_type.len() > 100 {
                return invalid(format!("{at}: media content type {:?}", o.content_type));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exports_own_names_pass() {
        let h = "ab".repeat(32);
        assert!(matches!(classify("memories.json"), Ok(Entry::Json)));
        assert!(matches!(classify("memories/2026-11.md"), Ok(Entry::Ignored)));
        assert!(matches!(classify(&format!("media/{h}.jpg")), Ok(Entry::Media(x)) if x == h));
        for bad in [
            "../evil",
            "/etc/passwd",
            "media/../../x",
            "memories/../../x.md",
            "C:\\x",
            "media\\x",
            "other.txt",
            "media/abc.jpg",
            &format!("media/{h}.j/pg"),
            "./memories.json",
        ] {
            assert!(classify(bad).is_err(), "{bad}");
        }
    }
}
