//! Normalising what Redash returns so that it compares equal to what was written: JSONB
//! reorders keys and rewrites numbers, the server adds keys to schedules, the UI adds keys to
//! parameters, tag order is not kept.

use serde_json::{Map, Value, json};

use crate::manifest::{MANAGED_TAG, Schedule};

/// Semantic JSON equality: object key order is ignored and numbers compare by value
/// (`1` equals `1.0`, as after a trip through PostgreSQL's JSONB).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The leaves that differ between two JSON values, as `(path, old, new)`; `Value::Null`
/// stands for "absent". Objects are compared key by key, anything else as a whole.
pub fn json_diff(path: &str, old: &Value, new: &Value, out: &mut Vec<(String, Value, Value)>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                json_diff(&child, a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null), out);
            }
        }
        _ if json_eq(old, new) => {}
        _ => out.push((path.to_string(), old.clone(), new.clone())),
    }
}

/// Whether `live` tags normalise to `normalized` (already sorted and deduplicated); without
/// allocating when they are equal as listed, as they are for every object applied before.
pub fn tags_normalize_to(live: &[String], normalized: &[String]) -> bool {
    compared_tags(live).eq(normalized.iter()) || normalize_tags(live) == normalized
}

/// Tags as compared: sorted, without duplicates, without the tool's own tag.
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut t: Vec<String> = compared_tags(tags).cloned().collect();
    t.sort();
    t.dedup();
    t
}

/// The tags that count, in their order: neither the tool's own tag nor empty ones.
fn compared_tags(tags: &[String]) -> impl Iterator<Item = &String> {
    tags.iter().filter(|t| t.as_str() != MANAGED_TAG && !t.is_empty())
}

/// A schedule as compared. `disabled` is set by Redash when it cannot evaluate a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormSchedule {
    pub interval: Option<i64>,
    pub time: Option<String>,
    pub day_of_week: Option<String>,
    pub until: Option<String>,
    pub disabled: bool,
}

impl NormSchedule {
    pub fn from_spec(s: &Schedule) -> NormSchedule {
        NormSchedule {
            interval: Some(s.interval as i64),
            time: s.time.clone(),
            day_of_week: s.day_of_week.map(|d| d.as_str().to_string()),
            until: s.until.clone(),
            disabled: false,
        }
    }

    /// Redash's stored schedule; `None` for null or a schedule with no interval.
    pub fn from_server(v: &Value) -> Option<NormSchedule> {
        let obj = v.as_object()?;
        let interval = match obj.get("interval") {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        let s = NormSchedule {
            interval,
            time: text("time"),
            day_of_week: text("day_of_week"),
            until: text("until"),
            disabled: obj.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        };
        (s.interval.is_some() || s.disabled).then_some(s)
    }

    /// What to send: always all four keys, or Redash disables the schedule.
    pub fn to_server(&self) -> Value {
        json!({
            "interval": self.interval,
            "time": self.time,
            "day_of_week": self.day_of_week,
            "until": self.until,
        })
    }

    /// A readable form for plans.
    pub fn to_display(&self) -> Value {
        let mut m = Map::new();
        m.insert("interval".into(), json!(self.interval));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        if let Some(d) = &self.day_of_week {
            m.insert("dayOfWeek".into(), json!(d));
        }
        if let Some(u) = &self.until {
            m.insert("until".into(), json!(u));
        }
        if self.disabled {
            m.insert("disabled".into(), json!(true));
        }
        Value::Object(m)
    }
}

/// Keys of a query parameter that carry meaning; the rest (`locals`, `$$hashKey`,
/// `parentQueryId`, `global: false`, ...) is UI state.
const PARAMETER_KEYS: &[&str] =
    &["name", "title", "type", "value", "enumOptions", "queryId", "multiValuesOptions", "regex"];

/// A parameter as compared: meaningful keys only, nulls dropped, a missing title equal to the name.
pub fn normalize_parameter(p: &Value) -> Value {
    let mut out = Map::new();
    if let Value::Object(m) = p {
        for k in PARAMETER_KEYS {
            match m.get(*k) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.is_empty() && *k != "value" => {}
                Some(v) => {
                    out.insert((*k).to_string(), v.clone());
                }
            }
        }
        if let Some(Value::String(q)) = out.get("queryId").cloned()
            && let Ok(id) = q.parse::<i64>()
        {
            out.insert("queryId".into(), json!(id));
        }
        if !out.contains_key("title")
            && let Some(name) = out.get("name").cloned()
        {
            out.insert("title".into(), name);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_compare_as_normalised_whatever_their_order_duplicates_or_managed_tag() {
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let wanted = tags(&["a", "b"]);
        assert!(tags_normalize_to(&tags(&["a", "b"]), &wanted));
        assert!(tags_normalize_to(&tags(&["b", "a", "a", "", MANAGED_TAG]), &wanted));
        assert!(!tags_normalize_to(&tags(&["a"]), &wanted));
        assert!(!tags_normalize_to(&tags(&["a", "b", "c"]), &wanted));
        assert!(tags_normalize_to(&tags(&[MANAGED_TAG]), &[]));
    }

    #[test]
    fn json_compares_semantically() {
        assert!(json_eq(&json!({"a": 1, "b": [1.0, {"c": 2}]}), &json!({"b": [1, {"c": 2.0}], "a": 1.0})));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": null})));
        assert!(!json_eq(&json!("1"), &json!(1)));
    }

    #[test]
    fn diffs_name_each_changed_leaf() {
        let mut out = Vec::new();
        json_diff(
            "options",
            &json!({"a": 1, "b": {"c": true}, "x": 1}),
            &json!({"a": 1.0, "b": {"c": false}, "y": 2}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                ("options.b.c".to_string(), json!(true), json!(false)),
                ("options.x".to_string(), json!(1), Value::Null),
                ("options.y".to_string(), Value::Null, json!(2)),
            ]
        );
    }

    #[test]
    fn schedules_from_the_server_normalise() {
        let s =
            NormSchedule::from_server(&json!({"interval": "3600", "time": null, "day_of_week": null, "until": null}));
        assert_eq!(s.unwrap().interval, Some(3600));
        assert_eq!(NormSchedule::from_server(&Value::Null), None);
        assert_eq!(NormSchedule::from_server(&json!({"interval": null, "time": null})), None);
        let disabled = NormSchedule::from_server(&json!({"interval": 60, "disabled": true})).unwrap();
        assert!(disabled.disabled);
    }

    #[test]
    fn parameters_ignore_ui_state() {
        let live = json!({"name": "country", "title": "country", "type": "enum", "value": "US", "global": false, "locals": [], "parentQueryId": 4, "enumOptions": "US\nDE"});
        let ours = json!({"name": "country", "type": "enum", "value": "US", "enumOptions": "US\nDE"});
        assert_eq!(normalize_parameter(&live), normalize_parameter(&ours));
    }

    #[test]
    fn tags_compare_as_sets_without_the_managed_tag() {
        let t = normalize_tags(&["b".into(), MANAGED_TAG.into(), "a".into(), "b".into()]);
        assert_eq!(t, vec!["a".to_string(), "b".to_string()]);
    }
}
