//! Small builders the migrations share, so each table reads as its columns and keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

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

/// An index named `name` over `cols`, in order; [`create_table`] or [`create_indexes`] puts it
/// on its table.
pub fn index<C: IntoIden>(name: &str, cols: impl IntoIterator<Item = C>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name);
    for col in cols {
        index.col(col);
    }
    index
}

/// [`index`], unique.
pub fn unique_index<C: IntoIden>(
    name: &str,
    cols: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    index(name, cols).unique().to_owned()
}

/// `CREATE TABLE`, then `CREATE INDEX` for each of `indexes` on that table.
pub async fn create_table(
    m: &SchemaManager<'_>,
    table: &mut TableCreateStatement,
    indexes: impl IntoIterator<Item = IndexCreateStatement>,
) -> Result<(), DbErr> {
    let name = table
        .get_table_name()
        .cloned()
        .ok_or_else(|| DbErr::Migration("CREATE TABLE without a table name".into()))?;
    m.create_table(table.take()).await?;
    create_indexes(m, name, indexes).await
}

/// `CREATE INDEX` for each of `indexes` on `table`, in order.
pub async fn create_indexes<T: IntoTableRef>(
    m: &SchemaManager<'_>,
    table: T,
    indexes: impl IntoIterator<Item = IndexCreateStatement>,
) -> Result<(), DbErr> {
    let table = table.into_table_ref();
    for mut index in indexes {
        m.create_index(index.table(table.clone()).take()).await?;
    }
    Ok(())
}

/// The users table as the later migrations point at it.
#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
}

/// The memories table as the later migrations point at it.
#[derive(DeriveIden)]
pub enum Memories {
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

/// [`cascade`] to the memory the row belongs to: `from_table.from_col → memories.id`.
pub fn owned_by_memory<T: IntoIden, C: IntoIden>(
    from_table: T,
    from_col: C,
) -> ForeignKeyCreateStatement {
    cascade(from_table, from_col, Memories::Table, Memories::Id)
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

/// [`drop_table`] for each of `tables`, in order.
pub async fn drop_tables(
    m: &SchemaManager<'_>,
    tables: impl IntoIterator<Item = DynIden>,
) -> Result<(), DbErr> {
    for table in tables {
        drop_table(m, table).await?;
    }
    Ok(())
}

/// `DROP INDEX name` on `table`.
pub async fn drop_index<T: IntoIden>(
    m: &SchemaManager<'_>,
    name: &str,
    table: T,
) -> Result<(), DbErr> {
    m.drop_index(Index::drop().name(name).table(table).to_owned()).await
}

/// `DROP INDEX` for each of `indexes` (made with [`index`]) on `table`, in order.
pub async fn drop_indexes<T: IntoIden>(
    m: &SchemaManager<'_>,
    table: T,
    indexes: impl IntoIterator<Item = IndexCreateStatement>,
) -> Result<(), DbErr> {
    let table = table.into_iden();
    for index in indexes {
        let name = index.get_index_spec().get_name();
        let name = name.ok_or_else(|| DbErr::Migration("DROP INDEX without a name".into()))?;
        drop_index(m, name, table.clone()).await?;
    }
    Ok(())
}

/// Runs raw SQL `statements`, in order (what the schema builder cannot say: triggers, FTS,
/// backend-specific columns and indexes).
pub async fn execute(
    m: &SchemaManager<'_>,
    statements: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<(), DbErr> {
    let db = m.get_connection();
    for sql in statements {
        db.execute_unprepared(sql.as_ref()).await?;
    }
    Ok(())
}

/// The error for a database other than SQLite and PostgreSQL.
pub fn unsupported(backend: DbBackend) -> DbErr {
    DbErr::Migration(format!("unsupported database backend {backend:?}"))
}
