//! Resolving a resource's RedashConnection and its Secret, in the resource's own namespace
//! only, into a Redash client. The API key goes from the Secret into the client and nowhere
//! else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use thiserror::Error;

use super::status::reason;
use crate::manifest::RedashConnection;
use crate::redash::{ApiKey, RedashClient, RequestStats};

pub const DEFAULT_CONNECTION: &str = "default";

/// A usable connection to Redash.
#[derive(Clone, Debug)]
pub struct Connection {
    pub name: String,
    pub client: RedashClient,
    /// Ownership scope of the objects synced through this connection.
    pub owner: String,
    pub adopt: bool,
}

#[derive(Debug, Error)]
pub enum ConnectionError {
    #[error("RedashConnection {name:?} not found in namespace {namespace:?}")]
    NotFound { name: String, namespace: String },
    #[error("Secret {secret:?} (named by RedashConnection {connection:?}) not found in namespace {namespace:?}")]
    SecretNotFound { secret: String, connection: String, namespace: String },
    #[error("Secret {secret:?} (named by RedashConnection {connection:?}) has no key {key:?}")]
    KeyNotFound { secret: String, connection: String, key: String },
    #[error("RedashConnection {connection:?}: {message}")]
    Invalid { connection: String, message: String },
    #[error("reading the connection failed: {0}")]
    Kube(#[from] kube::Error),
}

impl ConnectionError {
    pub fn reason(&self) -> &'static str {
        match self {
            ConnectionError::NotFound { .. } => reason::CONNECTION_NOT_FOUND,
            ConnectionError::SecretNotFound { .. } | ConnectionError::KeyNotFound { .. } => reason::SECRET_NOT_FOUND,
            ConnectionError::Invalid { .. } => reason::INVALID,
            ConnectionError::Kube(_) => reason::REDASH_UNAVAILABLE,
        }
    }
}

/// Redash clients by connection and the versions of the connection and Secret they were built
/// from, so that connection pools are reused and a changed Secret takes effect at once.
#[derive(Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<String, RedashClient>>,
}

pub struct Resolver<'a> {
    pub kube: &'a kube::Client,
    pub cache: &'a ClientCache,
    pub stats: &'a Arc<RequestStats>,
    pub concurrency: usize,
}

impl Resolver<'_> {
    /// The connection `name` (default `default`) of `namespace`, with its client.
    pub async fn resolve(&self, namespace: &str, name: Option<&str>) -> Result<Connection, ConnectionError> {
        let name = name.unwrap_or(DEFAULT_CONNECTION);
        let connections: Api<RedashConnection> = Api::namespaced(self.kube.clone(), namespace);
        let conn = connections
            .get_opt(name)
            .await?
            .ok_or_else(|| ConnectionError::NotFound { name: name.into(), namespace: namespace.into() })?;
        let secret_ref = &conn.spec.api_key_secret_ref;
        let secrets: Api<Secret> = Api::namespaced(self.kube.clone(), namespace);
        let secret = secrets.get_opt(&secret_ref.name).await?.ok_or_else(|| ConnectionError::SecretNotFound {
            secret: secret_ref.name.clone(),
            connection: name.into(),
            namespace: namespace.into(),
        })?;
        let owner = conn.spec.owner.clone().unwrap_or_else(|| format!("{namespace}/{name}"));
        let cache_key = format!(
            "{namespace}/{name}@{}/{}",
            conn.resource_version().unwrap_or_default(),
            secret.resource_version().unwrap_or_default()
        );
        if let Some(client) = self.cache.clients.lock().unwrap_or_else(|e| e.into_inner()).get(&cache_key) {
            return Ok(Connection { name: name.into(), client: client.clone(), owner, adopt: conn.spec.adopt });
        }
        let key = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&secret_ref.key))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .or_else(|| secret.string_data.as_ref().and_then(|d| d.get(&secret_ref.key)).cloned())
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| ConnectionError::KeyNotFound {
                secret: secret_ref.name.clone(),
                connection: name.into(),
                key: secret_ref.key.clone(),
            })?;
        let client = RedashClient::new(&conn.spec.url, ApiKey::new(key))
            .map_err(|e| ConnectionError::Invalid { connection: name.into(), message: e.to_string() })?
            .with_concurrency(self.concurrency)
            .with_stats(self.stats.clone());
        let mut clients = self.cache.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.retain(|k, _| !k.starts_with(&format!("{namespace}/{name}@")));
        clients.insert(cache_key, client.clone());
        Ok(Connection { name: name.into(), client, owner, adopt: conn.spec.adopt })
    }
}
