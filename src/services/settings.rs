//! Inbox settings of a workspace: labels and canned responses.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::state::AppState;
use crate::store::entities::{canned_response, label};

/// A label.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelOut {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// CSS colour.
    pub color: String,
}

/// Create a label.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LabelIn {
    /// Name.
    pub name: String,
    /// CSS colour (default grey).
    pub color: Option<String>,
}

/// Find or create a label by name.
pub async fn ensure_label(
    db: &impl ConnectionTrait,
    ws: Uuid,
    name: &str,
) -> Result<label::Model, sea_orm::DbErr> {
    if let Some(l) = label::Entity::find()
        .filter(label::Column::WorkspaceId.eq(ws))
        .filter(label::Column::Name.eq(name))
        .one(db)
        .await?
    {
        return Ok(l);
    }
    label::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws),
        name: Set(name.to_owned()),
        color: Set("#6b7280".into()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

/// `GET /labels`.
pub async fn list_labels(state: &AppState, p: &Principal) -> AppResult<Vec<LabelOut>> {
    p.require(Permission::ReadInbox)?;
    Ok(label::Entity::find()
        .filter(label::Column::WorkspaceId.eq(p.workspace_id))
        .order_by_asc(label::Column::Name)
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(|l| LabelOut {
            id: l.id,
            name: l.name,
            color: l.color,
        })
        .collect())
}

/// `POST /labels`.
pub async fn create_label(state: &AppState, p: &Principal, input: LabelIn) -> AppResult<LabelOut> {
    p.require(Permission::ManageInboxSettings)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(AppError::bad_request(
            "invalid_label",
            "a label name has 1 to 50 characters",
        ));
    }
    if label::Entity::find()
        .filter(label::Column::WorkspaceId.eq(p.workspace_id))
        .filter(label::Column::Name.eq(name))
        .one(&state.db.write)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!("label {name} exists")));
    }
    let l = label::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        name: Set(name.to_owned()),
        color: Set(input.color.unwrap_or_else(|| "#6b7280".into())),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db.write)
    .await?;
    Ok(LabelOut {
        id: l.id,
        name: l.name,
        color: l.color,
    })
}

/// `DELETE /labels/{id}`.
pub async fn delete_label(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    p.require(Permission::ManageInboxSettings)?;
    let res = label::Entity::delete_many()
        .filter(label::Column::Id.eq(id))
        .filter(label::Column::WorkspaceId.eq(p.workspace_id))
        .exec(&state.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("label"));
    }
    Ok(())
}

/// A canned response (quick reply).
#[derive(Debug, Serialize, ToSchema)]
pub struct CannedOut {
    /// Id.
    pub id: Uuid,
    /// Shortcut typed after `/`.
    pub shortcut: String,
    /// Text.
    pub content: String,
    /// Category (sales script, FAQ, …).
    pub category: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Create or change a canned response.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CannedIn {
    /// Shortcut.
    pub shortcut: String,
    /// Text.
    pub content: String,
    /// Category (sales script, FAQ, …; empty: none).
    #[serde(default)]
    pub category: Option<String>,
}

fn category_of(input: &CannedIn) -> Option<String> {
    input
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

fn canned_out(c: canned_response::Model) -> CannedOut {
    CannedOut {
        id: c.id,
        shortcut: c.shortcut,
        content: c.content,
        category: c.category,
        updated_at: c.updated_at,
    }
}

fn validate(input: &CannedIn) -> AppResult<()> {
    let ok = !input.shortcut.trim().is_empty()
        && input.shortcut.len() <= 50
        && !input.content.trim().is_empty();
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_request(
            "invalid_canned_response",
            "shortcut (≤ 50) and content are required",
        ))
    }
}

/// `GET /canned-responses` (`?category=`: only that category).
pub async fn list_canned(
    state: &AppState,
    p: &Principal,
    category: Option<String>,
) -> AppResult<Vec<CannedOut>> {
    p.require(Permission::ReadInbox)?;
    let mut q = canned_response::Entity::find()
        .filter(canned_response::Column::WorkspaceId.eq(p.workspace_id));
    if let Some(c) = category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        q = q.filter(canned_response::Column::Category.eq(c));
    }
    Ok(q.order_by_asc(canned_response::Column::Shortcut)
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(canned_out)
        .collect())
}

