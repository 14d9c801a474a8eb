//! Conditions and status: what a reconcile reports on the resource, written with server-side
//! apply. The pure part (which conditions change, and when an Event is due) is unit-tested.

use std::collections::BTreeMap;

use serde_json::json;

use crate::manifest::{Condition, ResourceStatus};
use crate::util::{iso_millis, now_millis};

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";

/// Condition reasons, as documented in the README.
pub mod reason {
    /// Redash matches the spec.
    pub const SYNCED: &str = "Synced";
    /// `spec.suspend` is set: nothing is synced.
    pub const SUSPENDED: &str = "Suspended";
    /// The RedashConnection named by `connectionRef` does not exist in the namespace.
    pub const CONNECTION_NOT_FOUND: &str = "ConnectionNotFound";
    /// The connection's Secret, or its key, does not exist in the namespace.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// The spec does not validate; the message says why.
    pub const INVALID: &str = "Invalid";
    /// A Query this resource needs is not Ready yet.
    pub const WAITING_FOR_QUERY: &str = "WaitingForQuery";
    /// The plan was refused (e.g. a name clash with an unmanaged Redash object).
    pub const BLOCKED: &str = "Blocked";
    /// Redash could not be reached or refused the API key.
    pub const REDASH_UNAVAILABLE: &str = "RedashUnavailable";
    /// Applying failed; the message has Redash's answer.
    pub const SYNC_FAILED: &str = "SyncFailed";
    /// The Redash object was changed concurrently; retried.
    pub const CONFLICT: &str = "Conflict";
}

/// The outcome of one reconcile, before it becomes conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether the Redash object matches the spec now.
    pub ready: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Verdict {
    pub fn ok(message: impl Into<String>) -> Verdict {
        Verdict { ready: true, reason: reason::SYNCED, message: message.into() }
    }

    pub fn failed(reason: &'static str, message: impl Into<String>) -> Verdict {
        Verdict { ready: false, reason, message: message.into() }
    }
}

fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    let status = if status { "True" } else { "False" };
    let now = iso_millis(now_millis());
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status.into();
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: now,
            observed_generation: generation,
        }),
    }
}

/// The new status after a reconcile. `Synced` tells how the last attempt went; `Ready` whether
/// the object in Redash matches the spec, which a failed resync of an unchanged, already
/// synced spec does not undo (the object is still there, as it was).
pub fn next_status(
    previous: &ResourceStatus,
    generation: Option<i64>,
    verdict: &Verdict,
    synced: Option<Synced>,
) -> ResourceStatus {
    let mut status = previous.clone();
    let was_ready = previous.conditions.iter().any(|c| c.type_ == READY && c.status == "True");
    let same_generation = previous.observed_generation == generation;
    let keep_ready = !verdict.ready
        && was_ready
        && same_generation
        && matches!(
            verdict.reason,
            reason::REDASH_UNAVAILABLE | reason::SYNC_FAILED | reason::CONFLICT | reason::SUSPENDED
        );
    if !keep_ready {
        set_condition(&mut status.conditions, READY, verdict.ready, verdict.reason, &verdict.message, generation);
    }
    set_condition(&mut status.conditions, SYNCED, verdict.ready, verdict.reason, &verdict.message, generation);
    status.message = Some(verdict.message.clone());
    if verdict.ready || verdict.reason == reason::INVALID {
        status.observed_generation = generation;
    }
    if let Some(s) = synced {
        status.redash_id = Some(s.id);
        status.url = Some(s.url);
        status.children = s.children;
        status.last_synced_at = Some(iso_millis(now_millis()));
    }
    status
}

/// What a successful sync learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Synced {
    pub id: i64,
    pub url: String,
    pub children: BTreeMap<String, i64>,
}

/// An Event is published when the Ready condition changes status or reason, not on every
/// reconcile.
pub fn transition(previous: &ResourceStatus, next: &ResourceStatus) -> bool {
    let ready = |s: &ResourceStatus| {
        s.conditions.iter().find(|c| c.type_ == READY).map(|c| (c.status.clone(), c.reason.clone()))
    };
    ready(previous) != ready(next)
}

/// The server-side apply body that sets a resource's status.
pub fn status_patch(api_version: &str, kind: &str, status: &impl serde::Serialize) -> serde_json::Value {
    json!({ "apiVersion": api_version, "kind": kind, "status": status })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(s: &ResourceStatus) -> (String, String) {
        let c = s.conditions.iter().find(|c| c.type_ == READY).unwrap();
        (c.status.clone(), c.reason.clone())
    }

    fn synced() -> Synced {
        Synced { id: 7, url: "http://r/queries/7".into(), children: BTreeMap::from([("Chart".into(), 3)]) }
    }

    #[test]
    fn a_successful_sync_is_ready_and_records_ids() {
        let s = next_status(&ResourceStatus::default(), Some(1), &Verdict::ok("created"), Some(synced()));
        assert_eq!(ready(&s), ("True".into(), "Synced".into()));
        assert_eq!(s.redash_id, Some(7));
        assert_eq!(s.observed_generation, Some(1));
        assert!(s.last_synced_at.is_some());
        assert!(transition(&ResourceStatus::default(), &s));
    }

    #[test]
    fn a_failed_resync_keeps_ready_but_not_synced() {
        let first = next_status(&ResourceStatus::default(), Some(1), &Verdict::ok("created"), Some(synced()));
        let later = next_status(&first, Some(1), &Verdict::failed(reason::REDASH_UNAVAILABLE, "timeout"), None);
        assert_eq!(ready(&later), ("True".into(), "Synced".into()));
        let synced_condition = later.conditions.iter().find(|c| c.type_ == SYNCED).unwrap();
        assert_eq!(
            (synced_condition.status.as_str(), synced_condition.reason.as_str()),
            ("False", "RedashUnavailable")
        );
        assert!(!transition(&first, &later), "no Event for a passing failure of Synced");
    }

    #[test]
    fn a_new_generation_that_fails_is_not_ready() {
        let first = next_status(&ResourceStatus::default(), Some(1), &Verdict::ok("created"), Some(synced()));
        let edited = next_status(&first, Some(2), &Verdict::failed(reason::SYNC_FAILED, "500"), None);
        assert_eq!(ready(&edited).0, "False");
        assert_eq!(edited.observed_generation, Some(1), "generation 2 is not observed until it syncs");
        assert!(transition(&first, &edited));
    }

    #[test]
    fn invalid_specs_are_observed_and_say_why() {
        let s = next_status(
            &ResourceStatus::default(),
            Some(3),
            &Verdict::failed(reason::INVALID, "spec.name: must not be empty"),
            None,
        );
        assert_eq!(ready(&s), ("False".into(), "Invalid".into()));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.message.as_deref(), Some("spec.name: must not be empty"));
    }

    #[test]
    fn transition_times_move_only_when_status_changes() {
        let mut first =
            next_status(&ResourceStatus::default(), Some(1), &Verdict::failed(reason::WAITING_FOR_QUERY, "a"), None);
        first.conditions[0].last_transition_time = "then".into();
        let again = next_status(&first, Some(1), &Verdict::failed(reason::CONNECTION_NOT_FOUND, "b"), None);
        assert_eq!(again.conditions[0].last_transition_time, "then");
        assert!(transition(&first, &again), "a new reason is a transition");
    }
}
