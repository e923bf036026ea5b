//! One typed configuration, layered: built-in defaults, then an optional `tongdai.toml`, then
//! `TONGDAI_…` environment variables. Every setting is documented in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;

/// Sections whose settings are grouped as `[<section>]` in the file and
/// `TONGDAI_<SECTION>_<NAME>` in the environment (the platforms, and the website chat widget).
const PLATFORM_SECTIONS: [&str; 4] = ["facebook", "zalo", "youtube", "widget"];

/// The whole configuration of one tongdai node.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Address the HTTP server binds (`TONGDAI_LISTEN`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the generated master key (`TONGDAI_DATA_DIR`).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `tongdai.db` in the data dir (`TONGDAI_DATABASE_URL`).
    #[serde(default)]
    pub database_url: Option<String>,
    /// The URL people and platforms reach this server at (`TONGDAI_PUBLIC_URL`); default
    /// `http://<listen>`. An `https` URL makes session cookies `Secure`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Master key for secrets at rest: 32 bytes as base64 or hex (`TONGDAI_SECRET_KEY`).
    /// When unset, one is generated once into `<data_dir>/secret.key` (mode 0600).
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    /// Redis URL; when set, realtime events cross nodes through Redis pub/sub (`TONGDAI_REDIS_URL`).
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Log filter in `tracing` syntax (`TONGDAI_LOG`).
    #[serde(default = "default_log")]
    pub log: String,
    /// Run the background workers (ingest, jobs) in this process (`TONGDAI_WORKERS`).
    #[serde(default = "yes")]
    pub workers: bool,
    /// Session lifetime in hours (`TONGDAI_SESSION_TTL_HOURS`).
    #[serde(default = "default_session_ttl")]
    pub session_ttl_hours: u32,
    /// Outbound messages per second allowed per channel account (`TONGDAI_SEND_RATE_PER_SECOND`).
    #[serde(default = "default_send_rate")]
    pub send_rate_per_second: u32,
    /// Login attempts per minute allowed per account (`TONGDAI_LOGIN_PER_MINUTE_ACCOUNT`).
    #[serde(default = "default_login_account")]
    pub login_per_minute_account: u32,
    /// Login attempts per minute allowed per client IP (`TONGDAI_LOGIN_PER_MINUTE_IP`).
    #[serde(default = "default_login_ip")]
    pub login_per_minute_ip: u32,
    /// How long a claimed job is owned by its worker before another may take it over
    /// (`TONGDAI_JOB_LEASE_SECONDS`).
    #[serde(default = "default_lease")]
    pub job_lease_seconds: u32,
    /// Time allowed to receive a webhook body; slower senders get 408 (`TONGDAI_WEBHOOK_BODY_TIMEOUT_SECONDS`).
    #[serde(default = "default_body_timeout")]
    pub webhook_body_timeout_seconds: u32,
    /// Largest customer file copied from a platform CDN (`TONGDAI_MEDIA_MAX_BYTES`).
    #[serde(default = "default_media_max_bytes")]
    pub media_max_bytes: u64,
    /// Hosts (and their subdomains) customer media may be downloaded from
    /// (`TONGDAI_MEDIA_HOSTS`, comma-separated). The platform API's own host is always allowed.
    #[serde(default = "default_media_hosts", deserialize_with = "comma_list")]
    pub media_hosts: Vec<String>,
    /// A channel that received nothing for this many hours is flagged as quiet in its health
    /// (`TONGDAI_CHANNEL_QUIET_HOURS`).
    #[serde(default = "default_quiet_hours")]
    pub channel_quiet_hours: u32,
    /// Let fulfillment endpoints point at loopback, private, link-local and other non-public
    /// addresses (`TONGDAI_ALLOW_PRIVATE_WEBHOOK_TARGETS`). Off: such URLs are refused when an
    /// endpoint is saved and again at delivery time (after DNS resolution).
    #[serde(default)]
    pub allow_private_webhook_targets: bool,
    /// A fulfillment endpoint whose deliveries have all failed for this many days is disabled at
    /// its next failure, and admins are notified (`TONGDAI_WEBHOOK_DISABLE_AFTER_DAYS`).
    #[serde(default = "default_webhook_disable_after_days")]
    pub webhook_disable_after_days: u32,
    /// Facebook app settings (`TONGDAI_FACEBOOK_*`).
    #[serde(default)]
    pub facebook: FacebookSettings,
    /// Zalo Official Account settings (`TONGDAI_ZALO_*`).
    #[serde(default)]
    pub zalo: ZaloSettings,
    /// YouTube (Google) settings (`TONGDAI_YOUTUBE_*`).
    #[serde(default)]
    pub youtube: YoutubeSettings,
    /// Website chat widget limits (`TONGDAI_WIDGET_*`).
    #[serde(default)]
    pub widget: WidgetSettings,
}

