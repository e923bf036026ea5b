//! Building and running a node: connect and migrate the database, build the state, bind the
//! listener (port 0 allowed), spawn the workers; shut down gracefully (stop accepting, finish
//! in-flight requests and their ingest batches, then stop the workers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tongdai_connectors::{ConnectorsConfig, Registry};

use crate::config::Config;
use crate::crypto::SecretBox;
use crate::metrics::Metrics;
use crate::realtime::Bus;
use crate::services::{auth, ingest::IngestWriter};
use crate::state::{AppState, Heartbeats, Limiters, Shared};
use crate::store::Db;

/// A built node, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    writer: tokio::sync::oneshot::Receiver<()>,
}

/// App-level connector settings from the config.
pub fn connectors_config(cfg: &Config) -> ConnectorsConfig {
    ConnectorsConfig {
        facebook: tongdai_connectors::facebook::FacebookConfig {
            app_id: cfg.facebook.app_id.clone(),
            app_secret: cfg
                .facebook
                .app_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            verify_token: cfg
                .facebook
                .verify_token
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
        },
        zalo: tongdai_connectors::zalo::ZaloConfig {
            app_id: cfg.zalo.app_id.clone(),
            app_secret: cfg
                .zalo
                .app_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            oa_secret_key: cfg
                .zalo
                .oa_secret_key
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            replay_window_seconds: cfg.zalo.replay_window_seconds,
        },
        // The signing key is derived from the master key once it is loaded.
        webchat: Default::default(),
        youtube: tongdai_connectors::youtube::YoutubeConfig {
            client_id: cfg.youtube.client_id.clone(),
            client_secret: cfg
                .youtube
                .client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
        },
    }
}

impl Application {
    /// Connect, migrate and bind. `schema` isolates a PostgreSQL test.
    pub async fn build(cfg: Config, schema: Option<&str>) -> anyhow::Result<Application> {
        let db = Db::connect(&cfg.database_url(), schema)
            .await
            .context("connecting to the database")?;
        db.migrate().await.context("applying migrations")?;
        Self::build_with_db(cfg, db).await
    }

    /// Bind and build on an already-migrated database.
    pub async fn build_with_db(cfg: Config, db: Db) -> anyhow::Result<Application> {
        let orphans = crate::services::jobs::release_orphans(&db).await?;
        if orphans > 0 {
            tracing::warn!(
                jobs = orphans,
                "released jobs left running by a previous process"
            );
        }
        let shutdown = CancellationToken::new();
        let stop = CancellationToken::new();
        let bus = match &cfg.redis_url {
            Some(url) if !url.is_empty() => Bus::redis(url, stop.clone())
                .await
                .context("connecting to Redis")?,
            _ => Bus::local(),
        };
        let secrets = SecretBox::load(cfg.secret_key.as_ref(), &cfg.data_dir)?;
        let metrics = Arc::new(Metrics::default());
        let ingest_notify = Arc::new(Notify::new());
        let (ingest, writer) = IngestWriter::spawn(
            db.clone(),
            ingest_notify.clone(),
            metrics.clone(),
            stop.clone(),
        )
        .context("starting the webhook writer")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("tongdai/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("binding {}", cfg.listen))?;
        let setup_token = if auth::has_users(&db).await? {
            None
        } else {
            Some(crate::crypto::random_token(24))
        };
        let state = AppState::new(Shared {
            connectors: Arc::new(Registry::builtin(&{
                let mut cc = connectors_config(&cfg);
                cc.webchat.signing_key = Some(
                    secrets
                        .subkey(crate::services::webchat::INGEST_KEY)
                        .to_vec(),
                );
                cc
            })),
            limits: Arc::new(Limiters::new(&cfg)),
            cfg: Arc::new(cfg),
            db,
            bus,
            http,
            secrets,
            ingest,
            ingest_notify,
            jobs_notify: Arc::new(Notify::new()),
            metrics,
            heartbeats: Arc::new(Heartbeats::default()),
            setup_token: Arc::new(std::sync::Mutex::new(setup_token)),
            node_id: format!("{}-{}", std::process::id(), crate::crypto::random_token(4)).into(),
            stop,
        });
        match crate::services::poll::requeue_all(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(accounts = n, "queued polls for polled accounts without one"),
            Err(e) => tracing::warn!(error = %e, "could not queue the polls of polled accounts"),
        }
        Ok(Application {
            listener,
            state,
            shutdown,
            writer,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state (tests drive services with it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Cancel this to shut down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The one-time setup link, while no user exists.
    pub fn setup_link(&self) -> Option<String> {
        let token = self.state.setup_token.lock().expect("setup lock").clone()?;
        let base = if self.state.cfg.public_url.is_some() {
            self.state.cfg.public_url()
        } else {
            format!("http://{}", self.local_addr())
        };
        Some(format!("{base}/setup?token={token}"))
    }

    /// Serve until the shutdown token fires (or ctrl-c / SIGTERM when `signals`).
    pub async fn run_until_stopped(self, signals: bool) -> anyhow::Result<()> {
        let Application {
            listener,
            state,
            shutdown,
            writer,
        } = self;
        if signals {
            let s = shutdown.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutting down: finishing in-flight requests");
                s.cancel();
            });
        }
        let mut workers = JoinSet::new();
        let (db, stop) = (state.db.clone(), state.stop.clone());
        workers.spawn(async move {
            db.checkpoint_loop(stop).await;
            Ok(())
        });
        if state.cfg.workers {
            crate::workers::spawn_all(&state, &mut workers).context("starting the workers")?;
        }
        let app = crate::http::router(state.clone());
        let server = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let served = server.await;
        // The server has answered every in-flight request; now stop the writer and workers.
        state.stop.cancel();
        let _ = writer.await;
        while let Some(r) = workers.join_next().await {
            if let Ok(Err(e)) = r {
                tracing::error!(error = ?e, "worker ended with an error");
            }
        }
        served.context("HTTP server")
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
