//! The inbox API: conversations, messages, contacts, labels and canned responses.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::AppResult;
use crate::http::extract::{AppJson, Auth};
use crate::services::contacts::{self, ContactOut, ContactPatch};
use crate::services::conversations::{
    self, ConversationFilter, ConversationPage, ConversationPatch, MessageFilter, NoteIn, Page,
    ReplyIn,
};
use crate::services::outbound;
use crate::services::settings::{self, CannedIn, CannedOut, LabelIn, LabelOut};
use crate::services::views::{ConversationOut, MessageOut};
use crate::state::AppState;

/// List conversations.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "inbox", params(ConversationFilter), responses((status = 200, body = ConversationPage)))]
pub async fn list_conversations(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<ConversationFilter>,
) -> AppResult<Json<ConversationPage>> {
    Ok(Json(conversations::list(&s, &p, f).await?))
}

/// Earlier texts of an edited message or comment, oldest first.
#[utoipa::path(get, path = "/api/v1/messages/{id}/revisions", tag = "inbox", params(("id" = Uuid, Path)), responses((status = 200, body = Vec<conversations::RevisionOut>), (status = 404, body = crate::error::ErrorOut)))]
pub async fn message_revisions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Vec<conversations::RevisionOut>>> {
    Ok(Json(conversations::revisions(&s, &p, id).await?))
}

/// A private reply's text.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PrivateReplyIn {
    /// What to send to the commenter in Messenger / Instagram Direct.
    pub text: String,
}

/// Hide or unhide.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HideIn {
    /// `true` hides the comment from the public, `false` shows it again.
    pub hidden: bool,
}

/// Send the one private reply a comment allows (queued; 422 when no longer allowed).
#[utoipa::path(post, path = "/api/v1/messages/{id}/private-reply", tag = "inbox", params(("id" = Uuid, Path)), request_body = PrivateReplyIn, responses((status = 202, body = MessageOut), (status = 422, body = crate::error::ErrorOut)))]
pub async fn private_reply(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<PrivateReplyIn>,
) -> AppResult<(StatusCode, Json<MessageOut>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(outbound::private_reply(&s, &p, id, &input.text).await?),
    ))
}

/// Hide or unhide a comment on the platform.
#[utoipa::path(post, path = "/api/v1/messages/{id}/hide", tag = "inbox", params(("id" = Uuid, Path)), request_body = HideIn, responses((status = 200, body = MessageOut), (status = 502, body = crate::error::ErrorOut)))]
pub async fn hide_comment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<HideIn>,
) -> AppResult<Json<MessageOut>> {
    Ok(Json(outbound::set_hidden(&s, &p, id, input.hidden).await?))
}

/// Delete one of the account's own comment replies on the platform (kept here, marked removed).
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "inbox", params(("id" = Uuid, Path)), responses((status = 200, body = MessageOut), (status = 502, body = crate::error::ErrorOut)))]
pub async fn delete_comment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<MessageOut>> {
    Ok(Json(outbound::delete_comment(&s, &p, id).await?))
}

/// One conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "inbox", params(("id" = Uuid, Path)), responses((status = 200, body = ConversationOut), (status = 404, body = crate::error::ErrorOut)))]
pub async fn get_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<ConversationOut>> {
    Ok(Json(conversations::get(&s, &p, id).await?))
}

/// Change status, assignee or labels.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "inbox", params(("id" = Uuid, Path)), request_body = ConversationPatch, responses((status = 200, body = ConversationOut)))]
pub async fn update_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(patch): AppJson<ConversationPatch>,
) -> AppResult<Json<ConversationOut>> {
    Ok(Json(conversations::update(&s, &p, id, patch).await?))
}

/// Mark everything read.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "inbox", params(("id" = Uuid, Path)), responses((status = 200, body = ConversationOut)))]
pub async fn read_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<ConversationOut>> {
    Ok(Json(conversations::mark_read(&s, &p, id).await?))
}

/// The thread.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "inbox", params(("id" = Uuid, Path), MessageFilter), responses((status = 200, body = Page<MessageOut>)))]
pub async fn list_messages(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Query(f): Query<MessageFilter>,
) -> AppResult<Json<Page<MessageOut>>> {
    Ok(Json(conversations::messages(&s, &p, id, f).await?))
}

/// Reply (queued; the status follows on the websocket).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "inbox", params(("id" = Uuid, Path)), request_body = ReplyIn, responses((status = 202, body = MessageOut)))]
pub async fn create_reply(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<ReplyIn>,
) -> AppResult<(StatusCode, Json<MessageOut>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(conversations::reply(&s, &p, id, input).await?),
    ))
}

/// Write a private note for the team (never sent to the customer); mentions notify members.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/notes", tag = "inbox", params(("id" = Uuid, Path)), request_body = NoteIn, responses((status = 201, body = MessageOut), (status = 400, body = crate::error::ErrorOut), (status = 403, body = crate::error::ErrorOut)))]
pub async fn create_note(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<NoteIn>,
) -> AppResult<(StatusCode, Json<MessageOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(conversations::add_note(&s, &p, id, input).await?),
    ))
}

/// Contact search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Phone (any format) or part of a name.
    pub q: String,
    /// Max results (default 20).
    pub limit: Option<u64>,
}