/// `[widget]`: limits of the website chat widget's public endpoints.
#[derive(Debug, Clone, Deserialize)]
pub struct WidgetSettings {
    /// Messages (and contact forms) per minute one visitor may send
    /// (`TONGDAI_WIDGET_MESSAGES_PER_MINUTE`).
    #[serde(default = "default_widget_messages")]
    pub messages_per_minute: u32,
    /// Widget requests (sessions, history pages, messages) per minute from one IP address
    /// (`TONGDAI_WIDGET_REQUESTS_PER_MINUTE_IP`).
    #[serde(default = "default_widget_ip")]
    pub requests_per_minute_ip: u32,
    /// Longest visitor message, in characters (`TONGDAI_WIDGET_MAX_MESSAGE_CHARS`).
    #[serde(default = "default_widget_chars")]
    pub max_message_chars: usize,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        WidgetSettings {
            messages_per_minute: default_widget_messages(),
            requests_per_minute_ip: default_widget_ip(),
            max_message_chars: default_widget_chars(),
        }
    }
}

fn default_widget_messages() -> u32 {
    20
}
fn default_widget_ip() -> u32 {
    120
}
fn default_widget_chars() -> usize {
    2000
}

/// A list given as a TOML array or as one comma-separated string (environment variables).
fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        One(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(v) => v,
        Either::One(s) => s
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
    })
}

/// `[facebook]`: the Meta app that receives Page webhooks and sends Messenger replies.
#[derive(Debug, Clone, Deserialize)]
pub struct FacebookSettings {
    /// Meta app id (`TONGDAI_FACEBOOK_APP_ID`).
    #[serde(default, deserialize_with = "opt_id")]
    pub app_id: Option<String>,
    /// Meta app secret, key of `X-Hub-Signature-256` (`TONGDAI_FACEBOOK_APP_SECRET`).
    #[serde(default)]
    pub app_secret: Option<SecretString>,
    /// Token Meta echoes in the webhook subscription handshake (`TONGDAI_FACEBOOK_VERIFY_TOKEN`).
    #[serde(default)]
    pub verify_token: Option<SecretString>,
    /// Graph API base URL (`TONGDAI_FACEBOOK_GRAPH_URL`).
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// Facebook Login dialog URL (`TONGDAI_FACEBOOK_OAUTH_URL`).
    #[serde(default = "default_oauth_url")]
    pub oauth_url: String,
    /// Days of history imported when a Page or Instagram account is connected
    /// (`TONGDAI_FACEBOOK_BACKFILL_DAYS`; 0 = none).
    #[serde(default = "default_backfill_days")]
    pub backfill_days: u32,
}

impl Default for FacebookSettings {
    fn default() -> Self {
        FacebookSettings {
            app_id: None,
            app_secret: None,
            verify_token: None,
            graph_url: default_graph_url(),
            oauth_url: default_oauth_url(),
            backfill_days: default_backfill_days(),
        }
    }
}

/// `[zalo]`: the Zalo app linked to the Official Accounts whose webhooks tongdai receives.
#[derive(Debug, Clone, Deserialize)]
pub struct ZaloSettings {
    /// Zalo app id (`TONGDAI_ZALO_APP_ID`): part of `X-ZEvent-Signature`, and checked against
    /// each event's `app_id`. All digits, so the environment may hand it over as a number.
    #[serde(default, deserialize_with = "opt_id")]
    pub app_id: Option<String>,
    /// Zalo app secret (`TONGDAI_ZALO_APP_SECRET`), for OAuth (not used by webhooks).
    #[serde(default)]
    pub app_secret: Option<SecretString>,
    /// OA secret key (`TONGDAI_ZALO_OA_SECRET_KEY`): the secret of `X-ZEvent-Signature`.
    #[serde(default)]
    pub oa_secret_key: Option<SecretString>,
    /// OAuth v4 base URL (`TONGDAI_ZALO_OAUTH_URL`).
    #[serde(default = "default_zalo_oauth_url")]
    pub oauth_url: String,
    /// OpenAPI base URL (`TONGDAI_ZALO_OPENAPI_URL`).
    #[serde(default = "default_zalo_openapi_url")]
    pub openapi_url: String,
    /// Largest accepted distance in seconds between an event's signed timestamp and now
    /// (`TONGDAI_ZALO_REPLAY_WINDOW_SECONDS`; 0 = no check).
    #[serde(default = "default_zalo_replay_window")]
    pub replay_window_seconds: u32,
}

