//! Sentence embeddings in-process: a BERT-family model (candle) and its tokenizer.
//!
//! The pitfall this guards against (see `reference/local-models.md`): all-MiniLM-L6-v2's
//! `tokenizer.json` pads every input to 128 tokens. Pooled as is, the pad tokens dominate the
//! average and unrelated sentences score 0.5–0.85. Here the batch is padded to its longest
//! input only, the mean is taken over the attention mask only, and vectors are L2-normalised,
//! so a dot product is the cosine similarity.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::ModelError;
use super::catalog::ModelSpec;

/// How token vectors become one sentence vector (`1_Pooling/config.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

pub struct Embedder {
    pub model_id: &'static str,
    pub dim: usize,
    pub pooling: Pooling,
    query_prefix: &'static str,
    passage_prefix: &'static str,
    model: BertModel,
    tokenizer: Tokenizer,
}

fn err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Inference(e.to_string())
}

impl Embedder {
    /// Loads an installed (already verified) model folder.
    pub fn load(spec: &'static ModelSpec, dir: &Path) -> Result<Self, ModelError> {
        let embed = spec
            .embed
            .as_ref()
            .ok_or_else(|| ModelError::Format(format!("{} is not a sentence model", spec.id)))?;
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| ModelError::io(&p, e))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| ModelError::Format(format!("{}/config.json: {e}", spec.id)))?;
        let pooling: PoolingConfig = serde_json::from_slice(&read("1_Pooling/config.json")?)
            .map_err(|e| ModelError::Format(format!("{}/1_Pooling/config.json: {e}", spec.id)))?;
        let pooling = match (pooling.pooling_mode_mean_tokens, pooling.pooling_mode_cls_token) {
            (true, _) => Pooling::Mean,
            (false, true) => Pooling::Cls,
            _ => {
                return Err(ModelError::Format(format!(
                    "{}: only mean or CLS pooling is supported",
                    spec.id
                )));
            }
        };
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| ModelError::Format(format!("{}/tokenizer.json: {e}", spec.id)))?;
        // Pad to the longest input of the batch, never to a fixed length.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: embed.max_tokens.min(config.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(err)?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file was verified against its pinned hash and is not modified while
        // mapped (installs replace whole folders by rename).
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &Device::Cpu) }
                .map_err(err)?;
        let model = BertModel::load(vb, &config).map_err(err)?;
        Ok(Embedder {
            model_id: spec.id,
            dim: config.hidden_size,
            pooling,
            query_prefix: embed.query_prefix,
            passage_prefix: embed.passage_prefix,
            model,
            tokenizer,
        })
    }

    /// Vectors for memories (with the model's passage prefix).
    pub fn passages(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let inputs: Vec<String> =
            texts.iter().map(|t| format!("{}{}", self.passage_prefix, t)).collect();
        self.embed(inputs)
    }

    /// The vector for a question (with the model's query prefix).
    pub fn query(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        let mut v = self.embed(vec![format!("{}{}", self.query_prefix, text)])?;
        Ok(v.pop().unwrap_or_default())
    }

    fn embed(&self, inputs: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_batch(inputs, true).map_err(err)?;
        let n = encodings.len();
        let len = encodings.first().map(|e| e.get_ids().len()).unwrap_or(0);
        let mut ids = Vec::with_capacity(n * len);
        let mut types = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let dev = &Device::Cpu;
        let ids = Tensor::from_vec(ids, (n, len), dev).map_err(err)?;
        let types = Tensor::from_vec(types, (n, len), dev).map_err(err)?;
        let mask = Tensor::from_vec(mask, (n, len), dev).map_err(err)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(err)?;
        let pooled = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1).and_then(|t| t.squeeze(1)),
            Pooling::Mean => (|| {
                let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.broadcast_mul(&m)?.sum(1)?;
                let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
                summed.broadcast_div(&counts)
            })(),
        }
        .map_err(err)?;
        let norms = pooled
            .sqr()
            .and_then(|t| t.sum_keepdim(1))
            .and_then(|t| t.sqrt())
            .and_then(|t| t.clamp(1e-12, f64::MAX))
            .map_err(err)?;
        let normed = pooled.broadcast_div(&norms).map_err(err)?;
        normed.to_vec2::<f32>().map_err(err)
    }
}

/// Cosine similarity of two L2-normalised vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::models::catalog::{self, ModelKind};
    use crate::clients::models::test_support;

    fn minilm() -> Embedder {
        let spec = catalog::find(ModelKind::Embeddings, "all-MiniLM-L6-v2").unwrap();
        let dir = test_support::minilm_dir();
        crate::clients::models::manifest::Manifest::verify(spec, &dir).unwrap();
        Embedder::load(spec, &dir).unwrap()
    }

    #[test]
    fn similarities_match_the_reference_and_ignore_padding() {
        let e = minilm();
        assert_eq!((e.dim, e.pooling), (384, Pooling::Mean));
        let q = e.query("where did I leave the car").unwrap();
        let texts: Vec<String> = [
            "Parked on level 3 of the mall garage",
            "my car is in the parking lot",
            "Dentist appointment moved to Thursday at 4pm",
            "Buy oat milk and bananas",
        ]
        .map(String::from)
        .to_vec();
        // One batch: the short texts are padded to the longest. Pooling over pad tokens
        // would pull every score towards 0.5–0.85.
        let batch = e.passages(&texts).unwrap();
        let sims: Vec<f32> = batch.iter().map(|v| dot(&q, v)).collect();
        // sentence-transformers' reference values for these pairs (local-models.md).
        for (got, want) in sims.iter().zip([0.500f32, 0.556, 0.203, -0.007]) {
            assert!((got - want).abs() < 0.02, "{sims:?}");
        }
        // The same text alone and inside a padded batch gives the same vector.
        let alone = e.passages(&texts[3..]).unwrap();
        assert!(dot(&alone[0], &batch[3]) > 0.9999, "{}", dot(&alone[0], &batch[3]));
        for v in &batch {
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn a_paraphrase_scores_far_above_an_unrelated_note() {
        let e = minilm();
        let q = e.query("what's the internet code at my grandmother's place?").unwrap();
        let v = e
            .passages(&[
                "The wifi password at grandma's is sunflower42".to_string(),
                "Dinner plan: pasta carbonara with Anna on Friday".to_string(),
            ])
            .unwrap();
        let (related, unrelated) = (dot(&q, &v[0]), dot(&q, &v[1]));
        assert!(related > 0.45, "{related}");
        assert!(related - unrelated > 0.3, "{related} vs {unrelated}");
    }
}