/// `POST /canned-responses`.
pub async fn create_canned(
    state: &AppState,
    p: &Principal,
    input: CannedIn,
) -> AppResult<CannedOut> {
    p.require(Permission::ManageInboxSettings)?;
    validate(&input)?;
    let shortcut = input.shortcut.trim().to_owned();
    if canned_response::Entity::find()
        .filter(canned_response::Column::WorkspaceId.eq(p.workspace_id))
        .filter(canned_response::Column::Shortcut.eq(&shortcut))
        .one(&state.db.write)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!("shortcut {shortcut} exists")));
    }
    let now = Utc::now();
    let category = category_of(&input);
    let c = canned_response::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        shortcut: Set(shortcut),
        content: Set(input.content),
        created_at: Set(now),
        updated_at: Set(now),
        category: Set(category),
    }
    .insert(&state.db.write)
    .await?;
    Ok(canned_out(c))
}

/// `PUT /canned-responses/{id}`.
pub async fn update_canned(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: CannedIn,
) -> AppResult<CannedOut> {
    p.require(Permission::ManageInboxSettings)?;
    validate(&input)?;
    let c = canned_response::Entity::find_by_id(id)
        .filter(canned_response::Column::WorkspaceId.eq(p.workspace_id))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("canned response"))?;
    let shortcut = input.shortcut.trim().to_owned();
    if canned_response::Entity::find()
        .filter(canned_response::Column::WorkspaceId.eq(p.workspace_id))
        .filter(canned_response::Column::Shortcut.eq(&shortcut))
        .filter(canned_response::Column::Id.ne(id))
        .one(&state.db.write)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!("shortcut {shortcut} exists")));
    }
    let mut am: canned_response::ActiveModel = c.into();
    am.shortcut = Set(shortcut);
    am.category = Set(category_of(&input));
    am.content = Set(input.content);
    am.updated_at = Set(Utc::now());
    Ok(canned_out(am.update(&state.db.write).await?))
}

/// `DELETE /canned-responses/{id}`.
pub async fn delete_canned(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    p.require(Permission::ManageInboxSettings)?;
    let res = canned_response::Entity::delete_many()
        .filter(canned_response::Column::Id.eq(id))
        .filter(canned_response::Column::WorkspaceId.eq(p.workspace_id))
        .exec(&state.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("canned response"));
    }
    Ok(())
}

/// A reply text with its `/shortcut` expanded: a text that is exactly `/shortcut` or starts
/// with `/shortcut ` becomes the canned response's content (followed by the rest). Anything
/// else — an unknown shortcut included — comes back unchanged.
pub async fn expand_shortcut(
    db: &impl sea_orm::ConnectionTrait,
    workspace: Uuid,
    text: &str,
) -> Result<String, sea_orm::DbErr> {
    let Some(body) = text.strip_prefix('/') else {
        return Ok(text.to_owned());
    };
    let (shortcut, rest) = match body.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r.trim()),
        None => (body, ""),
    };
    if shortcut.is_empty() {
        return Ok(text.to_owned());
    }
    let found = canned_response::Entity::find()
        .filter(canned_response::Column::WorkspaceId.eq(workspace))
        .filter(
            sea_orm::Condition::any()
                .add(canned_response::Column::Shortcut.eq(shortcut))
                .add(canned_response::Column::Shortcut.eq(format!("/{shortcut}"))),
        )
        .one(db)
        .await?;
    Ok(match found {
        Some(c) if rest.is_empty() => c.content,
        Some(c) => format!("{} {rest}", c.content.trim_end()),
        None => text.to_owned(),
    })
}

/// A text after shortcut expansion.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpandedOut {
    /// The text to send.
    pub text: String,
    /// Whether a shortcut was expanded.
    pub expanded: bool,
}

/// `GET /canned-responses/expand?text=`: what a reply text becomes when sent.
pub async fn expand(state: &AppState, p: &Principal, text: &str) -> AppResult<ExpandedOut> {
    p.require(Permission::ReadInbox)?;
    let out = expand_shortcut(&state.db.read, p.workspace_id, text.trim()).await?;
    Ok(ExpandedOut {
        expanded: out != text.trim(),
        text: out,
    })
}
