//! Whisper's 80-bin log-mel filterbank (librosa's `filters.mel(sr=16000, n_fft=400, n_mels=80)`:
//! Slaney mel scale, Slaney area normalisation), computed here instead of shipped as data.

/// The filterbank as `n_mels` rows of `n_fft / 2 + 1` weights, row-major (candle's layout).
pub fn filters(sample_rate: usize, n_fft: usize, n_mels: usize) -> Vec<f32> {
    fn hz_to_mel(f: f64) -> f64 {
        let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
        let min_log_mel = min_log_hz / f_sp;
        let logstep = (6.4f64).ln() / 27.0;
        if f >= min_log_hz {
            min_log_mel + (f / min_log_hz).ln() / logstep
        } else {
            f / f_sp
        }
    }
    fn mel_to_hz(m: f64) -> f64 {
        let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
        let min_log_mel = min_log_hz / f_sp;
        let logstep = (6.4f64).ln() / 27.0;
        if m >= min_log_mel {
            min_log_hz * (logstep * (m - min_log_mel)).exp()
        } else {
            f_sp * m
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
