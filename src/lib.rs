//! redash-gitops: Redash content (queries, visualizations, dashboards) under version control.

pub mod cli;
pub mod emulator;
pub mod manifest;
pub mod plan;
pub mod redash;
pub mod state;
pub mod util;
