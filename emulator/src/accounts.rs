//! Several RunPod accounts, each with its own keys and pods, so that tests can check that one
//! account never sees or touches another's.
//!
//! Sources: RunPod's API keys page (docs `get-started/api-keys`): a key's permission is **All**,
//! **Restricted** (per API: None, Read Only, Read/Write) or **Read Only** ("Read access without
//! write access"), and a key can be disabled. The v2 spec (`securitySchemes.bearerAuth`): 401
//! when the bearer token is "missing, malformed, expired, or invalid", 403 when "a valid key
//! lacks access to the requested resource or action"; `NotFoundError`: "not found or is not
//! accessible to the caller", so another account's pod answers as a missing one.
//!
//! Inferred, not documented: a write (any method but GET on `/v2/...`) with a read-only key is
//! refused before the request is routed or validated, as 403 is about the key and not the
//! resource (so `DELETE /v2/pods/<unknown>` is 403 with such a key, 404 with an `all` one); a
//! Restricted key with None for the pod and billing APIs (the emulator's `none`) still reads
//! the GPU catalog, which RunPod publishes anyway; a disabled or deleted key answers 401 like
//! any invalid one.

use std::collections::{BTreeMap, HashMap};

use axum::http::Method;

use crate::ACCOUNT_KEY;
use crate::answer::{Answer, problem};

/// The account [`ACCOUNT_KEY`] belongs to.
pub const DEFAULT_ACCOUNT: &str = "default";

/// What a key may do, after RunPod's key permissions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Permission {
    /// **All**: read and write.
    #[default]
    All,
    /// **Read Only**: GET requests only; any other method on `/v2/...` answers 403.
    ReadOnly,
    /// **Restricted** with **None** for the pod and billing APIs: every `/v2` request answers
    /// 403 but a GET of the GPU catalog (inferred: the catalog is public).
    None,
}

impl Permission {
    /// The name used in JSON and on the command line (`all`, `read_only`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::All => "all",
            Permission::ReadOnly => "read_only",
            Permission::None => "none",
        }
    }

    /// The permission named `name` in JSON or on the command line.
    pub fn parse(name: &str) -> Option<Permission> {
        match name {
            "all" => Some(Permission::All),
            "read_only" => Some(Permission::ReadOnly),
            "none" => Some(Permission::None),
            _ => Option::None,
        }
    }
}

/// One key of one account ([`crate::Options::accounts`], [`crate::Emulator::accounts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountKey {
    /// The account's id.
    pub account: String,
    /// The bearer key.
    pub key: String,
    /// What it may do.
    pub permission: Permission,
}

impl AccountKey {
    /// Parses the command line's `ID:KEY[:PERMISSION]` (permission `all` when left out).
    pub fn parse(spec: &str) -> Result<AccountKey, String> {
        let mut parts = spec.splitn(3, ':');
        let (account, key) = match (parts.next(), parts.next()) {
            (Some(a), Some(k)) => (a, k),
            _ => return Err(format!("{spec:?} is not ID:KEY[:PERMISSION]")),
        };
        let permission = match parts.next() {
            Option::None => Permission::All,
            Some(p) => Permission::parse(p)
                .ok_or_else(|| format!("{p:?} is not a permission (all, read_only, none)"))?,
        };
        check_account(account)?;
        check_key(key)?;
        Ok(AccountKey {
            account: account.to_owned(),
            key: key.to_owned(),
            permission,
        })
    }
}

/// An account id: letters, digits, `.`, `_` and `-`.
pub(crate) fn check_account(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "account {id:?}: an account id is letters, digits, '.', '_' and '-'"
        ))
    }
}

/// A key: printable ASCII without spaces or ':', so that it fits a bearer header and the
/// command line's `ID:KEY`.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        Ok(())
    } else {
        Err(format!(
            "key {key:?}: a key is printable ASCII without spaces or ':'"
        ))
    }
}

/// The accounts and their keys (pod-scoped keys are kept beside, in the state).
#[derive(Debug)]
pub(crate) struct Accounts {
    /// key → (account, permission).
    keys: HashMap<String, (String, Permission)>,
    /// Every account ever added, with its live keys in the order they were added.
    accounts: BTreeMap<String, Vec<String>>,
}

impl Default for Accounts {
    fn default() -> Accounts {
        let mut a = Accounts {
            keys: HashMap::new(),
            accounts: BTreeMap::new(),
        };
        a.insert(DEFAULT_ACCOUNT, ACCOUNT_KEY, Permission::All);
        a
    }
}

