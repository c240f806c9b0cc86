//! The catalog entry of a store: what is saved about it when it is created
//! (in the commit record that creates it, and in checkpoints).

use crate::btree::node::NodeId;
use crate::codec::json_key::IndexSpec;
use crate::options::StoreOptions;
use serde::{Deserialize, Serialize};

/// What is saved about a store when it is created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// The store's identity, unique in the database and never reused.
    pub id: u64,
    /// The store's name.
    pub name: String,
    /// The options it was created with.
    pub options: StoreOptions,
    /// Identity of the key encoding (see `Key::type_name`).
    pub key_type: String,
    /// The root's logical ID; it never changes.
    pub root: NodeId,
    /// JSON stores (`key_type` "json"): the index specification that orders object
    /// keys; absent for primitive JSON keys and for typed stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<IndexSpec>,
}
