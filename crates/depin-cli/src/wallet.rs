//! Encrypted wallet keystore files.
//!
//! A wallet holds one ed25519 key, derived from a BIP39 mnemonic (12 or 24 words): the BIP39
//! seed (PBKDF2-HMAC-SHA512, 2048 rounds, empty passphrase) truncated to its first 32 bytes is
//! the ed25519 seed — the derivation `solana-keygen recover` uses without a derivation path.
//!
//! File format (JSON): the secret (mnemonic and seed) is encrypted with ChaCha20-Poly1305
//! under a key stretched from the password with Argon2id (RFC 9106; default parameters
//! m = 19 MiB, t = 2, p = 1, the OWASP recommendation). The address is stored in clear so that
//! `wallet info` needs no password.

use anyhow::{anyhow, bail, Context, Result};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use depin_types::{Address, Network, SecretKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// Keystore format version.
pub const KEYSTORE_VERSION: u32 = 1;
/// Argon2 memory cost, KiB.
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Argon2 iterations.
pub const ARGON2_T_COST: u32 = 2;

/// The keystore file.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Keystore {
    /// Format version.
    pub version: u32,
    /// The wallet's address.
    pub address: Address,
    /// KDF name (`argon2id`).
    pub kdf: String,
    /// Argon2 memory, KiB.
    pub kdf_m_cost_kib: u32,
    /// Argon2 iterations.
    pub kdf_t_cost: u32,
    /// Argon2 lanes.
    pub kdf_p_cost: u32,
    /// Salt, hex.
    pub salt: String,
    /// Cipher name (`chacha20poly1305`).
    pub cipher: String,
    /// Nonce, hex.
    pub nonce: String,
    /// Encrypted secret, hex.
    pub ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Secret {
    mnemonic: Option<String>,
    seed: String,
}

/// An unlocked wallet.
pub struct Wallet {
    /// The signing key.
    pub key: SecretKey,
    /// The mnemonic, when the wallet was made from one.
    pub mnemonic: Option<Zeroizing<String>>,
    /// The network of its address.
    pub network: Network,
}

impl Wallet {
    /// A new wallet with a fresh mnemonic of `words` (12 or 24) words.
    pub fn generate(words: usize, network: Network) -> Result<Wallet> {
        let entropy_len = match words {
            12 => 16,
            24 => 32,
            _ => bail!("a mnemonic has 12 or 24 words, not {words}"),
        };
        let mut entropy = Zeroizing::new(vec![0u8; entropy_len]);
        OsRng.fill_bytes(&mut entropy);
        let m = bip39::Mnemonic::from_entropy(&entropy).map_err(|e| anyhow!("mnemonic: {e}"))?;
        Wallet::from_mnemonic(&m.to_string(), network)
    }

    /// The wallet of a mnemonic (12 or 24 English BIP39 words; the checksum is checked).
    pub fn from_mnemonic(words: &str, network: Network) -> Result<Wallet> {
        let m = bip39::Mnemonic::parse_normalized(words.trim())
            .map_err(|e| anyhow!("invalid mnemonic: {e}"))?;
        if !matches!(m.word_count(), 12 | 24) {
            bail!("a mnemonic has 12 or 24 words, not {}", m.word_count());
        }
        let seed = Zeroizing::new(m.to_seed(""));
        let mut ed = [0u8; 32];
        ed.copy_from_slice(&seed[..32]);
        Ok(Wallet {
            key: SecretKey::from_seed(ed),
            mnemonic: Some(Zeroizing::new(m.to_string())),
            network,
        })
    }

    /// The wallet's address.
    pub fn address(&self) -> Address {
        Address::new(self.network, self.key.public())
    }

    /// Encrypts the wallet under `password`.
    pub fn seal(&self, password: &str) -> Result<Keystore> {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let key = stretch(password, &salt, ARGON2_M_COST_KIB, ARGON2_T_COST, 1)?;
        let secret = Secret {
            mnemonic: self.mnemonic.as_ref().map(|m| m.to_string()),
            seed: hex::encode(self.key.seed()),
        };
        let plain = Zeroizing::new(serde_json::to_vec(&secret)?);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key[..]));
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| anyhow!("encryption failed"))?;
        Ok(Keystore {
            version: KEYSTORE_VERSION,
            address: self.address(),
            kdf: "argon2id".into(),
            kdf_m_cost_kib: ARGON2_M_COST_KIB,
            kdf_t_cost: ARGON2_T_COST,
            kdf_p_cost: 1,
            salt: hex::encode(salt),
            cipher: "chacha20poly1305".into(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ct),
        })
    }
}

