//! People and access: users (argon2id), workspaces, memberships and roles, cookie sessions
//! (stored hashed, with a CSRF token), API keys (stored hashed), the login limiter and the
//! first-run setup.

use std::net::IpAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::{random_token, token_hash};
use crate::domain::role::{Permission, Role};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::entities::{api_key, membership, session, user, workspace};

/// Who is calling, in which workspace, with which role.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user (None for API keys).
    pub user_id: Option<Uuid>,
    /// The workspace every query is scoped to.
    pub workspace_id: Uuid,
    /// Role in that workspace.
    pub role: Role,
    /// The session, for cookie callers.
    pub session_id: Option<Uuid>,
    /// The CSRF token bound to the session.
    pub csrf_token: Option<String>,
    /// May see events that belong to no workspace (the instance's first owner).
    pub instance_admin: bool,
}

impl Principal {
    /// 403 unless the role has `perm`.
    pub fn require(&self, perm: Permission) -> AppResult<()> {
        if self.role.can(perm) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "forbidden",
                format!("the {} role may not do this", self.role),
            ))
        }
    }
}

/// OWASP's argon2id minimum: m = 19 MiB, t = 2, p = 1.
fn argon() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
    )
}

/// Hash a password (argon2id, random salt) on the blocking pool.
pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| argon().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Login request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginIn {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Workspace to open (default: the first one).
    #[serde(default)]
    pub workspace_id: Option<Uuid>,
}

/// First-run setup request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetupIn {
    /// The one-time token printed to the console.
    pub token: String,
    /// Owner's name.
    pub name: String,
    /// Owner's email.
    pub email: String,
    /// Owner's password (8+ characters).
    pub password: String,
    /// Name of the first workspace.
    pub workspace_name: String,
}

/// A user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
}

/// A workspace.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceOut {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// URL-safe name.
    pub slug: String,
}

/// A workspace the user belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceRoleOut {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Role there.
    pub role: Role,
}

/// The signed-in user, workspace and role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeOut {
    /// User.
    pub user: UserOut,
    /// Current workspace.
    pub workspace: WorkspaceOut,
    /// Role in it.
    pub role: Role,
    /// Send as `X-CSRF-Token` on every state-changing request.
    pub csrf_token: String,
    /// All workspaces of the user.
    pub workspaces: Vec<WorkspaceRoleOut>,
}

/// A new session: the cookie value and what to show.
pub struct NewSession {
    /// Cookie value (only its hash is stored).
    pub token: String,
    /// Lifetime.
    pub max_age: Duration,
    /// Body.
    pub me: MeOut,
}

fn check_limit<K: std::hash::Hash + Eq + Clone>(
    limiter: &governor::DefaultKeyedRateLimiter<K>,
    key: &K,
) -> AppResult<()> {
    limiter
        .check_key(key)
        .map_err(|not_until| AppError::RateLimited {
            retry_after: not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            )),
        })
}

/// `POST /auth/login`, limited per account and per IP.
#[tracing::instrument(skip_all)]
pub async fn login(state: &AppState, input: LoginIn, ip: IpAddr) -> AppResult<NewSession> {
    let email = input.email.trim().to_lowercase();
    check_limit(&state.limits.login_ip, &ip)?;
    check_limit(&state.limits.login_account, &email)?;
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db.read)
        .await?;
    let bad = || AppError::unauthorized("invalid_credentials", "wrong email or password");
    let Some(u) = found else {
        // Same cost as a real check, so timing does not reveal which emails exist.
        let _ = hash_password(input.password).await;
        return Err(bad());
    };
    if !verify_password(input.password, u.password_hash.clone()).await {
        return Err(bad());
    }
    start_session(state, u, input.workspace_id).await
}