impl Default for ZaloSettings {
    fn default() -> Self {
        ZaloSettings {
            app_id: None,
            app_secret: None,
            oa_secret_key: None,
            oauth_url: default_zalo_oauth_url(),
            openapi_url: default_zalo_openapi_url(),
            replay_window_seconds: default_zalo_replay_window(),
        }
    }
}

/// `[youtube]`: the Google OAuth client that connects YouTube channels, and the Data API.
#[derive(Debug, Clone, Deserialize)]
pub struct YoutubeSettings {
    /// Google OAuth client id (`TONGDAI_YOUTUBE_CLIENT_ID`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Google OAuth client secret (`TONGDAI_YOUTUBE_CLIENT_SECRET`).
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// YouTube Data API base URL (`TONGDAI_YOUTUBE_API_URL`); paths `/youtube/v3/…` follow it.
    #[serde(default = "default_youtube_api_url")]
    pub api_url: String,
    /// Google OAuth base URL (`TONGDAI_YOUTUBE_OAUTH_URL`): the consent page is `{url}/auth`,
    /// the token endpoint `{url}/token`.
    #[serde(default = "default_youtube_oauth_url")]
    pub oauth_url: String,
    /// Data API quota units a channel may spend per day, midnight to midnight Pacific time
    /// (`TONGDAI_YOUTUBE_DAILY_QUOTA`).
    #[serde(default = "default_youtube_daily_quota")]
    pub daily_quota: u32,
    /// The shortest time between two polls of a channel's comments, in seconds
    /// (`TONGDAI_YOUTUBE_POLL_MIN_SECONDS`); the quota budget may space them further.
    #[serde(default = "default_youtube_poll_min_seconds")]
    pub poll_min_seconds: u32,
}

impl Default for YoutubeSettings {
    fn default() -> Self {
        YoutubeSettings {
            client_id: None,
            client_secret: None,
            api_url: default_youtube_api_url(),
            oauth_url: default_youtube_oauth_url(),
            daily_quota: default_youtube_daily_quota(),
            poll_min_seconds: default_youtube_poll_min_seconds(),
        }
    }
}

fn default_youtube_api_url() -> String {
    "https://www.googleapis.com".to_owned()
}
fn default_youtube_oauth_url() -> String {
    "https://accounts.google.com/o/oauth2".to_owned()
}
fn default_youtube_daily_quota() -> u32 {
    10_000
}
fn default_youtube_poll_min_seconds() -> u32 {
    60
}

/// An optional id given as a string or as a number (an all-digit environment value).
fn opt_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(s) => s,
        Id::Unsigned(n) => n.to_string(),
        Id::Signed(n) => n.to_string(),
    }))
}

