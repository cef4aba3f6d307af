//! Recall evaluation: loads `bench/data/recall-eval.json` (3 users in different zones, their
//! memories, and questions labelled lexical / paraphrase / time / negative) into a fresh
//! database, embeds the memories with the configured model, asks every question through the
//! same path a WhatsApp question takes (`Pipeline::recall`: time phrase → range in the user's
//! zone, kind word, hybrid search), and prints Recall@3 per kind, MRR, the share of negatives
//! answered "nothing" and out-of-range results — for the full-text leg alone, the semantic leg
//! alone, and the fusion.
//!
//! Usage: `mnemo-bench-recall [--data FILE] [--gate kind=min,…] [--verbose]`
//! Settings from the environment as for the product (`MODELS_DIR`, `EMBED_MODEL`,
//! `EMBED_API_BASE`, `DATABASE_URL`; default: a temporary SQLite file). With `--gate`, exits 1
//! when the fused figures fall below the given minimums (CI's regression gate).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mnemo_shared::config::Settings;
use mnemo_shared::memory::hybrid::Legs;
use mnemo_shared::memory::vectors;
use mnemo_shared::sea_orm::{ActiveEnum, ActiveModelTrait, ActiveValue::Set};
use mnemo_shared::store::entities::{memory, user};
use mnemo_worker::pipeline::Pipeline;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Eval {
    now: DateTime<Utc>,
    users: Vec<EvalUser>,
    memories: Vec<EvalMemory>,
    queries: Vec<EvalQuery>,
}

#[derive(Deserialize)]
struct EvalUser {
    key: String,
    phone: String,
    timezone: String,
}

