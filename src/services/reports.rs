//! Reports: conversations and leads by channel and by day, first-response time, lead-to-order
//! conversion, deliveries and returns, complaints, and where new customers came from.
//!
//! Every figure is over local days `[from, to]` of one fixed UTC offset (the workspace's zone,
//! Vietnam by default). The queries filter and narrow in SQL (indexed workspace + time columns,
//! only the columns needed, sub-selects instead of id lists) and the day bucketing happens here
//! from the timestamps: the same code on SQLite and PostgreSQL, whose date functions differ.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, JoinType, PaginatorTrait, QueryFilter,
    QuerySelect, QueryTrait, RelationTrait, Statement,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::feedback::COMPLAINT_PENDING;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::state::AppState;
use crate::store::entities::{
    channel_account, conversation, feedback, lead, order, order_event, user,
};

/// The longest range, in days.
pub const MAX_DAYS: i64 = 366;

/// The query of `GET /reports`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First local day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last local day, included, `YYYY-MM-DD` (default: today).
    pub to: Option<String>,
    /// Time zone of the days: `Asia/Ho_Chi_Minh` (default), `Asia/Bangkok`, `Asia/Jakarta`,
    /// `Asia/Singapore`, `Asia/Manila`, `Asia/Tokyo`, `UTC`, or an offset like `+07:00`.
    pub tz: Option<String>,
}

/// A channel account the figures refer to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportChannel {
    /// The channel account.
    pub id: Uuid,
    /// `facebook`, `instagram`, `zalo`, `shopee`, …
    pub platform: String,
    /// The account's name (Page name, shop name).
    pub name: String,
}

/// A member the figures refer to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAgent {
    /// The user.
    pub id: Uuid,
    /// Their name.
    pub name: String,
}

/// A count for one channel (`channel_id` null: no channel, e.g. leads made through the API).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelCount {
    /// The channel account.
    pub channel_id: Option<Uuid>,
    /// How many.
    pub count: u64,
}

/// Counts of one local day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// All channels.
    pub count: u64,
    /// Per channel (only channels with a non-zero count).
    pub by_channel: Vec<ChannelCount>,
}

/// A count for one key (a lead source, a complaint category, a referral source).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCount {
    /// The key.
    pub key: String,
    /// How many.
    pub count: u64,
}

/// Volumes over the range: total, by channel, by day.
#[derive(Debug, Serialize, ToSchema)]
pub struct Volume {
    /// Total.
    pub total: u64,
    /// By channel, most first.
    pub by_channel: Vec<ChannelCount>,
    /// Every day of the range, in order (zeros included).
    pub by_day: Vec<DayCount>,
}

/// New leads, with their sources.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadVolume {
    /// Total, by channel, by day.
    #[serde(flatten)]
    pub volume: Volume,
    /// By source (`message`, `comment`, `api`, `shop`), most first.
    pub by_source: Vec<KeyCount>,
}

/// First-response times of a group of conversations, in seconds.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ResponseStats {
    /// Conversations answered.
    pub count: u64,
    /// Median (nearest rank), seconds; null when none.
    pub median_seconds: Option<i64>,
    /// 90th percentile (nearest rank), seconds; null when none.
    pub p90_seconds: Option<i64>,
}

/// First-response stats of a channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelResponse {
    /// The channel account.
    pub channel_id: Uuid,
    /// The figures.
    #[serde(flatten)]
    pub stats: ResponseStats,
}

/// First-response stats of an agent (whose reply was the first).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentResponse {
    /// The user.
    pub user_id: Uuid,
    /// The figures.
    #[serde(flatten)]
    pub stats: ResponseStats,
}

/// First-response time of the conversations opened in the range: from the customer's first
/// message to the first reply an agent wrote after it (automatic, system and page-side messages,
/// notes and failed sends do not count).
#[derive(Debug, Serialize, ToSchema)]
pub struct FirstResponse {
    /// All channels.
    #[serde(flatten)]
    pub overall: ResponseStats,
    /// Conversations with a customer message and no agent reply yet.
    pub unanswered: u64,
    /// By channel.
    pub by_channel: Vec<ChannelResponse>,
    /// By agent, fastest median first.
    pub by_agent: Vec<AgentResponse>,
}

