//! Handlers, one per API area.

pub mod bulk;
pub mod list;
pub mod roles;
pub mod saas;
pub mod saas_users;
pub mod users;

pub use bulk::{BulkHandler, ListRunLogs};
pub use list::List;
pub use roles::RolesHandler;
pub use saas::{ListSaas, SaasHandler};
pub use saas_users::{ListSaasUsers, SaasUsersHandler};
pub use users::{ListUsers, UsersHandler, WriteOptions};
