//! redash-gitops: Redash content (queries, visualizations, dashboards) under version control.

pub mod apply;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod engine;
pub mod execute;
pub mod export;
pub mod manifest;
pub mod operator;
pub mod plan;
pub mod redash;
pub mod render;
pub mod schema;
pub mod state;
pub mod template;
pub mod util;