/// Lead-to-order figures of a group of leads created in the range.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Conversion {
    /// Leads created.
    pub leads: u64,
    /// Of them, at stage `won`.
    pub won: u64,
    /// Of them, with at least one confirmed order.
    pub converted: u64,
    /// Confirmed orders made from them.
    pub orders_confirmed: u64,
    /// `converted / leads`, 0–1; null without leads.
    pub rate: Option<f64>,
}

/// Conversion of a channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelConversion {
    /// The channel account (null: leads without one).
    pub channel_id: Option<Uuid>,
    /// The figures.
    #[serde(flatten)]
    pub conversion: Conversion,
}

/// Conversion of an agent (the lead's assignee).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentConversion {
    /// The user (null: unassigned leads).
    pub user_id: Option<Uuid>,
    /// The figures.
    #[serde(flatten)]
    pub conversion: Conversion,
}

/// Lead-to-order conversion.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversionReport {
    /// All leads.
    #[serde(flatten)]
    pub overall: Conversion,
    /// By channel, most leads first.
    pub by_channel: Vec<ChannelConversion>,
    /// By agent, most leads first.
    pub by_agent: Vec<AgentConversion>,
}

/// Delivered and returned orders of a group.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Outcomes {
    /// Orders delivered.
    pub delivered: u64,
    /// Orders returned.
    pub returned: u64,
    /// COD of the delivered orders (VND).
    pub delivered_cod: i64,
    /// COD of the returned orders (VND).
    pub returned_cod: i64,
    /// `returned / (delivered + returned)`, 0–1; null when neither.
    pub return_rate: Option<f64>,
}

/// Outcomes of one local day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayOutcomes {
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// The figures.
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// Outcomes of one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelOutcomes {
    /// The channel account (null: orders without one).
    pub channel_id: Option<Uuid>,
    /// The figures.
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// Orders that reached `delivered` or `returned` in the range (by the day they did).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrdersReport {
    /// All orders.
    #[serde(flatten)]
    pub overall: Outcomes,
    /// Every day of the range, in order.
    pub by_day: Vec<DayOutcomes>,
    /// By channel.
    pub by_channel: Vec<ChannelOutcomes>,
}

/// Complaints: unhappy feedback answered in the range.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintsReport {
    /// Answers rated 1 or 2 (each opened or joined a complaint).
    pub total: u64,
    /// Their categories (`delivery`, `product_quality`, `online_staff`, `store_staff`,
    /// `sales_policy`, or `pending` when not chosen yet), most first.
    pub by_category: Vec<KeyCount>,
    /// Every answer of the range by rating, `1` to `5`.
    pub ratings: Vec<KeyCount>,
    /// Conversations with a complaint open now (whatever the range).
    pub open_now: u64,
}

/// Where new customers came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct FoundUs {
    /// Contacts first seen in the range (merged duplicates not counted).
    pub new_contacts: u64,
    /// The channel each of them first wrote on, most first.
    pub by_channel: Vec<ChannelCount>,
    /// Conversations opened in the range from an ad, an `m.me` link, a post…: by
    /// `SOURCE` or `SOURCE · ref` (the link's `ref`, else the ad id), most first.
    pub referrals: Vec<KeyCount>,
}

/// The whole report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportOut {
    /// First local day.
    pub from: String,
    /// Last local day (included).
    pub to: String,
    /// The time zone asked for (or the default).
    pub tz: String,
    /// Its offset from UTC, minutes.
    pub utc_offset_minutes: i32,
    /// The workspace's channel accounts.
    pub channels: Vec<ReportChannel>,
    /// The members the figures name.
    pub agents: Vec<ReportAgent>,
    /// New conversations.
    pub conversations: Volume,
    /// New leads.
    pub leads: LeadVolume,
    /// First-response time.
    pub first_response: FirstResponse,
    /// Lead-to-order conversion.
    pub conversion: ConversionReport,
    /// Delivered vs returned.
    pub orders: OrdersReport,
    /// Complaint categories and ratings.
    pub complaints: ComplaintsReport,
    /// Where customers found us.
    pub found_us: FoundUs,
}

