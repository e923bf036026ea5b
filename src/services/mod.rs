//! Use-cases: the only layer that combines the store, the connectors and the bus. Services
//! never see axum types; handlers call exactly one service function.

pub mod assignment;
pub mod audit;
pub mod auth;
pub mod backfill;
pub mod blacklist;
pub mod channels;
pub mod connect;
pub mod contacts;
pub mod conversations;
pub mod events;
pub mod feedback;
pub mod fulfillment;
pub mod ingest;
pub mod jobs;
pub mod leads;
pub mod media;
pub mod normalize;
pub mod notify;
pub mod oauth;
pub mod orders;
pub mod outbound;
pub mod pipeline;
pub mod poll;
pub mod profiles;
pub mod reports;
pub mod settings;
pub mod shop;
pub mod tokens;
pub mod views;
pub mod webchat;
pub mod webhooks_out;
