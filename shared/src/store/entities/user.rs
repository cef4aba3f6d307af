use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// E.164, e.g. `+14155550123`.
    #[sea_orm(unique)]
    pub phone: String,
    pub wa_id: Option<String>,
    pub display_name: Option<String>,
    /// IANA zone name.
    pub timezone: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_inbound_at: Option<DateTimeUtc>,
    /// When the one-time welcome was claimed (see `pipeline::send::claim_welcome`).
    pub welcomed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
