//! Resource types, loading from files with file:line findings, and whole-set validation.

pub mod cache;
pub mod diagnostic;
pub mod load;
pub mod node;
pub mod schema_check;
pub mod types;
pub mod validate;

pub use diagnostic::{Diagnostic, Diagnostics, Source};
pub use load::{Manifest, ManifestSet, ResourceKey, load_paths, load_str};
pub use types::*;
pub use validate::{MANAGED_TAG, MARKER_FIELD, validate_offline};
