//! Hybrid retrieval: the full-text leg and the semantic leg run over the same user's memories,
//! each restricted to the asked time range before ranking, and are fused by reciprocal rank
//! fusion (RRF, k = 60), ties broken by recency.
//!
//! Precision rules (measured on `bench/data/recall-eval.json`, see `cargo run -p mnemo-bench
//! --bin mnemo-bench-recall`):
//! - a semantic match counts only above [`SEMANTIC_FLOOR`], so an unrelated question finds
//!   nothing rather than noise;
//! - with vectors available, a full-text match must either be somewhat related
//!   ([`SUPPORT_FLOOR`]) or contain an exact rare token of the question (a word with a digit,
//!   such as a code "C12", a flight number or a password), which is never lost, or carry one
//!   of the question's words as a label (full-text covers labels: "work stuff" finds the notes
//!   labelled `work`);
//! - a question with no topic words ("what did I save on Sunday?") lists its range, newest first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::{Hit, MemoryEngine, Range, local, vectors};
use crate::error::PipelineError;
use crate::store::recall;

/// The RRF constant: a leg's rank r contributes 1 / (K + r).
pub const RRF_K: f64 = 60.0;
/// Cosine similarity a semantic-only match needs.
pub const SEMANTIC_FLOOR: f32 = 0.30;
/// Cosine similarity a full-text match needs when it carries no exact rare token.
pub const SUPPORT_FLOOR: f32 = 0.2;

/// Weight of a full-text match without an exact rare token, when vectors are available.
pub const TEXT_WEIGHT: f64 = 0.5;

/// Which legs run; the bench compares each alone with the fusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legs {
    Both,
    TextOnly,
    SemanticOnly,
}

async fn candidates(
    db: &DatabaseConnection,
    user_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, recall::Candidate>, PipelineError> {
    Ok(recall::texts(db, user_id, ids).await?)
}

/// Lists the user's memories in `range`, newest first (a question without topic words).
async fn list_range(
    db: &DatabaseConnection,
    user_id: Uuid,
    range: Range,
    limit: u64,
) -> Result<Vec<Hit>, PipelineError> {
    let ids = recall::in_range(db, user_id, range, limit).await?;
    Ok(ids
        .into_iter()
        .map(|memory_id| Hit { memory_id, score: 0.0, matched: Vec::new() })
        .collect())
}

/// True when one of the memory's labels is a word of the question ("work stuff since
/// Monday" and the label `work`): the user's own filing, as strong as an exact token.
fn has_label(labels: &[String], terms: &[String]) -> bool {
    labels.iter().any(|l| terms.iter().any(|t| l.eq_ignore_ascii_case(t)))
}

/// True when `text` contains one of the question's exact rare tokens as a word.
fn has_rare_token(text: &str, rare: &[String]) -> bool {
    if rare.is_empty() {
        return false;
    }
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| rare.iter().any(|r| w.eq_ignore_ascii_case(r)))
}

