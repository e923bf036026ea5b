//! Contacts: one person across channels. Identities (a PSID on one Page, a Zalo user id on one
//! OA …) belong to a contact; contacts with the same phone are merged, and a merge can be undone.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::phone::Phone;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::state::AppState;
use crate::store::entities::{channel_account, contact, contact_identity, conversation};

/// One identity of a contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityOut {
    /// Id.
    pub id: Uuid,
    /// Channel account.
    pub channel_account_id: Uuid,
    /// Platform of the channel account.
    pub platform: String,
    /// The platform's id of the person.
    pub external_id: String,
    /// Name the platform gave.
    pub display_name: Option<String>,
    /// Profile picture the platform gave (a platform CDN link; it may expire).
    pub avatar_url: Option<String>,
    /// The contact this identity belonged to before a merge.
    pub original_contact_id: Option<Uuid>,
}

/// A contact with its identities.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOut {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: Option<String>,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Set when this contact was merged into another.
    pub merged_into: Option<Uuid>,
    /// Staff's note about the customer.
    pub note: Option<String>,
    /// Identities across channels.
    pub identities: Vec<IdentityOut>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

async fn find_in(db: &impl ConnectionTrait, ws: Uuid, id: Uuid) -> AppResult<contact::Model> {
    contact::Entity::find_by_id(id)
        .filter(contact::Column::WorkspaceId.eq(ws))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("contact"))
}

async fn contact_out(db: &impl ConnectionTrait, c: contact::Model) -> AppResult<ContactOut> {
    let idns = contact_identity::Entity::find()
        .filter(contact_identity::Column::ContactId.eq(c.id))
        .order_by_asc(contact_identity::Column::CreatedAt)
        .all(db)
        .await?;
    let accs = channel_account::Entity::find()
        .filter(
            channel_account::Column::Id.is_in(
                idns.iter()
                    .map(|i| i.channel_account_id)
                    .collect::<Vec<_>>(),
            ),
        )
        .all(db)
        .await?;
    Ok(ContactOut {
        id: c.id,
        name: c.name,
        phone: c.phone,
        merged_into: c.merged_into,
        note: c.note,
        identities: idns
            .into_iter()
            .map(|i| IdentityOut {
                platform: accs
                    .iter()
                    .find(|a| a.id == i.channel_account_id)
                    .map(|a| a.platform.clone())
                    .unwrap_or_default(),
                id: i.id,
                channel_account_id: i.channel_account_id,
                external_id: i.external_id,
                display_name: i.display_name,
                avatar_url: i.avatar_url,
                original_contact_id: i.original_contact_id,
            })
            .collect(),
        created_at: c.created_at,
    })
}

/// `GET /contacts/{id}`.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ContactOut> {
    p.require(Permission::ReadInbox)?;
    let c = find_in(&state.db.read, p.workspace_id, id).await?;
    contact_out(&state.db.read, c).await
}

/// A change to a contact: absent fields stay; an empty name or note clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContactPatch {
    /// Name (at most 200 characters).
    pub name: Option<String>,
    /// Staff's note (at most 5000 characters).
    pub note: Option<String>,
}

fn cleaned(v: &str, max: usize, code: &'static str, what: &str) -> AppResult<Option<String>> {
    let v = v.trim();
    if v.chars().count() > max {
        return Err(AppError::bad_request(
            code,
            format!("{what} has more than {max} characters"),
        ));
    }
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

/// `PATCH /contacts/{id}`: rename the contact or change the staff note.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: ContactPatch,
) -> AppResult<ContactOut> {
    p.require(Permission::WorkInbox)?;
    let name = patch
        .name
        .as_deref()
        .map(|n| cleaned(n, 200, "invalid_name", "the name"))
        .transpose()?;
    let note = patch
        .note
        .as_deref()
        .map(|n| cleaned(n, 5000, "invalid_note", "the note"))
        .transpose()?;
    let c = find_in(&state.db.write, p.workspace_id, id).await?;
    let mut am = c.into_active_model();
    if let Some(n) = name {
        am.name = Set(n);
    }
    if let Some(n) = note {
        am.note = Set(n);
    }
    am.updated_at = Set(Utc::now());
    let c = am.update(&state.db.write).await?;
    let out = contact_out(&state.db.read, c).await?;
    state
        .bus
        .publish(
            p.workspace_id,
            "contact.updated",
            serde_json::json!({ "contact_id": id }),
        )
        .await;
    Ok(out)
}

