//! sea-orm entities, one module per table; the schema itself lives in the `migration` crate.

pub mod api_key;
pub mod audit_log;
pub mod blacklist;
pub mod call_log;
pub mod canned_response;
pub mod channel_account;
pub mod contact;
pub mod contact_identity;
pub mod conversation;
pub mod conversation_label;
pub mod delivery_attempt;
pub mod inbound_event;
pub mod job;
pub mod label;
pub mod lead;
pub mod media;
pub mod membership;
pub mod message;
pub mod message_revision;
pub mod oauth_state;
pub mod order;
pub mod order_item;
pub mod session;
pub mod user;
pub mod webhook_endpoint;
pub mod workspace;