#[derive(Deserialize)]
struct EvalMemory {
    id: String,
    user: String,
    kind: String,
    text: String,
    labels: Vec<String>,
    occurred_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct EvalQuery {
    id: String,
    user: String,
    kind: String,
    text: String,
    expected: Vec<String>,
}

#[derive(Default)]
struct Tally {
    n: usize,
    recall: f64,
    rr: f64,
    nothing: usize,
    out_of_range: usize,
}

impl Tally {
    fn r3(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.recall / self.n as f64 }
    }
    fn mrr(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.rr / self.n as f64 }
    }
    fn nothing_share(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.nothing as f64 / self.n as f64 }
    }
    /// The figure the gate reads: share answered "nothing" for negatives, Recall@3 otherwise.
    fn score(&self, kind: &str) -> f64 {
        if kind == "negative" { self.nothing_share() } else { self.r3() }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut data = "bench/data/recall-eval.json".to_string();
    let mut gate: Vec<(String, f64)> = Vec::new();
    let mut verbose = false;
    let mut floor: Option<f32> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data" => data = it.next().expect("--data FILE").clone(),
            "--verbose" => verbose = true,
            "--sims" => {}
            "--floor" => floor = Some(it.next().expect("--floor X").parse().expect("a number")),
            "--gate" => {
                for pair in it.next().expect("--gate kind=min,…").split(',') {
                    let (k, v) = pair.split_once('=').expect("kind=min");
                    gate.push((k.to_string(), v.parse().expect("a number")));
                }
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let eval: Eval = serde_json::from_slice(&std::fs::read(&data).expect("read the eval set"))
        .expect("parse the eval set");

    let dir = tempfile::tempdir().expect("temp dir");
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.entry("DATABASE_URL".into())
        .or_insert_with(|| format!("sqlite://{}/recall.db?mode=rwc", dir.path().display()));
    env.insert("LOCAL_MODELS".into(), "required".into());
    let settings = Arc::new(Settings::from_map(&env).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    }));
    let db = mnemo_shared::store::db::connect(&settings).await.expect("database");
    mnemo_migration::migrate_up(&db).await.expect("migrate");
    let mut pipeline = Pipeline::new(db.clone(), settings.clone());
    let load = Instant::now();
    if let Err(e) = pipeline.models.wait_ready(Duration::from_secs(600)).await {
        eprintln!("models: {e}");
        std::process::exit(2);
    }
    let model = pipeline.engine.embeddings.model_id().expect("an embedding model is configured");
    println!("model {model} ready in {:.2?}", load.elapsed());

    // A fresh run: unique phones so an existing database is not disturbed.
    let run = Uuid::now_v7().simple().to_string();
    let mut users: HashMap<String, (Uuid, chrono_tz::Tz)> = HashMap::new();
    for u in &eval.users {
        let id = Uuid::now_v7();
        let tz: chrono_tz::Tz = u.timezone.parse().expect("zone");
        user::ActiveModel {
            id: Set(id),
            phone: Set(format!("{}#{}", u.phone, &run[..8])),
            wa_id: Set(None),
            display_name: Set(Some(u.key.clone())),
            timezone: Set(u.timezone.clone()),
            created_at: Set(eval.now),
            updated_at: Set(eval.now),
            last_inbound_at: Set(None),
            welcomed_at: Set(None),
        }
        .insert(&db)
        .await
        .expect("insert user");
        users.insert(u.key.clone(), (id, tz));
    }
    let mut ids: HashMap<String, Uuid> = HashMap::new();
    let mut by_uuid: HashMap<Uuid, (String, DateTime<Utc>)> = HashMap::new();
    let mut rows = Vec::new();
    for m in &eval.memories {
        let id = Uuid::now_v7();
        let (user_id, _) = users[&m.user];
        let row = memory::ActiveModel {
            id: Set(id),
            user_id: Set(user_id),
            interaction_id: Set(None),
            kind: Set(memory::Kind::try_from_value(&m.kind).expect("a known kind")),
            text: Set(m.text.clone()),
            labels: Set(serde_json::json!(m.labels)),
            occurred_at: Set(m.occurred_at),
            created_at: Set(m.occurred_at),
            engine: Set(memory::Engine::Local),
            mem0_id: Set(None),
            mem0_event_id: Set(None),
        }
        .insert(&db)
        .await
        .expect("insert memory");
        ids.insert(m.id.clone(), id);
        by_uuid.insert(id, (m.id.clone(), m.occurred_at));
        rows.push(row);
    }
    let embed = Instant::now();
    for chunk in rows.chunks(16) {
        let texts = chunk.iter().map(|m| m.text.clone()).collect();
        let vecs =
            pipeline.engine.embeddings.passages(texts).await.expect("embed").expect("model ready");
        for (m, v) in chunk.iter().zip(vecs) {
            vectors::upsert(&db, m.id, m.user_id, &model, &v).await.expect("store vector");
        }
    }
    let took = embed.elapsed();
    println!(
        "{} memories embedded in {:.2?} ({:.1} ms each, batches of 16)",
        rows.len(),
        took,
        took.as_secs_f64() * 1000.0 / rows.len() as f64
    );

    if args.iter().any(|a| a == "--sims") {
        // Diagnostics: per question, the best expected similarity and the best other one.
        for q in &eval.queries {
            let (user_id, tz) = users[&q.user];
            let text = mnemo_shared::domain::time::parse_range(&q.text, eval.now, tz)
                .map(|(_, rest)| rest)
                .unwrap_or_else(|| q.text.clone());
            let qv = pipeline.engine.embeddings.query(&text).await.unwrap().unwrap();
            let scored = vectors::score(&db, user_id, &model, &qv, None).await.unwrap();
            let expected: Vec<Uuid> = q.expected.iter().map(|e| ids[e]).collect();
            let best_exp = scored
                .iter()
                .filter(|s| expected.contains(&s.0))
                .map(|s| s.1)
                .fold(f32::NAN, f32::max);
            let best_other = scored
                .iter()
                .filter(|s| !expected.contains(&s.0))
                .map(|s| s.1)
                .fold(f32::NAN, f32::max);
            let n = scored.len() as f32;
            let mean = scored.iter().map(|s| s.1).sum::<f32>() / n;
            let sd = (scored.iter().map(|s| (s.1 - mean).powi(2)).sum::<f32>() / n).sqrt();
            let rank =
                scored.iter().position(|s| expected.contains(&s.0)).map(|r| r + 1).unwrap_or(0);
            println!(
                "SIM {} {:<10} exp {:>6.3} other {:>6.3} mean {:>6.3} sd {:>6.3} rank {} {:?}",
                q.id, q.kind, best_exp, best_other, mean, sd, rank, q.text
            );
        }
    }
    if let Some(f) = floor {
        pipeline.engine.semantic_floor = f;
    }
    println!("semantic floor {:.2}", pipeline.engine.semantic_floor);
    let mut fused: BTreeMap<String, Tally> = BTreeMap::new();
    println!(
        "\n{:<14} {:<11} {:>4} {:>9} {:>6} {:>9} {:>12}",
        "retriever", "kind", "n", "Recall@3", "MRR", "nothing", "out-of-range"
    );
    for (name, legs) in
        [("full-text", Legs::TextOnly), ("semantic", Legs::SemanticOnly), ("hybrid", Legs::Both)]
    {
        pipeline.engine.legs = legs;
        let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
        let mut latencies = Vec::new();
        for q in &eval.queries {
            let (user_id, tz) = users[&q.user];
            let started = Instant::now();
            let got = pipeline.recall(user_id, tz, &q.text, eval.now, 5).await.expect("recall");
            latencies.push(started.elapsed());
            let found: Vec<Uuid> = got.items.iter().map(|m| m.id).collect();
            let expected: Vec<Uuid> = q.expected.iter().map(|e| ids[e]).collect();
            let t = tallies.entry(q.kind.clone()).or_default();
            t.n += 1;
            if found.is_empty() {
                t.nothing += 1;
            }
            if let Some(r) = &got.range {
                t.out_of_range += got
                    .items
                    .iter()
                    .filter(|m| m.occurred_at < r.start || m.occurred_at >= r.end)
                    .count();
            } else if q.kind == "time" {
                t.out_of_range += found.len().max(1);
            }
            if !expected.is_empty() {
                let top3 = &found[..found.len().min(3)];
                let hit = expected.iter().filter(|e| top3.contains(e)).count();
                t.recall += hit as f64 / expected.len().min(3) as f64;
                if let Some(rank) = found.iter().position(|f| expected.contains(f)) {
                    t.rr += 1.0 / (rank + 1) as f64;
                }
            }
            let ok = if expected.is_empty() {
                found.is_empty()
            } else {
                expected.iter().all(|e| found[..found.len().min(3)].contains(e))
                    || found[..found.len().min(3)].len() >= 3
                        && expected.iter().any(|e| found[..3].contains(e))
            };
            if verbose && legs == Legs::Both && !ok {
                let names: Vec<&str> = found.iter().map(|f| by_uuid[f].0.as_str()).collect();
                println!(
                    "  MISS {} [{}] {:?}: expected {:?}, got {:?}",
                    q.id, q.kind, q.text, q.expected, names
                );
            }
        }
        latencies.sort();
        for (kind, t) in &tallies {
            println!(
                "{:<14} {:<11} {:>4} {:>9.3} {:>6.3} {:>9.3} {:>12}",
                name,
                kind,
                t.n,
                t.r3(),
                t.mrr(),
                t.nothing_share(),
                t.out_of_range
            );
        }
        println!(
            "{:<14} question latency p50 {:.1?} max {:.1?}",
            name,
            latencies[latencies.len() / 2],
            latencies[latencies.len() - 1]
        );
        if legs == Legs::Both {
            fused = tallies;
        }
    }
    let mut failed = false;
    for (kind, min) in &gate {
        let got = fused.get(kind).map(|t| t.score(kind)).unwrap_or(0.0);
        let oor = fused.get(kind).map(|t| t.out_of_range).unwrap_or(0);
        if got + 1e-9 < *min || (kind == "time" && oor > 0) {
            eprintln!("GATE FAILED: {kind} {got:.3} < {min} (out of range: {oor})");
            failed = true;
        }
    }
    if !gate.is_empty() && !failed {
        println!("gate passed");
    }
    std::process::exit(if failed { 1 } else { 0 });
}
