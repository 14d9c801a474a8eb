//! Ownership markers (DESIGN §3): what the tool writes into an object's `options` so that it
//! can find its own objects again, and never touch anybody else's.

use serde_json::{Map, Value, json};

use crate::manifest::MARKER_FIELD;
use crate::util::sha256_hex;

/// The marker found on a Redash object: `options.gitops = {owner, key, hash?, children?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub owner: String,
    /// `Query/<namespace>/<name>` on parents; the child's identity on visualizations and widgets.
    pub key: String,
    /// Hash of the spec last applied completely (parents only); absent while an apply is under way.
    pub hash: Option<String>,
    /// Hash of the children (visualizations, widgets) of that spec: when only the rest of the
    /// spec changed, the children are as last applied and need not be read.
    pub children: Option<String>,
}

pub fn read_marker(options: &Value) -> Option<Marker> {
    marker_in(options).map(MarkerRef::to_owned)
}

/// The marker as borrowed from `options`: what the plan looks at for each of thousands of
/// live objects, several times, without copying three strings each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkerRef<'a> {
    pub owner: &'a str,
    pub key: &'a str,
    pub hash: Option<&'a str>,
    pub children: Option<&'a str>,
}

impl MarkerRef<'_> {
    pub fn to_owned(self) -> Marker {
        Marker {
            owner: self.owner.into(),
            key: self.key.into(),
            hash: self.hash.map(str::to_string),
            children: self.children.map(str::to_string),
        }
    }
}

impl Marker {
    pub fn as_ref(&self) -> MarkerRef<'_> {
        MarkerRef { owner: &self.owner, key: &self.key, hash: self.hash.as_deref(), children: self.children.as_deref() }
    }
}

/// A query's or dashboard's options as read, with the marker in them looked up once. The fetch
/// and the planner ask each of 11,000 live objects for its marker about six times, and each
/// lookup walks two JSON maps: a sixth of planning once the lists are in. There is no way to
/// change the options in place, so the marker cannot disagree with them; and the options are
/// reached only through `value()`, so the marker is not looked up in them again by mistake.
#[derive(Clone, Default)]
pub struct MarkedOptions {
    value: Value,
    marker: Option<Marker>,
}

impl MarkedOptions {
    pub fn marker(&self) -> Option<MarkerRef<'_>> {
        self.marker.as_ref().map(Marker::as_ref)
    }

    /// Whether these options carry `owner`'s marker for `key`.
    pub fn is_marked(&self, owner: &str, key: &str) -> bool {
        self.marker().is_some_and(|m| m.owner == owner && m.key == key)
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    pub fn into_value(self) -> Value {
        self.value
    }

    /// Changes the options; the marker is read again afterwards.
    pub fn edit(&mut self, change: impl FnOnce(&mut Value)) {
        change(&mut self.value);
        self.marker = read_marker(&self.value);
    }
}

impl From<Value> for MarkedOptions {
    fn from(value: Value) -> MarkedOptions {
        let marker = read_marker(&value);
        MarkedOptions { value, marker }
    }
}

impl PartialEq for MarkedOptions {
    fn eq(&self, other: &MarkedOptions) -> bool {
        self.value == other.value
    }
}

impl std::fmt::Debug for MarkedOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl serde::Serialize for MarkedOptions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for MarkedOptions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MarkedOptions, D::Error> {
        <Value as serde::Deserialize>::deserialize(d).map(MarkedOptions::from)
    }
}

pub fn marker_in(options: &Value) -> Option<MarkerRef<'_>> {
    let m = options.get(MARKER_FIELD)?;
    Some(MarkerRef {
        owner: m.get("owner")?.as_str()?,
        key: m.get("key")?.as_str()?,
        hash: m.get("hash").and_then(Value::as_str),
        children: m.get("children").and_then(Value::as_str),
    })
}

/// Whether `options` carry `owner`'s marker for `key`.
pub fn is_marked(options: &Value, owner: &str, key: &str) -> bool {
    marker_in(options).is_some_and(|m| m.owner == owner && m.key == key)
}

pub fn marker_json(owner: &str, key: &str, hash: Option<&str>) -> Value {
    let mut m = json!({ "owner": owner, "key": key });
    if let Some(h) = hash {
        m["hash"] = json!(h);
    }
    m
}

/// A query's or dashboard's marker; `applied` (the spec's hash and its children's) once the
/// spec is applied completely, none while an apply is under way.
pub fn parent_marker_json(owner: &str, key: &str, applied: Option<(&str, &str)>) -> Value {
    let mut m = marker_json(owner, key, applied.map(|(spec, _)| spec));
    if let Some((_, children)) = applied {
        m["children"] = json!(children);
    }
    m
}

/// `options` without the marker: what people and specs compare.
pub fn without_marker(options: &Value) -> Value {
    match options {
        Value::Object(map) => {
            let mut m = map.clone();
            m.remove(MARKER_FIELD);
            Value::Object(m)
        }
        Value::Null => Value::Object(Map::new()),
        other => other.clone(),
    }
}

