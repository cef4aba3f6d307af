//! `mnemo-migrate seed`: a demo user with a few memories of each kind, so the API, `/list`
//! and the console have something to show on a fresh database. Idempotent: seeding twice
//! changes nothing (fixed MessageSids, unique index).

use chrono::{Duration, Utc};
use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Value};
use mnemo_shared::store::db::{NewInbound, record_inbound};
use uuid::Uuid;

pub const DEMO_PHONE: &str = "+14155550100";

const ITEMS: &[(&str, &str, &str, i64)] = &[
    (
        "text",
        "Dinner plan: pasta carbonara with Anna on Friday",
        "",
        26,
    ),
    ("text", "Dentist appointment moved to Tuesday 3pm", "", 50),
    ("text", "Wi-Fi password at the cabin is pinecone42", "", 200),
    ("image", "New haircut, shorter on the sides", "", 120),
    ("image", "Receipt for the blue running shoes", "", 8),
    (
        "audio",
        "Voice note",
        "Remember to call mom about the birthday cake on Sunday",
        30,
    ),
    (
        "audio",
        "Voice note",
        "Idea: a weekend trip to the lake in spring",
        300,
    ),
];

/// Inserts the demo data; returns a one-line report.
pub async fn seed(db: &DatabaseConnection) -> Result<String, DbErr> {
    let now = Utc::now();
    let mut created = 0;
    for (i, (kind, body, transcript, hours_ago)) in ITEMS.iter().enumerate() {
        let at = now - Duration::hours(*hours_ago);
        let sid = format!("SMseed{:026}", i);
        let rec = record_inbound(
            db,
            &NewInbound {
                phone: DEMO_PHONE.into(),
                wa_id: Some(DEMO_PHONE.trim_start_matches('+').into()),
                display_name: Some("Demo".into()),
                timezone: "America/Los_Angeles".into(),
                message_sid: sid,
                kind: (*kind).into(),
                body: (*body).into(),
                replied_to_sid: None,
                raw: serde_json::json!({"seed": true}),
                received_at: at,
            },
        )
        .await?;
        let Some(rec) = rec else { continue };
        created += 1;
        let text = if transcript.is_empty() {
            *body
        } else {
            *transcript
        };
        let backend = db.get_database_backend();
        db.execute_raw(mnemo_shared::sea_orm::Statement::from_sql_and_values(
            backend,
            "UPDATE interactions SET status = 'processed', processed_at = $2, transcript = $3 WHERE id = $1",
            [
                rec.interaction_id.into(),
                at.into(),
                Value::String(if transcript.is_empty() { None } else { Some(transcript.to_string()) }),
            ],
        ))
        .await?;
        db.execute_raw(mnemo_shared::sea_orm::Statement::from_sql_and_values(
            backend,
            "INSERT INTO memories (id, user_id, interaction_id, kind, text, labels, occurred_at, created_at, engine) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'local') ON CONFLICT (interaction_id) DO NOTHING",
            [
                Uuid::now_v7().into(),
                rec.user_id.into(),
                rec.interaction_id.into(),
                (*kind).into(),
                text.into(),
                Value::Json(Some(Box::new(serde_json::json!(["demo"])))),
                at.into(),
            ],
        ))
        .await?;
    }
    Ok(format!(
        "seeded demo user {DEMO_PHONE}: {created} new memories ({} already present)",
        ITEMS.len() - created
    ))
}
