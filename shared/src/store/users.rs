//! `users`: looking one up by how a request names them, pages of users, and their totals.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, Value,
};
use uuid::Uuid;

use crate::domain::phone::UserRef;
use crate::store::db::{exec, one_as, run, stmt};
use crate::store::entities::user;

/// The user a [`UserRef`] names, if there is one.
pub async fn find(db: &DatabaseConnection, who: &UserRef) -> Result<Option<user::Model>, DbErr> {
    match who {
        UserRef::Id(id) => user::Entity::find_by_id(*id).one(db).await,
        UserRef::Phone(phone) => find_by_phone(db, phone.as_str()).await,
    }
}

/// The user with this E.164 number, if there is one.
pub async fn find_by_phone(
    db: &impl ConnectionTrait,
    phone: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Phone.eq(phone)).one(db).await
}

/// Users newest first (`created_at`, then id), at most `limit`, after the keyset cursor
/// `after` (the `(created_at, id)` of the previous page's last user) when given.
pub async fn page(
    db: &impl ConnectionTrait,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<user::Model>, DbErr> {
    let (sql, values): (&str, Vec<Value>) = match after {
        Some((at, id)) => (
            "SELECT * FROM users WHERE (created_at, id) < ($1, $2) ORDER BY created_at DESC, id DESC LIMIT $3",
            vec![at.into(), id.into(), limit.into()],
        ),
        None => {
            ("SELECT * FROM users ORDER BY created_at DESC, id DESC LIMIT $1", vec![limit.into()])
        }
    };
    user::Entity::find().from_raw_sql(stmt(db, sql, values)).all(db).await
}

/// How many interactions and memories a user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct Totals {
    pub interactions: i64,
    pub memories: i64,
}

/// The user's totals (`None` only if the database returns no row).
pub async fn totals(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Option<Totals>, DbErr> {
    one_as::<Totals>(
        db,
        "SELECT (SELECT COUNT(*) FROM interactions WHERE user_id = $1) AS interactions, \
         (SELECT COUNT(*) FROM memories WHERE user_id = $1) AS memories",
        vec![user_id.into()],
    )
    .await
}

/// Takes the user's one-time welcome at `now`: true for exactly one caller, however many
/// first messages are processed at once.
pub async fn claim_welcome(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = exec(
        db,
        "UPDATE users SET welcomed_at = $2 WHERE id = $1 AND welcomed_at IS NULL",
        vec![user_id.into(), now.into()],
    )
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Sets the user's time zone (an IANA name, already validated).
pub async fn set_timezone(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    zone: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE users SET timezone = $2, updated_at = $3 WHERE id = $1",
        vec![user_id.into(), zone.into(), now.into()],
    )
    .await
}
