//! Plan output: human text with diffs, and JSON for machines.

mod json;
mod text;

pub use json::{FORMAT_VERSION, plan_json};
pub use text::{Style, render_plan, render_report, render_runs, summary_line};
