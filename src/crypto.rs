//! Secrets at rest and tokens: AES-256-GCM with the master key, random tokens, and the hashes
//! under which sessions and API keys are stored.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

/// Encrypts and decrypts channel secrets with the master key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Root of the keys derived from the master key for other uses than encryption.
    derive_root: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

impl SecretBox {
    /// From a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox {
            cipher: Aes256Gcm::new(key.into()),
            derive_root: hmac_sha256(key, b"tongdai derived keys v1"),
        }
    }

    /// A 32-byte key for `purpose` (e.g. signing widget visitor tokens), derived from the
    /// master key: stable across restarts and nodes, independent between purposes, and never
    /// the encryption key itself.
    pub fn subkey(&self, purpose: &str) -> [u8; 32] {
        hmac_sha256(&self.derive_root, purpose.as_bytes())
    }

    /// The configured key, or the one generated into `<data_dir>/secret.key` (created once,
    /// mode 0600).
    pub fn load(configured: Option<&SecretString>, data_dir: &Path) -> anyhow::Result<Self> {
        let key = match configured {
            Some(s) => decode_key(s.expose_secret().trim())
                .context("TONGDAI_SECRET_KEY must be 32 bytes as base64 or 64 hex digits")?,
            None => key_from_file(&data_dir.join("secret.key"))?,
        };
        Ok(SecretBox::new(&key))
    }

    /// `nonce || ciphertext`.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// Reverse of [`seal`](Self::seal); `None` when the data was not sealed with this key.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), ct).ok()
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn decode_key(s: &str) -> Option<[u8; 32]> {
    let bytes = if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(s).ok()?
    } else {
        STANDARD.decode(s).ok()?
    };
    bytes.try_into().ok()
}

fn key_from_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return decode_key(text.trim())
            .with_context(|| format!("{} does not hold a 32-byte key", path.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(STANDARD.encode(key).as_bytes())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new master key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_from_file(path),
        Err(e) => Err(e).with_context(|| format!("writing {}", path.display())),
    }
}

/// A random URL-safe token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The stored form of a bearer token (session, API key): hex SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key() {
        let a = SecretBox::new(&[7; 32]);
        let b = SecretBox::new(&[8; 32]);
        let sealed = a.seal(b"page-token");
        assert_ne!(&sealed[NONCE_LEN..], b"page-token");
        assert_eq!(a.open(&sealed).as_deref(), Some(&b"page-token"[..]));
        assert_eq!(b.open(&sealed), None);
    }

    #[test]
    fn generated_key_file_is_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("tongdai-key-{}", random_token(6)));
        let k1 = key_from_file(&dir.join("secret.key")).unwrap();
        let k2 = key_from_file(&dir.join("secret.key")).unwrap();
        assert_eq!(k1, k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
