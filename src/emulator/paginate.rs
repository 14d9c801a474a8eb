//! Redash's `paginate()`: its parameters, its validation order and its envelope.

use serde::Serialize;
#[cfg(test)]
use serde_json::Value;

use super::reply::{Body, Outcome, Reply};

pub const DEFAULT_PAGE_SIZE: i64 = 25;
pub const MAX_PAGE_SIZE: i64 = 250;

/// Reads `page` and `page_size` as Redash does: a value that is not an integer is ignored.
pub fn page_params(args: &[(String, String)]) -> (i64, i64) {
    let get = |name: &str, default: i64| {
        args.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<i64>().ok()).unwrap_or(default)
    };
    (get("page", 1), get("page_size", DEFAULT_PAGE_SIZE))
}

/// One page of `items`, validated in Redash's order: page < 1, page past the end, page size
/// out of range, then the empty-set special case (page > 1 of nothing is a 404).
#[cfg(test)]
pub fn paginate(items: Vec<Value>, page: i64, page_size: i64) -> Outcome {
    paginate_with(items, page, page_size, |v| v)
}

/// Like [`paginate`], turning only the items of the page into their serialisable `view` (a page
/// of 250 out of 10,000 queries costs 250 views, not 10,000), and writing the page's text at
/// once.
pub fn paginate_with<T, S: Serialize>(
    items: impl IntoIterator<Item = T, IntoIter: ExactSizeIterator>,
    page: i64,
    page_size: i64,
    view: impl Fn(T) -> S,
) -> Outcome {
    let items = items.into_iter();
    let count = items.len() as i64;
    if page < 1 {
        return Err(Reply::message(400, "Page must be positive integer."));
    }
    if count > 0 && (page - 1).saturating_mul(page_size).saturating_add(1) > count {
        return Err(Reply::message(400, "Page is out of range."));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(Reply::message(400, "Page size is out of range (1-250)."));
    }
    if count == 0 && page > 1 {
        return Err(Reply::not_found());
    }
    let start = ((page - 1) * page_size) as usize;
    let results: Vec<S> = items.skip(start).take(page_size as usize).map(view).collect();
    let text = serde_json::to_vec(&Page { count, page, page_size, results }).map_err(|_| Reply::internal_error())?;
    Ok(Reply { status: 200, body: Body::Written(text) })
}

/// Redash's envelope of a page, its keys in the order serde_json writes a map's.
#[derive(Serialize)]
struct Page<S> {
    count: i64,
    page: i64,
    page_size: i64,
    results: Vec<S>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!(i)).collect()
    }

    fn message(r: Outcome) -> (u16, Value) {
        let reply = r.unwrap_err();
        match reply.body {
            Body::Json(v) => (reply.status, v["message"].clone()),
            _ => panic!("not json"),
        }
    }

    #[test]
    fn the_page_after_the_last_is_an_error_not_an_empty_page() {
        assert!(paginate(items(2), 1, 1).is_ok());
        assert!(paginate(items(2), 2, 1).is_ok());
        assert_eq!(message(paginate(items(2), 3, 1)), (400, json!("Page is out of range.")));
    }

    #[test]
    fn a_page_is_written_as_redash_writes_its_envelope() {
        let reply = paginate(items(5), 2, 2).unwrap();
        let Body::Written(text) = reply.body else { panic!("not written") };
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text, r#"{"count":5,"page":2,"page_size":2,"results":[2,3]}"#);
    }

    #[test]
    fn page_size_limits_and_empty_sets_follow_redash() {
        assert_eq!(message(paginate(items(1), 1, 251)), (400, json!("Page size is out of range (1-250).")));
        assert_eq!(message(paginate(items(1), 0, 25)), (400, json!("Page must be positive integer.")));
        assert!(paginate(items(0), 1, 25).is_ok());
        assert_eq!(message(paginate(items(0), 2, 25)).0, 404);
    }

    #[test]
    fn non_integer_parameters_are_ignored() {
        let args = vec![("page".to_string(), "x".to_string()), ("page_size".to_string(), "7".to_string())];
        assert_eq!(page_params(&args), (1, 7));
    }
}