async fn start_session(
    state: &AppState,
    u: user::Model,
    ws: Option<Uuid>,
) -> AppResult<NewSession> {
    let mut q = membership::Entity::find().filter(membership::Column::UserId.eq(u.id));
    if let Some(ws) = ws {
        q = q.filter(membership::Column::WorkspaceId.eq(ws));
    }
    let m = q
        .order_by_asc(membership::Column::CreatedAt)
        .one(&state.db.write)
        .await?
        .ok_or_else(|| {
            AppError::forbidden("no_workspace", "this user belongs to no such workspace")
        })?;
    let token = random_token(32);
    let now = Utc::now();
    let ttl = Duration::hours(i64::from(state.cfg.session_ttl_hours));
    let s = session::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(token_hash(&token)),
        user_id: Set(u.id),
        workspace_id: Set(m.workspace_id),
        csrf_token: Set(random_token(24)),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        last_seen_at: Set(now),
    }
    .insert(&state.db.write)
    .await?;
    let p = Principal {
        user_id: Some(u.id),
        workspace_id: m.workspace_id,
        role: m
            .role
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?,
        session_id: Some(s.id),
        csrf_token: Some(s.csrf_token),
        instance_admin: u.is_instance_admin,
    };
    let me = me(state, &p).await?;
    Ok(NewSession {
        token,
        max_age: ttl,
        me,
    })
}

/// `GET /auth/me`.
pub async fn me(state: &AppState, p: &Principal) -> AppResult<MeOut> {
    let uid = p
        .user_id
        .ok_or_else(|| AppError::forbidden("not_a_user", "API keys have no user"))?;
    let u = user::Entity::find_by_id(uid)
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let ws = workspace::Entity::find_by_id(p.workspace_id)
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("workspace"))?;
    let mut workspaces = Vec::new();
    for (m, w) in membership::Entity::find()
        .filter(membership::Column::UserId.eq(uid))
        .find_also_related(workspace::Entity)
        .all(&state.db.write)
        .await?
    {
        if let (Some(w), Ok(role)) = (w, m.role.parse()) {
            workspaces.push(WorkspaceRoleOut {
                id: w.id,
                name: w.name,
                role,
            });
        }
    }
    Ok(MeOut {
        user: UserOut {
            id: u.id,
            email: u.email,
            name: u.name,
        },
        workspace: WorkspaceOut {
            id: ws.id,
            name: ws.name,
            slug: ws.slug,
        },
        role: p.role,
        csrf_token: p.csrf_token.clone().unwrap_or_default(),
        workspaces,
    })
}

/// `POST /auth/logout`.
pub async fn logout(state: &AppState, p: &Principal) -> AppResult<()> {
    if let Some(id) = p.session_id {
        session::Entity::delete_by_id(id)
            .exec(&state.db.write)
            .await?;
    }
    Ok(())
}

/// The principal behind a session cookie, if the session is live.
pub async fn principal_from_session(state: &AppState, token: &str) -> AppResult<Option<Principal>> {
    let Some(s) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(token_hash(token)))
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .one(&state.db.read)
        .await?
    else {
        return Ok(None);
    };
    let Some(m) = membership::Entity::find()
        .filter(membership::Column::UserId.eq(s.user_id))
        .filter(membership::Column::WorkspaceId.eq(s.workspace_id))
        .one(&state.db.read)
        .await?
    else {
        return Ok(None);
    };
    let admin = user::Entity::find_by_id(s.user_id)
        .one(&state.db.read)
        .await?
        .is_some_and(|u| u.is_instance_admin);
    Ok(Some(Principal {
        user_id: Some(s.user_id),
        workspace_id: s.workspace_id,
        role: m
            .role
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?,
        session_id: Some(s.id),
        csrf_token: Some(s.csrf_token),
        instance_admin: admin,
    }))
}

