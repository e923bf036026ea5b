//! The integration suite: the real server on port 0, a real SQLite file (or PostgreSQL when
//! `TONGDAI_TEST_DATABASE_URL` is set, one schema per test), real HTTP and websockets, and the
//! Facebook Graph sandbox on loopback.

mod helpers;

mod access;
mod cli;
mod connect;
mod contact_panel;
mod crash;
mod enrich;
mod feedback;
mod fulfillment;
mod hardening;
mod inbox;
mod inbox_notes;
mod ingest;
mod leads;
mod multinode;
mod oauth;
mod ops;
mod order_form;
mod orders;
mod pipeline;
mod realtime;
mod replies;
mod reports;
mod social;
mod social_actions;
mod widget;
mod youtube;
mod zalo;
mod zalo_send;
