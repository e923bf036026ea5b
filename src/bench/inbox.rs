//! P4: a large inbox in SQLite (the schema of the migrations, rows bulk-inserted through
//! sea-orm entities in big transactions), then the conversation list and thread pages timed
//! over HTTP against a real server process.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use super::client::Conn;
use super::server::{Proc, TempDir, login, user_add};
use super::stats::Summary;
use crate::store::Db;
use crate::store::entities::{
    channel_account, contact, contact_identity, conversation, message, workspace,
};

const LINES: [&str; 8] = [
    "Shop ơi, áo này còn size M không ạ?",
    "Giá bao nhiêu vậy shop?",
    "Ship về Đà Nẵng mất mấy ngày ạ?",
    "Có màu đen không shop?",
    "Dạ còn ạ, chị lấy size nào ạ?",
    "Cho em xem thêm ảnh thật với ạ",
    "Freeship cho đơn từ 300k chị nhé",
    "Cảm ơn shop, hàng đẹp lắm",
];
const STATUSES: [(&str, u32); 3] = [("open", 40), ("pending", 20), ("resolved", 40)];
/// Rows per INSERT (15 columns × 1,000 rows stays under SQLite's 32,766 parameters).
const ROWS_PER_INSERT: usize = 1000;
/// Conversations (with all their rows) per transaction.
const CONVS_PER_TXN: usize = 5000;

/// Messages per conversation: one conversation in ten is a long thread that holds about
/// half of all messages; the others are short. Sums to `messages` (at least one each).
pub fn message_counts(conversations: usize, messages: usize) -> Vec<usize> {
    if conversations == 0 {
        return Vec::new();
    }
    let messages = messages.max(conversations);
    let long = conversations.div_ceil(10);
    let short = conversations - long;
    let short_each = (messages * 9 / 20)
        .checked_div(short)
        .map_or(0, |n| n.max(1));
    let rest = messages - short_each * short;
    let (long_each, extra) = (rest / long, rest % long);
    (0..conversations)
        .map(|i| {
            if i % 10 == 0 {
                let k = i / 10;
                long_each + usize::from(k < extra)
            } else {
                short_each
            }
        })
        .collect()
}

/// What P4 measured.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Conversations seeded.
    pub conversations: usize,
    /// Messages seeded.
    pub messages: usize,
    /// Seeding time.
    pub seed: Duration,
    /// Database file size after seeding (bytes).
    pub db_bytes: u64,
    /// `GET /api/v1/conversations?status=open&channel=facebook&limit=50` (µs).
    pub list: Summary,
    /// `GET /api/v1/conversations/{id}/messages?limit=50`, random ids (µs).
    pub thread: Summary,
    /// Items in the thread pages on average.
    pub thread_items: f64,
}

