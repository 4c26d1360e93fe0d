//! The API's routes, one module per resource. Each module's `router()`
//! registers its handlers with their OpenAPI descriptions in one go.

pub mod approvals;
pub mod approve_page;
pub mod check;
pub mod events;
pub mod health;
pub mod runs;
pub mod stream;
pub mod workflows;

mod cursor;
mod poll;
