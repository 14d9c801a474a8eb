//! Plan output: human text with diffs, Markdown for pull requests, and JSON for machines.

mod json;
mod markdown;
mod text;

pub use json::{FORMAT_VERSION, plan_json};
pub use markdown::render_markdown;
pub use text::{Style, render_plan, render_report, render_runs, summary_line};

/// How many kept objects the text and Markdown plans name; `--output json` lists them all. A
/// plan of one directory among many would otherwise name every object the others manage.
const KEPT_NAMED: usize = 10;

/// The notes as people read them: the kept objects first (up to a point), then the others.
fn notes_for_people(plan: &crate::plan::Plan) -> Vec<String> {
    let mut notes: Vec<String> = plan
        .kept
        .iter()
        .take(KEPT_NAMED)
        .map(|k| {
            format!(
                "{} {:?} (id {}) is managed but no longer in the manifests; kept (archive it with --prune)",
                k.kind, k.name, k.id
            )
        })
        .collect();
    let more = plan.kept.len().saturating_sub(KEPT_NAMED);
    if more > 0 {
        notes.push(format!(
            "and {more} more managed objects no longer in the manifests; kept (--output json lists them all)"
        ));
    }
    notes.extend(plan.notes.iter().cloned());
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Kind;
    use crate::plan::{Kept, Plan};

    #[test]
    fn people_read_the_first_ten_kept_objects_and_machines_read_them_all() {
        let plan = Plan {
            kept: (1..=12)
                .map(|id| Kept { kind: Kind::Query, key: format!("Query/default/q{id}"), name: format!("Q{id}"), id })
                .collect(),
            notes: vec!["another note".into()],
            ..Plan::default()
        };
        let notes = notes_for_people(&plan);
        assert_eq!(notes.len(), 12, "{notes:#?}");
        assert_eq!(
            notes[0],
            "Query \"Q1\" (id 1) is managed but no longer in the manifests; kept (archive it with --prune)"
        );
        assert!(notes[9].starts_with("Query \"Q10\" (id 10)"));
        assert_eq!(
            notes[10],
            "and 2 more managed objects no longer in the manifests; kept (--output json lists them all)"
        );
        assert_eq!(notes[11], "another note");
        let json = plan_json(&plan, "http://redash", "default", None);
        assert_eq!(json["kept"].as_array().unwrap().len(), 12);
        assert_eq!(
            json["kept"][11],
            serde_json::json!({"kind": "Query", "key": "Query/default/q12", "name": "Q12", "id": 12})
        );
        let text = render_plan(&plan, "http://redash", Style { color: false });
        assert!(text.contains("note: and 2 more managed objects"), "{text}");
        assert!(!text.contains("Q11"), "{text}");
    }
}