/// The principal behind an API key, if it exists and is not revoked.
pub async fn principal_from_api_key(state: &AppState, key: &str) -> AppResult<Option<Principal>> {
    let Some(k) = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(token_hash(key)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(&state.db.read)
        .await?
    else {
        return Ok(None);
    };
    // Record use at most once a minute, so a busy integration does not write on every call.
    let now = Utc::now();
    if k.last_used_at
        .is_none_or(|t| now - t > Duration::minutes(1))
    {
        api_key::Entity::update_many()
            .col_expr(
                api_key::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(api_key::Column::Id.eq(k.id))
            .exec(&state.db.write)
            .await?;
    }
    Ok(Some(Principal {
        user_id: None,
        workspace_id: k.workspace_id,
        role: k
            .role
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?,
        session_id: None,
        csrf_token: None,
        instance_admin: false,
    }))
}

fn slugify(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() {
        "workspace".to_owned()
    } else {
        s
    }
}

/// Validate an email address lightly (one `@`, a dot in the domain).
fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
}

/// Create (or find) a workspace by name and a user in it with `role`. Used by the CLI, the
/// setup page, the demo and tests. The very first user becomes the instance admin.
pub async fn create_user(
    state_db: &crate::store::Db,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
    workspace_name: &str,
) -> AppResult<(user::Model, workspace::Model)> {
    let email = email.trim().to_lowercase();
    if !valid_email(&email) {
        return Err(AppError::bad_request(
            "invalid_email",
            "email address is not valid",
        ));
    }
    if password.chars().count() < 8 {
        return Err(AppError::bad_request(
            "weak_password",
            "password must have at least 8 characters",
        ));
    }
    let hash = hash_password(password.to_owned()).await?;
    let now = Utc::now();
    let txn = state_db.write.begin().await?;
    let first = user::Entity::find().count(&txn).await? == 0;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let slug = slugify(workspace_name);
    let ws = match workspace::Entity::find()
        .filter(workspace::Column::Slug.eq(&slug))
        .one(&txn)
        .await?
    {
        Some(w) => w,
        None => {
            workspace::ActiveModel {
                id: Set(Uuid::now_v7()),
                name: Set(workspace_name.trim().to_owned()),
                slug: Set(slug),
                created_at: Set(now),
                settings: Set(None),
            }
            .insert(&txn)
            .await?
        }
    };
    let u = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        name: Set(if name.trim().is_empty() {
            "Owner".to_owned()
        } else {
            name.trim().to_owned()
        }),
        password_hash: Set(hash),
        is_instance_admin: Set(first),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    add_membership(&txn, ws.id, u.id, role).await?;
    txn.commit().await?;
    Ok((u, ws))
}

async fn add_membership(
    db: &impl ConnectionTrait,
    ws: Uuid,
    user: Uuid,
    role: Role,
) -> Result<(), sea_orm::DbErr> {
    membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws),
        user_id: Set(user),
        role: Set(role.as_str().to_owned()),
        available: Set(true),
        created_at: Set(Utc::now()),
        max_open: Set(None),
        last_assigned_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Whether any user exists.
pub async fn has_users(db: &crate::store::Db) -> AppResult<bool> {
    Ok(user::Entity::find().count(&db.read).await? > 0)
}

/// `POST /setup`: create the first owner with the one-time token, then sign in.
pub async fn setup(state: &AppState, input: SetupIn) -> AppResult<NewSession> {
    let expected = state.setup_token.lock().expect("setup lock").clone();
    let ok = expected
        .as_deref()
        .is_some_and(|t| crate::crypto::token_hash(t) == crate::crypto::token_hash(&input.token));
    if !ok || has_users(&state.db).await? {
        return Err(AppError::forbidden(
            "setup_closed",
            "setup link is invalid or already used",
        ));
    }
    let (u, ws) = create_user(
        &state.db,
        &input.email,
        &input.password,
        &input.name,
        Role::Owner,
        &input.workspace_name,
    )
    .await?;
    *state.setup_token.lock().expect("setup lock") = None;
    start_session(state, u, Some(ws.id)).await
}

/// A member of the workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    /// Membership id.
    pub id: Uuid,
    /// User.
    pub user: UserOut,
    /// Role.
    pub role: Role,
    /// Takes new assignments.
    pub available: bool,
    /// Cap on open items (`None`: the workspace default).
    pub max_open: Option<i32>,
}

