//! A YAML document as a tree of values that remember their line, so that every error can
//! point at the line it is about; and its conversion to JSON with a map of those lines.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub line: usize,
}

impl Node {
    /// What kind of value this is, in words for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) | NodeValue::UInt(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Converts to JSON, recording the line of every value under its JSON pointer.
    pub fn to_json(&self, pointer: &str, lines: &mut BTreeMap<String, usize>) -> Value {
        lines.insert(pointer.to_string(), self.line);
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::UInt(u) => Value::from(*u),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(
                items.iter().enumerate().map(|(i, n)| n.to_json(&format!("{pointer}/{i}"), lines)).collect(),
            ),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let child = format!("{pointer}/{}", escape_pointer(&k.name));
                        lines.insert(format!("{child}#key"), k.line);
                        (k.name.clone(), v.to_json(&child, lines))
                    })
                    .collect(),
            ),
        }
    }
}

/// A parsed YAML value as the schema check and the document checks see it. Two trees have
/// it: [`Node`], which knows the line of every value and key, and plain JSON, which does not
/// (line 0) but is several times cheaper to build and is what typed deserialisation reads.
pub trait Tree: Sized {
    fn line(&self) -> usize;
    fn kind_name(&self) -> &'static str;
    /// Whether this value is of the JSON Schema `type` named.
    fn has_type(&self, ty: &str) -> bool;
    fn is_null(&self) -> bool;
    fn is_str(&self) -> bool;
    /// A number or boolean (where a string was wanted, quotes are the likely fix).
    fn is_unquoted_scalar(&self) -> bool;
    /// A scalar as JSON, for `enum` and `const`.
    fn scalar_json(&self) -> Option<Value>;
    fn as_str(&self) -> Option<&str>;
    fn number(&self) -> Option<f64>;
    fn items(&self) -> Option<&[Self]>;
    /// A mapping's entries: key, the key's line, value.
    fn entries(&self) -> Option<Vec<(&str, usize, &Self)>>;
    fn get(&self, key: &str) -> Option<&Self>;
}

impl Tree for Node {
    fn line(&self) -> usize {
        self.line
    }
    fn kind_name(&self) -> &'static str {
        Node::kind_name(self)
    }
    fn has_type(&self, ty: &str) -> bool {
        match (ty, &self.value) {
            ("null", NodeValue::Null) => true,
            ("boolean", NodeValue::Bool(_)) => true,
            ("integer", NodeValue::Int(_) | NodeValue::UInt(_)) => true,
            ("integer", NodeValue::Float(f)) => f.fract() == 0.0,
            ("number", NodeValue::Int(_) | NodeValue::UInt(_) | NodeValue::Float(_)) => true,
            ("string", NodeValue::Str(_)) => true,
            ("array", NodeValue::Seq(_)) => true,
            ("object", NodeValue::Map(_)) => true,
            _ => false,
        }
    }
    fn is_null(&self) -> bool {
        self.value == NodeValue::Null
    }
    fn is_str(&self) -> bool {
        matches!(self.value, NodeValue::Str(_))
    }
    fn is_unquoted_scalar(&self) -> bool {
        matches!(self.value, NodeValue::Int(_) | NodeValue::UInt(_) | NodeValue::Float(_) | NodeValue::Bool(_))
    }
    fn scalar_json(&self) -> Option<Value> {
        match &self.value {
            NodeValue::Null => Some(Value::Null),
            NodeValue::Bool(b) => Some(Value::Bool(*b)),
            NodeValue::Int(i) => Some(Value::from(*i)),
            NodeValue::UInt(u) => Some(Value::from(*u)),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
            NodeValue::Str(s) => Some(Value::String(s.clone())),
            NodeValue::Seq(_) | NodeValue::Map(_) => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        Node::as_str(self)
    }
    fn number(&self) -> Option<f64> {
        match self.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::UInt(u) => Some(u as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }
    fn entries(&self) -> Option<Vec<(&str, usize, &Node)>> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries.iter().map(|(k, v)| (k.name.as_str(), k.line, v)).collect()),
            _ => None,
        }
    }
    fn get(&self, key: &str) -> Option<&Node> {
        Node::get(self, key)
    }
}

