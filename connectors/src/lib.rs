//! `tongdai-connectors`: everything tongdai knows about the platforms it talks to — their wire
//! formats, signature schemes, APIs and errors — and nothing about tongdai's database or HTTP
//! server. The hub drives connectors through the traits in [`traits`]; each platform lives in
//! its own module, with a loopback `sandbox` fake of the platform behind the `sandbox` feature.

pub mod commerce;
pub mod error;
pub mod facebook;
pub mod lazada;
pub mod outbound;
pub mod registry;
pub mod shop;
pub mod shopee;
pub mod standard_webhooks;
pub mod tiki;
pub mod traits;
pub mod types;
pub mod verify;
pub mod webchat;
pub mod youtube;
pub mod zalo;

pub use error::{ConnectorError, ParseError, VerifyError};
pub use outbound::*;
pub use registry::{ConnectorsConfig, Registry};
pub use traits::{
    Comments, Connector, History, Lookup, Messaging, MetaLogin, OAuth, Poller, WebhookInbound,
};
pub use types::*;
pub use verify::{Verified, verify};
