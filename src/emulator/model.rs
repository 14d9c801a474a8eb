//! The emulator's tables: the rows a Redash database holds for the objects the API serves.

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// The Gravatar address of `email`, worked out once (an MD5 per user object written was
    /// a fifth of the cost of a page of queries; emails never change here).
    pub profile_image_url: String,
    pub api_key: String,
    pub groups: Vec<i64>,
    pub is_admin: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct DataSource {
    pub id: i64,
    pub name: String,
    pub kind: String,
    /// Groups the data source is attached to, with their view-only flag.
    pub groups: Vec<(i64, bool)>,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub sql: String,
    pub data_source_id: Option<i64>,
    pub schedule: Value,
    pub options: Value,
    pub tags: Vec<String>,
    pub is_archived: bool,
    pub is_draft: bool,
    pub version: i64,
    pub api_key: String,
    pub user_id: i64,
    pub last_modified_by_id: i64,
    pub latest_query_data_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Visualization {
    pub id: i64,
    pub query_id: i64,
    pub kind: String,
    pub name: String,
    pub description: Value,
    pub options: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub id: i64,
    pub name: String,
    /// The slug stored at creation. Redash never updates it; the API reports a slug computed
    /// from the current name instead.
    pub stored_slug: String,
    pub user_id: i64,
    pub layout: Value,
    pub dashboard_filters_enabled: bool,
    pub options: Value,
    pub tags: Vec<String>,
    pub is_archived: bool,
    pub is_draft: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Widget {
    pub id: i64,
    pub dashboard_id: i64,
    pub visualization_id: Option<i64>,
    pub width: Value,
    pub options: Value,
    pub text: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Redash's slug rule: lower-case, and every run of characters outside `[a-z0-9_-]` becomes `-`.
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out
}

/// MD5 of the SQL text without `/* */` comments (within a line) and without any whitespace,
/// as Redash computes `query_hash`.
pub fn query_hash(sql: &str) -> String {
    use md5::{Digest, Md5};
    let mut stripped = String::with_capacity(sql.len());
    for line in sql.split_inclusive('\n') {
        let mut rest = line;
        while let Some(start) = rest.find("/*") {
            match rest[start + 2..].find("*/") {
                Some(end) => {
                    stripped.push_str(&rest[..start]);
                    rest = &rest[start + 2 + end + 2..];
                }
                None => break,
            }
        }
        stripped.push_str(rest);
    }
    let compact: String = stripped.chars().filter(|c| !c.is_whitespace()).collect();
    let digest = Md5::digest(compact.as_bytes());
    crate::util::hex(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_redash() {
        assert_eq!(slugify("Sync Demo Dashboard"), "sync-demo-dashboard");
        assert_eq!(slugify("Sales: Q1 / EMEA!"), "sales-q1-emea-");
        assert_eq!(slugify("a_b-c"), "a_b-c");
    }

    #[test]
    fn query_hash_matches_the_recorded_server() {
        let sql = "SELECT status, count(*) AS n, sum(amount) AS total FROM orders GROUP BY status ORDER BY status";
        assert_eq!(query_hash(sql), "91664a18c4ee0546103f5fbe52b793e2");
        assert_eq!(query_hash(&format!("/* note */ {sql}\n")), "91664a18c4ee0546103f5fbe52b793e2");
    }
}

#[derive(Debug, Clone)]
pub struct Alert {
    pub id: i64,
    pub name: String,
    pub query_id: i64,
    pub user_id: i64,
    pub options: Value,
    pub rearm: Value,
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An alert's subscription: a destination, or (without one) its user's e-mail.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: i64,
    pub alert_id: i64,
    pub user_id: i64,
    pub destination_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Destination {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub options: Value,
}

#[derive(Debug, Clone)]
pub struct Snippet {
    pub id: i64,
    pub trigger: String,
    pub description: String,
    pub snippet: String,
    pub user_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}