/// Invite (create) a member.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberIn {
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Initial password (8+ characters); required for a new user.
    pub password: Option<String>,
    /// Role.
    pub role: Role,
}

/// Change a member.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberPatch {
    /// New role.
    pub role: Option<Role>,
    /// Availability for assignment.
    pub available: Option<bool>,
    /// Cap on open items; `null` returns to the workspace default.
    #[serde(default, deserialize_with = "present_i32")]
    #[schema(value_type = Option<i32>)]
    pub max_open: Option<Option<i32>>,
}

/// Distinguish an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present_i32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i32>>, D::Error> {
    Ok(Some(Option::<i32>::deserialize(d)?))
}

/// `GET /members`.
pub async fn list_members(state: &AppState, p: &Principal) -> AppResult<Vec<MemberOut>> {
    p.require(Permission::ReadInbox)
        .or_else(|_| p.require(Permission::ManageMembers))?;
    let rows = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(p.workspace_id))
        .find_also_related(user::Entity)
        .order_by_asc(membership::Column::CreatedAt)
        .all(&state.db.read)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(m, u)| {
            let u = u?;
            Some(MemberOut {
                id: m.id,
                user: UserOut {
                    id: u.id,
                    email: u.email,
                    name: u.name,
                },
                role: m.role.parse().ok()?,
                available: m.available,
                max_open: m.max_open,
            })
        })
        .collect())
}

/// `POST /members`: add an existing user by email, or create one.
pub async fn add_member(state: &AppState, p: &Principal, input: MemberIn) -> AppResult<MemberOut> {
    p.require(Permission::ManageMembers)?;
    if input.role == Role::Owner && p.role != Role::Owner {
        return Err(AppError::forbidden(
            "forbidden",
            "only an owner may add owners",
        ));
    }
    let email = input.email.trim().to_lowercase();
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db.write)
        .await?;
    let u = match existing {
        Some(u) => u,
        None => {
            let pw = input.password.ok_or_else(|| {
                AppError::bad_request("password_required", "a new user needs a password")
            })?;
            if pw.chars().count() < 8 {
                return Err(AppError::bad_request(
                    "weak_password",
                    "password must have at least 8 characters",
                ));
            }
            if !valid_email(&email) {
                return Err(AppError::bad_request(
                    "invalid_email",
                    "email address is not valid",
                ));
            }
            user::ActiveModel {
                id: Set(Uuid::now_v7()),
                email: Set(email),
                name: Set(input.name.trim().to_owned()),
                password_hash: Set(hash_password(pw).await?),
                is_instance_admin: Set(false),
                created_at: Set(Utc::now()),
            }
            .insert(&state.db.write)
            .await?
        }
    };
    if membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(p.workspace_id))
        .filter(membership::Column::UserId.eq(u.id))
        .one(&state.db.write)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict("already a member".into()));
    }
    add_membership(&state.db.write, p.workspace_id, u.id, input.role).await?;
    list_members(state, p)
        .await?
        .into_iter()
        .find(|m| m.user.id == u.id)
        .ok_or(AppError::NotFound("member"))
}