impl Accounts {
    fn insert(&mut self, account: &str, key: &str, permission: Permission) {
        let keys = self.accounts.entry(account.to_owned()).or_default();
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_owned());
        }
        self.keys
            .insert(key.to_owned(), (account.to_owned(), permission));
    }

    /// The account and permission of a live account key.
    pub(crate) fn get(&self, key: &str) -> Option<(&str, Permission)> {
        self.keys.get(key).map(|(a, p)| (a.as_str(), *p))
    }

    /// Adds `key` to `account` (created when new); a key the account holds already gets the
    /// new permission. `taken`: the key is a pod-scoped one. An error for another account's key.
    pub(crate) fn add(&mut self, k: &AccountKey, taken: bool) -> Result<(), String> {
        check_account(&k.account)?;
        check_key(&k.key)?;
        match self.keys.get(&k.key) {
            Some((owner, _)) if *owner != k.account => {
                return Err(format!("key {:?} belongs to account {owner:?}", k.key));
            }
            Option::None if taken => {
                return Err(format!("key {:?} is a pod-scoped key", k.key));
            }
            _ => {}
        }
        self.insert(&k.account, &k.key, k.permission);
        Ok(())
    }

    /// A fresh key for `account`, unused by any account or pod (`rpa_emulator_<id>_key`, then
    /// `_key2`, `_key3`…).
    pub(crate) fn fresh_key(&self, account: &str, pod_keys: &HashMap<String, String>) -> String {
        let base = format!("rpa_emulator_{account}_key");
        let mut key = base.clone();
        let mut n = 1;
        while self.keys.contains_key(&key) || pod_keys.contains_key(&key) {
            n += 1;
            key = format!("{base}{n}");
        }
        key
    }

    /// Revokes an account key (RunPod's disable or delete): from then on it answers 401. The
    /// account it belonged to, or `None` for an unknown key.
    pub(crate) fn revoke(&mut self, key: &str) -> Option<String> {
        let (account, _) = self.keys.remove(key)?;
        if let Some(keys) = self.accounts.get_mut(&account) {
            keys.retain(|k| k != key);
        }
        Some(account)
    }

    /// Every account (by id) with its live keys; an account whose keys are all revoked is
    /// listed with none.
    pub(crate) fn list(&self) -> Vec<(String, Vec<AccountKey>)> {
        self.accounts
            .iter()
            .map(|(account, keys)| {
                let keys = keys
                    .iter()
                    .filter_map(|k| {
                        let (_, permission) = self.keys.get(k)?;
                        Some(AccountKey {
                            account: account.clone(),
                            key: k.clone(),
                            permission: *permission,
                        })
                    })
                    .collect();
                (account.clone(), keys)
            })
            .collect()
    }
}

/// Who made a v2 request.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// The account whose pods it sees.
    pub(crate) account: String,
    /// For a pod-scoped key, its pod: the only one it sees.
    pub(crate) pod: Option<String>,
    pub(crate) permission: Permission,
}

/// 403 when the caller's key may not make this request at all; checked before the request is
/// routed or its body validated (inferred from 403's meaning: the key, not the resource, is at
/// fault, so an unknown pod id or a bad body cannot turn it into a 404 or a 4xx of its own).
pub(crate) fn refused(caller: &Caller, method: &Method, segs: &[&str]) -> Option<Answer> {
    let allowed = match caller.permission {
        Permission::All => true,
        Permission::ReadOnly => method == Method::GET,
        Permission::None => method == Method::GET && segs.first() == Some(&"catalog"),
    };
    (!allowed).then(|| {
        problem(
            403,
            "Forbidden",
            "this key lacks permission for the request",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_lines_form_parses() {
        let k = AccountKey::parse("alice:rpa_alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (k.account.as_str(), k.key.as_str(), k.permission),
            ("alice", "rpa_alice", Permission::All)
        );
        let k = AccountKey::parse("bob:rpa_bob:read_only").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.permission, Permission::ReadOnly);
        for bad in [
            "alice",
            "alice:",
            ":rpa",
            "alice:rpa:write",
            "a b:rpa",
            "alice:rp a",
        ] {
            assert!(AccountKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_belongs_to_one_account_and_a_revoked_one_is_gone() {
        let mut a = Accounts::default();
        assert_eq!(a.get(ACCOUNT_KEY), Some((DEFAULT_ACCOUNT, Permission::All)));
        let alice = |key: &str, permission| AccountKey {
            account: "alice".into(),
            key: key.into(),
            permission,
        };
        assert!(a.add(&alice(ACCOUNT_KEY, Permission::All), false).is_err());
        assert!(a.add(&alice("rpa_pod_x", Permission::All), true).is_err());
        a.add(&alice("k1", Permission::All), false)
            .unwrap_or_else(|e| panic!("{e}"));
        a.add(&alice("k1", Permission::ReadOnly), false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.get("k1"), Some(("alice", Permission::ReadOnly)));
        assert_eq!(
            a.fresh_key("alice", &HashMap::new()),
            "rpa_emulator_alice_key"
        );
        assert_eq!(a.revoke("k1").as_deref(), Some("alice"));
        assert_eq!(a.get("k1"), Option::None);
        assert_eq!(a.revoke("k1"), Option::None);
        let listed = a.list();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].0, "alice");
        assert!(listed[0].1.is_empty());
    }
}
