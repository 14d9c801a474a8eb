//! Fault injection: rules that make chosen requests slow, fail, lose their answer, or race
//! with another user's edit. Deterministic: requests are numbered in arrival order and random
//! choices come from a seeded generator, so a failing case replays exactly.

use serde::Deserialize;

use crate::util::SplitMix64;

/// What happens to a request a rule picks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum Fault {
    /// The answer comes `ms` milliseconds late; the request is handled normally.
    Latency { ms: u64 },
    /// `status` is answered without handling the request: nothing changes.
    Error { status: u16 },
    /// The request is handled, then `status` is answered: the write happened, the answer
    /// says it did not (a proxy timing out, a crash after the commit).
    ErrorAfter { status: u16 },
    /// 429 with `Retry-After: seconds`, without handling the request.
    TooManyRequests {
        #[serde(rename = "retryAfter")]
        retry_after: u64,
    },
    /// The connection breaks before the answer is complete; `handled` says whether the
    /// request was carried out first.
    Reset { handled: bool },
    /// The request is handled, and its answer held back `ms` milliseconds (past the client's
    /// timeout).
    Hang { ms: u64 },
    /// The request (a read of a query or dashboard) is answered, then another user edits the
    /// object it read, before the client's next request.
    ConcurrentEdit,
}

/// Which requests a rule applies to, and how often.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Only the request with this number (1 = the first request served after the rules were
    /// set).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Only requests with this method.
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests with this path; a trailing `*` matches any rest.
    #[serde(default)]
    pub path: Option<String>,
    /// The share of matching requests hit, drawn from the seeded generator (default 1).
    #[serde(default)]
    pub probability: Option<f64>,
    /// The most times the rule fires (default: no limit).
    #[serde(default)]
    pub times: Option<u64>,
    pub fault: Fault,
}

impl FaultRule {
    /// A rule hitting the `n`th request only.
    pub fn nth(n: u64, fault: Fault) -> FaultRule {
        FaultRule { nth: Some(n), method: None, path: None, probability: None, times: None, fault }
    }

    /// A rule hitting every request with this method and path (`*` at the end: any rest).
    pub fn matching(method: &str, path: &str, fault: Fault) -> FaultRule {
        FaultRule {
            nth: None,
            method: Some(method.to_string()),
            path: Some(path.to_string()),
            probability: None,
            times: None,
            fault,
        }
    }

    fn matches(&self, n: u64, method: &str, path: &str) -> bool {
        self.nth.is_none_or(|k| k == n)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => p == path,
            })
    }
}

/// A set of rules with its seed, as `redash-gitops emulator --faults FILE` reads it.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One fault that fired, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub request: u64,
    pub method: String,
    pub path: String,
    pub fault: Fault,
}

/// The rules in force, the request counter and the generator.
#[derive(Debug)]
pub(super) struct Faults {
    rules: Vec<(FaultRule, u64)>,
    served: u64,
    rng: SplitMix64,
    fired: Vec<Fired>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultPlan::default())
    }
}

impl Faults {
    pub(super) fn new(plan: FaultPlan) -> Faults {
        Faults {
            rules: plan.rules.into_iter().map(|r| (r, 0)).collect(),
            served: 0,
            rng: SplitMix64::new(plan.seed),
            fired: Vec::new(),
        }
    }

    /// Numbers the request and picks the fault of the first rule that fires for it.
    pub(super) fn pick(&mut self, method: &str, path: &str) -> Option<Fault> {
        self.served += 1;
        let n = self.served;
        for (rule, count) in &mut self.rules {
            if !rule.matches(n, method, path) || rule.times.is_some_and(|t| *count >= t) {
                continue;
            }
            if let Some(p) = rule.probability {
                let draw = (self.rng.next_u64() % 1_000_000) as f64 / 1_000_000.0;
                if draw >= p {
                    continue;
                }
            }
            *count += 1;
            self.fired.push(Fired { request: n, method: method.into(), path: path.into(), fault: rule.fault.clone() });
            return Some(rule.fault.clone());
        }
        None
    }

    pub(super) fn fired(&self) -> Vec<Fired> {
        self.fired.clone()
    }

    pub(super) fn served(&self) -> u64 {
        self.served
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nth_rule_hits_that_request_only() {
        let mut f = Faults::new(FaultPlan { seed: 1, rules: vec![FaultRule::nth(2, Fault::Error { status: 500 })] });
        assert_eq!(f.pick("GET", "/api/session"), None);
        assert_eq!(f.pick("GET", "/api/queries"), Some(Fault::Error { status: 500 }));
        assert_eq!(f.pick("GET", "/api/queries"), None);
        assert_eq!(f.fired()[0].request, 2);
    }

    #[test]
    fn method_and_path_rules_match_prefixes_and_stop_after_their_count() {
        let rule = FaultRule {
            times: Some(2),
            ..FaultRule::matching("post", "/api/widgets*", Fault::Reset { handled: true })
        };
        let mut f = Faults::new(FaultPlan { seed: 1, rules: vec![rule] });
        assert_eq!(f.pick("GET", "/api/widgets/1"), None);
        assert!(f.pick("POST", "/api/widgets").is_some());
        assert!(f.pick("POST", "/api/widgets/3").is_some());
        assert_eq!(f.pick("POST", "/api/widgets"), None, "fired twice already");
    }

    #[test]
    fn probabilities_are_reproducible_from_the_seed() {
        let draws = |seed| {
            let rule =
                FaultRule { probability: Some(0.3), ..FaultRule::matching("GET", "*", Fault::Latency { ms: 1 }) };
            let mut f = Faults::new(FaultPlan { seed, rules: vec![rule] });
            (0..200).map(|_| f.pick("GET", "/x").is_some()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let hits = draws(7).iter().filter(|h| **h).count();
        assert!((30..90).contains(&hits), "about 30% of 200, got {hits}");
    }

    #[test]
    fn fault_plans_read_from_yaml() {
        let plan: FaultPlan = serde_saphyr::from_str(
            "seed: 3\nrules:\n  - method: POST\n    path: /api/queries\n    times: 1\n    fault: {kind: errorAfter, status: 502}\n  - nth: 4\n    fault: {kind: tooManyRequests, retryAfter: 1}\n",
        )
        .unwrap();
        assert_eq!(plan.rules[0].fault, Fault::ErrorAfter { status: 502 });
        assert_eq!(plan.rules[1].fault, Fault::TooManyRequests { retry_after: 1 });
        assert!(serde_saphyr::from_str::<FaultPlan>("rules: [{fault: {kind: explode}}]").is_err());
    }
}
