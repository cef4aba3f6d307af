//! The local engine: ranked full-text search in our own database, one user at a time.
//! SQLite uses FTS5 (porter stemming, bm25); PostgreSQL a generated `tsvector` with a GIN index
//! (english stemming, ts_rank_cd). The question's filler words are dropped and the remaining
//! terms are OR-ed, so "what did I plan for dinner" finds "pasta for dinner". Terms are matched
//! as stemmed words, never as prefixes: "car" must not find "carbonara".

use std::collections::HashSet;

use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use super::{Hit, Range};
use crate::clients::mem0::Mem0Hit;
use crate::error::PipelineError;
use crate::store::recall;

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "for",
    "from",
    "get",
    "got",
    "had",
    "has",
    "have",
    "he",
    "her",
    "him",
    "his",
    "how",
    "i",
    "i'm",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "me",
    "my",
    "of",
    "on",
    "or",
    "our",
    "please",
    "said",
    "say",
    "she",
    "show",
    "so",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "up",
    "us",
    "was",
    "we",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "find",
    "tell",
    "remember",
    "remind",
    "again",
    "any",
    "some",
    "just",
    // What people say about mnemo itself, not about the memory: "what did I save yesterday?"
    "save",
    "saved",
    "send",
    "sent",
    "keep",
    "kept",
    "store",
    "stored",
    "memory",
    "memories",
    "anything",
    "everything",
    "something",
    "stuff",
    "thing",
    "things",
    "give",
    "list",
    "ever",
    "know",
    "recall",
    "i've",
    "i'd",
    // How people refer to the act of noting, not to the topic: "what did I note on Sunday?"
    "note",
    "notes",
    "noted",
    "wrote",
    "write",
    "written",
    "jot",
    "jotted",
    "down",
    "message",
    "messages",
    "mention",
    "mentioned",
    "add",
    "added",
    "put",
];

/// The query's meaningful terms: lowercase alphanumeric words, without filler words, deduped.
pub fn terms(query: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    query
        .split(|c: char| !c.is_alphanumeric())
        .map(|w| w.to_lowercase())
        .filter(|w| w.chars().count() > 1 && !STOPWORDS.contains(&w.as_str()))
        .filter(|w| seen.insert(w.clone()))
        .take(16)
        .collect()
}

pub async fn search(
    db: &DatabaseConnection,
    user_id: Uuid,
    query: &str,
    range: Option<Range>,
    limit: u64,
) -> Result<Vec<Hit>, DbErr> {
    let terms = terms(query);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let found = recall::full_text(db, user_id, &terms, range, limit).await?;
    Ok(found
        .into_iter()
        .map(|(memory_id, score)| Hit { memory_id, score, matched: vec!["text"] })
        .collect())
}

/// Maps Mem0's hits back to our memories (by `metadata.memory_id`, else `mem0_id`), keeping
/// only this user's rows inside the range, in Mem0's order.
pub async fn join_mem0_hits(
    db: &DatabaseConnection,
    user_id: Uuid,
    range: Option<Range>,
    hits: Vec<Mem0Hit>,
    limit: u64,
) -> Result<Vec<Hit>, PipelineError> {
    let mut out: Vec<Hit> = Vec::new();
    for hit in hits {
        if out.len() as u64 >= limit {
            break;
        }
        let by_meta = hit
            .metadata
            .get("memory_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        let Some((id, at)) = recall::of_mem0_hit(db, user_id, by_meta, &hit.id).await? else {
            continue;
        };
        if let Some((s, e)) = range
            && (at < s || at >= e)
        {
            continue;
        }
        if !out.iter().any(|h| h.memory_id == id) {
            out.push(Hit { memory_id: id, score: hit.score, matched: vec!["semantic"] });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::terms;

    #[test]
    fn filler_words_are_dropped() {
        assert_eq!(terms("What did I plan for dinner?"), vec!["plan", "dinner"]);
        assert_eq!(terms("show me my haircut"), vec!["haircut"]);
        assert_eq!(terms("\"; DROP TABLE x; --"), vec!["drop", "table"]);
        assert!(terms("what did I?").is_empty());
        assert_eq!(terms("what's the wifi password"), vec!["wifi", "password"]);
    }
}
