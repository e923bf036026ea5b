//! Pure types and rules of the product: no IO, no database, no HTTP.

pub mod assignment;
pub mod feedback;
pub mod lead;
pub mod net;
pub mod order;
pub mod phone;
pub mod quota;
pub mod retry;
pub mod role;
