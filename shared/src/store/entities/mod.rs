//! sea-orm entities for the schema in `migration/`. IDs are UUIDv7; every time is UTC.

pub mod conversation_state;
pub mod interaction;
pub mod interaction_media;
pub mod media_object;
pub mod memory;
pub mod reminder;
pub mod states;
pub mod user;

pub use conversation_state::Entity as ConversationState;
pub use interaction::Entity as Interaction;
pub use interaction_media::Entity as InteractionMedia;
pub use media_object::Entity as MediaObject;
pub use memory::Entity as Memory;
pub use reminder::Entity as Reminder;
pub use user::Entity as User;
