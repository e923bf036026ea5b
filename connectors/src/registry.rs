//! The explicit list of built-in connectors, built once from config.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::facebook::{Facebook, FacebookConfig};
use crate::traits::Connector;
use crate::types::Platform;
use crate::webchat::{Webchat, WebchatConfig};
use crate::youtube::{Youtube, YoutubeConfig};
use crate::zalo::{Zalo, ZaloConfig};

/// App-level settings of every connector (per-account credentials live in the hub's database).
#[derive(Debug, Clone, Default)]
pub struct ConnectorsConfig {
    /// Facebook (Messenger and Page webhooks).
    pub facebook: FacebookConfig,
    /// Zalo Official Account (webhooks, OAuth, sending).
    pub zalo: ZaloConfig,
    /// The website chat (its signing key comes from the hub's master key).
    pub webchat: WebchatConfig,
    /// YouTube: the Google OAuth client that connects channels.
    pub youtube: YoutubeConfig,
}

/// The connectors this build knows, by platform.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<Platform, Arc<dyn Connector>>,
}

impl Registry {
    /// Every built-in connector, configured from `cfg`.
    pub fn builtin(cfg: &ConnectorsConfig) -> Self {
        let mut r = Registry::default();
        r.insert(Arc::new(Facebook::new(cfg.facebook.clone())));
        r.insert(Arc::new(Facebook::instagram(cfg.facebook.clone())));
        // Zalo's webhooks need the app id and OA secret key, its OAuth the app id and app
        // secret: the connector is there when either is set, each capability checks its own.
        if cfg.zalo.any_configured() {
            r.insert(Arc::new(Zalo::new(cfg.zalo.clone())));
        }
        r.insert(Arc::new(Webchat::new(cfg.webchat.clone())));
        // YouTube channels connect (and refresh their tokens) with the Google OAuth client.
        if cfg.youtube.is_configured() {
            r.insert(Arc::new(Youtube::new(cfg.youtube.clone())));
        }
        r
    }

    /// Add or replace a connector.
    pub fn insert(&mut self, c: Arc<dyn Connector>) {
        self.connectors.insert(c.platform(), c);
    }

    /// The connector for `platform`, when this build has one.
    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(&platform)
    }

    /// Platforms with a connector.
    pub fn platforms(&self) -> impl Iterator<Item = Platform> + '_ {
        self.connectors.keys().copied()
    }
}