/// `PATCH /members/{id}`.
pub async fn update_member(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: MemberPatch,
) -> AppResult<MemberOut> {
    p.require(Permission::ManageMembers)?;
    let m = membership::Entity::find_by_id(id)
        .filter(membership::Column::WorkspaceId.eq(p.workspace_id))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    let was_owner = m.role == "owner";
    let mut am: membership::ActiveModel = m.into();
    if let Some(r) = patch.role {
        if (r == Role::Owner || was_owner) && p.role != Role::Owner {
            return Err(AppError::forbidden(
                "forbidden",
                "only an owner may change owners",
            ));
        }
        am.role = Set(r.as_str().to_owned());
    }
    if let Some(a) = patch.available {
        am.available = Set(a);
    }
    if let Some(cap) = patch.max_open {
        if cap.is_some_and(|c| c < 1) {
            return Err(AppError::bad_request(
                "invalid_max_open",
                "max_open must be at least 1 (or null for the workspace default)",
            ));
        }
        am.max_open = Set(cap);
    }
    am.update(&state.db.write).await?;
    // More room or a member back on shift: queued work may go out now.
    crate::services::assignment::hand_out_quietly(state, p.workspace_id).await;
    list_members(state, p)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or(AppError::NotFound("member"))
}

/// `DELETE /members/{id}`.
pub async fn remove_member(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    p.require(Permission::ManageMembers)?;
    let m = membership::Entity::find_by_id(id)
        .filter(membership::Column::WorkspaceId.eq(p.workspace_id))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    if m.role == "owner" && p.role != Role::Owner {
        return Err(AppError::forbidden(
            "forbidden",
            "only an owner may remove owners",
        ));
    }
    membership::Entity::delete_by_id(id)
        .exec(&state.db.write)
        .await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(m.user_id))
        .filter(session::Column::WorkspaceId.eq(p.workspace_id))
        .exec(&state.db.write)
        .await?;
    Ok(())
}

/// An API key (the secret is shown once, at creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// First characters, to recognise it.
    pub prefix: String,
    /// Role the key acts with.
    pub role: Role,
    /// Last use (to the minute).
    pub last_used_at: Option<chrono::DateTime<Utc>>,
    /// The key itself: only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Created.
    pub created_at: chrono::DateTime<Utc>,
}

/// Create an API key.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyIn {
    /// Name.
    pub name: String,
    /// Role (default agent).
    pub role: Option<Role>,
}

/// `GET /api-keys`.
pub async fn list_api_keys(state: &AppState, p: &Principal) -> AppResult<Vec<ApiKeyOut>> {
    p.require(Permission::ManageMembers)?;
    Ok(api_key::Entity::find()
        .filter(api_key::Column::WorkspaceId.eq(p.workspace_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .order_by_asc(api_key::Column::CreatedAt)
        .all(&state.db.read)
        .await?
        .into_iter()
        .filter_map(|k| {
            Some(ApiKeyOut {
                id: k.id,
                name: k.name,
                prefix: k.prefix,
                role: k.role.parse().ok()?,
                key: None,
                last_used_at: k.last_used_at,
                created_at: k.created_at,
            })
        })
        .collect())
}

/// `POST /api-keys`.
pub async fn create_api_key(
    state: &AppState,
    p: &Principal,
    input: ApiKeyIn,
) -> AppResult<ApiKeyOut> {
    p.require(Permission::ManageMembers)?;
    let role = input.role.unwrap_or(Role::Agent);
    if role == Role::Owner {
        return Err(AppError::bad_request(
            "invalid_role",
            "API keys cannot be owners",
        ));
    }
    let key = format!("td_{}", random_token(32));
    let k = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        name: Set(input.name),
        prefix: Set(key[..10].to_owned()),
        key_hash: Set(token_hash(&key)),
        role: Set(role.as_str().to_owned()),
        created_by: Set(p.user_id),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&state.db.write)
    .await?;
    Ok(ApiKeyOut {
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        role,
        key: Some(key),
        last_used_at: None,
        created_at: k.created_at,
    })
}

/// `DELETE /api-keys/{id}`: revoke.
pub async fn revoke_api_key(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    p.require(Permission::ManageMembers)?;
    let k = api_key::Entity::find_by_id(id)
        .filter(api_key::Column::WorkspaceId.eq(p.workspace_id))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("api key"))?;
    let mut am: api_key::ActiveModel = k.into();
    am.revoked_at = Set(Some(Utc::now()));
    am.update(&state.db.write).await?;
    Ok(())
}
