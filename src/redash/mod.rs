//! Redash's HTTP API: the client, its typed objects and its errors.

mod client;
mod error;
pub mod limit;
pub mod types;

pub use client::{
    ApiKey, ClientConfig, DEFAULT_CONCURRENCY, MAX_PAGE_SIZE, RedashClient, RequestStats, Retry, append_run,
    install_crypto_provider,
};
pub use error::RedashError;
