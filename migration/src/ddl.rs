//! Small builders the migrations share, so each table reads as its columns and keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A UUID primary key.
pub fn uuid_pk<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().primary_key().take()
}

/// A required UTC timestamp.
pub fn ts<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

/// An optional UTC timestamp.
pub fn ts_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .take()
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

/// The error for a database other than SQLite and PostgreSQL.
pub fn unsupported(backend: DbBackend) -> DbErr {
    DbErr::Migration(format!("unsupported database backend {backend:?}"))
}