fn stretch(password: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<Zeroizing<[u8; 32]>> {
    let params =
        argon2::Params::new(m, t, p, Some(32)).map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(password.as_bytes(), salt, &mut out[..])
        .map_err(|e| anyhow!("argon2: {e}"))?;
    Ok(out)
}

impl Keystore {
    /// Reads a keystore file.
    pub fn read(path: &Path) -> Result<Keystore> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read wallet {}", path.display()))?;
        let ks: Keystore = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a depin wallet", path.display()))?;
        if ks.version != KEYSTORE_VERSION || ks.kdf != "argon2id" || ks.cipher != "chacha20poly1305"
        {
            bail!(
                "{}: unsupported wallet format (version {}, {}, {})",
                path.display(),
                ks.version,
                ks.kdf,
                ks.cipher
            );
        }
        Ok(ks)
    }

    /// Writes the keystore, refusing to overwrite an existing file. Mode 0600 on Unix.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        if path.exists() {
            bail!(
                "{} exists already; refusing to overwrite a wallet",
                path.display()
            );
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        Ok(())
    }

    /// Decrypts with `password`. A wrong password fails the AEAD tag check.
    pub fn unlock(&self, password: &str) -> Result<Wallet> {
        let salt = hex::decode(&self.salt).context("wallet salt")?;
        let nonce = hex::decode(&self.nonce).context("wallet nonce")?;
        if nonce.len() != 12 {
            bail!("wallet nonce must be 12 bytes");
        }
        let ct = hex::decode(&self.ciphertext).context("wallet ciphertext")?;
        let key = stretch(
            password,
            &salt,
            self.kdf_m_cost_kib,
            self.kdf_t_cost,
            self.kdf_p_cost,
        )?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key[..]));
        let plain = Zeroizing::new(
            cipher
                .decrypt(Nonce::from_slice(&nonce), ct.as_slice())
                .map_err(|_| anyhow!("wrong password (or a damaged wallet file)"))?,
        );
        let secret: Secret = serde_json::from_slice(&plain).context("wallet secret")?;
        let seed_bytes = Zeroizing::new(hex::decode(&secret.seed).context("wallet seed")?);
        let seed: [u8; 32] = seed_bytes
            .as_slice()
            .try_into()
            .map_err(|_| anyhow!("wallet seed must be 32 bytes"))?;
        let key = SecretKey::from_seed(seed);
        if key.public() != self.address.key {
            bail!("wallet file is inconsistent: its key does not match its address");
        }
        Ok(Wallet {
            key,
            mnemonic: secret.mnemonic.map(Zeroizing::new),
            network: self.address.network,
        })
    }
}

/// The wallet password: `DEPIN_WALLET_PASSWORD`, else a prompt on the terminal.
///
/// Errors: no terminal to prompt on (and the variable unset).
pub fn password(prompt: &str) -> Result<String> {
    if let Ok(p) = std::env::var("DEPIN_WALLET_PASSWORD") {
        return Ok(p);
    }
    rpassword::prompt_password(prompt).map_err(|e| {
        anyhow!("cannot read a password ({e}); set DEPIN_WALLET_PASSWORD for non-interactive use")
    })
}

/// Opens the wallet at `path` with the password from the environment or a prompt.
///
/// Errors: an unreadable or foreign file, a wrong password.
pub fn open(path: &Path) -> Result<Wallet> {
    let ks = Keystore::read(path)?;
    ks.unlock(&password(&format!("password for {}: ", path.display()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_wallet_opens_with_its_password_only() {
        let w = Wallet::generate(12, Network::Devnet).unwrap();
        let ks = w.seal("pw").unwrap();
        let back = ks.unlock("pw").unwrap();
        assert_eq!(back.key.public(), w.key.public());
        assert_eq!(
            back.mnemonic.as_deref().map(String::as_str),
            w.mnemonic.as_deref().map(String::as_str)
        );
        assert!(ks.unlock("wrong").is_err());
    }

    #[test]
    fn a_mnemonic_always_gives_the_same_key_and_a_bad_checksum_is_refused() {
        // BIP39 test vector mnemonic (all-zero entropy).
        let words = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let a = Wallet::from_mnemonic(words, Network::Devnet).unwrap();
        let b = Wallet::from_mnemonic(words, Network::Devnet).unwrap();
        assert_eq!(a.key.public(), b.key.public());
        assert!(
            Wallet::from_mnemonic(&words.replace("about", "abandon"), Network::Devnet).is_err()
        );
        assert_eq!(
            Wallet::generate(24, Network::Devnet)
                .unwrap()
                .mnemonic
                .unwrap()
                .split(' ')
                .count(),
            24
        );
        assert!(Wallet::generate(13, Network::Devnet).is_err());
    }
}
