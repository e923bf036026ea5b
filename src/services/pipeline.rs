//! Settings of the lead-to-order pipeline: one JSON document per workspace (with defaults for
//! every field, so an old or partial document still reads), and the lead settings of a
//! channel account (inside its `settings`).

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::state::AppState;
use crate::store::entities::workspace;

/// How a workspace runs its pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PipelineSettings {
    /// Hand new leads out round-robin to available agents.
    pub distribute_leads: bool,
    /// Hand new conversations out round-robin to available agents.
    pub distribute_conversations: bool,
    /// Open items (leads + conversations) an agent holds at most, unless their membership
    /// says otherwise.
    pub max_open_per_agent: i32,
    /// A lead its agent has not touched for this long goes back to the queue (0: never).
    pub lead_untouched_minutes: i64,
    /// Returned COD orders after which a phone is blacklisted automatically (0: never).
    pub blacklist_after_returns: i64,
    /// Ask for feedback this long after delivery (hours; 0: do not ask).
    pub feedback_delay_hours: i64,
    /// The feedback question sent to the customer.
    pub feedback_template: String,
    /// Message the customer on these order statuses (status → template; `{order}`,
    /// `{tracking_code}`, `{carrier}` are filled in). Empty: no messages.
    pub status_templates: std::collections::BTreeMap<String, String>,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            distribute_leads: true,
            distribute_conversations: false,
            max_open_per_agent: 30,
            lead_untouched_minutes: 30,
            blacklist_after_returns: 2,
            feedback_delay_hours: 24,
            feedback_template: "Shop cảm ơn bạn đã mua hàng! Bạn chấm đơn {order} mấy sao (1–5) và có góp ý gì cho shop không ạ?".into(),
            status_templates: [
                (
                    "shipped".to_owned(),
                    "Đơn {order} của bạn đã được giao cho {carrier}, mã vận đơn {tracking_code}.".to_owned(),
                ),
                (
                    "delivered".to_owned(),
                    "Đơn {order} đã giao thành công. Cảm ơn bạn đã ủng hộ shop!".to_owned(),
                ),
            ]
            .into(),
        }
    }
}

/// Lead settings of one channel account (keys inside `channel_account.settings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ChannelLeadSettings {
    /// Hide comments that carry a phone number (so competitors cannot harvest them).
    pub hide_phone_comments: bool,
    /// Privately reply this to a comment that left a phone number (empty: no reply).
    pub phone_private_reply: Option<String>,
}

impl ChannelLeadSettings {
    /// Read from a channel account's settings document (missing keys → defaults).
    pub fn of(settings: &serde_json::Value) -> ChannelLeadSettings {
        serde_json::from_value(settings.clone()).unwrap_or_default()
    }
}

/// The settings of `ws` (defaults when none are stored).
pub async fn load(db: &impl ConnectionTrait, ws: Uuid) -> Result<PipelineSettings, sea_orm::DbErr> {
    let w = workspace::Entity::find_by_id(ws).one(db).await?;
    Ok(w.and_then(|w| w.settings)
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default())
}

/// `GET /pipeline-settings`.
pub async fn get(state: &AppState, p: &Principal) -> AppResult<PipelineSettings> {
    p.require(Permission::ReadInbox)
        .or_else(|_| p.require(Permission::ReadOrders))?;
    Ok(load(&state.db.read, p.workspace_id).await?)
}

/// `PUT /pipeline-settings`.
pub async fn put(
    state: &AppState,
    p: &Principal,
    s: PipelineSettings,
) -> AppResult<PipelineSettings> {
    p.require(Permission::ManagePipeline)?;
    if s.max_open_per_agent < 1 {
        return Err(AppError::bad_request(
            "invalid_settings",
            "max_open_per_agent must be at least 1",
        ));
    }
    if s.lead_untouched_minutes < 0 || s.blacklist_after_returns < 0 || s.feedback_delay_hours < 0 {
        return Err(AppError::bad_request(
            "invalid_settings",
            "durations and thresholds cannot be negative",
        ));
    }
    let w = workspace::Entity::find_by_id(p.workspace_id)
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("workspace"))?;
    let mut am = w.into_active_model();
    am.settings = Set(Some(serde_json::to_value(&s).expect("settings serialize")));
    am.update(&state.db.write).await?;
    crate::services::audit::record(
        &state.db.write,
        p.workspace_id,
        p.user_id,
        "pipeline.settings_changed",
        ("workspace", p.workspace_id.to_string()),
        serde_json::to_value(&s).expect("settings serialize"),
    )
    .await?;
    Ok(s)
}
