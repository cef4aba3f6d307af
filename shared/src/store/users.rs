//! `users`: looking one up by how a request names them.

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::domain::phone::UserRef;
use crate::store::entities::user;

/// The user a [`UserRef`] names, if there is one.
pub async fn find(db: &DatabaseConnection, who: &UserRef) -> Result<Option<user::Model>, DbErr> {
    match who {
        UserRef::Id(id) => user::Entity::find_by_id(*id).one(db).await,
        UserRef::Phone(phone) => {
            user::Entity::find()
                .filter(user::Column::Phone.eq(phone.as_str()))
                .one(db)
                .await
        }
    }
}
