//! The schema migrates up, down and up again, and seeds idempotently, on SQLite and (with
//! `TEST_DATABASE_URL`) on a fresh PostgreSQL database.

use mnemo_migration::{Migrator, MigratorTrait};
use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn fresh_db(dir: &std::path::Path) -> DatabaseConnection {
    match std::env::var("TEST_DATABASE_URL").ok().filter(|s| !s.is_empty()) {
        Some(admin) => {
            let name = format!("mnemo_test_{}", uuid::Uuid::now_v7().simple());
            let db = mnemo_shared::store::db::connect_url(&admin, 1).await.unwrap();
            db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap().to_string();
            mnemo_shared::store::db::connect_url(&format!("{base}/{name}"), 2).await.unwrap()
        }
        None => mnemo_shared::store::db::connect_url(
            &format!("sqlite://{}/m.db?mode=rwc", dir.display()),
            2,
        )
        .await
        .unwrap(),
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

async fn has_table(db: &DatabaseConnection, name: &str) -> bool {
    let sql = match db.get_database_backend() {
        mnemo_shared::sea_orm::DbBackend::Postgres => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '{name}'"
        ),
        _ => format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{name}'"),
    };
    count(db, &sql).await == 1
}

#[tokio::test]
async fn up_down_up_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path()).await;
    Migrator::up(&db, None).await.unwrap();
    for t in
        ["users", "interactions", "media_objects", "interaction_media", "memories", "reminders"]
    {
        assert!(has_table(&db, t).await, "{t} after up");
    }
    assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());

    Migrator::down(&db, None).await.unwrap();
    for t in ["users", "interactions", "memories"] {
        assert!(!has_table(&db, t).await, "{t} after down");
    }
    Migrator::up(&db, None).await.unwrap();

    let first = mnemo_migration::seed::seed(&db).await.unwrap();
    assert!(first.contains("7 new"), "{first}");
    let again = mnemo_migration::seed::seed(&db).await.unwrap();
    assert!(again.contains("0 new"), "{again}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM memories").await, 7);
    for kind in ["text", "image", "audio"] {
        let n = count(&db, &format!("SELECT COUNT(*) FROM memories WHERE kind = '{kind}'")).await;
        assert!(n >= 2, "{kind}: {n}");
    }
    // The local engine's full-text index follows the rows (its query for "what's the wifi
    // password?").
    let user = {
        use mnemo_shared::sea_orm::EntityTrait;
        mnemo_shared::store::entities::User::find().one(&db).await.unwrap().unwrap().id
    };
    let terms = ["wifi".to_string(), "password".to_string()];
    let hits = mnemo_shared::store::recall::full_text(&db, user, &terms, None, 3).await.unwrap();
    assert_eq!(hits.len(), 1);
}

#[tokio::test]
async fn deleting_a_user_cascades() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path()).await;
    Migrator::up(&db, None).await.unwrap();
    mnemo_migration::seed::seed(&db).await.unwrap();
    db.execute_unprepared("DELETE FROM users").await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM interactions").await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM memories").await, 0);
}