/// The offset of a zone name or `±HH:MM` (zones without daylight saving only).
pub fn parse_tz(tz: &str) -> Option<FixedOffset> {
    let hours = |h: i32| FixedOffset::east_opt(h * 3600);
    match tz {
        "UTC" | "Etc/UTC" | "Z" => hours(0),
        "Asia/Ho_Chi_Minh" | "Asia/Saigon" | "Asia/Bangkok" | "Asia/Jakarta"
        | "Asia/Phnom_Penh" | "Asia/Vientiane" => hours(7),
        "Asia/Singapore" | "Asia/Kuala_Lumpur" | "Asia/Manila" | "Asia/Shanghai"
        | "Asia/Hong_Kong" | "Asia/Taipei" => hours(8),
        "Asia/Tokyo" | "Asia/Seoul" => hours(9),
        _ => {
            let (sign, rest) = match tz.as_bytes().first()? {
                b'+' => (1, &tz[1..]),
                b'-' => (-1, &tz[1..]),
                _ => return None,
            };
            let (h, m) = rest.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
            if h > 14 || m > 59 {
                return None;
            }
            FixedOffset::east_opt(sign * (h * 3600 + m * 60))
        }
    }
}

/// The nearest-rank `p` percentile (0 < p ≤ 1) of sorted `v`.
pub fn percentile(v: &[i64], p: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

fn stats(mut v: Vec<i64>) -> ResponseStats {
    v.sort_unstable();
    ResponseStats {
        count: v.len() as u64,
        median_seconds: percentile(&v, 0.5),
        p90_seconds: percentile(&v, 0.9),
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// (channel, first customer message, first agent reply after it, its author).
type FirstRow = (Uuid, DateTime<Utc>, Option<DateTime<Utc>>, Option<Uuid>);
/// (order, new status, when, channel, COD).
type OutcomeRow = (Uuid, Option<String>, DateTime<Utc>, Option<Uuid>, i64);

/// The range: local days and their UTC bounds.
struct Range {
    from: NaiveDate,
    to: NaiveDate,
    offset: FixedOffset,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Range {
    fn parse(q: &ReportQuery, now: DateTime<Utc>) -> AppResult<Range> {
        let tz = q.tz.as_deref().unwrap_or("Asia/Ho_Chi_Minh");
        let offset = parse_tz(tz).ok_or_else(|| {
            AppError::bad_request(
                "invalid_tz",
                "tz is a zone like Asia/Ho_Chi_Minh or an offset like +07:00",
            )
        })?;
        let day = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                AppError::bad_request("invalid_date", format!("{s:?} is not a YYYY-MM-DD date"))
            })
        };
        let to = match q.to.as_deref() {
            Some(s) => day(s)?,
            None => now.with_timezone(&offset).date_naive(),
        };
        let from = match q.from.as_deref() {
            Some(s) => day(s)?,
            None => to - Duration::days(29),
        };
        if from > to {
            return Err(AppError::bad_request("invalid_range", "from is after to"));
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(AppError::bad_request(
                "invalid_range",
                format!("a report covers at most {MAX_DAYS} days"),
            ));
        }
        let midnight = |d: NaiveDate| {
            offset
                .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| AppError::bad_request("invalid_date", "date out of range"))
        };
        let start = midnight(from)?;
        let end = midnight(to.succ_opt().unwrap_or(to))?;
        Ok(Range {
            from,
            to,
            offset,
            start,
            end,
        })
    }

    fn days(&self) -> usize {
        ((self.to - self.from).num_days() + 1) as usize
    }

    /// The index of the local day of `t` (in range).
    fn day_of(&self, t: DateTime<Utc>) -> Option<usize> {
        let d = t.with_timezone(&self.offset).date_naive();
        let i = (d - self.from).num_days();
        (0..self.days() as i64).contains(&i).then_some(i as usize)
    }

    /// The index of local day `YYYY-MM-DD` (in range).
    fn day_index(&self, day: &str) -> Option<usize> {
        let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        let i = (d - self.from).num_days();
        (0..self.days() as i64).contains(&i).then_some(i as usize)
    }

    fn day_name(&self, i: usize) -> String {
        (self.from + Duration::days(i as i64))
            .format("%Y-%m-%d")
            .to_string()
    }
}

