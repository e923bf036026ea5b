//! The event bus and the agent websocket. Services publish committed facts per workspace; each
//! frame gets the next number of that workspace's sequence, is kept in a bounded buffer (so a
//! reconnecting client can catch up with `?since=`) and is broadcast to the connected clients.
//! With `TONGDAI_REDIS_URL` set, frames travel through Redis pub/sub so every node sees every
//! frame and the sequence is shared (Redis `INCR`).

pub mod bus;

pub use bus::{Bus, Frame, Subscription};
