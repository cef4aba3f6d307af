//! Which media types mnemo accepts and serves, and whether a file's bytes are what its type
//! claims.
//!
//! Anything served from mnemo's own origin is a way to run script there (stored XSS): an upload
//! labelled `text/html`, or one with no usable type that a browser sniffs. So only what WhatsApp
//! carries is accepted — images, audio, video, PDF and office documents, vCards — each checked
//! against its leading bytes, and everything is served with `nosniff`, `Content-Security-Policy:
//! sandbox` and, unless it is an image, audio or video, `Content-Disposition: attachment`
//! ([`serving_headers`]).

use super::essence;

/// The media types WhatsApp carries (lowercase essences).
const ACCEPTED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "audio/ogg",
    "audio/opus",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/amr",
    "audio/webm",
    "audio/wav",
    "audio/x-wav",
    "video/mp4",
    "video/3gpp",
    "video/webm",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/vcard",
    "text/x-vcard",
];

/// The accepted type's essence for `content_type` (parameters dropped), or `None`.
pub fn accepted(content_type: &str) -> Option<&'static str> {
    let e = essence(content_type);
    ACCEPTED.iter().copied().find(|a| *a == e)
}

/// Do the leading bytes (at least the first 16 when the file has them) fit `content_type`?
/// Unknown or unaccepted types never fit.
pub fn bytes_match(content_type: &str, head: &[u8]) -> bool {
    let Some(t) = accepted(content_type) else {
        return false;
    };
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    let riff = |form: &[u8]| at(0, b"RIFF") && at(8, form);
    let iso_bmff = || at(4, b"ftyp");
    let ebml = || at(0, &[0x1A, 0x45, 0xDF, 0xA3]);
    let mpeg_audio = || head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0;
    let ole = || at(0, &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let zip = || at(0, b"PK\x03\x04");
    match t {
        "image/jpeg" => at(0, &[0xFF, 0xD8, 0xFF]),
        "image/png" => at(0, b"\x89PNG\r\n\x1a\n"),
        "image/webp" => riff(b"WEBP"),
        "image/gif" => at(0, b"GIF87a") || at(0, b"GIF89a"),
        "audio/ogg" | "audio/opus" => at(0, b"OggS"),
        "audio/mpeg" => at(0, b"ID3") || mpeg_audio(),
        "audio/mp4" | "video/mp4" | "video/3gpp" => iso_bmff(),
        "audio/aac" => mpeg_audio() || at(0, b"ADIF"),
        "audio/amr" => at(0, b"#!AMR"),
        "audio/webm" | "video/webm" => ebml(),
        "audio/wav" | "audio/x-wav" => riff(b"WAVE"),
        "application/pdf" => at(0, b"%PDF-"),
        "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint" => {
            ole()
        }
        t if t.starts_with("application/vnd.openxmlformats") => zip(),
        "text/vcard" | "text/x-vcard" => {
            let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
            let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
            text.len() >= start + 11 && text[start..start + 11].eq_ignore_ascii_case(b"BEGIN:VCARD")
        }
        _ => false,
    }
}

/// How a stored file is served from mnemo's origin: `(content type, disposition)`.
///
/// Unaccepted types (older rows, or what a media server claimed) go out as
/// `application/octet-stream` attachments; images, audio and video inline; the rest
/// (documents, vCards) as attachments. Always send `X-Content-Type-Options: nosniff` and
/// [`SANDBOX_CSP`] with them.
pub fn serving_headers(content_type: &str) -> (&'static str, &'static str) {
    match accepted(content_type) {
        Some(t)
            if t.starts_with("image/") || t.starts_with("audio/") || t.starts_with("video/") =>
        {
            (t, "inline")
        }
        Some(t) => (t, "attachment"),
        None => ("application/octet-stream", "attachment"),
    }
}

/// Nothing served as media may run script or load anything.
pub const SANDBOX_CSP: &str = "sandbox; default-src 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whatsapp_types_are_accepted() {
        assert_eq!(accepted("image/JPEG"), Some("image/jpeg"));
        assert_eq!(accepted("audio/ogg; codecs=opus"), Some("audio/ogg"));
        for bad in [
            "text/html",
            "text/html\0",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/plain",
            "application/javascript",
            "",
            "application/octet-stream",
        ] {
            assert_eq!(accepted(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bytes_must_fit_the_type() {
        assert!(bytes_match("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]));
        assert!(!bytes_match("image/jpeg", b"<html><script>alert(1)</script>"));
        assert!(bytes_match("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert!(bytes_match("audio/ogg", b"OggS\0\x02"));
        assert!(bytes_match("audio/webm;codecs=opus", &[0x1A, 0x45, 0xDF, 0xA3, 1]));
        assert!(bytes_match("video/mp4", b"\0\0\0\x18ftypmp42"));
        assert!(bytes_match("application/pdf", b"%PDF-1.7\n"));
        assert!(bytes_match("text/vcard", b"\xEF\xBB\xBF begin:vcard\r\nVERSION:3.0"));
        assert!(!bytes_match("text/vcard", b"<svg onload=alert(1)>"));
        assert!(!bytes_match("text/html", b"<html>"));
        assert!(bytes_match(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            b"PK\x03\x04\x14\0"
        ));
    }

    #[test]
    fn only_media_is_inline() {
        assert_eq!(serving_headers("image/png"), ("image/png", "inline"));
        assert_eq!(serving_headers("application/pdf"), ("application/pdf", "attachment"));
        assert_eq!(serving_headers("text/html"), ("application/octet-stream", "attachment"));
        assert_eq!(serving_headers("image/svg+xml"), ("application/octet-stream", "attachment"));
    }
}