pub async fn search_with(
    engine: &MemoryEngine,
    db: &DatabaseConnection,
    user_id: Uuid,
    query: &str,
    range: Option<Range>,
    limit: u64,
    legs: Legs,
) -> Result<Vec<Hit>, PipelineError> {
    let terms = local::terms(query);
    if terms.is_empty() {
        return match range {
            Some(r) => list_range(db, user_id, r, limit).await,
            None => Ok(Vec::new()),
        };
    }
    let pool = (limit * 4).clamp(20, 100);
    let text_leg = async {
        if legs == Legs::SemanticOnly {
            return Ok(Vec::new());
        }
        local::search(db, user_id, query, range, pool).await.map_err(PipelineError::from)
    };
    let semantic_leg = semantic(engine, db, user_id, query, range, pool, legs);
    let (text, semantic) = tokio::join!(text_leg, semantic_leg);
    let (text, semantic) = (text?, semantic?);

    let rare: Vec<String> =
        terms.iter().filter(|t| t.chars().any(|c| c.is_ascii_digit())).cloned().collect();
    let mut ids: Vec<Uuid> = text.iter().map(|h| h.memory_id).collect();
    let sem_hits: Vec<(Uuid, f64)> = match &semantic {
        Semantic::None => Vec::new(),
        Semantic::Mem0(hits) => hits.iter().map(|h| (h.memory_id, h.score)).collect(),
        Semantic::Vectors(scored) => scored
            .iter()
            .filter(|(_, s)| *s >= engine.semantic_floor)
            .take(pool as usize)
            .map(|(id, s)| (*id, f64::from(*s)))
            .collect(),
    };
    ids.extend(sem_hits.iter().map(|(id, _)| *id));
    ids.sort();
    ids.dedup();
    let info = candidates(db, user_id, &ids).await?;

    // Similarity of every in-range memory, looked up once per full-text hit.
    let similarity: Option<HashMap<Uuid, f32>> = match &semantic {
        Semantic::Vectors(scored) => Some(scored.iter().copied().collect()),
        _ => None,
    };
    let mut fused: HashMap<Uuid, (f64, Vec<&'static str>)> = HashMap::new();
    let mut rank = 0usize;
    for hit in &text {
        let Some(c) = info.get(&hit.memory_id) else {
            continue;
        };
        let mut weight = 1.0;
        if let Some(similarity) = &similarity {
            let sim = similarity.get(&hit.memory_id).copied();
            let supported = sim.is_some_and(|s| s >= SUPPORT_FLOOR);
            let exact = has_rare_token(&c.text, &rare) || has_label(&c.labels, &terms);
            if !supported && !exact {
                continue;
            }
            // Shared common words are weak evidence next to meaning; an exact rare token is
            // strong evidence.
            if !exact {
                weight = TEXT_WEIGHT;
            }
        }
        rank += 1;
        let e = fused.entry(hit.memory_id).or_default();
        e.0 += weight / (RRF_K + rank as f64);
        e.1.push("text");
    }
    for (i, (id, _)) in sem_hits.iter().enumerate() {
        if !info.contains_key(id) {
            continue;
        }
        let e = fused.entry(*id).or_default();
        e.0 += 1.0 / (RRF_K + (i + 1) as f64);
        e.1.push("semantic");
    }
    let mut out: Vec<(Hit, DateTime<Utc>)> = fused
        .into_iter()
        .map(|(id, (score, matched))| (Hit { memory_id: id, score, matched }, info[&id].at))
        .collect();
    out.sort_by(|a, b| {
        b.0.score.total_cmp(&a.0.score).then(b.1.cmp(&a.1)).then(b.0.memory_id.cmp(&a.0.memory_id))
    });
    Ok(out.into_iter().take(limit as usize).map(|(h, _)| h).collect())
}

enum Semantic {
    None,
    Mem0(Vec<Hit>),
    /// Every in-range memory with its cosine similarity, best first.
    Vectors(Vec<(Uuid, f32)>),
}

async fn semantic(
    engine: &MemoryEngine,
    db: &DatabaseConnection,
    user_id: Uuid,
    query: &str,
    range: Option<Range>,
    pool: u64,
    legs: Legs,
) -> Result<Semantic, PipelineError> {
    if legs == Legs::TextOnly {
        return Ok(Semantic::None);
    }
    if let Some(client) = &engine.mem0 {
        let hits =
            client.search(&user_id.to_string(), query, range, pool.clamp(10, 100) as u32).await?;
        return Ok(Semantic::Mem0(local::join_mem0_hits(db, user_id, range, hits, pool).await?));
    }
    let Some(model) = engine.vector_model() else {
        return Ok(Semantic::None);
    };
    let q = match engine.embeddings.query(query).await {
        Ok(Some(q)) => q,
        Ok(None) => return Ok(Semantic::None),
        Err(e) => {
            // Answer lexically rather than not at all.
            tracing::warn!(error = %e, "query embedding failed; answering lexically");
            return Ok(Semantic::None);
        }
    };
    let scored = vectors::score(db, user_id, &model, &q, range).await?;
    if scored.is_empty() {
        return Ok(Semantic::None);
    }
    Ok(Semantic::Vectors(scored.into_iter().map(|(id, s, _)| (id, s)).collect()))
}

#[cfg(test)]
mod tests {
    use super::{has_label, has_rare_token};

    #[test]
    fn labels_match_whole_question_words() {
        let terms = vec!["work".to_string(), "stuff".to_string()];
        assert!(has_label(&["Work".to_string()], &terms));
        assert!(!has_label(&["workout".to_string()], &terms));
        assert!(!has_label(&[], &terms));
    }

    #[test]
    fn rare_tokens_match_whole_words_only() {
        let rare = vec!["c12".to_string()];
        assert!(has_rare_token("My locker is C12 at the gym", &rare));
        assert!(!has_rare_token("My locker is C123 at the gym", &rare));
        assert!(!has_rare_token("anything", &[]));
    }
}
