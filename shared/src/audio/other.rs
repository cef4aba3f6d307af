//! MP3, AAC/M4A, WAV (and FLAC) through symphonia, mixed to mono and resampled to 16 kHz.

use std::io::Cursor;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{AudioError, Pcm, SAMPLE_RATE, resample, too_long};

fn classify(e: Error) -> AudioError {
    match e {
        Error::Unsupported(what) => AudioError::Unsupported(what.to_string()),
        other => AudioError::Corrupt(other.to_string()),
    }
}

fn open(bytes: &[u8], content_type: &str) -> Result<Box<dyn FormatReader + 'static>, AudioError> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    let essence = crate::media::essence(content_type);
    match essence.as_str() {
        "audio/mpeg" | "audio/mp3" => {
            hint.with_extension("mp3");
        }
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/aac" => {
            hint.with_extension("m4a");
        }
        "audio/wav" | "audio/x-wav" | "audio/wave" => {
            hint.with_extension("wav");
        }
        _ => {}
    }
    if !essence.is_empty() {
        hint.mime_type(&essence);
    }
    symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(classify)
}

fn track_secs(format: &dyn FormatReader) -> Result<(u32, Option<f64>), AudioError> {
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Corrupt("no audio track".into()))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Unsupported("not an audio track".into()))?;
    let rate = params
        .sample_rate
        .filter(|r| *r > 0)
        .ok_or_else(|| AudioError::Corrupt("no sample rate".into()))?;
    Ok((rate, track.num_frames.map(|n| n as f64 / rate as f64)))
}

pub(super) fn duration_secs(bytes: &[u8], content_type: &str) -> Result<Option<f64>, AudioError> {
    let format = open(bytes, content_type)?;
    Ok(track_secs(format.as_ref())?.1)
}

pub(super) fn decode(bytes: &[u8], content_type: &str, max_secs: u32) -> Result<Pcm, AudioError> {
    let mut format = open(bytes, content_type)?;
    let (rate, secs) = track_secs(format.as_ref())?;
    if let Some(s) = secs {
        too_long(s, max_secs)?;
    }
    let track = format.default_track(TrackType::Audio).expect("checked above");
    let track_id = track.id;
    let params =
        track.codec_params.as_ref().and_then(|p| p.audio()).expect("checked above").clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(classify)?;
    let cap = max_secs as usize * rate as usize;
    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut bad_packets = 0usize;
    let mut good_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) if good_packets > 0 => {
                tracing::debug!(error = %e, "audio stream ends early; keeping what was decoded");
                break;
            }
            Err(e) => return Err(classify(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                good_packets += 1;
                let channels = buf.num_planes().max(1);
                interleaved.resize(buf.samples_interleaved(), 0.0);
                buf.copy_to_slice_interleaved(&mut interleaved);
                mono.extend(
                    interleaved
                        .chunks_exact(channels)
                        .map(|f| f.iter().sum::<f32>() / channels as f32),
                );
                if mono.len() > cap {
                    return Err(AudioError::TooLong {
                        secs: mono.len() as f64 / rate as f64,
                        limit: max_secs,
                    });
                }
            }
            Err(Error::DecodeError(e)) => {
                bad_packets += 1;
                tracing::debug!(error = e, "skipping an undecodable audio packet");
            }
            Err(e) => return Err(classify(e)),
        }
    }
    if good_packets == 0 || bad_packets > good_packets {
        return Err(AudioError::Corrupt(format!(
            "{bad_packets} of {} packets undecodable",
            bad_packets + good_packets
        )));
    }
    Ok(Pcm { samples: resample(&mono, rate, SAMPLE_RATE) })
}