/// `options` with the marker set.
pub fn with_marker(options: &Value, marker: Value) -> Value {
    let mut m = match options {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    m.insert(MARKER_FIELD.into(), marker);
    Value::Object(m)
}

/// How the marker line of a query snippet starts. Snippets have no `options` (nor tags): their
/// marker is the last line of their description, which Redash shows in the snippet list.
const SNIPPET_MARKER_PREFIX: &str = "redash-gitops: ";

/// A snippet's description as stored: the description, then the marker line.
pub fn snippet_description(description: &str, marker: &Value) -> String {
    let line = format!("{SNIPPET_MARKER_PREFIX}{marker}");
    if description.is_empty() { line } else { format!("{description}\n\n{line}") }
}

/// A stored snippet description split into the description and its marker, if it has one.
pub fn split_snippet_description(stored: &str) -> (String, Option<Marker>) {
    let (head, last) = match stored.rsplit_once('\n') {
        Some((h, l)) => (h, l),
        None => ("", stored),
    };
    let marker = last
        .strip_prefix(SNIPPET_MARKER_PREFIX)
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
        .and_then(|m| read_marker(&json!({ MARKER_FIELD: m })));
    match marker {
        Some(m) => (head.trim_end_matches('\n').to_string(), Some(m)),
        None => (stored.to_string(), None),
    }
}

const PENDING_PREFIX: &str = "redash-gitops ";

/// The name a dashboard is created under. Redash reads nothing but the name on create, so the
/// marker cannot go in with it; this name stands in for it until the second request writes
/// the real name and the marker. It is derived from owner and key alone, so the slug Redash
/// stores for it (never updated afterwards) finds the dashboard again, archived or not.
pub fn pending_dashboard_name(owner: &str, key: &str) -> String {
    format!("{PENDING_PREFIX}{}", pending_token(owner, key))
}

pub fn pending_token(owner: &str, key: &str) -> String {
    sha256_hex(format!("{owner}\0{key}").as_bytes())[..24].to_string()
}

/// The stored slug of a dashboard created under its pending name.
pub fn pending_dashboard_slug(owner: &str, key: &str) -> String {
    format!("redash-gitops-{}", pending_token(owner, key))
}

/// The token of a dashboard still carrying its pending name (an apply stopped half-way).
pub fn pending_token_of(name: &str) -> Option<&str> {
    let token = name.strip_prefix(PENDING_PREFIX)?;
    (token.len() == 24 && token.chars().all(|c| c.is_ascii_hexdigit())).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_options_read_their_marker_once_and_again_after_each_edit() {
        let json = r#"{"parameters": [], "gitops": {"owner": "team", "key": "Query/default/q", "hash": "h1"}}"#;
        let mut options: MarkedOptions = serde_json::from_str(json).unwrap();
        assert_eq!(
            options.marker(),
            Some(MarkerRef { owner: "team", key: "Query/default/q", hash: Some("h1"), children: None })
        );
        options.edit(|o| o["gitops"]["hash"] = json!("h2"));
        assert_eq!(options.marker().and_then(|m| m.hash), Some("h2"));
        options.edit(|o| {
            o.as_object_mut().unwrap().remove(MARKER_FIELD);
        });
        assert_eq!(options.marker(), None);
        // Written and compared as the options alone.
        assert_eq!(serde_json::to_value(&options).unwrap(), json!({"parameters": []}));
        assert_eq!(options, MarkedOptions::from(json!({"parameters": []})));
        assert_eq!(MarkedOptions::default().marker(), None);
    }

    #[test]
    fn markers_round_trip_through_options() {
        let applied = Some(("abc", "def"));
        let opts = with_marker(&json!({"parameters": []}), parent_marker_json("team", "Query/default/q", applied));
        let m = read_marker(&opts).unwrap();
        let expected = Marker {
            owner: "team".into(),
            key: "Query/default/q".into(),
            hash: Some("abc".into()),
            children: Some("def".into()),
        };
        assert_eq!(m, expected);
        let pending = with_marker(&json!({}), parent_marker_json("team", "Query/default/q", None));
        assert_eq!(pending, json!({"gitops": {"owner": "team", "key": "Query/default/q"}}));
        assert_eq!(without_marker(&opts), json!({"parameters": []}));
        assert_eq!(read_marker(&json!({"gitops": {"owner": 1}})), None);
        assert_eq!(read_marker(&Value::Null), None);
    }

    #[test]
    fn snippet_markers_ride_on_the_last_line_of_the_description() {
        let m = marker_json("team", "QuerySnippet/default/s", Some("abc"));
        for description in ["", "Joins orders to customers.", "two\nlines"] {
            let stored = snippet_description(description, &m);
            let (back, marker) = split_snippet_description(&stored);
            assert_eq!(back, description);
            assert_eq!(marker.unwrap().key, "QuerySnippet/default/s");
        }
        assert_eq!(
            split_snippet_description("hand-made\nredash-gitops: not json"),
            ("hand-made\nredash-gitops: not json".into(), None)
        );
        assert_eq!(split_snippet_description("").1, None);
    }

    #[test]
    fn pending_names_are_recognised_and_slug_stably() {
        let name = pending_dashboard_name("default", "Dashboard/default/growth");
        let token = pending_token_of(&name).unwrap();
        assert_eq!(token, pending_token("default", "Dashboard/default/growth"));
        assert_eq!(crate::emulator::slugify(&name), pending_dashboard_slug("default", "Dashboard/default/growth"));
        assert_eq!(pending_token_of("redash-gitops dashboard"), None);
        assert_ne!(pending_token("a", "k"), pending_token("b", "k"));
    }
}