fn ranked<K: Ord + Clone>(m: HashMap<K, u64>) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn channel_counts(m: HashMap<Option<Uuid>, u64>) -> Vec<ChannelCount> {
    ranked(m)
        .into_iter()
        .map(|(channel_id, count)| ChannelCount { channel_id, count })
        .collect()
}

fn key_counts(m: HashMap<String, u64>) -> Vec<KeyCount> {
    ranked(m)
        .into_iter()
        .map(|(key, count)| KeyCount { key, count })
        .collect()
}

/// Total, by channel and by day of `(channel, local day, count)` groups.
fn volume(r: &Range, groups: &[(Option<Uuid>, String, u64)]) -> Volume {
    let mut by_channel: HashMap<Option<Uuid>, u64> = HashMap::new();
    let mut days: Vec<HashMap<Option<Uuid>, u64>> = vec![HashMap::new(); r.days()];
    let mut total = 0;
    for (ch, day, n) in groups {
        let Some(i) = r.day_index(day) else { continue };
        total += n;
        *by_channel.entry(*ch).or_default() += n;
        *days[i].entry(*ch).or_default() += n;
    }
    Volume {
        total,
        by_channel: channel_counts(by_channel),
        by_day: days
            .into_iter()
            .enumerate()
            .map(|(i, m)| DayCount {
                day: r.day_name(i),
                count: m.values().sum(),
                by_channel: channel_counts(m),
            })
            .collect(),
    }
}

/// The SQL of the local day (`YYYY-MM-DD`) of timestamp column `col` at `offset_minutes`.
fn day_sql(backend: DbBackend, col: &str, offset_minutes: i32) -> String {
    match backend {
        DbBackend::Postgres => format!(
            "to_char(({col} AT TIME ZONE 'UTC') + interval '{offset_minutes} minutes', 'YYYY-MM-DD')"
        ),
        _ => format!("date({col}, '{offset_minutes:+} minutes')"),
    }
}

/// `$1, $2, $3` on PostgreSQL, `?` three times elsewhere.
fn placeholders(backend: DbBackend) -> [&'static str; 3] {
    if backend == DbBackend::Postgres {
        ["$1", "$2", "$3"]
    } else {
        ["?", "?", "?"]
    }
}

fn add_outcome(o: &mut Outcomes, delivered: bool, cod: i64) {
    if delivered {
        o.delivered += 1;
        o.delivered_cod += cod;
    } else {
        o.returned += 1;
        o.returned_cod += cod;
    }
    o.return_rate = ratio(o.returned, o.delivered + o.returned);
}

