//! Leader election on a coordination.k8s.io/v1 Lease: only the replica holding the lease
//! runs the controllers, so two replicas never write at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::{PostParams, Resource};

#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// Who this replica is (the pod name).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub duration: Duration,
    /// How often the holder renews, and others retry.
    pub renew_every: Duration,
}

pub struct LeaseLock {
    api: Api<Lease>,
    config: LeaseConfig,
}

fn lease_spec(identity: Option<&str>, duration: Duration, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: identity.map(str::to_string),
        lease_duration_seconds: Some(duration.as_secs().max(1) as i32),
        acquire_time: acquired.or_else(|| Some(now.clone())),
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl LeaseLock {
    pub fn new(client: kube::Client, config: LeaseConfig) -> LeaseLock {
        LeaseLock { api: Api::namespaced(client, &config.namespace), config }
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Takes the lease if it is free or expired, renews it if it is ours. `Ok(true)` when this
    /// replica holds it afterwards; a write that loses a race is `Ok(false)`, not an error.
    pub async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let me = self.config.identity.as_str();
        let Some(lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.config.name.clone()), ..ObjectMeta::default() },
                spec: Some(lease_spec(Some(me), self.config.duration, None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = match holder {
            Some(h) if h == me => lease_spec(Some(me), self.config.duration, spec.acquire_time.clone(), transitions),
            Some(_) if !expired(&spec) => return Ok(false),
            _ => lease_spec(Some(me), self.config.duration, None, transitions + 1),
        };
        let mut updated = lease.clone();
        updated.spec = Some(next);
        match self.api.replace(&self.config.name, &PostParams::default(), &updated).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (on shutdown), so another replica need not wait for it to expire.
    pub async fn release(&self) {
        if let Ok(Some(lease)) = self.api.get_opt(&self.config.name).await
            && lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(self.config.identity.as_str())
        {
            let mut released = lease.clone();
            let mut spec = lease.spec.clone().unwrap_or_default();
            spec.holder_identity = None;
            spec.renew_time = None;
            released.spec = Some(spec);
            let _ = self.api.replace(&self.config.name, &PostParams::default(), &released).await;
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&self) -> Result<(), kube::Error> {
        loop {
            if self.try_acquire().await? {
                return Ok(());
            }
            tokio::time::sleep(self.config.renew_every).await;
        }
    }

    /// Renews the lease until a renewal fails; returns when leadership is lost.
    pub async fn hold(&self) {
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(self.config.renew_every).await;
            match self.try_acquire().await {
                Ok(true) => failures = 0,
                Ok(false) => return,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "renewing the leader lease failed");
                    // Past the lease's duration another replica may have taken over: stop writing.
                    if self.config.renew_every * failures >= self.config.duration {
                        return;
                    }
                }
            }
        }
    }

    pub fn kind() -> String {
        Lease::kind(&()).to_string()
    }
}

fn expired(spec: &LeaseSpec) -> bool {
    let Some(renewed) = spec.renew_time.as_ref() else { return true };
    let duration = SignedDuration::from_secs(spec.lease_duration_seconds.unwrap_or(15).into());
    renewed.0.checked_add(duration).is_ok_and(|until| until < Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_after_its_duration() {
        let fresh = lease_spec(Some("a"), Duration::from_secs(15), None, 0);
        assert!(!expired(&fresh));
        let mut old = fresh.clone();
        old.renew_time = Some(MicroTime(Timestamp::now().checked_sub(SignedDuration::from_secs(20)).unwrap()));
        assert!(expired(&old));
        assert!(expired(&LeaseSpec::default()), "never renewed");
    }
}
