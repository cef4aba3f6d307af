//! The schema migrates up, down and up again, and seeds idempotently, on SQLite and (with
//! `TEST_DATABASE_URL`) on a fresh PostgreSQL database.

use mnemo_migration::{Migrator, MigratorTrait};
use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

async fn fresh_db(dir: &std::path::Path) -> DatabaseConnection {
    fresh_db_with(dir, 2).await
}

/// A fresh database behind a pool of `connections`.
async fn fresh_db_with(dir: &std::path::Path, connections: u32) -> DatabaseConnection {
    match std::env::var("TEST_DATABASE_URL").ok().filter(|s| !s.is_empty()) {
        Some(admin) => {
            let name = format!("mnemo_test_{}", uuid::Uuid::now_v7().simple());
            let db = mnemo_shared::store::db::connect_url(&admin, 1).await.unwrap();
            db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap().to_string();
            mnemo_shared::store::db::connect_url(&format!("{base}/{name}"), connections)
                .await
                .unwrap()
        }
        None => mnemo_shared::store::db::connect_url(
            &format!("sqlite://{}/m.db?mode=rwc", dir.display()),
            connections,
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
    mnemo_migration::up(&db, None).await.unwrap();
    for t in
        ["users", "interactions", "media_objects", "interaction_media", "memories", "reminders"]
    {
        assert!(has_table(&db, t).await, "{t} after up");
    }
    assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());

    mnemo_migration::down(&db, None).await.unwrap();
    for t in ["users", "interactions", "memories"] {
        assert!(!has_table(&db, t).await, "{t} after down");
    }
    mnemo_migration::up(&db, None).await.unwrap();

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
    mnemo_migration::migrate_up(&db).await.unwrap();
    mnemo_migration::seed::seed(&db).await.unwrap();
    db.execute_unprepared("DELETE FROM users").await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM interactions").await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM memories").await, 0);
}

/// Has each of `n` pooled connections read the schema as it is now: `n` transactions held at
/// once take `n` distinct connections.
async fn read_schema_on_every_connection(db: &DatabaseConnection, n: usize) {
    let mut held = Vec::new();
    for _ in 0..n {
        let txn = db.begin().await.unwrap();
        let sql = Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM seaql_migrations",
        );
        txn.query_one_raw(sql).await.unwrap();
        held.push(txn);
    }
    for txn in held {
        txn.commit().await.unwrap();
    }
}

/// Migrations that drop and recreate a trigger (the full-text index of `m20261203_000060`)
/// apply on a pool whose every connection has cached the schema of before. On SQLite, statements
/// spread over such connections fail with "trigger memories_fts_ai already exists" (a CI run saw
/// it on a fresh database); `mnemo_migration::up`/`down` keep SQLite on one connection.
#[tokio::test]
async fn migrations_apply_on_a_pool_of_connections_that_cached_the_old_schema() {
    const CONNECTIONS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db_with(dir.path(), CONNECTIONS as u32).await;
    for round in 0..3 {
        mnemo_migration::up(&db, Some(1)).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        read_schema_on_every_connection(&db, CONNECTIONS).await;
        mnemo_migration::up(&db, None).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
        read_schema_on_every_connection(&db, CONNECTIONS).await;
        mnemo_migration::down(&db, None).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(!has_table(&db, "memories").await, "round {round}: memories after down");
        read_schema_on_every_connection(&db, CONNECTIONS).await;
    }
    mnemo_migration::up(&db, None).await.unwrap();
    mnemo_migration::seed::seed(&db).await.unwrap();
    let user = {
        use mnemo_shared::sea_orm::EntityTrait;
        mnemo_shared::store::entities::User::find().one(&db).await.unwrap().unwrap().id
    };
    let terms = ["wifi".to_string(), "password".to_string()];
    let hits = mnemo_shared::store::recall::full_text(&db, user, &terms, None, 3).await.unwrap();
    assert_eq!(hits.len(), 1, "the full-text triggers index the seeded memories");
}

/// Processes that start at once on one SQLite file with migrations pending (the ingress and
/// workers after an upgrade) all come up: one applies the migrations, the others wait for it and
/// find nothing pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_starting_at_once_on_one_sqlite_file_all_come_up() {
    // SQLite alone, with either suite: on PostgreSQL only `mnemo-migrate up` migrates.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shared.db?mode=rwc", dir.path().display());
    // An upgrade: the file holds the first migration, the rest are pending.
    let first = mnemo_shared::store::db::connect_url(&url, 1).await.unwrap();
    mnemo_migration::up(&first, Some(1)).await.unwrap();
    first.close().await.unwrap();
    let mut processes = Vec::new();
    for _ in 0..4 {
        let db = mnemo_shared::store::db::connect_url(&url, 2).await.unwrap();
        processes
            .push(tokio::spawn(async move { mnemo_migration::migrate_up(&db).await.map(|()| db) }));
    }
    for process in processes {
        let db = process.await.unwrap().expect("every process migrates or finds it done");
        assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
    }
}
