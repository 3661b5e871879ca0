//! The tables of `data/causes.toml` as read, before they are checked: shared by
//! [`super::causes`] and the build script (build.rs), which prepares the data for a fast start.

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCategory {
    pub(crate) id: String,
    pub(crate) about: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCause {
    pub(crate) id: String,
    pub(crate) protocols: Vec<String>,
    #[serde(default)]
    pub(crate) codes: Vec<String>,
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) servers: Vec<String>,
    pub(crate) category: String,
    #[serde(default)]
    pub(crate) priority: Option<i64>,
    pub(crate) title: String,
    pub(crate) explain: String,
    #[serde(default)]
    pub(crate) checks: Vec<String>,
}