/// Search contacts.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery), responses((status = 200, body = Vec<ContactOut>)))]
pub async fn search_contacts(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ContactQuery>,
) -> AppResult<Json<Vec<ContactOut>>> {
    Ok(Json(
        contacts::search(&s, &p, &q.q, q.limit.unwrap_or(20)).await?,
    ))
}

/// One contact with its identities.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path)), responses((status = 200, body = ContactOut)))]
pub async fn get_contact(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<ContactOut>> {
    Ok(Json(contacts::get(&s, &p, id).await?))
}

/// Rename a contact or change the staff note.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path)), request_body = ContactPatch, responses((status = 200, body = ContactOut), (status = 400, body = crate::error::ErrorOut), (status = 403, body = crate::error::ErrorOut), (status = 404, body = crate::error::ErrorOut)))]
pub async fn update_contact(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<ContactPatch>,
) -> AppResult<Json<ContactOut>> {
    Ok(Json(contacts::update(&s, &p, id, i).await?))
}

/// Merge request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MergeIn {
    /// The contact that remains.
    pub into_id: Uuid,
}

/// Merge this contact into another.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/merge", tag = "contacts", params(("id" = Uuid, Path)), request_body = MergeIn, responses((status = 200, body = ContactOut)))]
pub async fn merge_contact(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(m): AppJson<MergeIn>,
) -> AppResult<Json<ContactOut>> {
    Ok(Json(contacts::merge(&s, &p, id, m.into_id).await?))
}

/// Undo the merge of this contact.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/unmerge", tag = "contacts", params(("id" = Uuid, Path)), responses((status = 200, body = ContactOut)))]
pub async fn unmerge_contact(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<ContactOut>> {
    Ok(Json(contacts::unmerge(&s, &p, id).await?))
}

/// Labels.
#[utoipa::path(get, path = "/api/v1/labels", tag = "settings", responses((status = 200, body = Vec<LabelOut>)))]
pub async fn list_labels(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<LabelOut>>> {
    Ok(Json(settings::list_labels(&s, &p).await?))
}

/// Create a label.
#[utoipa::path(post, path = "/api/v1/labels", tag = "settings", request_body = LabelIn, responses((status = 201, body = LabelOut)))]
pub async fn create_label(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<LabelIn>,
) -> AppResult<(StatusCode, Json<LabelOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(settings::create_label(&s, &p, i).await?),
    ))
}

/// Delete a label.
#[utoipa::path(delete, path = "/api/v1/labels/{id}", tag = "settings", params(("id" = Uuid, Path)), responses((status = 204)))]
pub async fn delete_label(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    settings::delete_label(&s, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filter of the canned responses.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CannedFilter {
    /// Only this category.
    pub category: Option<String>,
}

/// Canned responses.
#[utoipa::path(get, path = "/api/v1/canned-responses", tag = "settings", params(CannedFilter), responses((status = 200, body = Vec<CannedOut>)))]
pub async fn list_canned(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<CannedFilter>,
) -> AppResult<Json<Vec<CannedOut>>> {
    Ok(Json(settings::list_canned(&s, &p, f.category).await?))
}

/// Create a canned response.
#[utoipa::path(post, path = "/api/v1/canned-responses", tag = "settings", request_body = CannedIn, responses((status = 201, body = CannedOut)))]
pub async fn create_canned(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<CannedIn>,
) -> AppResult<(StatusCode, Json<CannedOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(settings::create_canned(&s, &p, i).await?),
    ))
}

/// Change a canned response.
#[utoipa::path(put, path = "/api/v1/canned-responses/{id}", tag = "settings", params(("id" = Uuid, Path)), request_body = CannedIn, responses((status = 200, body = CannedOut)))]
pub async fn update_canned(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<CannedIn>,
) -> AppResult<Json<CannedOut>> {
    Ok(Json(settings::update_canned(&s, &p, id, i).await?))
}

/// Delete a canned response.
#[utoipa::path(delete, path = "/api/v1/canned-responses/{id}", tag = "settings", params(("id" = Uuid, Path)), responses((status = 204)))]
pub async fn delete_canned(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    settings::delete_canned(&s, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list_conversations))
        .route(
            "/api/v1/conversations/{id}",
            get(get_conversation).patch(update_conversation),
        )
        .route("/api/v1/conversations/{id}/read", post(read_conversation))
        .route(
            "/api/v1/conversations/{id}/messages",
            get(list_messages).post(create_reply),
        )
        .route("/api/v1/conversations/{id}/notes", post(create_note))
        .route("/api/v1/messages/{id}/revisions", get(message_revisions))
        .route("/api/v1/messages/{id}/private-reply", post(private_reply))
        .route("/api/v1/messages/{id}/hide", post(hide_comment))
        .route("/api/v1/messages/{id}", delete(delete_comment))
        .route("/api/v1/contacts", get(search_contacts))
        .route(
            "/api/v1/contacts/{id}",
            get(get_contact).patch(update_contact),
        )
        .route("/api/v1/contacts/{id}/merge", post(merge_contact))
        .route("/api/v1/contacts/{id}/unmerge", post(unmerge_contact))
        .route("/api/v1/labels", get(list_labels).post(create_label))
        .route("/api/v1/labels/{id}", delete(delete_label))
        .route(
            "/api/v1/canned-responses",
            get(list_canned).post(create_canned),
        )
        .route(
            "/api/v1/canned-responses/{id}",
            put(update_canned).delete(delete_canned),
        )
}
