//! Planning: the pure function from desired and actual state to a `Plan`.

mod alerts;
mod children;
mod planner;
mod types;

pub use children::{VisPlan, VizTarget, plan_visualizations, plan_widgets, widget_extra_options, widget_label};
pub use planner::{DriftPolicy, PlanOptions, plan};
pub use types::*;

#[cfg(test)]
mod tests;