impl Tree for Value {
    fn line(&self) -> usize {
        0
    }
    fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(n) if n.is_f64() => "a number",
            Value::Number(_) => "an integer",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "a mapping",
        }
    }
    fn has_type(&self, ty: &str) -> bool {
        match (ty, self) {
            ("null", Value::Null) => true,
            ("boolean", Value::Bool(_)) => true,
            ("integer", Value::Number(n)) => !n.is_f64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
            ("number", Value::Number(_)) => true,
            ("string", Value::String(_)) => true,
            ("array", Value::Array(_)) => true,
            ("object", Value::Object(_)) => true,
            _ => false,
        }
    }
    fn is_null(&self) -> bool {
        self.is_null()
    }
    fn is_str(&self) -> bool {
        self.is_string()
    }
    fn is_unquoted_scalar(&self) -> bool {
        matches!(self, Value::Number(_) | Value::Bool(_))
    }
    fn scalar_json(&self) -> Option<Value> {
        match self {
            Value::Array(_) | Value::Object(_) => None,
            other => Some(other.clone()),
        }
    }
    fn as_str(&self) -> Option<&str> {
        self.as_str()
    }
    fn number(&self) -> Option<f64> {
        self.as_f64()
    }
    fn items(&self) -> Option<&[Value]> {
        self.as_array().map(Vec::as_slice)
    }
    fn entries(&self) -> Option<Vec<(&str, usize, &Value)>> {
        self.as_object().map(|m| m.iter().map(|(k, v)| (k.as_str(), 0, v)).collect())
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }
}

pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(d)?;
        Ok(Node { value: spanned.value, line: spanned.referenced.line() as usize })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NodeValue, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(i64::try_from(v).map(NodeValue::Int).unwrap_or(NodeValue::UInt(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<NodeValue, E> {
        Err(E::custom("binary values are not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Node>()?;
            entries.push((Key { name: key.value.0, line: key.referenced.line() as usize }, value));
        }
        Ok(NodeValue::Map(entries))
    }
}

/// A mapping key: YAML allows any scalar; JSON and Kubernetes need strings.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyText, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// Parses every document of a YAML text. Empty documents (comments only) are left out.
/// Booleans are YAML 1.2's `true`/`false` only: `NO` (Norway) and `y` stay strings.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, serde_saphyr::Error> {
    let docs: Vec<Option<Node>> = serde_saphyr::from_multiple_with_options(text, yaml_options())?;
    Ok(docs.into_iter().flatten().filter(|n| n.value != NodeValue::Null).collect())
}

/// Like [`parse_documents`], without lines: the same documents, in the same order, as JSON.
pub fn parse_values(text: &str) -> Result<Vec<Value>, serde_saphyr::Error> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, yaml_options())?;
    Ok(docs.into_iter().filter(|v| !v.is_null()).collect())
}

fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_lines() {
        let docs = parse_documents("a: 1\nb:\n  - x\n  - {c: 1.5}\n---\n# nothing\n---\nname: n\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].get("b").unwrap().line, 3);
        let mut lines = BTreeMap::new();
        let json = docs[0].to_json("", &mut lines);
        assert_eq!(json["b"][1]["c"], 1.5);
        assert_eq!(lines["/b/1/c"], 4);
        assert_eq!(lines["/a"], 1);
        assert_eq!(docs[1].get("name").unwrap().line, 8);
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let docs = parse_documents("a: '12'\nb: 12\nc: true\nd: ~\n").unwrap();
        assert_eq!(docs[0].get("a").unwrap().value, NodeValue::Str("12".into()));
        assert_eq!(docs[0].get("b").unwrap().value, NodeValue::Int(12));
        assert_eq!(docs[0].get("c").unwrap().value, NodeValue::Bool(true));
        assert_eq!(docs[0].get("d").unwrap().value, NodeValue::Null);
    }

    #[test]
    fn only_true_and_false_are_booleans() {
        let docs = parse_documents("a: [NO, y, yes, on, true, False]\n").unwrap();
        let NodeValue::Seq(items) = &docs[0].get("a").unwrap().value else { panic!() };
        let kinds: Vec<&str> = items.iter().map(Node::kind_name).collect();
        assert_eq!(kinds, vec!["a string", "a string", "a string", "a string", "a boolean", "a boolean"]);
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse_documents("a: [1\nb: 2\n").unwrap_err();
        assert!(err.location().is_some());
    }
}
