//! The two states a plan compares: desired (from manifests) and actual (from Redash), with
//! ownership markers and the normalisation of server values.

pub mod desired;
mod desired_alerts;
pub mod fetch;
pub mod marker;
pub mod normalize;

pub use desired::{Desired, resolve, resolve_dashboards, resolve_with_dashboards};
pub use fetch::{
    Actual, FetchOptions, Lists, WidgetUse, check_server, fetch_actual, fetch_actual_from, fetch_lists,
    fetch_widget_usage,
};
