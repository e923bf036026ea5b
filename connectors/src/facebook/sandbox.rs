//! A loopback fake of the Graph API. SKELETON — being completed.

/// Placeholder.
pub struct GraphSandbox;
