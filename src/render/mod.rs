//! Plan output: human text with diffs, Markdown for pull requests, and JSON for machines.

mod json;
mod markdown;
mod text;

pub use json::{FORMAT_VERSION, plan_json};
pub use markdown::render_markdown;
pub use text::{Style, render_plan, render_report, render_runs, summary_line};
