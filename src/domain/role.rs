//! Workspace roles and what each may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including members and billing.
    Owner,
    /// Everything but removing owners.
    Admin,
    /// Channels and campaigns; reads the inbox.
    Marketer,
    /// Telesales / customer care: the inbox, leads and orders.
    Agent,
    /// Packing and delivery: the fulfillment board.
    Fulfillment,
}

/// Something a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Invite, change and remove members; manage API keys.
    ManageMembers,
    /// Connect, change and disable channel accounts.
    ManageChannels,
    /// Read conversations, contacts and messages.
    ReadInbox,
    /// Reply, assign, label, resolve; merge contacts.
    WorkInbox,
    /// Labels and canned responses.
    ManageInboxSettings,
    /// Dead-lettered webhooks: list and replay.
    ManageEvents,
    /// Leads: read, work (stage, calls), create orders from them.
    WorkLeads,
    /// Assign and reassign leads and conversations to others; distribution settings.
    ManageAssignment,
    /// Read orders and their timeline (the fulfillment board too).
    ReadOrders,
    /// Create, edit, confirm and cancel orders.
    WorkOrders,
    /// Move orders through packing and shipping (the fulfillment board).
    FulfillOrders,
    /// Fulfillment endpoints, shop channels, the blacklist, pipeline settings.
    ManagePipeline,
    /// The reports: volumes, first-response time, conversion, deliveries, complaints.
    ReadReports,
}

impl Role {
    /// Whether this role has `p`.
    pub fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner | Role::Admin => true,
            Role::Marketer => {
                matches!(
                    p,
                    ManageChannels | ReadInbox | ManageInboxSettings | ReadOrders | ReadReports
                )
            }
            Role::Agent => matches!(
                p,
                ReadInbox | WorkInbox | WorkLeads | ReadOrders | WorkOrders
            ),
            Role::Fulfillment => matches!(p, ReadOrders | FulfillOrders),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Marketer => "marketer",
            Role::Agent => "agent",
            Role::Fulfillment => "fulfillment",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "marketer" => Ok(Role::Marketer),
            "agent" => Ok(Role::Agent),
            "fulfillment" => Ok(Role::Fulfillment),
            other => Err(format!(
                "unknown role {other:?} (owner, admin, marketer, agent, fulfillment)"
            )),
        }
    }
}
