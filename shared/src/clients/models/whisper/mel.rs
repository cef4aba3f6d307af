//! Whisper's log-mel spectrogram, as OpenAI's `whisper.audio.log_mel_spectrogram` computes it:
//! the 80-bin filterbank (librosa's `filters.mel(sr=16000, n_fft=400, n_mels=80)`: Slaney mel
//! scale, Slaney area normalisation) computed here instead of shipped as data, and the
//! spectrogram itself: a centred STFT (reflect-padded by half a window), periodic Hann window
//! of 400, hop 160, the power spectrum, log10 clamped to 8 below the maximum, (x + 4) / 4.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Samples per STFT window.
pub const N_FFT: usize = 400;
/// Samples between frames (10 ms).
pub const HOP: usize = 160;

/// The filterbank as `n_mels` rows of `n_fft / 2 + 1` weights, row-major (candle's layout).
pub fn filters(sample_rate: usize, n_fft: usize, n_mels: usize) -> Vec<f32> {
    fn hz_to_mel(f: f64) -> f64 {
        let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
        let min_log_mel = min_log_hz / f_sp;
        let logstep = (6.4f64).ln() / 27.0;
        if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp }
    }
    fn mel_to_hz(m: f64) -> f64 {
        let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
        let min_log_mel = min_log_hz / f_sp;
        let logstep = (6.4f64).ln() / 27.0;
        if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m }
    }
    let bins = n_fft / 2 + 1;
    let fmax = sample_rate as f64 / 2.0;
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(fmax));
    let hz: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * bins];
    for m in 0..n_mels {
        let enorm = 2.0 / (hz[m + 2] - hz[m]);
        for k in 0..bins {
            let f = k as f64 * sample_rate as f64 / n_fft as f64;
            let lower = (f - hz[m]) / (hz[m + 1] - hz[m]);
            let upper = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
            out[m * bins + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    out
}

/// Computes Whisper's log-mel spectrogram of one window of 16 kHz audio.
pub struct LogMel {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    filters: Vec<f32>,
    n_mels: usize,
}

impl LogMel {
    pub fn new(filters: Vec<f32>, n_mels: usize) -> Self {
        assert_eq!(filters.len(), n_mels * (N_FFT / 2 + 1), "filterbank shape");
        // torch.hann_window(400), periodic.
        let window = (0..N_FFT)
            .map(|i| {
                (0.5 * (1.0 - (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos())) as f32
            })
            .collect();
        LogMel { fft: FftPlanner::new().plan_fft_forward(N_FFT), window, filters, n_mels }
    }

    /// `frames` frames (row-major `n_mels × frames`) of the log-mel spectrogram of `pcm`
    /// followed by silence: the first `frames` of what OpenAI's `log_mel_spectrogram(pcm,
    /// padding=N_SAMPLES)` returns when `pcm` is at most `frames` hops long (the maximum that
    /// sets the clamp then lies within those frames; the rest are silence).
    pub fn compute(&self, pcm: &[f32], frames: usize) -> Vec<f32> {
        let bins = N_FFT / 2 + 1;
        let half = N_FFT / 2;
        // The centred signal: `half` reflected samples, the audio, then zeros.
        let at = |i: usize| -> f32 {
            if i < half {
                let j = half - i;
                pcm.get(j).copied().unwrap_or(0.0)
            } else {
                pcm.get(i - half).copied().unwrap_or(0.0)
            }
        };
        let mut out = vec![0f32; self.n_mels * frames];
        let mut buf = vec![Complex::new(0f32, 0f32); N_FFT];
        let mut scratch = vec![Complex::new(0f32, 0f32); self.fft.get_inplace_scratch_len()];
        let mut power = vec![0f32; bins];
        for f in 0..frames {
            let start = f * HOP;
            if start >= pcm.len() + half {
                // Only padding from here on: log10 of the floor.
                for m in 0..self.n_mels {
                    out[m * frames + f] = -10.0;
                }
                continue;
            }
            for (j, c) in buf.iter_mut().enumerate() {
                *c = Complex::new(at(start + j) * self.window[j], 0.0);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for (p, c) in power.iter_mut().zip(&buf) {
                *p = c.norm_sqr();
            }
            for m in 0..self.n_mels {
                let row = &self.filters[m * bins..(m + 1) * bins];
                let e: f32 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
                out[m * frames + f] = e.max(1e-10).log10();
            }
        }
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in out.iter_mut() {
            *v = (v.max(max - 8.0) + 4.0) / 4.0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mel_matches_openai_whisper() {
        // 1.5 s of three tones (220 Hz amplitude-modulated, 1.8 kHz, 5.1 kHz); the expected
        // values come from OpenAI's `log_mel_spectrogram` computed with NumPy (centred
        // reflect-padded STFT, periodic Hann, power, the Slaney filterbank, clamp, scale).
        let pcm: Vec<f32> = (0..24_000)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                let tau = 2.0 * std::f64::consts::PI;
                (0.3 * (tau * 220.0 * t).sin() * (0.5 + 0.5 * (tau * 3.0 * t).sin())
                    + 0.1 * (tau * 1800.0 * t).sin()
                    + 0.05 * (tau * 5100.0 * t).sin()) as f32
            })
            .collect();
        let lm = LogMel::new(filters(16_000, N_FFT, 80), 80);
        let mel = lm.compute(&pcm, 3000);
        assert_eq!(mel.len(), 80 * 3000);
        let at = |m: usize, f: usize| mel[m * 3000 + f];
        for (m, f, want) in [
            (5, 75, 1.301_553_5),
            (41, 75, 1.046_452),
            (68, 75, 0.786_763_85),
            (0, 75, 0.032_541_99),
            (3, 0, 1.094_793_3),
            (18, 0, -0.149_774_07),
            (70, 149, -0.218_594_07),
            (20, 2999, -0.698_446_5),
        ] {
            assert!((at(m, f) - want).abs() < 2e-4, "mel {m} frame {f}: {} not {want}", at(m, f));
        }
    }

    #[test]
    fn filterbank_follows_the_slaney_formulas() {
        let f = filters(16_000, 400, 80);
        assert_eq!(f.len(), 80 * 201);
        // Values of the Slaney formulas worked out independently (40 Hz bins).
        assert!((f[1] - 0.024_862_59).abs() < 1e-6, "{}", f[1]);
        assert!((f[201 + 2] - 0.022_871_77).abs() < 1e-6, "{}", f[203]);
        assert!((f[79 * 201 + 199] - 0.000_448_76).abs() < 1e-6);
        // Every row is a triangle: non-negative with one peak region.
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            assert!(row.iter().all(|v| *v >= 0.0));
            assert!(row.iter().any(|v| *v > 0.0), "empty row {m}");
        }
    }
}