/// `GET /contacts?q=`: by phone (any common format) or by name.
pub async fn search(
    state: &AppState,
    p: &Principal,
    q: &str,
    limit: u64,
) -> AppResult<Vec<ContactOut>> {
    p.require(Permission::ReadInbox)?;
    let q = q.trim();
    let mut cond = Condition::any();
    if let Some(phone) = Phone::parse(q) {
        cond = cond.add(contact::Column::Phone.eq(phone.as_str()));
    }
    if !q.is_empty() {
        cond = cond.add(contact::Column::Name.like(format!("%{}%", q.replace(['%', '_'], ""))));
    }
    let rows = contact::Entity::find()
        .filter(contact::Column::WorkspaceId.eq(p.workspace_id))
        .filter(contact::Column::MergedInto.is_null())
        .filter(cond)
        .order_by_desc(contact::Column::UpdatedAt)
        .limit(limit.clamp(1, 100))
        .all(&state.db.read)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        out.push(contact_out(&state.db.read, c).await?);
    }
    Ok(out)
}

/// Move every identity and conversation of `from` to `into`; `from` remembers where it went.
pub async fn merge_into(
    txn: &impl ConnectionTrait,
    ws: Uuid,
    from: Uuid,
    into: Uuid,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let idns = contact_identity::Entity::find()
        .filter(contact_identity::Column::WorkspaceId.eq(ws))
        .filter(contact_identity::Column::ContactId.eq(from))
        .all(txn)
        .await?;
    for i in idns {
        let original = i.original_contact_id.unwrap_or(from);
        let mut am = i.into_active_model();
        am.contact_id = Set(into);
        am.original_contact_id = Set(Some(original));
        am.update(txn).await?;
    }
    conversation::Entity::update_many()
        .col_expr(conversation::Column::ContactId, Expr::value(into))
        .filter(conversation::Column::WorkspaceId.eq(ws))
        .filter(conversation::Column::ContactId.eq(from))
        .exec(txn)
        .await?;
    let from_c = contact::Entity::find_by_id(from).one(txn).await?;
    let into_c = contact::Entity::find_by_id(into).one(txn).await?;
    if let (Some(f), Some(t)) = (from_c, into_c) {
        let mut tam = t.clone().into_active_model();
        if t.phone.is_none() {
            tam.phone = Set(f.phone.clone());
        }
        if t.name.is_none() {
            tam.name = Set(f.name.clone());
        }
        tam.updated_at = Set(now);
        tam.update(txn).await?;
        let mut fam = f.into_active_model();
        fam.merged_into = Set(Some(into));
        fam.updated_at = Set(now);
        fam.update(txn).await?;
    }
    Ok(())
}

/// `POST /contacts/{id}/merge {into_id}`.
pub async fn merge(
    state: &AppState,
    p: &Principal,
    from: Uuid,
    into: Uuid,
) -> AppResult<ContactOut> {
    p.require(Permission::WorkInbox)?;
    if from == into {
        return Err(AppError::bad_request(
            "same_contact",
            "a contact cannot be merged into itself",
        ));
    }
    let txn = state.db.write.begin().await?;
    let f = find_in(&txn, p.workspace_id, from).await?;
    let t = find_in(&txn, p.workspace_id, into).await?;
    if f.merged_into.is_some() || t.merged_into.is_some() {
        return Err(AppError::Conflict("contact was already merged".into()));
    }
    merge_into(&txn, p.workspace_id, from, into).await?;
    let out = contact_out(&txn, find_in(&txn, p.workspace_id, into).await?).await?;
    txn.commit().await?;
    state
        .bus
        .publish(
            p.workspace_id,
            "contact.updated",
            serde_json::json!({ "contact_id": into }),
        )
        .await;
    Ok(out)
}

/// `POST /contacts/{id}/unmerge`: give a merged-away contact its identities and conversations back.
pub async fn unmerge(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ContactOut> {
    p.require(Permission::WorkInbox)?;
    let txn = state.db.write.begin().await?;
    let c = find_in(&txn, p.workspace_id, id).await?;
    let Some(into) = c.merged_into else {
        return Err(AppError::bad_request(
            "not_merged",
            "this contact is not merged",
        ));
    };
    let idns = contact_identity::Entity::find()
        .filter(contact_identity::Column::WorkspaceId.eq(p.workspace_id))
        .filter(contact_identity::Column::OriginalContactId.eq(id))
        .all(&txn)
        .await?;
    let idn_ids: Vec<Uuid> = idns.iter().map(|i| i.id).collect();
    for i in idns {
        let mut am = i.into_active_model();
        am.contact_id = Set(id);
        am.original_contact_id = Set(None);
        am.update(&txn).await?;
    }
    conversation::Entity::update_many()
        .col_expr(conversation::Column::ContactId, Expr::value(id))
        .filter(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .filter(conversation::Column::IdentityId.is_in(idn_ids))
        .exec(&txn)
        .await?;
    let mut am = c.into_active_model();
    am.merged_into = Set(None);
    am.updated_at = Set(Utc::now());
    let c = am.update(&txn).await?;
    let out = contact_out(&txn, c).await?;
    txn.commit().await?;
    for cid in [id, into] {
        state
            .bus
            .publish(
                p.workspace_id,
                "contact.updated",
                serde_json::json!({ "contact_id": cid }),
            )
            .await;
    }
    Ok(out)
}
