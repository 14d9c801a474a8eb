//! What a handler answers, with Redash's exact error texts.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    /// JSON already written (a page of a list, written straight from the store).
    Written(Vec<u8>),
    Html(String),
    Empty,
    /// A file to download (query results as CSV).
    Download {
        content_type: String,
        filename: String,
        text: String,
    },
}

impl Body {
    /// The body's JSON, however it is held; `None` for other bodies.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Body::Json(v) => Some(v),
            Body::Written(text) => serde_json::from_slice(&text).ok(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Body,
}

pub const LOGIN_MESSAGE: &str = "Couldn't find resource. Please login and try again.";
pub const EDIT_PERMISSION_MESSAGE: &str = "You don't have permission to edit this resource.";

/// Werkzeug's default description for a status, which Flask-RESTful sends as `message`.
pub fn default_message(status: u16) -> &'static str {
    match status {
        400 => "The browser (or proxy) sent a request that this server could not understand.",
        403 => {
            "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server."
        }
        404 => {
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
        }
        409 => {
            "A conflict happened while processing the request. The resource might have been modified while the request was being processed."
        }
        _ => "Internal Server Error",
    }
}

impl Reply {
    pub fn ok(value: Value) -> Reply {
        Reply { status: 200, body: Body::Json(value) }
    }

    pub fn null() -> Reply {
        Reply::ok(Value::Null)
    }

    pub fn message(status: u16, message: &str) -> Reply {
        Reply { status, body: Body::Json(json!({ "message": message })) }
    }

    pub fn status(status: u16) -> Reply {
        Reply::message(status, default_message(status))
    }

    pub fn bad_request() -> Reply {
        Reply::status(400)
    }

    pub fn not_found() -> Reply {
        Reply::status(404)
    }

    pub fn conflict() -> Reply {
        Reply::status(409)
    }

    pub fn internal_error() -> Reply {
        Reply::status(500)
    }

    /// The single-page app that Redash serves for any authenticated GET it has no route for.
    pub fn spa_page() -> Reply {
        Reply {
            status: 200,
            body: Body::Html(
                "<!DOCTYPE html><html><head><title>Redash</title></head><body><section></section></body></html>".into(),
            ),
        }
    }

    pub fn method_not_allowed() -> Reply {
        Reply {
            status: 405,
            body: Body::Html(
                "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n".into(),
            ),
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A handler's early exit: any error reply.
pub type Outcome = Result<Reply, Reply>;
