//! Audio decoding for transcription: any voice note or forwarded recording becomes 16 kHz mono
//! `f32` samples, the input Whisper wants.
//!
//! - Ogg/Opus (what WhatsApp sends) is demuxed with `ogg` and decoded with `ropus` (a
//!   bit-exact pure-Rust port of libopus), straight to 16 kHz (Opus decodes at any of its
//!   rates; no resampling).
//! - MP3, AAC/M4A and WAV go through symphonia, then are mixed to mono and resampled.
//!
//! The length is read from the container first (the last Ogg page's granule position, the
//! track's frame count) and anything over the cap is refused before it is decoded; where the
//! container does not say, decoding stops as soon as the cap is passed. Corrupt input is a
//! typed error, never a panic: the decoders run under `catch_unwind` as a last resort.

mod opus;
mod other;

use std::panic::{AssertUnwindSafe, catch_unwind};

/// The sample rate of decoded audio (Whisper's).
pub const SAMPLE_RATE: u32 = 16_000;

/// Why audio could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    /// Longer than the cap (`MAX_AUDIO_SECS`); `secs` is what the container says, or at least
    /// how far decoding got.
    #[error("the audio lasts {secs:.0} s; the limit is {limit} s")]
    TooLong { secs: f64, limit: u32 },
    /// A container or codec this build does not decode.
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// The bytes are not valid audio of the format they claim.
    #[error("the audio could not be decoded: {0}")]
    Corrupt(String),
}

/// Decoded audio: 16 kHz mono samples in [-1, 1].
#[derive(Debug, Clone, Default)]
pub struct Pcm {
    pub samples: Vec<f32>,
}

impl Pcm {
    /// Length in seconds.
    pub fn secs(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE as f64
    }
}

/// Whether `bytes` are an Ogg stream whose first packet is an Opus header.
pub fn is_ogg_opus(bytes: &[u8]) -> bool {
    bytes.starts_with(b"OggS") && bytes.len() > 36 && bytes[28..36] == *b"OpusHead"
}

/// The length in seconds as the container states it, without decoding; `None` when the
/// container does not say (e.g. an MP3 without a Xing header).
pub fn duration_secs(bytes: &[u8], content_type: &str) -> Result<Option<f64>, AudioError> {
    guard(|| {
        if is_ogg_opus(bytes) {
            opus::duration_secs(bytes)
        } else {
            other::duration_secs(bytes, content_type)
        }
    })
}

/// Decodes `bytes` (whatever the content type says; the bytes decide) into 16 kHz mono,
/// refusing audio longer than `max_secs` before decoding it whole.
pub fn decode(bytes: &[u8], content_type: &str, max_secs: u32) -> Result<Pcm, AudioError> {
    guard(|| {
        if is_ogg_opus(bytes) {
            opus::decode(bytes, max_secs)
        } else {
            other::decode(bytes, content_type, max_secs)
        }
    })
}

fn guard<T>(f: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "decoder panicked".into());
            Err(AudioError::Corrupt(why))
        }
    }
}

fn too_long(secs: f64, max_secs: u32) -> Result<(), AudioError> {
    if secs > max_secs as f64 { Err(AudioError::TooLong { secs, limit: max_secs }) } else { Ok(()) }
}

/// Resamples mono audio from `from` Hz to `to` Hz with a Kaiser-windowed sinc low-pass
/// (polyphase table; exact phases for rational ratios up to 1024 steps).
pub(crate) fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let g = gcd(from as u64, to as u64);
    let (l, m) = (to as u64 / g, from as u64 / g);
    // Cut-off relative to the input's Nyquist; a little under the output's Nyquist.
    let cutoff = (to as f64 / from as f64).min(1.0) * 0.92;
    let half = (12.0 / cutoff).ceil() as i64;
    let phases = l.min(1024) as usize;
    let beta = 8.0;
    let i0_beta = bessel_i0(beta);
    let mut table = vec![0f32; phases * (2 * half as usize)];
    for p in 0..phases {
        let frac = p as f64 / phases as f64;
        for (n, k) in (-half + 1..=half).enumerate() {
            let d = k as f64 - frac;
            let x = std::f64::consts::PI * cutoff * d;
            let sinc = if x.abs() < 1e-9 { 1.0 } else { x.sin() / x };
            let r = d / half as f64;
            let w =
                if r.abs() >= 1.0 { 0.0 } else { bessel_i0(beta * (1.0 - r * r).sqrt()) / i0_beta };
            table[p * 2 * half as usize + n] = (cutoff * sinc * w) as f32;
        }
    }
    let out_len = (input.len() as u64 * l / m) as usize;
    let mut out = Vec::with_capacity(out_len);
    for j in 0..out_len as u64 {
        let pos = j * m;
        let base = (pos / l) as i64;
        let phase = ((pos % l) * phases as u64 / l) as usize;
        let taps = &table[phase * 2 * half as usize..(phase + 1) * 2 * half as usize];
        let mut acc = 0f32;
        // out(t) = Σ x[i]·h(t − i), t = base + frac, i = base − k + … ; d = k − frac above
        // pairs tap k with input index base + k (k from −half+1 to half).
        for (n, k) in (-half + 1..=half).enumerate() {
            let i = base + k;
            if i >= 0 && (i as usize) < input.len() {
                acc += input[i as usize] * taps[n];
            }
        }
        out.push(acc);
    }
    out
}

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f64, secs: f64) -> Vec<f32> {
        (0..(rate as f64 * secs) as usize)
            .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin() as f32 * 0.5)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn resampling_keeps_speech_band_and_removes_aliases() {
        for from in [44_100, 48_000, 22_050, 8_000] {
            let kept = resample(&tone(from, 440.0, 1.0), from, SAMPLE_RATE);
            assert!((kept.len() as i64 - SAMPLE_RATE as i64).abs() <= 1, "{from}: {}", kept.len());
            let mid = &kept[2000..14000];
            assert!((rms(mid) - 0.5 / 2f64.sqrt()).abs() < 0.02, "{from}: {}", rms(mid));
        }
        // 12 kHz cannot exist at 16 kHz: it must be filtered, not folded to 4 kHz.
        let alias = resample(&tone(48_000, 12_000.0, 1.0), 48_000, SAMPLE_RATE);
        assert!(rms(&alias[2000..14000]) < 0.01, "{}", rms(&alias));
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for junk in [
            &b""[..],
            b"not audio at all",
            b"OggS\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0OpusHead\x01",
            b"ID3\x04\0\0\0\0\0\x10garbage",
            b"RIFF\x24\0\0\0WAVEfmt ",
        ] {
            assert!(
                matches!(
                    decode(junk, "audio/ogg", 600),
                    Err(AudioError::Corrupt(_) | AudioError::Unsupported(_))
                ),
                "{junk:?}"
            );
        }
    }
}