/// Seed and time.
pub async fn inbox(
    conversations: usize,
    messages: usize,
    requests: usize,
) -> anyhow::Result<Inbox> {
    let dir = TempDir::new("p4")?;
    let db_url = dir.sqlite_url();
    user_add(&dir.0, &db_url, "owner@bench.tongdai.vn", "owner").await?;
    let started = Instant::now();
    let ids = seed(&db_url, conversations, messages).await?;
    let seed_time = started.elapsed();
    let db_bytes = ["tongdai.db", "tongdai.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.0.join(f)).ok())
        .map(|m| m.len())
        .sum();
    let mut p = Proc::serve(&dir.0, &db_url, true).await?;
    let r = async {
        p.wait_ready("/readyz", Duration::from_secs(60)).await?;
        let s = login(p.addr, "owner@bench.tongdai.vn").await?;
        let mut c = Conn::connect(p.addr).await?;
        let mut rng = StdRng::seed_from_u64(4);
        let list_path = "/api/v1/conversations?status=open&channel=facebook&limit=50";
        let mut get = async |path: &str| -> anyhow::Result<(u64, Value)> {
            let t = Instant::now();
            let a = c.get(path, Some(&s.cookie)).await?;
            let us = t.elapsed().as_micros() as u64;
            anyhow::ensure!(a.status.is_success(), "GET {path}: {}", a.status);
            Ok((us, serde_json::from_slice(&a.body)?))
        };
        // Warm-up, unmeasured; also a check that the list is full.
        let (_, first) = get(list_path).await?;
        let n = first["items"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(n > 0, "the open conversation list is empty");
        for _ in 0..50 {
            get(list_path).await?;
            let id = ids[rng.gen_range(0..ids.len())];
            get(&format!("/api/v1/conversations/{id}/messages?limit=50")).await?;
        }
        let mut list = Vec::with_capacity(requests);
        let mut thread = Vec::with_capacity(requests);
        let mut items = 0usize;
        for _ in 0..requests {
            list.push(get(list_path).await?.0);
            let id = ids[rng.gen_range(0..ids.len())];
            let (us, v) = get(&format!("/api/v1/conversations/{id}/messages?limit=50")).await?;
            items += v["items"].as_array().map_or(0, Vec::len);
            thread.push(us);
        }
        anyhow::Ok(Inbox {
            conversations,
            messages,
            seed: seed_time,
            db_bytes,
            list: Summary::of(&mut list),
            thread: Summary::of(&mut thread),
            thread_items: items as f64 / requests.max(1) as f64,
        })
    }
    .await;
    p.stop().await;
    r
}

fn pick_status(rng: &mut StdRng) -> &'static str {
    let total: u32 = STATUSES.iter().map(|s| s.1).sum();
    let mut x = rng.gen_range(0..total);
    for (s, w) in STATUSES {
        if x < w {
            return s;
        }
        x -= w;
    }
    "open"
}

/// Insert 2 Pages, `conversations` contacts/identities/conversations and `messages` messages
/// into the workspace the owner was created in. Returns the conversation ids.
async fn seed(db_url: &str, conversations: usize, messages: usize) -> anyhow::Result<Vec<Uuid>> {
    let db = Db::connect(db_url, None).await?;
    let ws = workspace::Entity::find()
        .one(&db.write)
        .await?
        .context("the owner's workspace")?
        .id;
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(7);
    let mut accounts = Vec::new();
    for page in ["105000000000001", "105000000000002"] {
        let id = Uuid::now_v7();
        channel_account::Entity::insert(channel_account::ActiveModel {
            id: Set(id),
            workspace_id: Set(ws),
            platform: Set("facebook".into()),
            external_id: Set(page.into()),
            name: Set(format!("Fanpage {page}")),
            settings: Set(json!({})),
            secrets_enc: Set(None),
            status: Set("active".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(&db.write)
        .await?;
        accounts.push(id);
    }
    let counts = message_counts(conversations, messages);
    let mut ids = Vec::with_capacity(conversations);
    let mut msg_no: u64 = 0;
    let total_msgs: usize = counts.iter().sum();
    let started = Instant::now();
    for (chunk_no, chunk) in counts.chunks(CONVS_PER_TXN).enumerate() {
        let txn = db.write.begin().await?;
        let mut contacts = Vec::with_capacity(chunk.len());
        let mut idents = Vec::with_capacity(chunk.len());
        let mut convs = Vec::with_capacity(chunk.len());
        let mut msgs = Vec::new();
        for (j, &k) in chunk.iter().enumerate() {
            let i = chunk_no * CONVS_PER_TXN + j;
            let acc = accounts[i % accounts.len()];
            let psid = format!("72{:014}", i);
            let name = format!("Khách {i}");
            // Last activity spread over 90 days; earlier messages a few minutes apart.
            let last: DateTime<Utc> =
                now - chrono::Duration::seconds(rng.gen_range(0..90 * 86_400));
            let gaps: Vec<i64> = (0..k).map(|_| rng.gen_range(20..1800)).collect();
            let first = last - chrono::Duration::seconds(gaps.iter().sum());
            let (cid, iid, vid) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
            contacts.push(contact::ActiveModel {
                id: Set(cid),
                workspace_id: Set(ws),
                name: Set(Some(name.clone())),
                phone: Set(None),
                merged_into: Set(None),
                created_at: Set(first),
                updated_at: Set(first),
                promoter: Set(false),
                note: Set(None),
            });
            idents.push(contact_identity::ActiveModel {
                id: Set(iid),
                workspace_id: Set(ws),
                contact_id: Set(cid),
                channel_account_id: Set(acc),
                external_id: Set(psid.clone()),
                display_name: Set(Some(name)),
                original_contact_id: Set(None),
                created_at: Set(first),
                ..Default::default()
            });
            let mut t = first;
            let mut last_text = String::new();
            let mut last_in = first;
            for (m, gap) in gaps.iter().enumerate() {
                if m > 0 {
                    t += chrono::Duration::seconds(*gap);
                }
                let inbound = m % 2 == 0 || rng.gen_bool(0.3);
                let text = format!("{} (#{msg_no})", LINES[rng.gen_range(0..LINES.len())]);
                if inbound {
                    last_in = t;
                }
                last_text.clone_from(&text);
                msgs.push(message::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    workspace_id: Set(ws),
                    conversation_id: Set(vid),
                    channel_account_id: Set(acc),
                    external_id: Set(Some(format!("m_seed_{msg_no}"))),
                    direction: Set(if inbound { "in" } else { "out" }.into()),
                    sender_kind: Set(if inbound { "contact" } else { "page" }.into()),
                    author_user_id: Set(None),
                    text: Set(Some(text)),
                    attachments: Set(json!([])),
                    status: Set(if inbound { "received" } else { "read" }.into()),
                    error: Set(None),
                    sent_at: Set(t),
                    created_at: Set(t),
                    updated_at: Set(t),
                    ..Default::default()
                });
                msg_no += 1;
            }
            let status = pick_status(&mut rng);
            convs.push(conversation::ActiveModel {
                id: Set(vid),
                workspace_id: Set(ws),
                channel_account_id: Set(acc),
                contact_id: Set(cid),
                identity_id: Set(iid),
                kind: Set("direct".into()),
                external_thread_id: Set(psid),
                status: Set(status.into()),
                assignee_id: Set(None),
                unread_count: Set(if status == "open" {
                    rng.gen_range(0..4)
                } else {
                    0
                }),
                last_message_at: Set(Some(t)),
                last_message_preview: Set(Some(last_text)),
                last_inbound_at: Set(Some(last_in)),
                created_at: Set(first),
                updated_at: Set(t),
                ..Default::default()
            });
            ids.push(vid);
        }
        for c in chunk_rows(contacts) {
            contact::Entity::insert_many(c)
                .exec_without_returning(&txn)
                .await?;
        }
        for c in chunk_rows(idents) {
            contact_identity::Entity::insert_many(c)
                .exec_without_returning(&txn)
                .await?;
        }
        for c in chunk_rows(convs) {
            conversation::Entity::insert_many(c)
                .exec_without_returning(&txn)
                .await?;
        }
        for c in chunk_rows(msgs) {
            message::Entity::insert_many(c)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        eprint!(
            "\r  P4 seeding: {} / {} conversations, {} / {} messages, {:.0} s   ",
            ids.len(),
            conversations,
            msg_no,
            total_msgs,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    db.write
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await?;
    db.write.execute_unprepared("ANALYZE").await.ok();
    Ok(ids)
}

fn chunk_rows<T>(mut v: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    while !v.is_empty() {
        let rest = v.split_off(v.len().min(ROWS_PER_INSERT));
        out.push(std::mem::replace(&mut v, rest));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_counts_add_up_and_have_long_threads() {
        let c = message_counts(100_000, 1_000_000);
        assert_eq!(c.len(), 100_000);
        assert_eq!(c.iter().sum::<usize>(), 1_000_000);
        assert_eq!(c[1], 5);
        assert_eq!(c[0], 55);
        let small = message_counts(7, 3);
        assert_eq!(small.iter().sum::<usize>(), 7);
        assert!(small.iter().all(|&k| k >= 1));
        let odd = message_counts(2000, 20_001);
        assert_eq!(odd.iter().sum::<usize>(), 20_001);
        assert!(message_counts(0, 10).is_empty());
    }

    #[test]
    fn rows_are_chunked() {
        let v: Vec<usize> = (0..2500).collect();
        let c = chunk_rows(v);
        assert_eq!(
            c.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert_eq!(c[2][0], 2000);
    }
}
