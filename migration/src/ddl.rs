//! Small builders the migrations share, so each table reads as its columns and keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A UUID primary key.
pub fn uuid_pk<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().primary_key().take()
}

/// Column builders, one pair a type: `$req(name)` is NOT NULL, `$opt(name)` NULL. Chain on them
/// what a column needs beyond that (`.unique_key()`, `.default(0)`), in the order it is written.
macro_rules! columns {
    ($($ty:ident => $req:ident, $opt:ident;)*) => {$(
        #[doc = concat!("A required `", stringify!($ty), "` column.")]
        #[allow(dead_code)]
        pub fn $req<T: IntoIden>(name: T) -> ColumnDef {
            ColumnDef::new(name).$ty().not_null().take()
        }
        #[doc = concat!("An optional `", stringify!($ty), "` column.")]
        #[allow(dead_code)]
        pub fn $opt<T: IntoIden>(name: T) -> ColumnDef {
            ColumnDef::new(name).$ty().null().take()
        }
    )*};
}

columns! {
    timestamp_with_time_zone => ts, ts_null;
    string => string, string_null;
    text => text, text_null;
    uuid => uuid, uuid_null;
    integer => integer, integer_null;
    big_integer => big_integer, big_integer_null;
    json => json, json_null;
    blob => blob, blob_null;
}

/// A required `varchar(len)` column.
pub fn varchar<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().take()
}

/// An optional `varchar(len)` column.
pub fn varchar_null<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).null().take()
}

/// A foreign key `from_table.from_col → to_table.to_col` whose rows go when the row they point
/// at is deleted.
pub fn cascade<T1, C1, T2, C2>(
    from_table: T1,
    from_col: C1,
    to_table: T2,
    to_col: C2,
) -> ForeignKeyCreateStatement
where
    T1: IntoIden,
    C1: IntoIden,
    T2: IntoIden,
    C2: IntoIden,
{
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// An index named `name` on `table` over `cols`, in order.
pub fn index<T: IntoIden, C: IntoIden>(
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    index
}

/// [`index`], unique.
pub fn unique_index<T: IntoIden, C: IntoIden>(
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    index(name, table, cols).unique().to_owned()
}

/// The users table as the later migrations point at it.
#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
}

/// [`cascade`] to the user who owns the row: `from_table.from_col → users.id`.
pub fn owned_by_user<T: IntoIden, C: IntoIden>(
    from_table: T,
    from_col: C,
) -> ForeignKeyCreateStatement {
    cascade(from_table, from_col, Users::Table, Users::Id)
}

/// `ALTER TABLE table ADD COLUMN col` (SQLite takes one column per ALTER TABLE).
pub async fn add_column<T: IntoIden>(
    m: &SchemaManager<'_>,
    table: T,
    col: impl Into<ColumnDef>,
) -> Result<(), DbErr> {
    let col: ColumnDef = col.into();
    m.alter_table(Table::alter().table(table).add_column(col).to_owned()).await
}

/// `ALTER TABLE table DROP COLUMN col`.
pub async fn drop_column<T: IntoIden, C: IntoIden>(
    m: &SchemaManager<'_>,
    table: T,
    col: C,
) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(table).drop_column(col).to_owned()).await
}

/// `DROP TABLE IF EXISTS table`.
pub async fn drop_table<T: IntoIden>(m: &SchemaManager<'_>, table: T) -> Result<(), DbErr> {
    m.drop_table(Table::drop().table(table).if_exists().to_owned()).await
}

/// `DROP INDEX name` on `table`.
pub async fn drop_index<T: IntoIden>(
    m: &SchemaManager<'_>,
    name: &str,
    table: T,
) -> Result<(), DbErr> {
    m.drop_index(Index::drop().name(name).table(table).to_owned()).await
}

/// The error for a database other than SQLite and PostgreSQL.
pub fn unsupported(backend: DbBackend) -> DbErr {
    DbErr::Migration(format!("unsupported database backend {backend:?}"))
}