/// `GET /reports`: the report of local days `[from, to]`.
pub async fn report(state: &AppState, p: &Principal, q: ReportQuery) -> AppResult<ReportOut> {
    p.require(Permission::ReadReports)?;
    let r = Range::parse(&q, Utc::now())?;
    let db = &state.db.read;
    let ws = p.workspace_id;

    let channels: Vec<ReportChannel> = channel_account::Entity::find()
        .filter(channel_account::Column::WorkspaceId.eq(ws))
        .all(db)
        .await?
        .into_iter()
        .map(|c| ReportChannel {
            id: c.id,
            platform: c.platform,
            name: c.name,
        })
        .collect();

    // Conversations opened in the range, grouped by channel and local day in SQL.
    let backend = db.get_database_backend();
    let ph = placeholders(backend);
    let offset_minutes = r.offset.local_minus_utc() / 60;
    let bounds = || -> [sea_orm::Value; 3] { [ws.into(), r.start.into(), r.end.into()] };
    let sql = format!(
        "SELECT channel_account_id AS ch, {day} AS day, COUNT(*) AS n FROM conversation \
         WHERE workspace_id = {} AND created_at >= {} AND created_at < {} GROUP BY channel_account_id, {day}",
        ph[0],
        ph[1],
        ph[2],
        day = day_sql(backend, "created_at", offset_minutes),
    );
    let mut groups = Vec::new();
    for row in db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, bounds()))
        .await?
    {
        let ch: Option<Uuid> = row.try_get("", "ch")?;
        let day: String = row.try_get("", "day")?;
        let n: i64 = row.try_get("", "n")?;
        groups.push((ch, day, u64::try_from(n).unwrap_or(0)));
    }
    let conversations = volume(&r, &groups);
    let referred: Vec<Option<serde_json::Value>> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Referral)
        .filter(conversation::Column::WorkspaceId.eq(ws))
        .filter(conversation::Column::CreatedAt.gte(r.start))
        .filter(conversation::Column::CreatedAt.lt(r.end))
        .filter(conversation::Column::Referral.is_not_null())
        .into_tuple()
        .all(db)
        .await?;

    // Referrals of those conversations.
    let mut referrals: HashMap<String, u64> = HashMap::new();
    for v in referred.iter().flatten() {
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let source = field("source")
            .map(|s| s.to_uppercase())
            .unwrap_or_else(|| "UNKNOWN".into());
        let key = match field("ref_param").or_else(|| field("ad_id")) {
            Some(x) => format!("{source} · {x}"),
            None => source,
        };
        *referrals.entry(key).or_default() += 1;
    }

    // First response: per conversation opened in the range, its first customer message and the
    // first agent reply after it. Correlated sub-selects walk the message index
    // (conversation_id, sent_at) a few rows per conversation, however long the threads are.
    let reply = |col: &str| {
        format!(
            "(SELECT m.{col} FROM message m WHERE m.conversation_id = x.id AND m.sent_at >= x.first_in \
             AND m.direction = 'out' AND m.sender_kind = 'agent' AND m.kind <> 'note' AND m.status <> 'failed' \
             ORDER BY m.sent_at LIMIT 1)"
        )
    };
    let sql = format!(
        "SELECT x.channel_account_id AS ch, x.first_in, {reply_at} AS reply_at, {reply_by} AS reply_by FROM \
         (SELECT c.id, c.channel_account_id, (SELECT MIN(m.sent_at) FROM message m WHERE m.conversation_id = c.id AND m.direction = 'in') AS first_in \
          FROM conversation c WHERE c.workspace_id = {} AND c.created_at >= {} AND c.created_at < {}) x \
         WHERE x.first_in IS NOT NULL",
        ph[0],
        ph[1],
        ph[2],
        reply_at = reply("sent_at"),
        reply_by = reply("author_user_id"),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, bounds()))
        .await?;
    let mut firsts: Vec<FirstRow> = Vec::with_capacity(rows.len());
    for row in rows {
        firsts.push((
            row.try_get("", "ch")?,
            row.try_get("", "first_in")?,
            row.try_get("", "reply_at")?,
            row.try_get("", "reply_by")?,
        ));
    }
    let mut all = Vec::new();
    let mut per_channel: HashMap<Uuid, Vec<i64>> = HashMap::new();
    let mut per_agent: HashMap<Uuid, Vec<i64>> = HashMap::new();
    let mut unanswered = 0;
    for (ch, first_in, reply_at, author) in firsts {
        let Some(at) = reply_at else {
            unanswered += 1;
            continue;
        };
        let secs = (at - first_in).num_seconds();
        all.push(secs);
        per_channel.entry(ch).or_default().push(secs);
        if let Some(a) = author {
            per_agent.entry(a).or_default().push(secs);
        }
    }
    let mut fr_by_channel: Vec<ChannelResponse> = per_channel
        .into_iter()
        .map(|(channel_id, v)| ChannelResponse {
            channel_id,
            stats: stats(v),
        })
        .collect();
    fr_by_channel.sort_by(|a, b| {
        b.stats
            .count
            .cmp(&a.stats.count)
            .then(a.channel_id.cmp(&b.channel_id))
    });
    let mut fr_by_agent: Vec<AgentResponse> = per_agent
        .into_iter()
        .map(|(user_id, v)| AgentResponse {
            user_id,
            stats: stats(v),
        })
        .collect();
    fr_by_agent.sort_by(|a, b| {
        a.stats
            .median_seconds
            .cmp(&b.stats.median_seconds)
            .then(a.user_id.cmp(&b.user_id))
    });
    let first_response = FirstResponse {
        overall: stats(all),
        unanswered,
        by_channel: fr_by_channel,
        by_agent: fr_by_agent,
    };

    // Leads created in the range, and the confirmed orders made from them.
    let in_range_leads = lead::Entity::find()
        .select_only()
        .column(lead::Column::Id)
        .filter(lead::Column::WorkspaceId.eq(ws))
        .filter(lead::Column::CreatedAt.gte(r.start))
        .filter(lead::Column::CreatedAt.lt(r.end));
    let leads_rows: Vec<(Uuid, Option<Uuid>, Option<Uuid>, String)> = lead::Entity::find()
        .select_only()
        .column(lead::Column::Id)
        .column(lead::Column::ChannelAccountId)
        .column(lead::Column::AssigneeId)
        .column(lead::Column::Stage)
        .filter(lead::Column::WorkspaceId.eq(ws))
        .filter(lead::Column::CreatedAt.gte(r.start))
        .filter(lead::Column::CreatedAt.lt(r.end))
        .into_tuple()
        .all(db)
        .await?;
    let lead_orders: Vec<(Option<Uuid>, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::LeadId)
        .column_as(Expr::col(order::Column::Id).count(), "n")
        .filter(order::Column::WorkspaceId.eq(ws))
        .filter(order::Column::ConfirmedAt.is_not_null())
        .filter(order::Column::LeadId.in_subquery(in_range_leads.into_query()))
        .group_by(order::Column::LeadId)
        .into_tuple()
        .all(db)
        .await?;
    let orders_of: HashMap<Uuid, u64> = lead_orders
        .into_iter()
        .filter_map(|(l, n)| l.map(|l| (l, u64::try_from(n).unwrap_or(0))))
        .collect();
    let sql = format!(
        "SELECT channel_account_id AS ch, {day} AS day, source, COUNT(*) AS n FROM lead \
         WHERE workspace_id = {} AND created_at >= {} AND created_at < {} GROUP BY channel_account_id, {day}, source",
        ph[0],
        ph[1],
        ph[2],
        day = day_sql(backend, "created_at", offset_minutes),
    );
    let mut lead_groups = Vec::new();
    let mut sources: HashMap<String, u64> = HashMap::new();
    for row in db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, bounds()))
        .await?
    {
        let ch: Option<Uuid> = row.try_get("", "ch")?;
        let day: String = row.try_get("", "day")?;
        let source: String = row.try_get("", "source")?;
        let n = u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0);
        if r.day_index(&day).is_some() {
            *sources.entry(source).or_default() += n;
        }
        lead_groups.push((ch, day, n));
    }
    let mut overall = Conversion::default();
    let mut conv_by_channel: HashMap<Option<Uuid>, Conversion> = HashMap::new();
    let mut conv_by_agent: HashMap<Option<Uuid>, Conversion> = HashMap::new();
    for (id, ch, assignee, stage) in &leads_rows {
        let n = orders_of.get(id).copied().unwrap_or(0);
        for c in [
            &mut overall,
            conv_by_channel.entry(*ch).or_default(),
            conv_by_agent.entry(*assignee).or_default(),
        ] {
            c.leads += 1;
            c.won += u64::from(stage == "won");
            c.converted += u64::from(n > 0);
            c.orders_confirmed += n;
            c.rate = ratio(c.converted, c.leads);
        }
    }
    let leads = LeadVolume {
        volume: volume(&r, &lead_groups),
        by_source: key_counts(sources),
    };
    let mut by_channel: Vec<ChannelConversion> = conv_by_channel
        .into_iter()
        .map(|(channel_id, conversion)| ChannelConversion {
            channel_id,
            conversion,
        })
        .collect();
    by_channel.sort_by(|a, b| {
        b.conversion
            .leads
            .cmp(&a.conversion.leads)
            .then(a.channel_id.cmp(&b.channel_id))
    });
    let mut by_agent: Vec<AgentConversion> = conv_by_agent
        .into_iter()
        .map(|(user_id, conversion)| AgentConversion {
            user_id,
            conversion,
        })
        .collect();
    by_agent.sort_by(|a, b| {
        b.conversion
            .leads
            .cmp(&a.conversion.leads)
            .then(a.user_id.cmp(&b.user_id))
    });
    let conversion = ConversionReport {
        overall,
        by_channel,
        by_agent,
    };

    // Orders that became delivered or returned in the range.
    let outcomes: Vec<OutcomeRow> = order_event::Entity::find()
        .select_only()
        .column(order_event::Column::OrderId)
        .column(order_event::Column::ToStatus)
        .column(order_event::Column::CreatedAt)
        .column(order::Column::ChannelAccountId)
        .column(order::Column::CodAmount)
        .join(JoinType::InnerJoin, order_event::Relation::Order.def())
        .filter(order_event::Column::WorkspaceId.eq(ws))
        .filter(order_event::Column::Kind.eq("status"))
        .filter(order_event::Column::ToStatus.is_in(["delivered", "returned"]))
        .filter(order_event::Column::CreatedAt.gte(r.start))
        .filter(order_event::Column::CreatedAt.lt(r.end))
        .into_tuple()
        .all(db)
        .await?;
    let mut seen = HashSet::new();
    let mut o_all = Outcomes::default();
    let mut o_days: Vec<Outcomes> = (0..r.days()).map(|_| Outcomes::default()).collect();
    let mut o_channels: HashMap<Option<Uuid>, Outcomes> = HashMap::new();
    for (order_id, to_status, at, ch, cod) in outcomes {
        let Some(i) = r.day_of(at) else { continue };
        if !seen.insert(order_id) {
            continue;
        }
        let delivered = to_status.as_deref() == Some("delivered");
        add_outcome(&mut o_all, delivered, cod);
        add_outcome(&mut o_days[i], delivered, cod);
        add_outcome(o_channels.entry(ch).or_default(), delivered, cod);
    }
    let mut o_by_channel: Vec<ChannelOutcomes> = o_channels
        .into_iter()
        .map(|(channel_id, outcomes)| ChannelOutcomes {
            channel_id,
            outcomes,
        })
        .collect();
    o_by_channel.sort_by(|a, b| {
        (b.outcomes.delivered + b.outcomes.returned)
            .cmp(&(a.outcomes.delivered + a.outcomes.returned))
            .then(a.channel_id.cmp(&b.channel_id))
    });
    let orders = OrdersReport {
        overall: o_all,
        by_day: o_days
            .into_iter()
            .enumerate()
            .map(|(i, outcomes)| DayOutcomes {
                day: r.day_name(i),
                outcomes,
            })
            .collect(),
        by_channel: o_by_channel,
    };

    // Feedback answered in the range.
    let answers: Vec<(Option<i32>, Option<String>)> = feedback::Entity::find()
        .select_only()
        .column(feedback::Column::Rating)
        .column(feedback::Column::Category)
        .filter(feedback::Column::WorkspaceId.eq(ws))
        .filter(feedback::Column::AnsweredAt.gte(r.start))
        .filter(feedback::Column::AnsweredAt.lt(r.end))
        .into_tuple()
        .all(db)
        .await?;
    let mut ratings: BTreeMap<i32, u64> = (1..=5).map(|i| (i, 0)).collect();
    let mut categories: HashMap<String, u64> = HashMap::new();
    let mut complaints_total = 0;
    for (rating, category) in answers {
        let Some(rating) = rating else { continue };
        if let Some(n) = ratings.get_mut(&rating) {
            *n += 1;
        }
        if rating <= 2 {
            complaints_total += 1;
            *categories
                .entry(category.unwrap_or_else(|| COMPLAINT_PENDING.to_owned()))
                .or_default() += 1;
        }
    }
    let open_now = conversation::Entity::find()
        .filter(conversation::Column::WorkspaceId.eq(ws))
        .filter(conversation::Column::Complaint.is_not_null())
        .count(db)
        .await?;
    let complaints = ComplaintsReport {
        total: complaints_total,
        by_category: key_counts(categories),
        ratings: ratings
            .into_iter()
            .map(|(k, count)| KeyCount {
                key: k.to_string(),
                count,
            })
            .collect(),
        open_now,
    };

    // New contacts and the channel of their first identity.
    let sql = format!(
        "SELECT f.ch AS ch, COUNT(*) AS n FROM (SELECT (SELECT ci.channel_account_id FROM contact_identity ci \
         WHERE ci.contact_id = c.id ORDER BY ci.created_at, ci.id LIMIT 1) AS ch FROM contact c \
         WHERE c.workspace_id = {} AND c.created_at >= {} AND c.created_at < {} AND c.merged_into IS NULL) f GROUP BY f.ch",
        ph[0], ph[1], ph[2],
    );
    let mut new_contact_count = 0;
    let mut found: HashMap<Option<Uuid>, u64> = HashMap::new();
    for row in db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, bounds()))
        .await?
    {
        let ch: Option<Uuid> = row.try_get("", "ch")?;
        let n = u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0);
        new_contact_count += n;
        if ch.is_some() {
            *found.entry(ch).or_default() += n;
        }
    }
    let found_us = FoundUs {
        new_contacts: new_contact_count,
        by_channel: channel_counts(found),
        referrals: key_counts(referrals),
    };

    // The names of the agents the figures mention.
    let mut agent_ids: Vec<Uuid> = first_response
        .by_agent
        .iter()
        .map(|a| a.user_id)
        .chain(conversion.by_agent.iter().filter_map(|a| a.user_id))
        .collect();
    agent_ids.sort_unstable();
    agent_ids.dedup();
    let agents = if agent_ids.is_empty() {
        Vec::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(agent_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|u| ReportAgent {
                id: u.id,
                name: u.name,
            })
            .collect()
    };

    Ok(ReportOut {
        from: r.from.format("%Y-%m-%d").to_string(),
        to: r.to.format("%Y-%m-%d").to_string(),
        tz: q.tz.unwrap_or_else(|| "Asia/Ho_Chi_Minh".into()),
        utc_offset_minutes: offset_minutes,
        channels,
        agents,
        conversations,
        leads,
        first_response,
        conversion,
        orders,
        complaints,
        found_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_offsets() {
        assert_eq!(
            parse_tz("Asia/Ho_Chi_Minh").unwrap().local_minus_utc(),
            7 * 3600
        );
        assert_eq!(
            parse_tz("+05:30").unwrap().local_minus_utc(),
            5 * 3600 + 1800
        );
        assert_eq!(parse_tz("-03:00").unwrap().local_minus_utc(), -3 * 3600);
        assert!(parse_tz("Europe/Nowhere").is_none());
        assert!(parse_tz("+7").is_none());
        assert!(parse_tz("+15:00").is_none());
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[5], 0.9), Some(5));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), Some(2));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.9), Some(9));
        assert_eq!(percentile(&v, 0.5), Some(5));
    }

    #[test]
    fn local_days() {
        let q = ReportQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-02".into()),
            tz: None,
        };
        let r = Range::parse(&q, Utc::now()).unwrap();
        assert_eq!(r.start.to_rfc3339(), "2026-10-31T17:00:00+00:00");
        assert_eq!(r.end.to_rfc3339(), "2026-11-02T17:00:00+00:00");
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(r.day_of(t("2026-10-31T23:30:00Z")), Some(0));
        assert_eq!(r.day_of(t("2026-11-01T17:00:00Z")), Some(1));
        assert_eq!(r.day_of(t("2026-10-31T16:59:59Z")), None);
        let long = ReportQuery {
            from: Some("2025-01-01".into()),
            to: Some("2026-11-02".into()),
            tz: None,
        };
        assert!(Range::parse(&long, Utc::now()).is_err());
    }
}
