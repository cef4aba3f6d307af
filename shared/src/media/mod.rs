//! Media: downloading Twilio attachments safely, storing each distinct file once, recognising
//! near-duplicate photos, and handing out expiring links to what is stored.
//!
//! - `clients::media_download`: Basic auth only on `TWILIO_API_BASE`'s origin, redirects
//!   followed by hand, size cap, SHA-256 computed while streaming to a temporary file.
//! - `clients::media_store`: the `MediaStore` trait with a local-folder and an S3
//!   implementation; keys are content-addressed (`sha256/ab/abcdef…`), so identical bytes are
//!   stored once.
//! - [`phash`]: perceptual hashes of photos and the downscaled `data:` URL sent to models.
//! - [`links`]: HMAC-signed `/media/{sha256}?exp=…&sig=…` links for the local store.
//! - `store::media_stats`: what dedup saved, read from `media_objects`.
//! - [`types`]: the media types accepted and how each is served (no stored XSS).

pub mod links;
#[cfg(feature = "clients")]
pub mod phash;
pub mod types;

#[cfg(feature = "clients")]
pub use crate::clients::media_store::MediaStore;

/// The storage key of a blob: `sha256/ab/abcdef…` (fan-out by the first byte).
pub fn storage_key(sha256: &str) -> String {
    let prefix = sha256.get(..2).unwrap_or("00");
    format!("sha256/{prefix}/{sha256}")
}

/// True for a lowercase hex SHA-256 (what keys and links accept).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The kind of a message by its attachment's content type (what `InboundMessage::kind` says
/// for a message with attachments).
pub fn kind_of(content_type: &str) -> &'static str {
    let ct = content_type.trim_start().to_ascii_lowercase();
    if ct.starts_with("image/") {
        "image"
    } else if ct.starts_with("audio/") {
        "audio"
    } else if ct.starts_with("video/") {
        "video"
    } else {
        "document"
    }
}

/// The bare media type, lowercase, without parameters: `audio/ogg; codecs=opus` → `audio/ogg`.
pub fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// A file name extension for a content type. Transcription servers decide by extension and
/// reject `.opus`, so Ogg/Opus voice notes are `ogg`.
pub fn extension(content_type: &str) -> &'static str {
    match essence(content_type).as_str() {
        "audio/ogg" | "audio/opus" | "application/ogg" => "ogg",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" => "m4a",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/webm" => "webm",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/3gpp" | "video/3gpp" => "3gp",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "application/pdf" => "pdf",
        "text/vcard" | "text/x-vcard" => "vcf",
        _ => "bin",
    }
}

/// "1.5 MB" for byte counts in replies.
pub fn human_size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / MB)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fan_out_by_first_byte() {
        let h = "ab".repeat(32);
        assert_eq!(storage_key(&h), format!("sha256/ab/{h}"));
        assert!(is_sha256_hex(&h));
        assert!(!is_sha256_hex("AB"));
        assert!(!is_sha256_hex(&"../".repeat(22)[..64]));
    }

    #[test]
    fn voice_notes_are_ogg_never_opus() {
        assert_eq!(extension("audio/ogg"), "ogg");
        assert_eq!(extension("audio/ogg; codecs=opus"), "ogg");
        assert_eq!(extension("audio/opus"), "ogg");
        assert_eq!(extension("Audio/MPEG"), "mp3");
        assert_eq!(extension("application/x-unknown"), "bin");
        assert_eq!(kind_of("image/jpeg"), "image");
        assert_eq!(kind_of("application/pdf"), "document");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(16 * 1024 * 1024), "16.0 MB");
        assert_eq!(human_size(1500), "2 KB");
    }
}