fn default_zalo_oauth_url() -> String {
    tongdai_connectors::zalo::DEFAULT_OAUTH_URL.to_owned()
}
fn default_zalo_openapi_url() -> String {
    tongdai_connectors::zalo::DEFAULT_OPENAPI_URL.to_owned()
}
fn default_zalo_replay_window() -> u32 {
    tongdai_connectors::zalo::DEFAULT_REPLAY_WINDOW_SECONDS
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_log() -> String {
    "tongdai=info,tower_http=warn".to_owned()
}
fn yes() -> bool {
    true
}
fn default_session_ttl() -> u32 {
    24 * 14
}
fn default_send_rate() -> u32 {
    20
}
fn default_login_account() -> u32 {
    5
}
fn default_login_ip() -> u32 {
    30
}
fn default_lease() -> u32 {
    120
}
fn default_body_timeout() -> u32 {
    10
}
fn default_graph_url() -> String {
    "https://graph.facebook.com/v21.0".to_owned()
}
fn default_oauth_url() -> String {
    "https://www.facebook.com/v21.0/dialog/oauth".to_owned()
}
fn default_backfill_days() -> u32 {
    30
}
fn default_media_max_bytes() -> u64 {
    25 * 1024 * 1024
}
fn default_media_hosts() -> Vec<String> {
    [
        "fbcdn.net",
        "fbsbx.com",
        "cdninstagram.com",
        "facebook.com",
        "instagram.com",
    ]
    .map(str::to_owned)
    .to_vec()
}
fn default_quiet_hours() -> u32 {
    72
}
fn default_webhook_disable_after_days() -> u32 {
    5
}

impl Config {
    /// Defaults, then `./tongdai.toml` (or the file named by `TONGDAI_CONFIG`), then the environment.
    pub fn load() -> Result<Config, Box<figment::Error>> {
        let file = std::env::var_os("TONGDAI_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("tongdai.toml"));
        Self::figment(&file).extract().map_err(Box::new)
    }

    fn figment(file: &Path) -> Figment {
        let env = Env::prefixed("TONGDAI_")
            .ignore(&["CONFIG", "TEST_DATABASE_URL"])
            .map(|key| {
                // The mapper sees the variable's own (upper) case.
                let k = key.as_str().to_ascii_lowercase();
                for p in PLATFORM_SECTIONS {
                    if let Some(rest) = k.strip_prefix(p).and_then(|r| r.strip_prefix('_')) {
                        return format!("{p}.{rest}").into();
                    }
                }
                k.into()
            });
        Figment::new().merge(Toml::file(file)).merge(env)
    }

    /// A configuration from defaults only (tests and the demo build on it).
    pub fn defaults() -> Config {
        Figment::new().extract().expect("every field has a default")
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.is_empty() => u.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("tongdai.db").display()
            ),
        }
    }

    /// The public base URL in force, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) if !u.is_empty() => u.trim_end_matches('/').to_owned(),
            _ => format!("http://{}", self.listen),
        }
    }

    /// Whether cookies must be `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::defaults();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.database_url(), "sqlite://./data/tongdai.db?mode=rwc");
        assert_eq!(c.facebook.graph_url, "https://graph.facebook.com/v21.0");
        assert!(!c.secure_cookies());
        assert!(!c.allow_private_webhook_targets);
        assert_eq!(c.webhook_disable_after_days, 5);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "tongdai.toml",
                "listen = \"0.0.0.0:9000\"\n[facebook]\ngraph_url = \"http://file\"\napp_id = \"1\"\n",
            )?;
            jail.set_env("TONGDAI_FACEBOOK_GRAPH_URL", "http://env");
            jail.set_env("TONGDAI_PUBLIC_URL", "https://shop.example/");
            let c: Config = Config::figment(Path::new("tongdai.toml")).extract()?;
            assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
            assert_eq!(c.facebook.graph_url, "http://env");
            assert_eq!(c.facebook.app_id.as_deref(), Some("1"));
            assert_eq!(c.public_url(), "https://shop.example");
            assert!(c.secure_cookies());
            Ok(())
        });
    }
}
#[cfg(test)]
mod env_tests {
    use super::*;
    #[test]
    #[allow(clippy::result_large_err)]
    fn platform_secrets_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TONGDAI_FACEBOOK_APP_SECRET", "s3cret");
            jail.set_env("TONGDAI_FACEBOOK_VERIFY_TOKEN", "tok");
            let c: Config = Config::figment(Path::new("none.toml")).extract()?;
            use secrecy::ExposeSecret;
            assert_eq!(
                c.facebook
                    .app_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned())
                    .as_deref(),
                Some("s3cret")
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn zalo_settings_from_the_environment_and_defaults() {
        let d = Config::defaults();
        assert_eq!(d.zalo.oauth_url, "https://oauth.zaloapp.com/v4");
        assert_eq!(d.zalo.openapi_url, "https://openapi.zalo.me");
        assert_eq!(d.zalo.replay_window_seconds, 86_400);
        assert!(d.zalo.app_id.is_none());
        figment::Jail::expect_with(|jail| {
            jail.set_env("TONGDAI_ZALO_APP_ID", "1234567890123456789");
            jail.set_env("TONGDAI_ZALO_APP_SECRET", "app-s");
            jail.set_env("TONGDAI_ZALO_OA_SECRET_KEY", "oa-s");
            jail.set_env("TONGDAI_ZALO_OAUTH_URL", "http://oauth");
            jail.set_env("TONGDAI_ZALO_OPENAPI_URL", "http://openapi");
            jail.set_env("TONGDAI_ZALO_REPLAY_WINDOW_SECONDS", "0");
            let c: Config = Config::figment(Path::new("none.toml")).extract()?;
            use secrecy::ExposeSecret;
            assert_eq!(c.zalo.app_id.as_deref(), Some("1234567890123456789"));
            assert_eq!(
                c.zalo
                    .oa_secret_key
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned())
                    .as_deref(),
                Some("oa-s")
            );
            assert!(c.zalo.app_secret.is_some());
            assert_eq!(c.zalo.oauth_url, "http://oauth");
            assert_eq!(c.zalo.openapi_url, "http://openapi");
            assert_eq!(c.zalo.replay_window_seconds, 0);
            let cc = crate::startup::connectors_config(&c);
            assert!(cc.zalo.is_configured());
            let reg = tongdai_connectors::Registry::builtin(&cc);
            assert!(reg.get(tongdai_connectors::Platform::Zalo).is_some());
            let none = tongdai_connectors::Registry::builtin(&crate::startup::connectors_config(
                &Config::defaults(),
            ));
            assert!(none.get(tongdai_connectors::Platform::Zalo).is_none());
            Ok(())
        });
    }
}
