//! The sample databases behind the two data sources, in embedded SQLite, with the rows the
//! recorded server held (SAMPLE-DATA.md), and SQL execution on them.

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde_json::{Map, Value, json};

/// One column of a result, as Redash describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: Option<&'static str>,
}

/// Columns and rows of a successful execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<Map<String, Value>>,
}

fn date_plus_days(days: i64) -> String {
    let (y, m, d) = crate::util::civil_from_days(19_723 + days); // 19723 = 2024-01-01
    format!("{y:04}-{m:02}-{d:02}")
}

/// "Sample Postgres": customers (300 rows) and orders (1,000 rows).
pub fn sample_postgres() -> rusqlite::Result<Connection> {
    let db = Connection::open_in_memory()?;
    db.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT, signup_date TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, status TEXT, created_at TEXT);",
    )?;
    let countries = ["US", "DE", "FR", "JP", "BR", "IN", "GB"];
    let tx = db.unchecked_transaction()?;
    for g in 1..=300i64 {
        tx.execute(
            "INSERT INTO customers VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![g, format!("Customer {g}"), countries[(g % 7) as usize], date_plus_days(g % 365)],
        )?;
    }
    let statuses = ["new", "paid", "shipped", "cancelled"];
    for g in 1..=1000i64 {
        let amount = 10.0 + ((37 * g) % 990) as f64 + (g % 100) as f64 / 100.0;
        let created = format!("{}T{:02}:00:00Z", date_plus_days(g / 24), g % 24);
        tx.execute(
            "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![g, 1 + (7 * g) % 300, amount, statuses[(g % 4) as usize], created],
        )?;
    }
    tx.commit()?;
    Ok(db)
}

/// "Analytics": page_views (500 rows).
pub fn analytics() -> rusqlite::Result<Connection> {
    let db = Connection::open_in_memory()?;
    db.execute_batch("CREATE TABLE page_views (id INTEGER PRIMARY KEY, page TEXT, views INTEGER, day TEXT);")?;
    let pages = ["/", "/pricing", "/docs", "/blog", "/signup"];
    let tx = db.unchecked_transaction()?;
    for g in 0..500i64 {
        tx.execute(
            "INSERT INTO page_views VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![g + 1, pages[(g % 5) as usize], (13 * g) % 500, date_plus_days(g / 5)],
        )?;
    }
    tx.commit()?;
    Ok(db)
}

/// Rewrites the PostgreSQL casts the examples use (`x::date`, `x::int`, ...) into SQLite.
pub fn pg_compat(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ':' && chars.get(i + 1) == Some(&':') {
            let start = i + 2;
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let target: String = chars[start..end].iter().collect::<String>().to_lowercase();
            // The operand: an identifier (dotted) or a parenthesised expression before `::`.
            let mut operand_start = out.len();
            let bytes: Vec<char> = out.chars().collect();
            let mut j = bytes.len();
            if j > 0 && bytes[j - 1] == ')' {
                let mut depth = 0;
                while j > 0 {
                    j -= 1;
                    match bytes[j] {
                        ')' => depth += 1,
                        '(' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                while j > 0 && (bytes[j - 1].is_ascii_alphanumeric() || bytes[j - 1] == '_') {
                    j -= 1;
                }
            } else {
                while j > 0
                    && (bytes[j - 1].is_ascii_alphanumeric()
                        || bytes[j - 1] == '_'
                        || bytes[j - 1] == '.'
                        || bytes[j - 1] == '\'')
                {
                    j -= 1;
                }
            }
            operand_start = bytes[..j].iter().map(|c| c.len_utf8()).sum::<usize>().min(operand_start);
            let operand = out[operand_start..].to_string();
            out.truncate(operand_start);
            let replaced = match target.as_str() {
                "date" => format!("date({operand})"),
                "timestamp" | "timestamptz" => format!("datetime({operand})"),
                "int" | "integer" | "bigint" | "smallint" => format!("CAST({operand} AS INTEGER)"),
                "numeric" | "float" | "real" | "decimal" => format!("CAST({operand} AS REAL)"),
                _ => format!("CAST({operand} AS TEXT)"),
            };
            out.push_str(&replaced);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Runs a statement and collects its rows, or the database's error text.
pub fn run(db: &Connection, sql: &str) -> Result<Rows, String> {
    let sql = pg_compat(sql);
    let mut stmt = db.prepare(sql.trim().trim_end_matches(';')).map_err(|e| message(&e))?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    if names.is_empty() {
        return Err("Query completed but it returned no data.".into());
    }
    let mut kinds: Vec<Option<&'static str>> = vec![None; names.len()];
    let mut out = Vec::new();
    let mut rows = stmt.query([]).map_err(|e| message(&e))?;
    while let Some(row) = rows.next().map_err(|e| message(&e))? {
        let mut map = Map::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i).map_err(|e| message(&e))? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => {
                    kinds[i].get_or_insert("integer");
                    json!(n)
                }
                ValueRef::Real(f) => {
                    kinds[i] = Some("float");
                    json!(f)
                }
                ValueRef::Text(t) => {
                    kinds[i].get_or_insert("string");
                    json!(String::from_utf8_lossy(t))
                }
                ValueRef::Blob(b) => json!(format!("<{} bytes>", b.len())),
            };
            map.insert(name.clone(), value);
        }
        out.push(map);
    }
    Ok(Rows { columns: names.into_iter().zip(kinds).map(|(name, kind)| Column { name, kind }).collect(), rows: out })
}

fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_data_gives_the_recorded_totals() {
        let db = sample_postgres().unwrap();
        let r = run(&db, "SELECT status, count(*) AS n, sum(amount) AS total FROM orders WHERE amount > 0 GROUP BY status ORDER BY status").unwrap();
        assert_eq!(r.rows.len(), 4);
        assert_eq!(r.rows[0]["status"], "cancelled");
        assert_eq!(r.rows[0]["n"], 250);
        assert!((r.rows[0]["total"].as_f64().unwrap() - 125447.5).abs() < 1e-6);
        assert_eq!(r.columns[1].kind, Some("integer"));
        assert_eq!(r.columns[2].kind, Some("float"));
    }

    #[test]
    fn errors_carry_the_database_text() {
        let db = sample_postgres().unwrap();
        assert_eq!(run(&db, "SELECT * FROM no_such_table").unwrap_err(), "no such table: no_such_table");
        assert_eq!(run(&db, "CREATE TABLE t (x INT)").unwrap_err(), "Query completed but it returned no data.");
    }

    #[test]
    fn postgres_casts_are_translated() {
        assert_eq!(pg_compat("SELECT created_at::date AS day"), "SELECT date(created_at) AS day");
        assert_eq!(
            pg_compat("SELECT o.amount::int, (a + b)::text"),
            "SELECT CAST(o.amount AS INTEGER), CAST((a + b) AS TEXT)"
        );
        let db = sample_postgres().unwrap();
        let r = run(&db, "SELECT created_at::date AS day, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1 LIMIT 1")
            .unwrap();
        assert_eq!(r.rows[0]["day"], "2024-01-01");
        let a = analytics().unwrap();
        assert_eq!(run(&a, "SELECT count(*) AS n FROM page_views").unwrap().rows[0]["n"], 500);
    }
}
