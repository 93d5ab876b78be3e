//! Wire types: Key Vault's JSON field names and casing, and conversions from views.
//! Request types end in `Request`, response types in `Response`/`Bundle`.

pub mod certificate;
pub mod issuer;
pub mod keyvault;
pub mod operation;
pub mod policy;

use serde::Serialize;

/// `{"value": [...], "nextLink": ...}`.
#[derive(Debug, Serialize)]
pub struct ListResponse<T: Serialize> {
    pub value: Vec<T>,
    #[serde(rename = "nextLink")]
    pub next_link: Option<String>,
}
