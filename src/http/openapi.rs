//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::http::{
    admin, auth, connect, feedback, fulfillment, inbox, leads, media, orders, pipeline_webhooks,
    reports, webhooks, widget,
};
use crate::state::AppState;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tongdai",
        description = "Omnichannel inbox and integration hub for Vietnamese online sellers. Cookie sessions need `X-CSRF-Token` on state-changing requests; integrations use `Authorization: Bearer td_…`. Realtime: websocket `/api/ws?since=<seq>`, frames `{type, seq, data}`."
    ),
    paths(
        auth::login,
        auth::logout,
        auth::me,
        auth::setup_status,
        auth::setup,
        inbox::list_conversations,
        inbox::get_conversation,
        inbox::update_conversation,
        inbox::read_conversation,
        inbox::list_messages,
        inbox::create_reply,
        inbox::create_note,
        inbox::message_revisions,
        inbox::private_reply,
        inbox::hide_comment,
        inbox::delete_comment,
        media::get_media,
        inbox::search_contacts,
        inbox::get_contact,
        inbox::update_contact,
        inbox::merge_contact,
        inbox::unmerge_contact,
        inbox::list_labels,
        inbox::create_label,
        inbox::delete_label,
        inbox::list_canned,
        inbox::create_canned,
        inbox::update_canned,
        inbox::delete_canned,
        admin::list_members,
        admin::add_member,
        admin::update_member,
        admin::remove_member,
        admin::list_api_keys,
        admin::create_api_key,
        admin::revoke_api_key,
        admin::list_channel_accounts,
        admin::create_channel_account,
        admin::update_channel_account,
        admin::disable_channel_account,
        connect::start_connect,
        connect::facebook_callback,
        connect::start_oauth,
        connect::connectable,
        connect::oauth_callback,
        connect::list_managed_pages,
        connect::connect_pages,
        connect::disconnect_channel_account,
        connect::backfill_channel_account,
        admin::list_inbound_events,
        admin::replay_inbound_event,
        webhooks::receive_webhook,
    )
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] and the documents of the pipeline's route modules.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in [
        orders::Api::openapi(),
        pipeline_webhooks::Api::openapi(),
        feedback::Api::openapi(),
        fulfillment::Api::openapi(),
        leads::Api::openapi(),
        reports::Api::openapi(),
        widget::Api::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}
