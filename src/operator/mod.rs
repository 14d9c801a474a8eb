//! The Kubernetes operator: Query, Dashboard and RedashConnection custom resources reconciled
//! into Redash through the same loader, planner and client as the CLI.

pub mod connection;
pub mod crds;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod run;
pub mod status;

pub use run::{OperatorConfig, OperatorError, Shutdown, run};
