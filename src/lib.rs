//! tongdai: an omnichannel integration hub and chat inbox for Vietnamese online sellers.
//!
//! Layers (see `shared/ARCHITECTURE.md`): `http` (axum only) → `services` (use-cases) →
//! `store` (sea-orm) and `tongdai_connectors` (platform wire formats); `domain` holds pure
//! rules; `realtime` the bus and websocket; `workers` the background loops.

pub mod bench;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod realtime;
pub mod services;
pub mod startup;
pub mod state;
pub mod store;
pub mod workers;
