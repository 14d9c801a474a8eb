//! Redash's HTTP API: the client, its typed objects and its errors.

mod client;
mod error;
pub mod types;

pub use client::{ApiKey, DEFAULT_CONCURRENCY, MAX_PAGE_SIZE, RedashClient, RequestStats, install_crypto_provider};
pub use error::RedashError;
