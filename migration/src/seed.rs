//! `mnemo-migrate seed`: a demo user with a few memories of each kind, so the API, `/list`
//! and the console have something to show on a fresh database. Idempotent: seeding twice
//! changes nothing (fixed MessageSids, unique index).

use chrono::{Duration, Utc};
use mnemo_shared::sea_orm::{DatabaseConnection, DbErr};
use mnemo_shared::store::db::{NewInbound, record_inbound};
use mnemo_shared::store::entities::states::MessageStatus;
use mnemo_shared::store::{interactions, memories};

pub const DEMO_PHONE: &str = "+14155550100";

const ITEMS: &[(&str, &str, &str, i64)] = &[
    ("text", "Dinner plan: pasta carbonara with Anna on Friday", "", 26),
    ("text", "Dentist appointment moved to Tuesday 3pm", "", 50),
    ("text", "Wi-Fi password at the cabin is pinecone42", "", 200),
    ("image", "New haircut, shorter on the sides", "", 120),
    ("image", "Receipt for the blue running shoes", "", 8),
    ("audio", "Voice note", "Remember to call mom about the birthday cake on Sunday", 30),
    ("audio", "Voice note", "Idea: a weekend trip to the lake in spring", 300),
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
        if !transcript.is_empty() {
            interactions::record_transcript(db, rec.interaction_id, transcript, None, at).await?;
        }
        interactions::finish(db, rec.interaction_id, MessageStatus::Processed, None, at).await?;
        let text = if transcript.is_empty() { body } else { transcript };
        memories::create_for_interaction(
            db,
            rec.user_id,
            rec.interaction_id,
            kind,
            text,
            serde_json::json!(["demo"]),
            at,
            "local",
        )
        .await?;
    }
    Ok(format!(
        "seeded demo user {DEMO_PHONE}: {created} new memories ({} already present)",
        ITEMS.len() - created
    ))
}
