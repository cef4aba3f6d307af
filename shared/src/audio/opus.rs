//! Ogg/Opus (RFC 7845) to 16 kHz mono: `ogg` splits the pages into packets, `ropus` (a
//! bit-exact Rust port of libopus) decodes each one straight to 16 kHz mono (stereo streams are
//! downmixed by the decoder).
//! Granule positions count 48 kHz samples; the header's pre-skip is dropped from the start
//! and the last page's granule position trims the end.

use std::io::Cursor;

use ogg::PacketReader;
use ropus::{Channels, DecodeMode, Decoder};

use super::{AudioError, Pcm, SAMPLE_RATE, too_long};

/// 48 kHz granule units per 16 kHz output sample.
const GRANULE_PER_SAMPLE: u64 = 48_000 / SAMPLE_RATE as u64;

struct Head {
    channels: u8,
    pre_skip: u64,
    serial: u32,
}

fn corrupt(e: impl std::fmt::Display) -> AudioError {
    AudioError::Corrupt(e.to_string())
}

fn head(bytes: &[u8]) -> Result<Head, AudioError> {
    let mut reader = PacketReader::new(Cursor::new(bytes));
    let first =
        reader.read_packet().map_err(corrupt)?.ok_or_else(|| corrupt("empty Ogg stream"))?;
    let d = &first.data;
    if d.len() < 19 || &d[..8] != b"OpusHead" {
        return Err(corrupt("the first Ogg packet is not an Opus header"));
    }
    if d[8] >> 4 != 0 {
        return Err(AudioError::Unsupported(format!("Opus header version {}", d[8])));
    }
    let channels = d[9];
    let family = d[18];
    if channels == 0 || channels > 2 || family > 1 {
        return Err(AudioError::Unsupported(format!(
            "Opus with {channels} channels (mapping family {family})"
        )));
    }
    Ok(Head {
        channels,
        pre_skip: u16::from_le_bytes([d[10], d[11]]) as u64,
        serial: first.stream_serial(),
    })
}

/// The granule position of the stream's last page, found from the end of the file without
/// reading the rest.
fn last_granule(bytes: &[u8], serial: u32) -> Option<u64> {
    let mut end = bytes.len();
    while end >= 27 {
        let at = bytes[..end].windows(4).rposition(|w| w == b"OggS")?;
        let page = &bytes[at..];
        if page.len() >= 27 && page[4] == 0 {
            let granule = i64::from_le_bytes(page[6..14].try_into().ok()?);
            let s = u32::from_le_bytes(page[14..18].try_into().ok()?);
            if s == serial && granule >= 0 {
                return Some(granule as u64);
            }
        }
        end = at + 3;
        if at == 0 {
            break;
        }
    }
    None
}

pub(super) fn duration_secs(bytes: &[u8]) -> Result<Option<f64>, AudioError> {
    let h = head(bytes)?;
    Ok(last_granule(bytes, h.serial).map(|g| g.saturating_sub(h.pre_skip) as f64 / 48_000.0))
}

pub(super) fn decode(bytes: &[u8], max_secs: u32) -> Result<Pcm, AudioError> {
    let h = head(bytes)?;
    let total = last_granule(bytes, h.serial).map(|g| g.saturating_sub(h.pre_skip));
    if let Some(t) = total {
        too_long(t as f64 / 48_000.0, max_secs)?;
    }
    let cap = max_secs as usize * SAMPLE_RATE as usize;
    let mut decoder = Decoder::new(SAMPLE_RATE, Channels::Mono).map_err(corrupt)?;
    let _ = h.channels; // the decoder downmixes from the packets' own channel flag
    let mut reader = PacketReader::new(Cursor::new(bytes));
    let mut samples: Vec<f32> =
        Vec::with_capacity(total.map_or(0, |t| (t / GRANULE_PER_SAMPLE) as usize).min(cap) + 2048);
    // 120 ms, the longest Opus packet, at 16 kHz.
    let mut buf = vec![0f32; 1920];
    let mut index = 0usize;
    loop {
        let packet = match reader.read_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated last page is common in cut recordings: keep what decoded.
            Err(e) if index > 2 && !samples.is_empty() => {
                tracing::debug!(error = %e, "Ogg stream ends early; keeping what was decoded");
                break;
            }
            Err(e) => return Err(corrupt(e)),
        };
        if packet.stream_serial() != h.serial {
            continue;
        }
        index += 1;
        // Packet 1 is OpusHead, packet 2 OpusTags.
        if index <= 2 {
            if index == 2 && !packet.data.starts_with(b"OpusTags") {
                return Err(corrupt("missing OpusTags"));
            }
            continue;
        }
        let n = decoder
            .decode_float(&packet.data, &mut buf, DecodeMode::Normal)
            .map_err(|e| corrupt(format!("Opus packet {index}: {e}")))?;
        samples.extend_from_slice(&buf[..n]);
        if samples.len() > cap + (h.pre_skip / GRANULE_PER_SAMPLE) as usize {
            return Err(AudioError::TooLong {
                secs: samples.len() as f64 / SAMPLE_RATE as f64,
                limit: max_secs,
            });
        }
    }
    if index <= 2 {
        return Err(corrupt("no Opus audio packets"));
    }
    let skip = ((h.pre_skip / GRANULE_PER_SAMPLE) as usize).min(samples.len());
    samples.drain(..skip);
    if let Some(t) = total {
        samples.truncate((t / GRANULE_PER_SAMPLE) as usize);
    }
    Ok(Pcm { samples })
}
