//! The Kubernetes operator: Query, Dashboard and RedashConnection custom resources reconciled
//! into Redash through the same loader, planner and client as the CLI.

pub mod crds;
